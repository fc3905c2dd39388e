package loop

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sirocco-cloud/sirocco/internal/store"
	"github.com/sirocco-cloud/sirocco/internal/store/storetest"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestSingletonLoopRunsOnOneReplicaAndMovesWhenItDies(t *testing.T) {
	for name, dsn := range map[string]func(t *testing.T) string{
		"sqlite":   func(t *testing.T) string { return filepath.Join(t.TempDir(), "s.db") },
		"postgres": func(t *testing.T) string { return storetest.PostgresURL(t) },
	} {
		t.Run(name, func(t *testing.T) {
			clk := &clock{t: time.Date(2026, 2, 28, 23, 59, 0, 0, time.UTC)}
			st, err := store.Open(context.Background(), dsn(t), store.Options{Now: clk.Now})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			log := slog.New(slog.NewTextHandler(io.Discard, nil))
			var runsA, runsB, everywhere atomic.Int32
			mk := func(holder string, runs *atomic.Int32) *Runner {
				return New(st, log, Options{Holder: holder, LeaseTTL: 15 * time.Second, Now: clk.Now},
					Loop{Name: "janitor", Every: 5 * time.Second, Singleton: true, Run: func(context.Context) error { runs.Add(1); return nil }},
					Loop{Name: "local", Every: 5 * time.Second, Run: func(context.Context) error { everywhere.Add(1); return nil }},
				)
			}
			a, b := mk("replica-a", &runsA), mk("replica-b", &runsB)
			ctx := context.Background()

			// Both replicas tick for a while: exactly one runs the singleton.
			for range 4 {
				a.Tick(ctx, "janitor")
				b.Tick(ctx, "janitor")
				a.Tick(ctx, "local")
				b.Tick(ctx, "local")
				clk.Advance(5 * time.Second)
			}
			if runsA.Load() != 4 || runsB.Load() != 0 {
				t.Fatalf("singleton ran %d times on a and %d on b, want 4 and 0", runsA.Load(), runsB.Load())
			}
			if !a.Holds("janitor") || b.Holds("janitor") {
				t.Fatalf("lease: a holds %v, b holds %v", a.Holds("janitor"), b.Holds("janitor"))
			}
			if everywhere.Load() != 8 {
				t.Fatalf("non-singleton loop ran %d times, want 8 (on both replicas)", everywhere.Load())
			}

			// a dies without releasing: b must not take over before the lease expires...
			clk.Advance(5 * time.Second)
			if b.Tick(ctx, "janitor") {
				t.Fatal("b ran the singleton while a's lease was still valid")
			}
			// ...and takes over once it has.
			clk.Advance(15 * time.Second)
			if !b.Tick(ctx, "janitor") || !b.Holds("janitor") {
				t.Fatal("b did not take over the expired lease")
			}
			// a comes back: it must see it lost the lease and not run.
			if a.Tick(ctx, "janitor") || a.Holds("janitor") {
				t.Fatal("a ran the singleton after losing its lease")
			}

			// A clean shutdown releases the lease: the other replica takes it at once.
			runCtx, cancel := context.WithCancel(ctx)
			done := make(chan struct{})
			go func() { b.Run(runCtx); close(done) }()
			cancel()
			<-done
			clk.Advance(time.Second)
			if !a.Tick(ctx, "janitor") {
				t.Fatal("a did not take the lease b released on shutdown")
			}
		})
	}
}
