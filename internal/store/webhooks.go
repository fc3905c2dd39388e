package store

import (
	"context"
	"fmt"
	"time"
)

// Webhook is an HTTPS endpoint that receives billing events, of an
// organisation or, with OrgID "", of the provider. Secret signs the
// deliveries; it is kept in clear because signing needs it.
type Webhook struct {
	Meta
	OrgID      string
	URL        string
	Secret     string
	EventTypes []string // empty: every event type
	Active     bool
}

// Wants reports whether the webhook receives events of eventType.
func (w *Webhook) Wants(eventType string) bool {
	if len(w.EventTypes) == 0 {
		return true
	}
	for _, t := range w.EventTypes {
		if t == eventType {
			return true
		}
	}
	return false
}

const webhookCols = `t.id, t.org_id, t.url, t.secret, t.event_types, t.active, t.version, t.created_at, t.updated_at`

func scanWebhook(sc interface{ Scan(...any) error }) (Webhook, error) {
	var w Webhook
	var created, updated Time
	err := sc.Scan(&w.ID, &w.OrgID, &w.URL, &w.Secret, jsonScan{&w.EventTypes}, &w.Active, &w.Version, &created, &updated)
	w.CreatedAt, w.UpdatedAt = created.Time, updated.Time
	return w, mapErr(err)
}

// CreateWebhook stores a new webhook.
func (tx *Tx) CreateWebhook(ctx context.Context, w *Webhook) error {
	w.created(tx.Now())
	_, err := tx.exec(ctx, `INSERT INTO webhooks (id, org_id, url, secret, event_types, active, version, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		w.ID, w.OrgID, w.URL, w.Secret, jsonText{nonNil(w.EventTypes)}, w.Active, w.Version, ts(w.CreatedAt), ts(w.UpdatedAt))
	if err != nil {
		return fmt.Errorf("create webhook: %w", err)
	}
	return nil
}

// GetWebhook reads a webhook of organisation orgID ("" for the provider's).
// Another owner's webhook is ErrNotFound.
func (tx *Tx) GetWebhook(ctx context.Context, orgID, id string) (*Webhook, error) {
	w, err := scanWebhook(tx.queryRow(ctx, `SELECT `+webhookCols+` FROM webhooks t WHERE t.org_id = $1 AND t.id = $2`, orgID, id))
	if err != nil {
		return nil, fmt.Errorf("webhook %s: %w", id, err)
	}
	return &w, nil
}

// ListWebhooks lists the webhooks of organisation orgID ("" for the
// provider's), oldest first.
func (tx *Tx) ListWebhooks(ctx context.Context, orgID string, p Page) ([]Webhook, string, error) {
	var w where
	w.add("t.org_id = ?", orgID)
	tail, err := w.page("webhook", p)
	if err != nil {
		return nil, "", err
	}
	rows, err := tx.query(ctx, `SELECT `+webhookCols+` FROM webhooks t`+w.String()+tail, w.args...)
	if err != nil {
		return nil, "", fmt.Errorf("list webhooks: %w", err)
	}
	out, err := collect(rows, scanWebhook)
	if err != nil {
		return nil, "", err
	}
	out, next := trimPage(out, p, func(h Webhook) string { return h.ID })
	return out, next, nil
}

// SubscribedWebhooks lists the active webhooks that receive events of
// organisation orgID: its own and the provider's (only the provider's when
// orgID is "").
func (tx *Tx) SubscribedWebhooks(ctx context.Context, orgID string) ([]Webhook, error) {
	rows, err := tx.query(ctx, `SELECT `+webhookCols+` FROM webhooks t WHERE t.active AND (t.org_id = $1 OR t.org_id = '') ORDER BY t.id`, orgID)
	if err != nil {
		return nil, fmt.Errorf("webhooks of organisation %s: %w", orgID, err)
	}
	return collect(rows, scanWebhook)
}

// UpdateWebhook writes a changed webhook (URL, event types, active) and
// bumps its version. The owner and the secret do not change.
func (tx *Tx) UpdateWebhook(ctx context.Context, w *Webhook) error {
	w.updated(tx.Now())
	err := expectOne(tx.exec(ctx, `UPDATE webhooks SET url = $2, event_types = $3, active = $4, version = $5, updated_at = $6 WHERE id = $1`,
		w.ID, w.URL, jsonText{nonNil(w.EventTypes)}, w.Active, w.Version, ts(w.UpdatedAt)))
	if err != nil {
		return fmt.Errorf("update webhook %s: %w", w.ID, err)
	}
	return nil
}

// DeleteWebhook removes a webhook; its delivery log goes with it (ON
// DELETE CASCADE).
func (tx *Tx) DeleteWebhook(ctx context.Context, id string) error {
	if err := expectOne(tx.exec(ctx, `DELETE FROM webhooks WHERE id = $1`, id)); err != nil {
		return fmt.Errorf("delete webhook %s: %w", id, err)
	}
	return nil
}

// Delivery states. A delivery is pending until an attempt gets a 2xx answer
// (delivered) or the attempts run out (failed).
const (
	DeliveryPending   = "pending"
	DeliveryDelivered = "delivered"
	DeliveryFailed    = "failed"
)

// WebhookDelivery is one event on its way to one webhook, and the log of
// the attempts so far.
type WebhookDelivery struct {
	ID        string
	WebhookID string
	EventID   string
	EventType string
	Payload   string // the JSON body, the same on every attempt
	State     string
	Attempts  int
	// LastStatus is the HTTP status of the last attempt, 0 when it got
	// none (refused, timed out); LastError says what went wrong.
	LastStatus    int
	LastError     string
	NextAttemptAt time.Time
	DeliveredAt   *time.Time
	CreatedAt     time.Time
}

const deliveryCols = `t.id, t.webhook_id, t.event_id, t.event_type, t.payload, t.state, t.attempts, t.last_status, t.last_error,
	t.next_attempt_at, t.delivered_at, t.created_at`

func scanDelivery(sc interface{ Scan(...any) error }) (WebhookDelivery, error) {
	var d WebhookDelivery
	var next, created Time
	var delivered NullTime
	err := sc.Scan(&d.ID, &d.WebhookID, &d.EventID, &d.EventType, &d.Payload, &d.State, &d.Attempts, &d.LastStatus, &d.LastError,
		&next, &delivered, &created)
	d.NextAttemptAt, d.DeliveredAt, d.CreatedAt = next.Time, delivered.T, created.Time
	return d, mapErr(err)
}

// EnqueueDelivery stores a pending delivery (ID generated when empty, due
// at NextAttemptAt) unless the webhook already has one for the event; it
// reports whether it inserted, so raising an event twice delivers it once.
func (tx *Tx) EnqueueDelivery(ctx context.Context, d *WebhookDelivery) (bool, error) {
	if d.ID == "" {
		d.ID = NewID()
	}
	if d.State == "" {
		d.State = DeliveryPending
	}
	d.CreatedAt = tx.Now()
	res, err := tx.exec(ctx, `INSERT INTO webhook_deliveries (id, webhook_id, event_id, event_type, payload, state, attempts,
			last_status, last_error, next_attempt_at, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, 0, 0, '', $7, $8) ON CONFLICT (webhook_id, event_id) DO NOTHING`,
		d.ID, d.WebhookID, d.EventID, d.EventType, d.Payload, d.State, ts(d.NextAttemptAt), ts(d.CreatedAt))
	if err != nil {
		return false, fmt.Errorf("enqueue delivery of event %s to webhook %s: %w", d.EventID, d.WebhookID, err)
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// DueDelivery is a delivery to attempt with the webhook it goes to.
type DueDelivery struct {
	WebhookDelivery
	Webhook Webhook
}

// DueDeliveries lists up to limit pending deliveries of active webhooks
// whose next attempt is due at now, the longest waiting first.
func (tx *Tx) DueDeliveries(ctx context.Context, now time.Time, limit int) ([]DueDelivery, error) {
	rows, err := tx.query(ctx, `SELECT `+deliveryCols+`, `+
		`w.id, w.org_id, w.url, w.secret, w.event_types, w.active, w.version, w.created_at, w.updated_at
		FROM webhook_deliveries t JOIN webhooks w ON w.id = t.webhook_id
		WHERE t.state = $1 AND t.next_attempt_at <= $2 AND w.active
		ORDER BY t.next_attempt_at, t.id LIMIT `+fmt.Sprint(limit), DeliveryPending, ts(now))
	if err != nil {
		return nil, fmt.Errorf("due deliveries: %w", err)
	}
	return collect(rows, func(sc interface{ Scan(...any) error }) (DueDelivery, error) {
		var dd DueDelivery
		var next, created, wCreated, wUpdated Time
		var delivered NullTime
		d, w := &dd.WebhookDelivery, &dd.Webhook
		err := sc.Scan(&d.ID, &d.WebhookID, &d.EventID, &d.EventType, &d.Payload, &d.State, &d.Attempts, &d.LastStatus, &d.LastError,
			&next, &delivered, &created,
			&w.ID, &w.OrgID, &w.URL, &w.Secret, jsonScan{&w.EventTypes}, &w.Active, &w.Version, &wCreated, &wUpdated)
		d.NextAttemptAt, d.DeliveredAt, d.CreatedAt = next.Time, delivered.T, created.Time
		w.CreatedAt, w.UpdatedAt = wCreated.Time, wUpdated.Time
		return dd, mapErr(err)
	})
}

// RecordDeliveryAttempt writes the outcome of an attempt: state, attempts,
// last status and error, next attempt and delivery time. It changes nothing
// (ErrNotFound) unless the delivery is still pending after d.Attempts-1
// attempts, so an attempt is never recorded twice.
func (tx *Tx) RecordDeliveryAttempt(ctx context.Context, d *WebhookDelivery) error {
	err := expectOne(tx.exec(ctx, `UPDATE webhook_deliveries SET state = $2, attempts = $3, last_status = $4, last_error = $5,
			next_attempt_at = $6, delivered_at = $7
		WHERE id = $1 AND state = $8 AND attempts = $9`,
		d.ID, d.State, d.Attempts, d.LastStatus, d.LastError, ts(d.NextAttemptAt), tsPtr(d.DeliveredAt), DeliveryPending, d.Attempts-1))
	if err != nil {
		return fmt.Errorf("record attempt %d of delivery %s: %w", d.Attempts, d.ID, err)
	}
	return nil
}

// GetDelivery reads one delivery by ID.
func (tx *Tx) GetDelivery(ctx context.Context, id string) (*WebhookDelivery, error) {
	d, err := scanDelivery(tx.queryRow(ctx, `SELECT `+deliveryCols+` FROM webhook_deliveries t WHERE t.id = $1`, id))
	if err != nil {
		return nil, fmt.Errorf("delivery %s: %w", id, err)
	}
	return &d, nil
}

// ListDeliveries is a webhook's delivery log, oldest first.
func (tx *Tx) ListDeliveries(ctx context.Context, webhookID string, p Page) ([]WebhookDelivery, string, error) {
	var w where
	w.add("t.webhook_id = ?", webhookID)
	// No labels on deliveries: only the cursor applies.
	tail, err := w.page("webhook_delivery", Page{Limit: p.Limit, Cursor: p.Cursor})
	if err != nil {
		return nil, "", err
	}
	rows, err := tx.query(ctx, `SELECT `+deliveryCols+` FROM webhook_deliveries t`+w.String()+tail, w.args...)
	if err != nil {
		return nil, "", fmt.Errorf("list deliveries of webhook %s: %w", webhookID, err)
	}
	out, err := collect(rows, scanDelivery)
	if err != nil {
		return nil, "", err
	}
	out, next := trimPage(out, p, func(d WebhookDelivery) string { return d.ID })
	return out, next, nil
}
