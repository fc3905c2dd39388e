// Package notify tells people about billing: it raises webhook events,
// delivers them as signed HTTP POSTs with retries, and checks budgets,
// alerting by e-mail and webhook.
//
// # Webhooks
//
// An event is stored, in the transaction of the change it reports, as one
// delivery per subscribed webhook (the organisation's own, and the
// provider's, which get every organisation's events). [Notifier.DeliverOnce]
// POSTs due deliveries as JSON ([api.WebhookEvent]: id, type, created_at,
// org, data) with these headers:
//
//	Sirocco-Event:     the event type, e.g. budget.threshold
//	Sirocco-Delivery:  the delivery ID (the same on every retry)
//	Sirocco-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>
//
// A 2xx answer delivers; anything else (including a redirect, which is not
// followed, and no answer within 10 s) is retried after 30 s, 1 min, 2 min
// and so on, doubling up to 1 h, and the delivery fails after 10 attempts.
// Delivery is at least once and unordered: receivers deduplicate on the
// event ID.
//
// A receiver checks a delivery with [VerifySignature] (or the same steps in
// any language): recompute the HMAC over the timestamp, a dot and the raw
// body with the secret shown when the webhook was created, compare in
// constant time, and refuse timestamps far from its clock, which stops
// replays of old deliveries:
//
//	body, _ := io.ReadAll(r.Body)
//	err := notify.VerifySignature(secret, r.Header.Get("Sirocco-Signature"), body, time.Now(), 5*time.Minute)
//
// An organisation's webhook may not reach loopback, private, link-local or
// reserved addresses (checked on the address actually dialled, after DNS),
// so a tenant cannot use the control plane to probe the provider's network.
// The provider's own webhooks may.
//
// # Budgets
//
// [Notifier.CheckBudgets] sums each budget's rated lines of the current UTC
// month and, for every threshold crossed for the first time this month,
// records the alert, raises a budget.threshold event and mails the
// budget's addresses: one mail and one event per budget and check, naming
// the highest threshold newly crossed.
package notify

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/internal/image"
	"github.com/sirocco-cloud/sirocco/internal/mail"
	"github.com/sirocco-cloud/sirocco/internal/store"
)

// Delivery tuning.
const (
	// MaxAttempts is how many times a delivery is tried before it fails.
	MaxAttempts = 10
	// FirstRetry is the wait after the first failed attempt; each further
	// failure doubles it, up to MaxRetry.
	FirstRetry = 30 * time.Second
	MaxRetry   = time.Hour
	// Timeout bounds one attempt, connecting included.
	Timeout = 10 * time.Second
	// batch is how many due deliveries one DeliverOnce attempts, all at
	// once: with Timeout each, a pass stays within the loop's lease.
	batch = 32
	// maxErrorLen caps the error kept in the delivery log.
	maxErrorLen = 500
)

// Signature headers.
const (
	HeaderEvent     = "Sirocco-Event"
	HeaderDelivery  = "Sirocco-Delivery"
	HeaderSignature = "Sirocco-Signature"
)

// Notifier raises events, delivers webhooks and checks budgets.
type Notifier struct {
	Store *store.Store
	// Mail sends budget alerts.
	Mail mail.Sender
	// Now is the clock for events raised. Default time.Now.
	Now func() time.Time
	Log *slog.Logger
	// AllowPrivate lets organisations' webhooks reach private and loopback
	// addresses too (development and tests). The provider's always may.
	AllowPrivate bool

	once            sync.Once
	guarded, direct *http.Client
}

func (n *Notifier) now() time.Time {
	if n.Now == nil {
		return time.Now().UTC()
	}
	return n.Now().UTC()
}

func (n *Notifier) log() *slog.Logger {
	if n.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return n.Log
}

// NewSecret makes a webhook signing secret.
func NewSecret() string {
	return "whsec_" + rand.Text()
}

// Event raises an event of eventType about organisation orgID ("" for the
// provider) inside tx: one pending delivery for every active webhook of
// that organisation and of the provider whose filter takes the type. It
// commits or rolls back with the change it reports. data is the event's
// JSON data.
func (n *Notifier) Event(ctx context.Context, tx *store.Tx, orgID, eventType string, data any) error {
	hooks, err := tx.SubscribedWebhooks(ctx, orgID)
	if err != nil {
		return err
	}
	ev := api.WebhookEvent{ID: store.NewID(), Type: eventType, CreatedAt: n.now(), Org: orgID, Data: data}
	var payload []byte
	for i := range hooks {
		if !hooks[i].Wants(eventType) {
			continue
		}
		if payload == nil {
			if payload, err = json.Marshal(ev); err != nil {
				return fmt.Errorf("event %s: %w", eventType, err)
			}
		}
		d := &store.WebhookDelivery{WebhookID: hooks[i].ID, EventID: ev.ID, EventType: eventType, Payload: string(payload), NextAttemptAt: ev.CreatedAt}
		if _, err := tx.EnqueueDelivery(ctx, d); err != nil {
			return err
		}
	}
	return nil
}

// DeliverOnce attempts the deliveries due at now (up to 32, in parallel)
// and records each outcome. Failing endpoints are the receivers' business:
// they go into the delivery log, not into the error, which reports only
// the store failing.
func (n *Notifier) DeliverOnce(ctx context.Context, now time.Time) error {
	var due []store.DueDelivery
	err := n.Store.View(ctx, func(tx *store.Tx) (err error) {
		due, err = tx.DueDeliveries(ctx, now, batch)
		return err
	})
	if err != nil {
		return fmt.Errorf("deliver webhooks: %w", err)
	}
	errs := make([]error, len(due))
	var wg sync.WaitGroup
	for i := range due {
		wg.Go(func() { errs[i] = n.attempt(ctx, &due[i], now) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// attempt sends one delivery and records the outcome.
func (n *Notifier) attempt(ctx context.Context, dd *store.DueDelivery, now time.Time) error {
	status, sendErr := n.send(ctx, dd, now)
	d := &dd.WebhookDelivery
	d.Attempts++
	d.LastStatus = status
	d.LastError = ""
	switch {
	case sendErr == nil:
		d.State, d.DeliveredAt = store.DeliveryDelivered, &now
	case d.Attempts >= MaxAttempts:
		d.State = store.DeliveryFailed
	default:
		d.NextAttemptAt = now.Add(Backoff(d.Attempts))
	}
	if sendErr != nil {
		d.LastError = truncate(sendErr.Error(), maxErrorLen)
		n.log().InfoContext(ctx, "webhook delivery failed", "delivery", d.ID, "webhook", d.WebhookID, "attempt", d.Attempts,
			"state", d.State, "err", sendErr)
	}
	err := n.Store.Tx(ctx, func(tx *store.Tx) error { return tx.RecordDeliveryAttempt(ctx, d) })
	if errors.Is(err, store.ErrNotFound) {
		// The webhook was deleted meanwhile, or another pass recorded
		// this attempt: nothing left to record.
		return nil
	}
	return err
}

// send POSTs one delivery and returns the HTTP status (0 without an answer)
// and nil for a 2xx answer.
func (n *Notifier) send(ctx context.Context, dd *store.DueDelivery, now time.Time) (int, error) {
	if err := image.CheckURL(dd.Webhook.URL); err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, Timeout)
	defer cancel()
	body := []byte(dd.Payload)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, dd.Webhook.URL, strings.NewReader(dd.Payload))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "sirocco-webhooks")
	req.Header.Set(HeaderEvent, dd.EventType)
	req.Header.Set(HeaderDelivery, dd.ID)
	req.Header.Set(HeaderSignature, Sign(dd.Webhook.Secret, body, now))
	res, err := n.client(dd.Webhook.OrgID == "" || n.AllowPrivate).Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // its message repeats the URL
		}
		return 0, err
	}
	defer res.Body.Close()
	// Read a little so the connection could be reused; what the receiver
	// says is not kept.
	io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	if res.StatusCode < 200 || res.StatusCode > 299 {
		return res.StatusCode, fmt.Errorf("the endpoint answered %s", res.Status)
	}
	return res.StatusCode, nil
}

// client returns the HTTP client for a delivery: the guarded one refuses to
// connect to private addresses.
func (n *Notifier) client(allowPrivate bool) *http.Client {
	n.once.Do(func() {
		n.guarded = newClient(true)
		n.direct = newClient(false)
	})
	if allowPrivate {
		return n.direct
	}
	return n.guarded
}

func newClient(guard bool) *http.Client {
	dialer := &net.Dialer{Timeout: Timeout, KeepAlive: 30 * time.Second}
	if guard {
		// The check runs on the address actually dialled, after DNS, so a
		// name resolving to a private address is refused too.
		dialer.Control = func(_, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return fmt.Errorf("%w: %q is not an IP address and port", image.ErrForbiddenAddress, address)
			}
			if image.Forbidden(ap.Addr()) {
				return fmt.Errorf("%w: %s is a loopback, private, link-local or reserved address", image.ErrForbiddenAddress, ap.Addr())
			}
			return nil
		}
	}
	return &http.Client{
		Timeout: Timeout,
		Transport: &http.Transport{
			Proxy:                 nil, // a proxy would hide the real destination from the guard
			DialContext:           dialer.DialContext,
			TLSHandshakeTimeout:   Timeout,
			ResponseHeaderTimeout: Timeout,
			MaxIdleConnsPerHost:   2,
			IdleConnTimeout:       time.Minute,
			ForceAttemptHTTP2:     true,
		},
		// A redirect is an answer that is not 2xx: following it would let
		// an endpoint send the signed payload elsewhere.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// Backoff is the wait after the attempts-th failed attempt: 30 s, 1 min,
// 2 min, ... at most 1 h.
func Backoff(attempts int) time.Duration {
	d := FirstRetry
	for i := 1; i < attempts && d < MaxRetry; i++ {
		d *= 2
	}
	return min(d, MaxRetry)
}

// Sign is the Sirocco-Signature header of body sent at t.
func Sign(secret string, body []byte, t time.Time) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + mac(secret, ts, body)
}

func mac(secret, ts string, body []byte) string {
	h := hmac.New(sha256.New, []byte(secret))
	h.Write([]byte(ts))
	h.Write([]byte{'.'})
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}

// Errors of VerifySignature.
var (
	ErrBadSignature = errors.New("webhook signature does not match")
	ErrStale        = errors.New("webhook timestamp outside the tolerance")
)

// VerifySignature checks a Sirocco-Signature header against the raw body
// and the webhook's secret: one of its v1 values must be the HMAC-SHA256 of
// "<t>." + body, and t must be within tolerance of now (a replay of an old
// delivery is refused). It returns nil, ErrBadSignature or ErrStale.
func VerifySignature(secret, header string, body []byte, now time.Time, tolerance time.Duration) error {
	var ts string
	var sigs []string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sigs = append(sigs, v)
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return fmt.Errorf("%w: malformed header %q", ErrBadSignature, header)
	}
	want := []byte(mac(secret, ts, body))
	ok := false
	for _, s := range sigs {
		if hmac.Equal([]byte(s), want) {
			ok = true
		}
	}
	if !ok {
		return ErrBadSignature
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("%w: signed %s ago", ErrStale, d.Round(time.Second))
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
