package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/internal/events"
	"github.com/sirocco-cloud/sirocco/internal/store"
)

// AuditCursor is the store cursor of [Notifier.ForwardAudit]: the ID of
// the last audit event it read.
const AuditCursor = "webhooks.audit"

// forwardBatch is how many new audit events one transaction of
// ForwardAudit takes.
const forwardBatch = 500

// ForwardAudit raises a webhook event for every successful audit event
// since the last pass: its type is the audit action (vm.create), its ID the
// audit event's, its data an [api.ResourceEvent]. It goes to the webhooks
// of the event's organisation and the provider's, like [Notifier.Event],
// but only to webhooks that existed when the change was made: a new
// webhook hears of changes from then on, not of history.
//
// The cursor moves in the transaction that queues the deliveries. Each pass
// also reads again the last [events.Lookback] of the log for changes that
// committed late; the webhook event ID being the audit event's, a change
// is queued once per webhook however often it is read. now is the loop's
// clock, the deliveries' first due time.
func (n *Notifier) ForwardAudit(ctx context.Context, now time.Time) error {
	for {
		more, err := n.forwardBatch(ctx, now)
		if err != nil {
			return fmt.Errorf("forward audit events: %w", err)
		}
		if !more {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
}

// forwardBatch forwards up to forwardBatch new audit events in one
// transaction and reports whether more may be waiting.
func (n *Notifier) forwardBatch(ctx context.Context, now time.Time) (more bool, err error) {
	err = n.Store.Tx(ctx, func(tx *store.Tx) error {
		more = false
		cur, err := tx.Cursor(ctx, AuditCursor)
		if err != nil {
			return err
		}
		hooks := map[string][]store.Webhook{} // by organisation, read once per pass
		fresh, last := 0, cur
	pages:
		for after := min(cur, events.IDAt(now.Add(-events.Lookback))); ; {
			p := store.Page{Limit: forwardBatch}
			if after != "" {
				p.Cursor = store.EncodeCursor(after)
			}
			rows, next, err := tx.ListAudit(ctx, store.AuditFilter{}, p)
			if err != nil {
				return err
			}
			for i := range rows {
				e := &rows[i]
				if e.ID > cur {
					if fresh == forwardBatch {
						more = true
						break pages
					}
					fresh++
					last = e.ID
				}
				if e.Outcome != "success" {
					continue
				}
				hs, ok := hooks[e.OrgID]
				if !ok {
					if hs, err = tx.SubscribedWebhooks(ctx, e.OrgID); err != nil {
						return err
					}
					hooks[e.OrgID] = hs
				}
				if err := n.forward(ctx, tx, hs, e, now); err != nil {
					return err
				}
			}
			if next == "" {
				break
			}
			after = rows[len(rows)-1].ID
		}
		if last == cur {
			return nil
		}
		return tx.SetCursor(ctx, AuditCursor, last)
	})
	return more, err
}

// forward queues one audit event to the webhooks that want it.
func (n *Notifier) forward(ctx context.Context, tx *store.Tx, hooks []store.Webhook, e *store.AuditEvent, now time.Time) error {
	var payload []byte
	for i := range hooks {
		h := &hooks[i]
		if !h.Wants(e.Action) || h.CreatedAt.After(e.Time) {
			continue
		}
		if payload == nil {
			ev := api.WebhookEvent{ID: e.ID, Type: e.Action, CreatedAt: e.Time, Org: e.OrgID, Data: events.Of(e)}
			var err error
			if payload, err = json.Marshal(ev); err != nil {
				return fmt.Errorf("event %s: %w", e.ID, err)
			}
		}
		d := &store.WebhookDelivery{WebhookID: h.ID, EventID: e.ID, EventType: e.Action, Payload: string(payload), NextAttemptAt: now}
		if _, err := tx.EnqueueDelivery(ctx, d); err != nil {
			return err
		}
	}
	return nil
}
