package notify_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/internal/billing/notify"
	"github.com/sirocco-cloud/sirocco/internal/store"
)

func audit(t *testing.T, s *store.Store, evs ...*store.AuditEvent) {
	t.Helper()
	err := s.Tx(context.Background(), func(tx *store.Tx) error {
		for _, e := range evs {
			if e.ActorType == "" {
				e.ActorType = "user"
			}
			if err := tx.InsertAudit(context.Background(), e); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func forward(t *testing.T, n *notify.Notifier, now time.Time) {
	t.Helper()
	if err := n.ForwardAudit(context.Background(), now); err != nil {
		t.Fatalf("ForwardAudit: %v", err)
	}
}

func TestForwardAudit(t *testing.T) {
	engines(t, func(t *testing.T, s *store.Store) {
		acme, globex := createOrg(t, s, "acme"), createOrg(t, s, "globex")
		acmeRcv, globexRcv, opsRcv := newReceiver(t, http.StatusOK), newReceiver(t, http.StatusOK), newReceiver(t, http.StatusOK)
		acmeHook := createWebhook(t, s, acme, acmeRcv.URL, "vdc.create", "vdc.delete")
		createWebhook(t, s, globex, globexRcv.URL) // every type
		createWebhook(t, s, "", opsRcv.URL, "vdc.create")
		n := &notify.Notifier{Store: s, Now: newClock(t0).Now, AllowPrivate: true}

		vdc := &store.AuditEvent{OrgID: acme, Action: "vdc.create", ResourceKind: "vdc", ResourceID: "vdc-1", Outcome: "success",
			ActorID: "u-1", ActorEmail: "ann@acme.test", Detail: "web"}
		refused := &store.AuditEvent{OrgID: acme, Action: "vdc.delete", ResourceKind: "vdc", ResourceID: "vdc-1", Outcome: "failure", Status: 403}
		vm := &store.AuditEvent{OrgID: acme, Action: "vm.create", ResourceKind: "vm", ResourceID: "vm-1", Outcome: "success"}
		audit(t, s, vdc, refused, vm)

		// Two passes (a loop running twice, or two replicas) queue it once.
		forward(t, n, t0)
		forward(t, n, t0)
		deliver(t, n, t0)

		got := acmeRcv.requests()
		if len(got) != 1 {
			t.Fatalf("acme's webhook got %d requests, want the one vdc.create", len(got))
		}
		if err := notify.VerifySignature(acmeHook.Secret, got[0].header.Get(notify.HeaderSignature), got[0].body, t0, time.Minute); err != nil {
			t.Errorf("signature: %v", err)
		}
		var ev struct {
			ID   string            `json:"id"`
			Type string            `json:"type"`
			Org  string            `json:"org"`
			Data api.ResourceEvent `json:"data"`
		}
		if err := json.Unmarshal(got[0].body, &ev); err != nil {
			t.Fatalf("body %s: %v", got[0].body, err)
		}
		if ev.ID != vdc.ID || ev.Type != "vdc.create" || ev.Org != acme || got[0].header.Get(notify.HeaderEvent) != "vdc.create" {
			t.Errorf("event %+v, want vdc.create %s of %s", ev, vdc.ID, acme)
		}
		if d := ev.Data; d.ID != vdc.ID || d.ResourceKind != "vdc" || d.ResourceID != "vdc-1" || d.Actor.Email != "ann@acme.test" || d.Detail != "web" {
			t.Errorf("data %+v", d)
		}
		if n := len(globexRcv.requests()); n != 0 {
			t.Errorf("globex's webhook got %d of acme's changes", n)
		}
		if got := opsRcv.requests(); len(got) != 1 || got[0].header.Get(notify.HeaderEvent) != "vdc.create" {
			t.Errorf("the provider's webhook got %d requests, want acme's vdc.create", len(got))
		}

		var cursor string
		if err := s.View(context.Background(), func(tx *store.Tx) (err error) {
			cursor, err = tx.Cursor(context.Background(), notify.AuditCursor)
			return err
		}); err != nil || cursor != vm.ID {
			t.Errorf("cursor %q (%v), want the last event read %s", cursor, err, vm.ID)
		}

		// A change that commits after a later one was forwarded (its ID is
		// older) still goes out; a webhook made afterwards does not get
		// changes made before it existed.
		late := &store.AuditEvent{ID: store.NewID(), OrgID: acme, Action: "vdc.delete", ResourceKind: "vdc", ResourceID: "vdc-1", Outcome: "success"}
		lateRcv := newReceiver(t, http.StatusOK)
		lateHook := createWebhook(t, s, acme, lateRcv.URL)
		old := &store.AuditEvent{OrgID: acme, Action: "vdc.update", ResourceKind: "vdc", Outcome: "success", Time: lateHook.CreatedAt.Add(-time.Minute)}
		audit(t, s, late, old)
		forward(t, n, t0)
		deliver(t, n, t0)
		if got := acmeRcv.requests(); len(got) != 2 || got[1].header.Get(notify.HeaderEvent) != "vdc.delete" {
			t.Errorf("acme's webhook got %d requests, want the late vdc.delete second", len(got))
		}
		if got := deliveries(t, s, lateHook.ID); len(got) != 1 || got[0].EventID != late.ID {
			t.Errorf("a new webhook was sent %+v, want only the change made after it existed (%s)", got, late.ID)
		}
	})
}
