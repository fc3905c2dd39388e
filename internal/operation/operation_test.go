package operation

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/internal/store"
	"github.com/sirocco-cloud/sirocco/internal/store/storetest"
)

// clock is a settable time source shared by a store and its managers, so
// leases expire when a test says so rather than after real time.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// forEachStore runs fn against a fresh store on SQLite and on PostgreSQL,
// both on one fake clock.
func forEachStore(t *testing.T, fn func(t *testing.T, st *store.Store, clk *clock)) {
	open := func(t *testing.T, dsn string) {
		clk := &clock{t: time.Now().UTC()}
		st, err := store.Open(t.Context(), dsn, store.Options{Now: clk.Now})
		if err != nil {
			t.Fatalf("open store: %v", err)
		}
		t.Cleanup(func() { st.Close() })
		fn(t, st, clk)
	}
	t.Run("sqlite", func(t *testing.T) { open(t, filepath.Join(t.TempDir(), "ops.db")) })
	t.Run("postgres", func(t *testing.T) { open(t, storetest.PostgresURL(t)) })
}

func newManager(st *store.Store, clk *clock, holder string, ttl time.Duration) *Manager {
	return New(st, slog.New(slog.NewTextHandler(io.Discard, nil)), Options{
		Holder: holder, LeaseTTL: ttl, Poll: 10 * time.Millisecond, Workers: 2, Now: clk.Now,
	})
}

// start runs m until the returned stop is called (or the test ends); stop
// returns once every worker has returned, like a replica that is gone.
func start(t *testing.T, m *Manager) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { m.Run(ctx); close(done) }()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return stop
}

func enqueue(t *testing.T, st *store.Store, m *Manager, kind string) string {
	t.Helper()
	op := &store.Operation{OrgID: "org-1", Kind: kind, TargetKind: "thing", TargetID: "t1", CreatedBy: "user-1"}
	if err := st.Tx(t.Context(), func(tx *store.Tx) error { return m.Enqueue(t.Context(), tx, op) }); err != nil {
		t.Fatalf("enqueue %s: %v", kind, err)
	}
	m.Kick()
	return op.ID
}

// wait waits (in real time, bounded) for the operation to finish.
func wait(t *testing.T, m *Manager, id string) *store.Operation {
	t.Helper()
	op, err := m.Wait(t.Context(), id, 10*time.Second)
	if err != nil {
		t.Fatalf("wait %s: %v", id, err)
	}
	if !op.Done() {
		t.Fatalf("operation %s still %s after 10 s", id, op.State)
	}
	return op
}

func TestOutcomes(t *testing.T) {
	forEachStore(t, func(t *testing.T, st *store.Store, clk *clock) {
		m := newManager(st, clk, "a", time.Minute)
		m.Handle("ok", func(ctx context.Context, op *store.Operation, progress Progress) error {
			progress(40, "half way")
			return nil
		})
		m.Handle("refused", func(ctx context.Context, op *store.Operation, progress Progress) error {
			return api.Errorf(http.StatusConflict, api.CodeNotEmpty, "still holds 2 VMs")
		})
		m.Handle("broken", func(ctx context.Context, op *store.Operation, progress Progress) error {
			return errors.New("disk on fire")
		})
		m.Handle("panics", func(ctx context.Context, op *store.Operation, progress Progress) error {
			panic("boom")
		})
		start(t, m)

		tests := []struct {
			kind, state, code string
		}{
			{"ok", api.OpSucceeded, ""},
			{"refused", api.OpFailed, api.CodeNotEmpty},
			{"broken", api.OpFailed, api.CodeInternal},
			{"panics", api.OpFailed, api.CodeInternal},
		}
		for _, tt := range tests {
			t.Run(tt.kind, func(t *testing.T) {
				got := ToAPI(wait(t, m, enqueue(t, st, m, tt.kind)))
				if got.State != tt.state {
					t.Fatalf("state %s, want %s (%+v)", got.State, tt.state, got)
				}
				if got.FinishedAt == nil {
					t.Errorf("no finished_at")
				}
				if tt.code == "" {
					if got.Error != nil || got.Progress != 100 {
						t.Errorf("success: error %v, progress %d", got.Error, got.Progress)
					}
					return
				}
				if got.Error == nil || got.Error.Code != tt.code {
					t.Fatalf("error %+v, want code %s", got.Error, tt.code)
				}
				if got.Message == "" {
					t.Errorf("failed operation without a message")
				}
			})
		}

		if err := st.Tx(t.Context(), func(tx *store.Tx) error {
			return m.Enqueue(t.Context(), tx, &store.Operation{Kind: "nobody.runs.this"})
		}); err == nil {
			t.Errorf("enqueue of a kind without a runner succeeded")
		}
	})
}

func TestCancel(t *testing.T) {
	forEachStore(t, func(t *testing.T, st *store.Store, clk *clock) {
		// A long lease: the renewal never comes during the test, so a
		// cancel seen by the runner came straight from Cancel.
		m := newManager(st, clk, "a", time.Minute)
		started := make(chan string, 1)
		m.Handle("block", func(ctx context.Context, op *store.Operation, progress Progress) error {
			started <- op.ID
			<-ctx.Done()
			return ctx.Err()
		})

		// Not running yet: the operation stays queued and is cancelled at once.
		queued := enqueue(t, st, m, "block")
		op, err := m.Wait(t.Context(), queued, 20*time.Millisecond)
		if err != nil || op.State != api.OpQueued {
			t.Fatalf("wait on a queued operation: %v, %+v", err, op)
		}
		op, err = m.Cancel(t.Context(), queued)
		if err != nil || op.State != api.OpCancelled || op.FinishedAt == nil {
			t.Fatalf("cancel queued: %v, %+v", err, op)
		}

		start(t, m)
		running := enqueue(t, st, m, "block")
		if id := <-started; id != running {
			t.Fatalf("started %s, want %s (the cancelled one must not run)", id, running)
		}
		if _, err := m.Cancel(t.Context(), running); err != nil {
			t.Fatal(err)
		}
		if op := wait(t, m, running); op.State != api.OpCancelled {
			t.Fatalf("cancel running: state %s", op.State)
		}

		// Cancelling a finished operation changes nothing.
		op, err = m.Cancel(t.Context(), running)
		if err != nil || op.State != api.OpCancelled {
			t.Fatalf("cancel again: %v, %+v", err, op)
		}
		if _, err := m.Cancel(t.Context(), store.NewID()); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("cancel unknown: %v, want ErrNotFound", err)
		}
	})
}

func TestCancelFromOtherReplica(t *testing.T) {
	forEachStore(t, func(t *testing.T, st *store.Store, clk *clock) {
		// The runner's replica learns of the cancel at its next lease
		// renewal, every LeaseTTL/3 of real time.
		a := newManager(st, clk, "a", 300*time.Millisecond)
		b := newManager(st, clk, "b", 300*time.Millisecond)
		started := make(chan struct{}, 1)
		runner := func(ctx context.Context, op *store.Operation, progress Progress) error {
			started <- struct{}{}
			<-ctx.Done()
			return ctx.Err()
		}
		a.Handle("block", runner)
		b.Handle("block", runner)
		start(t, a)
		id := enqueue(t, st, a, "block")
		<-started
		if _, err := b.Cancel(t.Context(), id); err != nil {
			t.Fatal(err)
		}
		if op := wait(t, b, id); op.State != api.OpCancelled {
			t.Fatalf("state %s, want cancelled", op.State)
		}
	})
}

func TestRerunAfterReplicaDies(t *testing.T) {
	forEachStore(t, func(t *testing.T, st *store.Store, clk *clock) {
		const ttl = time.Minute
		runs := make(chan *store.Operation, 2)
		runner := func(ctx context.Context, op *store.Operation, progress Progress) error {
			runs <- op
			if op.LeaseHolder == "a" {
				<-ctx.Done() // replica a dies mid-run
				return ctx.Err()
			}
			return nil
		}
		a := newManager(st, clk, "a", ttl)
		a.Handle("work", runner)
		stopA := start(t, a)
		id := enqueue(t, st, a, "work")
		if op := <-runs; op.ID != id || op.Attempts != 1 {
			t.Fatalf("first run: %+v", op)
		}
		stopA()

		// The operation is still a's until its lease runs out.
		claim := func() error {
			return st.Tx(t.Context(), func(tx *store.Tx) error {
				_, err := tx.ClaimOperation(t.Context(), "probe", clk.Now().Add(ttl))
				return err
			})
		}
		if err := claim(); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("claim under a live lease: %v, want ErrNotFound", err)
		}
		clk.Advance(ttl + time.Second)

		b := newManager(st, clk, "b", ttl)
		b.Handle("work", runner)
		start(t, b)
		if op := <-runs; op.ID != id || op.Attempts != 2 || op.LeaseHolder != "b" {
			t.Fatalf("second run: %+v", op)
		}
		if op := wait(t, b, id); op.State != api.OpSucceeded {
			t.Fatalf("state %s after the re-run, want succeeded", op.State)
		}
	})
}

func TestCancelWhileReplicaDead(t *testing.T) {
	forEachStore(t, func(t *testing.T, st *store.Store, clk *clock) {
		const ttl = time.Minute
		runs := make(chan string, 2)
		runner := func(ctx context.Context, op *store.Operation, progress Progress) error {
			runs <- op.LeaseHolder
			<-ctx.Done()
			return ctx.Err()
		}
		a := newManager(st, clk, "a", ttl)
		a.Handle("work", runner)
		stopA := start(t, a)
		id := enqueue(t, st, a, "work")
		<-runs
		stopA()

		// Cancelled while nobody runs it: it stays running (the lease
		// holder may still be alive) until a replica picks it up again.
		b := newManager(st, clk, "b", ttl)
		b.Handle("work", runner)
		op, err := b.Cancel(t.Context(), id)
		if err != nil || op.State != api.OpRunning || !op.CancelRequested {
			t.Fatalf("cancel: %v, %+v", err, op)
		}
		clk.Advance(ttl + time.Second)
		start(t, b)
		if op := wait(t, b, id); op.State != api.OpCancelled {
			t.Fatalf("state %s, want cancelled", op.State)
		}
		select {
		case h := <-runs:
			t.Fatalf("runner started again on %s after the cancel", h)
		default:
		}
	})
}
