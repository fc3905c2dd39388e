package store

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"
)

func TestWebhookCRUD(t *testing.T) {
	engines(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		acme, other := billingOrgs(t, s)
		mine := &Webhook{OrgID: acme, URL: "https://hooks.acme.test/in", Secret: "s1", EventTypes: []string{"budget.threshold"}, Active: true}
		theirs := &Webhook{OrgID: other, URL: "https://hooks.other.test/in", Secret: "s2", Active: true}
		provider := &Webhook{URL: "https://ops.provider.test/in", Secret: "s3", Active: true}
		err := s.Tx(ctx, func(tx *Tx) error {
			for _, w := range []*Webhook{mine, theirs, provider} {
				if err := tx.CreateWebhook(ctx, w); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}

		var got *Webhook
		if err := s.View(ctx, func(tx *Tx) (err error) { got, err = tx.GetWebhook(ctx, acme, mine.ID); return err }); err != nil {
			t.Fatal(err)
		}
		if got.URL != mine.URL || got.Secret != "s1" || !got.Active || !reflect.DeepEqual(got.EventTypes, []string{"budget.threshold"}) {
			t.Errorf("GetWebhook = %+v", got)
		}
		for _, owner := range []string{other, ""} {
			err := s.View(ctx, func(tx *Tx) error { _, err := tx.GetWebhook(ctx, owner, mine.ID); return err })
			if !errors.Is(err, ErrNotFound) {
				t.Errorf("GetWebhook by owner %q: %v, want ErrNotFound", owner, err)
			}
		}

		var list, provList, subscribed []Webhook
		err = s.View(ctx, func(tx *Tx) (err error) {
			if list, _, err = tx.ListWebhooks(ctx, acme, Page{}); err != nil {
				return err
			}
			if provList, _, err = tx.ListWebhooks(ctx, "", Page{}); err != nil {
				return err
			}
			subscribed, err = tx.SubscribedWebhooks(ctx, acme)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 1 || list[0].ID != mine.ID || len(provList) != 1 || provList[0].ID != provider.ID {
			t.Errorf("lists: acme %v, provider %v", list, provList)
		}
		if ids := webhookIDs(subscribed); !reflect.DeepEqual(ids, []string{mine.ID, provider.ID}) {
			t.Errorf("acme's events go to %v, want its own and the provider's", ids)
		}

		// An inactive webhook receives nothing.
		mine.Active = false
		if err := s.Tx(ctx, func(tx *Tx) error { return tx.UpdateWebhook(ctx, mine) }); err != nil {
			t.Fatal(err)
		}
		if err := s.View(ctx, func(tx *Tx) (err error) { subscribed, err = tx.SubscribedWebhooks(ctx, acme); return err }); err != nil {
			t.Fatal(err)
		}
		if ids := webhookIDs(subscribed); !reflect.DeepEqual(ids, []string{provider.ID}) {
			t.Errorf("after deactivating: %v", ids)
		}

		if err := s.Tx(ctx, func(tx *Tx) error { return tx.DeleteWebhook(ctx, mine.ID) }); err != nil {
			t.Fatal(err)
		}
		if err := s.Tx(ctx, func(tx *Tx) error { return tx.DeleteWebhook(ctx, mine.ID) }); !errors.Is(err, ErrNotFound) {
			t.Errorf("delete twice: %v, want ErrNotFound", err)
		}
	})
}

func webhookIDs(ws []Webhook) []string {
	var ids []string
	for _, w := range ws {
		ids = append(ids, w.ID)
	}
	return ids
}

func TestWebhookDeliveries(t *testing.T) {
	engines(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		acme, _ := billingOrgs(t, s)
		w := &Webhook{OrgID: acme, URL: "https://hooks.acme.test/in", Secret: "s", Active: true}
		if err := s.Tx(ctx, func(tx *Tx) error { return tx.CreateWebhook(ctx, w) }); err != nil {
			t.Fatal(err)
		}
		t0 := time.Date(2028, 5, 3, 10, 0, 0, 0, time.UTC)
		enqueue := func(event string, due time.Time) (*WebhookDelivery, bool) {
			t.Helper()
			d := &WebhookDelivery{WebhookID: w.ID, EventID: event, EventType: "budget.threshold", Payload: `{"id":"` + event + `"}`, NextAttemptAt: due}
			var ok bool
			if err := s.Tx(ctx, func(tx *Tx) (err error) { ok, err = tx.EnqueueDelivery(ctx, d); return err }); err != nil {
				t.Fatal(err)
			}
			return d, ok
		}
		first, ok := enqueue("ev-1", t0)
		if !ok {
			t.Fatal("first enqueue did not insert")
		}
		if _, ok := enqueue("ev-1", t0); ok {
			t.Error("the same event was enqueued twice for one webhook")
		}
		enqueue("ev-2", t0.Add(time.Minute))

		due := func(now time.Time) []DueDelivery {
			t.Helper()
			var out []DueDelivery
			if err := s.View(ctx, func(tx *Tx) (err error) { out, err = tx.DueDeliveries(ctx, now, 10); return err }); err != nil {
				t.Fatal(err)
			}
			return out
		}
		if got := due(t0); len(got) != 1 || got[0].EventID != "ev-1" || got[0].Webhook.URL != w.URL || got[0].Webhook.Secret != "s" ||
			got[0].Payload != `{"id":"ev-1"}` {
			t.Fatalf("due at t0: %+v", got)
		}
		if got := due(t0.Add(time.Minute)); len(got) != 2 {
			t.Fatalf("due a minute later: %d, want 2", len(got))
		}

		// A failed attempt moves the next one later; recording it again is refused.
		first.State, first.Attempts, first.LastStatus, first.LastError, first.NextAttemptAt = DeliveryPending, 1, 500, "HTTP 500", t0.Add(30*time.Second)
		if err := s.Tx(ctx, func(tx *Tx) error { return tx.RecordDeliveryAttempt(ctx, first) }); err != nil {
			t.Fatal(err)
		}
		if err := s.Tx(ctx, func(tx *Tx) error { return tx.RecordDeliveryAttempt(ctx, first) }); !errors.Is(err, ErrNotFound) {
			t.Errorf("the same attempt recorded twice: %v, want ErrNotFound", err)
		}
		if got := due(t0.Add(10 * time.Second)); len(got) != 0 {
			t.Errorf("retry due before its time: %+v", got)
		}
		delivered := t0.Add(31 * time.Second)
		first.State, first.Attempts, first.LastStatus, first.LastError, first.DeliveredAt = DeliveryDelivered, 2, 204, "", &delivered
		if err := s.Tx(ctx, func(tx *Tx) error { return tx.RecordDeliveryAttempt(ctx, first) }); err != nil {
			t.Fatal(err)
		}
		if got := due(t0.Add(time.Hour)); len(got) != 1 || got[0].EventID != "ev-2" {
			t.Errorf("due after delivery: %+v", got)
		}

		var log []WebhookDelivery
		if err := s.View(ctx, func(tx *Tx) (err error) { log, _, err = tx.ListDeliveries(ctx, w.ID, Page{}); return err }); err != nil {
			t.Fatal(err)
		}
		if len(log) != 2 || log[0].State != DeliveryDelivered || log[0].Attempts != 2 || log[0].LastStatus != 204 ||
			log[0].DeliveredAt == nil || !log[0].DeliveredAt.Equal(delivered) || log[1].State != DeliveryPending {
			t.Errorf("delivery log: %+v", log)
		}

		// Deleting the webhook takes its log with it; nothing is due any more.
		if err := s.Tx(ctx, func(tx *Tx) error { return tx.DeleteWebhook(ctx, w.ID) }); err != nil {
			t.Fatal(err)
		}
		if got := due(t0.Add(time.Hour)); len(got) != 0 {
			t.Errorf("due after the webhook was deleted: %+v", got)
		}
		err := s.View(ctx, func(tx *Tx) error { _, err := tx.GetDelivery(ctx, first.ID); return err })
		if !errors.Is(err, ErrNotFound) {
			t.Errorf("delivery after its webhook was deleted: %v, want ErrNotFound", err)
		}
	})
}
