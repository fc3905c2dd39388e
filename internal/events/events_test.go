package events_test

import (
	"bytes"
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/sirocco-cloud/sirocco/internal/events"
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

// insert stores audit events as given (IDs made by the caller when set).
func insert(t *testing.T, s *store.Store, evs ...*store.AuditEvent) {
	t.Helper()
	err := s.Tx(context.Background(), func(tx *store.Tx) error {
		for _, e := range evs {
			if e.Outcome == "" {
				e.Outcome = "success"
			}
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

func ids(evs []store.AuditEvent) []string {
	out := []string{}
	for _, e := range evs {
		out = append(out, e.ID)
	}
	return out
}

func next(t *testing.T, f *events.Feed, sc events.Scope) []string {
	t.Helper()
	evs, err := f.Next(context.Background(), time.Now(), sc)
	if err != nil {
		t.Fatal(err)
	}
	return ids(evs)
}

func TestIDAtSortsBeforeLaterIDs(t *testing.T) {
	before := events.IDAt(time.Now())
	id := store.NewID()
	after := events.IDAt(time.Now().Add(time.Millisecond))
	if !(before <= id && id < after) {
		t.Fatalf("IDAt brackets: %s <= %s < %s does not hold", before, id, after)
	}
	if !store.IsID(before) {
		t.Errorf("IDAt = %q, not shaped like an ID", before)
	}
}

func TestFeed(t *testing.T) {
	engines(t, func(t *testing.T, s *store.Store) {
		all := events.Scope{All: true}
		acme := events.Scope{Orgs: []string{"acme"}}
		old := &store.AuditEvent{Action: "vdc.create", OrgID: "acme"}
		insert(t, s, old)

		f := events.NewFeed(s, old.ID)
		if got := next(t, f, all); len(got) != 0 {
			t.Fatalf("a feed after the last event read %v", got)
		}
		vdc := &store.AuditEvent{Action: "vdc.create", OrgID: "acme", ResourceKind: "vdc"}
		theirs := &store.AuditEvent{Action: "vm.create", OrgID: "globex"}
		failed := &store.AuditEvent{Action: "POST /api/v1/orgs/{org}/vms", OrgID: "acme", Outcome: "failure"}
		// late has an earlier ID than vdc but commits after it was read,
		// as a slower transaction on PostgreSQL would.
		late := &store.AuditEvent{ID: store.NewID(), Action: "vm.update", OrgID: "acme"}
		insert(t, s, vdc, theirs, failed)

		if got, want := next(t, f, acme), []string{vdc.ID}; !slices.Equal(got, want) {
			t.Fatalf("first read %v, want only acme's successful change %v", got, want)
		}
		insert(t, s, late)
		if got, want := next(t, f, acme), []string{late.ID}; !slices.Equal(got, want) {
			t.Fatalf("after a late commit read %v, want %v", got, want)
		}
		if got := next(t, f, acme); len(got) != 0 {
			t.Fatalf("an idle feed read %v again", got)
		}
		// Widening the scope brings the other organisation's recent change,
		// once.
		if got, want := next(t, f, all), []string{theirs.ID}; !slices.Equal(got, want) {
			t.Fatalf("wider scope read %v, want %v", got, want)
		}

		// A resumed feed starts after the event it names.
		resumed := events.NewFeed(s, vdc.ID)
		if got, want := next(t, resumed, all), []string{theirs.ID}; !slices.Equal(got, want) {
			t.Fatalf("resumed after %s read %v, want %v", vdc.ID, got, want)
		}
	})
}

func TestFeedCatchesUpInBatches(t *testing.T) {
	engines(t, func(t *testing.T, s *store.Store) {
		f := events.NewFeed(s, "")
		var evs []*store.AuditEvent
		for range events.MaxBatch + 20 {
			evs = append(evs, &store.AuditEvent{Action: "vm.update", OrgID: "acme"})
		}
		insert(t, s, evs...)
		first := next(t, f, events.Scope{Orgs: []string{"acme", "globex"}})
		second := next(t, f, events.Scope{Orgs: []string{"acme", "globex"}})
		if len(first) != events.MaxBatch || len(second) != 20 {
			t.Fatalf("read %d then %d events, want %d then 20", len(first), len(second), events.MaxBatch)
		}
		if got := append(first, second...); got[0] != evs[0].ID || got[len(got)-1] != evs[len(evs)-1].ID || !slices.IsSorted(got) {
			t.Fatalf("events out of order or missing")
		}
	})
}

func TestWriteSSE(t *testing.T) {
	tests := []struct {
		name, id, event, data, want string
	}{
		{"plain", "01", "vm.create", `{"a":1}`, "id: 01\nevent: vm.create\ndata: {\"a\":1}\n\n"},
		{"multi-line data", "02", "x", "a\nb", "id: 02\nevent: x\ndata: a\ndata: b\n\n"},
		{"newline in a field cannot inject one", "03\nevent: evil", "x", "d", "id: 03 event: evil\nevent: x\ndata: d\n\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := events.WriteSSE(&b, tt.id, tt.event, []byte(tt.data)); err != nil {
				t.Fatal(err)
			}
			if b.String() != tt.want {
				t.Errorf("wrote %q, want %q", b.String(), tt.want)
			}
		})
	}
}
