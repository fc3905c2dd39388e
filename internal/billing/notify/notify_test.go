package notify_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/internal/billing/notify"
	"github.com/sirocco-cloud/sirocco/internal/store"
	"github.com/sirocco-cloud/sirocco/internal/store/storetest"
)

// engines runs fn on a fresh store of each engine.
func engines(t *testing.T, fn func(t *testing.T, s *store.Store)) {
	for _, e := range []struct {
		name string
		dsn  func(t *testing.T) string
	}{
		{"sqlite", func(t *testing.T) string { return filepath.Join(t.TempDir(), "sirocco.db") }},
		{"postgres", func(t *testing.T) string { return storetest.PostgresURL(t) }},
	} {
		t.Run(e.name, func(t *testing.T) {
			s, err := store.Open(context.Background(), e.dsn(t), store.Options{})
			if err != nil {
				t.Fatalf("open: %v", err)
			}
			t.Cleanup(func() { s.Close() })
			fn(t, s)
		})
	}
}

// t0 is when the tests' clock starts.
var t0 = time.Date(2028, 5, 3, 10, 0, 0, 0, time.UTC)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time   { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) set(t time.Time)  { c.mu.Lock(); c.t = t; c.mu.Unlock() }
func newClock(t time.Time) *clock { return &clock{t: t} }

// receiver is a webhook endpoint that answers with the next status of its
// script (the last one repeating) and records every request.
type receiver struct {
	*httptest.Server
	mu       sync.Mutex
	statuses []int
	got      []received
}

type received struct {
	header http.Header
	body   []byte
}

func newReceiver(t *testing.T, statuses ...int) *receiver {
	r := &receiver{statuses: statuses}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got = append(r.got, received{req.Header.Clone(), body})
		status := r.statuses[min(len(r.got), len(r.statuses))-1]
		r.mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) requests() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.got...)
}

func createOrg(t *testing.T, s *store.Store, name string) string {
	t.Helper()
	o := &store.Org{Name: name, State: api.OrgActive}
	if err := s.Tx(context.Background(), func(tx *store.Tx) error { return tx.CreateOrg(context.Background(), o) }); err != nil {
		t.Fatal(err)
	}
	return o.ID
}

func createWebhook(t *testing.T, s *store.Store, org, url string, types ...string) *store.Webhook {
	t.Helper()
	w := &store.Webhook{OrgID: org, URL: url, Secret: notify.NewSecret(), EventTypes: types, Active: true}
	if err := s.Tx(context.Background(), func(tx *store.Tx) error { return tx.CreateWebhook(context.Background(), w) }); err != nil {
		t.Fatal(err)
	}
	return w
}

func raise(t *testing.T, s *store.Store, n *notify.Notifier, org, eventType string, data any) {
	t.Helper()
	ctx := context.Background()
	if err := s.Tx(ctx, func(tx *store.Tx) error { return n.Event(ctx, tx, org, eventType, data) }); err != nil {
		t.Fatal(err)
	}
}

func deliveries(t *testing.T, s *store.Store, webhookID string) []store.WebhookDelivery {
	t.Helper()
	var out []store.WebhookDelivery
	err := s.View(context.Background(), func(tx *store.Tx) (err error) {
		out, _, err = tx.ListDeliveries(context.Background(), webhookID, store.Page{})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func deliver(t *testing.T, n *notify.Notifier, now time.Time) {
	t.Helper()
	if err := n.DeliverOnce(context.Background(), now); err != nil {
		t.Fatalf("DeliverOnce at %s: %v", now, err)
	}
}

func TestDeliveryIsSignedAndVerifies(t *testing.T) {
	engines(t, func(t *testing.T, s *store.Store) {
		acme := createOrg(t, s, "acme")
		rcv := newReceiver(t, http.StatusOK)
		w := createWebhook(t, s, acme, rcv.URL+"/hooks")
		n := &notify.Notifier{Store: s, Now: newClock(t0).Now, AllowPrivate: true}
		raise(t, s, n, acme, api.EventBillingState, map[string]string{"state": "grace"})

		deliver(t, n, t0)
		reqs := rcv.requests()
		if len(reqs) != 1 {
			t.Fatalf("receiver got %d requests, want 1", len(reqs))
		}
		r := reqs[0]
		if err := notify.VerifySignature(w.Secret, r.header.Get(notify.HeaderSignature), r.body, t0.Add(time.Minute), 5*time.Minute); err != nil {
			t.Fatalf("signature %q does not verify: %v", r.header.Get(notify.HeaderSignature), err)
		}
		var ev struct {
			ID        string            `json:"id"`
			Type      string            `json:"type"`
			CreatedAt time.Time         `json:"created_at"`
			Org       string            `json:"org"`
			Data      map[string]string `json:"data"`
		}
		if err := json.Unmarshal(r.body, &ev); err != nil {
			t.Fatalf("body %s: %v", r.body, err)
		}
		log := deliveries(t, s, w.ID)
		if len(log) != 1 {
			t.Fatalf("delivery log %+v", log)
		}
		d := log[0]
		if ev.Type != api.EventBillingState || ev.Org != acme || ev.Data["state"] != "grace" || !ev.CreatedAt.Equal(t0) || ev.ID != d.EventID ||
			!store.IsID(ev.ID) {
			t.Errorf("event %+v", ev)
		}
		if r.header.Get(notify.HeaderEvent) != api.EventBillingState || r.header.Get(notify.HeaderDelivery) != d.ID ||
			r.header.Get("Content-Type") != "application/json" {
			t.Errorf("headers %v", r.header)
		}
		if d.State != store.DeliveryDelivered || d.Attempts != 1 || d.LastStatus != 200 || d.DeliveredAt == nil || !d.DeliveredAt.Equal(t0) {
			t.Errorf("delivery %+v", d)
		}

		// A receiver refuses forgeries, tampering and replays.
		sig := r.header.Get(notify.HeaderSignature)
		for _, tt := range []struct {
			name, secret, header, body string
			now                        time.Time
			want                       error
		}{
			{"wrong secret", "whsec_other", sig, string(r.body), t0, notify.ErrBadSignature},
			{"tampered body", w.Secret, sig, strings.Replace(string(r.body), "grace", "active", 1), t0, notify.ErrBadSignature},
			{"replayed later", w.Secret, sig, string(r.body), t0.Add(10 * time.Minute), notify.ErrStale},
			{"no signature", w.Secret, "t=123", string(r.body), t0, notify.ErrBadSignature},
			{"timestamp changed", w.Secret, strings.Replace(sig, "t=", "t=1", 1), string(r.body), t0, notify.ErrBadSignature},
		} {
			if err := notify.VerifySignature(tt.secret, tt.header, []byte(tt.body), tt.now, 5*time.Minute); !errors.Is(err, tt.want) {
				t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
			}
		}

		// Delivered once: a later pass sends nothing.
		deliver(t, n, t0.Add(time.Hour))
		if len(rcv.requests()) != 1 {
			t.Errorf("a delivered event was sent again")
		}
	})
}

func TestBackoff(t *testing.T) {
	for _, tt := range []struct {
		attempts int
		want     time.Duration
	}{{1, 30 * time.Second}, {2, time.Minute}, {3, 2 * time.Minute}, {7, 32 * time.Minute}, {8, time.Hour}, {9, time.Hour}, {50, time.Hour}} {
		if got := notify.Backoff(tt.attempts); got != tt.want {
			t.Errorf("Backoff(%d) = %s, want %s", tt.attempts, got, tt.want)
		}
	}
}

func TestRetriesWithBackoffUntilDelivered(t *testing.T) {
	engines(t, func(t *testing.T, s *store.Store) {
		acme := createOrg(t, s, "acme")
		rcv := newReceiver(t, 500, 500, 204)
		w := createWebhook(t, s, acme, rcv.URL)
		n := &notify.Notifier{Store: s, Now: newClock(t0).Now, AllowPrivate: true}
		raise(t, s, n, acme, api.EventInvoiceFinalized, map[string]string{"invoice": "42"})

		steps := []struct {
			at       time.Time
			requests int
			state    string
			next     time.Time
		}{
			{t0, 1, store.DeliveryPending, t0.Add(30 * time.Second)},
			{t0.Add(29 * time.Second), 1, store.DeliveryPending, t0.Add(30 * time.Second)}, // not due yet
			{t0.Add(30 * time.Second), 2, store.DeliveryPending, t0.Add(90 * time.Second)},
			{t0.Add(90 * time.Second), 3, store.DeliveryDelivered, t0.Add(90 * time.Second)},
			{t0.Add(time.Hour), 3, store.DeliveryDelivered, t0.Add(90 * time.Second)},
		}
		for _, st := range steps {
			deliver(t, n, st.at)
			d := deliveries(t, s, w.ID)[0]
			if got := len(rcv.requests()); got != st.requests || d.State != st.state || !d.NextAttemptAt.Equal(st.next) {
				t.Fatalf("after a pass at +%s: %d requests, delivery %+v; want %d requests, %s, next at +%s",
					st.at.Sub(t0), got, d, st.requests, st.state, st.next.Sub(t0))
			}
		}
		d := deliveries(t, s, w.ID)[0]
		if d.Attempts != 3 || d.LastStatus != 204 || d.LastError != "" {
			t.Errorf("delivered as %+v", d)
		}
		// Every attempt carried the same delivery and body, signed at its own time.
		reqs := rcv.requests()
		for i, r := range reqs {
			if r.header.Get(notify.HeaderDelivery) != d.ID || string(r.body) != string(reqs[0].body) {
				t.Errorf("attempt %d differs: %v %s", i+1, r.header, r.body)
			}
		}
		if err := notify.VerifySignature(w.Secret, reqs[2].header.Get(notify.HeaderSignature), reqs[2].body, t0.Add(90*time.Second), time.Second); err != nil {
			t.Errorf("third attempt not signed at its own time: %v", err)
		}
	})
}

func TestFailsAfterMaxAttempts(t *testing.T) {
	engines(t, func(t *testing.T, s *store.Store) {
		acme := createOrg(t, s, "acme")
		rcv := newReceiver(t, http.StatusServiceUnavailable)
		w := createWebhook(t, s, acme, rcv.URL)
		n := &notify.Notifier{Store: s, Now: newClock(t0).Now, AllowPrivate: true}
		raise(t, s, n, acme, api.EventBillingThreshold, map[string]int{"percent": 80})

		now := t0
		for i := 1; i <= notify.MaxAttempts; i++ {
			deliver(t, n, now)
			d := deliveries(t, s, w.ID)[0]
			if d.Attempts != i || d.LastStatus != 503 || !strings.Contains(d.LastError, "503") {
				t.Fatalf("after attempt %d: %+v", i, d)
			}
			if i < notify.MaxAttempts {
				if d.State != store.DeliveryPending || !d.NextAttemptAt.Equal(now.Add(notify.Backoff(i))) {
					t.Fatalf("after attempt %d: %+v, want pending until +%s", i, d, notify.Backoff(i))
				}
				now = d.NextAttemptAt
			} else if d.State != store.DeliveryFailed {
				t.Fatalf("after the last attempt: %s, want failed", d.State)
			}
		}
		deliver(t, n, now.Add(24*time.Hour))
		if got := len(rcv.requests()); got != notify.MaxAttempts {
			t.Errorf("%d requests, want %d: a failed delivery is not retried", got, notify.MaxAttempts)
		}
	})
}

func TestEventsGoToMatchingWebhooks(t *testing.T) {
	engines(t, func(t *testing.T, s *store.Store) {
		acme, other := createOrg(t, s, "acme"), createOrg(t, s, "other")
		url := "https://hooks.example.com/in"
		all := createWebhook(t, s, acme, url)
		budgetsOnly := createWebhook(t, s, acme, url, api.EventBudgetThreshold)
		provInvoices := createWebhook(t, s, "", url, api.EventInvoiceFinalized)
		theirs := createWebhook(t, s, other, url)
		n := &notify.Notifier{Store: s, Now: newClock(t0).Now}

		raise(t, s, n, acme, api.EventBillingState, nil)
		raise(t, s, n, acme, api.EventInvoiceFinalized, nil)
		for _, tt := range []struct {
			name string
			w    *store.Webhook
			want []string
		}{
			{"acme's catch-all", all, []string{api.EventBillingState, api.EventInvoiceFinalized}},
			{"acme's budget-only", budgetsOnly, nil},
			{"provider's invoice-only", provInvoices, []string{api.EventInvoiceFinalized}},
			{"another organisation's", theirs, nil},
		} {
			var got []string
			for _, d := range deliveries(t, s, tt.w.ID) {
				got = append(got, d.EventType)
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("%s webhook got %v, want %v", tt.name, got, tt.want)
			}
		}
	})
}

func TestTenantWebhookToLoopbackIsRefused(t *testing.T) {
	engines(t, func(t *testing.T, s *store.Store) {
		acme := createOrg(t, s, "acme")
		rcv := newReceiver(t, http.StatusOK)
		tenant := createWebhook(t, s, acme, rcv.URL)
		provider := createWebhook(t, s, "", rcv.URL)
		n := &notify.Notifier{Store: s, Now: newClock(t0).Now} // production setting
		raise(t, s, n, acme, api.EventBillingState, nil)

		deliver(t, n, t0)
		d := deliveries(t, s, tenant.ID)[0]
		if d.State != store.DeliveryPending || d.Attempts != 1 || d.LastStatus != 0 || !strings.Contains(d.LastError, "not allowed") {
			t.Errorf("tenant delivery to %s: %+v, want refused", rcv.URL, d)
		}
		// The provider's own webhook may reach its private network.
		if p := deliveries(t, s, provider.ID)[0]; p.State != store.DeliveryDelivered {
			t.Errorf("provider delivery: %+v", p)
		}
		if got := len(rcv.requests()); got != 1 {
			t.Errorf("receiver got %d requests, want only the provider's", got)
		}
	})
}
