// Package loop runs the control plane's background loops. A singleton loop
// (janitor, and later scheduler, metering, rating, invoicing) must run on
// exactly one replica: it holds a lease in the store, renews it while it
// runs, and another replica takes it over once the lease expires because its
// holder died. Other loops run on every replica.
package loop

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sirocco-cloud/sirocco/internal/store"
)

// Loop is one background job.
type Loop struct {
	// Name identifies the loop in leases, logs and metrics.
	Name string
	// Every is the time between runs.
	Every time.Duration
	// Singleton loops run on one replica at a time.
	Singleton bool
	// Run does one pass. It should finish well within the lease TTL.
	Run func(ctx context.Context) error
}

// Options tune a Runner.
type Options struct {
	// Holder names this replica in leases. Required and unique per replica.
	Holder string
	// LeaseTTL is how long a lease outlives its last renewal. Default 15 s.
	LeaseTTL time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Registry receives loop metrics; nil for none.
	Registry prometheus.Registerer
}

// Runner drives loops.
type Runner struct {
	store *store.Store
	log   *slog.Logger
	opts  Options
	loops []*state

	runs   *prometheus.CounterVec
	leader *prometheus.GaugeVec
}

type state struct {
	Loop
	mu      sync.Mutex
	held    bool
	lastRun time.Time
}

// New returns a Runner for loops.
func New(st *store.Store, log *slog.Logger, opts Options, loops ...Loop) *Runner {
	if opts.LeaseTTL == 0 {
		opts.LeaseTTL = 15 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	r := &Runner{
		store: st,
		log:   log,
		opts:  opts,
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sirocco_loop_runs_total",
			Help: "Background loop passes by loop and result.",
		}, []string{"loop", "result"}),
		leader: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "sirocco_loop_leader",
			Help: "1 when this replica holds the lease of a singleton loop.",
		}, []string{"loop"}),
	}
	if opts.Registry != nil {
		opts.Registry.MustRegister(r.runs, r.leader)
	}
	for _, l := range loops {
		r.loops = append(r.loops, &state{Loop: l})
	}
	return r
}

// Run runs every loop until ctx ends, then releases held leases so another
// replica takes over without waiting for expiry.
func (r *Runner) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, l := range r.loops {
		wg.Go(func() {
			tick := l.Every
			if l.Singleton && r.opts.LeaseTTL/3 < tick {
				tick = r.opts.LeaseTTL / 3
			}
			t := time.NewTicker(tick)
			defer t.Stop()
			for {
				r.Tick(ctx, l.Name)
				select {
				case <-ctx.Done():
					r.release(l)
					return
				case <-t.C:
				}
			}
		})
	}
	wg.Wait()
}

// Tick does one pass of the named loop: for a singleton, take or renew its
// lease; then run it if this replica may and its interval has passed. It
// reports whether the loop ran.
func (r *Runner) Tick(ctx context.Context, name string) bool {
	var l *state
	for _, s := range r.loops {
		if s.Name == name {
			l = s
		}
	}
	if l == nil {
		return false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := r.opts.Now()
	if l.Singleton {
		var held bool
		err := r.store.Tx(ctx, func(tx *store.Tx) error {
			var err error
			held, err = tx.AcquireLease(ctx, l.Name, r.opts.Holder, now.Add(r.opts.LeaseTTL))
			return err
		})
		if err != nil {
			if ctx.Err() == nil {
				r.log.Warn("renew loop lease", "loop", l.Name, "err", err)
			}
			held = false
		}
		if held != l.held {
			r.log.Info("loop lease changed hands", "loop", l.Name, "held", held, "holder", r.opts.Holder)
		}
		l.held = held
		r.leader.WithLabelValues(l.Name).Set(b2f(held))
		if !held {
			return false
		}
	}
	if !l.lastRun.IsZero() && now.Sub(l.lastRun) < l.Every {
		return false
	}
	l.lastRun = now
	result := "ok"
	if err := l.Run(ctx); err != nil {
		result = "error"
		if ctx.Err() == nil {
			r.log.Error("loop failed", "loop", l.Name, "err", err)
		}
	}
	r.runs.WithLabelValues(l.Name, result).Inc()
	return true
}

// Holds reports whether this replica holds the named singleton loop's lease.
func (r *Runner) Holds(name string) bool {
	for _, s := range r.loops {
		if s.Name == name {
			s.mu.Lock()
			defer s.mu.Unlock()
			return s.held
		}
	}
	return false
}

func (r *Runner) release(l *state) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.Singleton {
		return
	}
	// Release even when the last renewal failed (say, because shutdown
	// cancelled it): the store may still name us; deleting is a no-op if not.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := r.store.Tx(ctx, func(tx *store.Tx) error { return tx.ReleaseLease(ctx, l.Name, r.opts.Holder) }); err != nil {
		r.log.Warn("release loop lease", "loop", l.Name, "err", err)
	}
	l.held = false
	r.leader.WithLabelValues(l.Name).Set(0)
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
