// Package operation runs Sirocco's long actions. A handler records an
// operation in the same transaction as the change that needs it; workers on
// any control-plane replica claim queued operations with a lease, run the
// registered runner for their kind, and record progress and the outcome.
// Clients read, wait on (long-poll) and cancel operations through the API.
package operation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/internal/store"
)

// Runner does the work of one operation kind. It must be idempotent: a
// runner whose replica dies is run again elsewhere. It should return promptly
// with ctx.Err() when ctx is cancelled (the client cancelled the operation).
type Runner func(ctx context.Context, op *store.Operation, progress Progress) error

// Progress records how far a runner got (0-100) and what it is doing.
type Progress func(percent int, message string)

// Options tune a Manager.
type Options struct {
	// Holder names this replica in leases. Required.
	Holder string
	// LeaseTTL is how long a claim lasts without renewal. Default 30 s.
	LeaseTTL time.Duration
	// Poll is how often idle workers look for work queued by other replicas. Default 1 s.
	Poll time.Duration
	// Workers is how many operations run at once. Default 4.
	Workers int
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Manager enqueues, runs, waits on and cancels operations.
type Manager struct {
	store *store.Store
	log   *slog.Logger
	opts  Options

	mu      sync.Mutex
	runners map[string]Runner
	running map[string]context.CancelFunc // operations running here, by ID
	changed chan struct{}                 // closed and replaced whenever an operation changes here
	wake    chan struct{}
}

// New returns a Manager. Register runners with Handle before Run.
func New(st *store.Store, log *slog.Logger, opts Options) *Manager {
	if opts.LeaseTTL == 0 {
		opts.LeaseTTL = 30 * time.Second
	}
	if opts.Poll == 0 {
		opts.Poll = time.Second
	}
	if opts.Workers == 0 {
		opts.Workers = 4
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Manager{
		store:   st,
		log:     log,
		opts:    opts,
		runners: map[string]Runner{},
		running: map[string]context.CancelFunc{},
		changed: make(chan struct{}),
		wake:    make(chan struct{}, 1),
	}
}

// Handle registers the runner for an operation kind. It may be called while
// workers run (tests register kinds of their own).
func (m *Manager) Handle(kind string, r Runner) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.runners[kind] = r
}

func (m *Manager) runner(kind string) Runner {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.runners[kind]
}

// Enqueue records a new operation in tx. Workers pick it up after commit;
// call Kick after committing so that one starts at once instead of at its
// next poll.
func (m *Manager) Enqueue(ctx context.Context, tx *store.Tx, op *store.Operation) error {
	if m.runner(op.Kind) == nil {
		return fmt.Errorf("enqueue: no runner for operation kind %q", op.Kind)
	}
	if err := tx.CreateOperation(ctx, op); err != nil {
		return err
	}
	m.Kick()
	return nil
}

// Kick wakes an idle worker (call after committing an Enqueue).
func (m *Manager) Kick() {
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

func (m *Manager) broadcast() {
	m.mu.Lock()
	close(m.changed)
	m.changed = make(chan struct{})
	m.mu.Unlock()
}

func (m *Manager) changes() <-chan struct{} {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.changed
}

// Run runs workers until ctx ends.
func (m *Manager) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for range m.opts.Workers {
		wg.Go(func() { m.work(ctx) })
	}
	wg.Wait()
}

func (m *Manager) work(ctx context.Context) {
	for ctx.Err() == nil {
		op, err := m.claim(ctx)
		if err != nil && ctx.Err() == nil {
			m.log.Error("claim operation", "err", err)
		}
		if op == nil {
			select {
			case <-ctx.Done():
				return
			case <-m.wake:
			case <-time.After(m.opts.Poll):
			}
			continue
		}
		m.Kick() // there may be more: let another worker look
		m.run(ctx, op)
	}
}

func (m *Manager) claim(ctx context.Context) (*store.Operation, error) {
	var op *store.Operation
	err := m.store.Tx(ctx, func(tx *store.Tx) error {
		var err error
		op, err = tx.ClaimOperation(ctx, m.opts.Holder, m.opts.Now().Add(m.opts.LeaseTTL))
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	return op, err
}

func (m *Manager) run(ctx context.Context, op *store.Operation) {
	log := m.log.With("op", op.ID, "kind", op.Kind)
	if op.CancelRequested {
		// Cancelled while a replica that died was running it: do not start
		// it again.
		m.finish(ctx, log, op.ID, api.OpCancelled, "cancelled", "")
		return
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Cancel on this replica stops the runner at once; a cancel from another
	// replica is seen at the next lease renewal.
	m.mu.Lock()
	m.running[op.ID] = cancel
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		delete(m.running, op.ID)
		m.mu.Unlock()
	}()

	var mu sync.Mutex
	pct, msg := 0, "running"
	lost := false
	renew := func() {
		mu.Lock()
		p, s := pct, msg
		mu.Unlock()
		var cancelRequested bool
		err := m.store.Tx(ctx, func(tx *store.Tx) error {
			var err error
			cancelRequested, err = tx.ProgressOperation(ctx, op.ID, m.opts.Holder, p, s, m.opts.Now().Add(m.opts.LeaseTTL))
			return err
		})
		switch {
		case errors.Is(err, store.ErrNotFound):
			mu.Lock()
			lost = true
			mu.Unlock()
			cancel()
		case err != nil:
			log.Warn("renew operation lease", "err", err)
		case cancelRequested:
			cancel()
		}
		m.broadcast()
	}
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(m.opts.LeaseTTL / 3)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				renew()
			}
		}
	}()

	runner := m.runner(op.Kind)
	var err error
	if runner == nil {
		err = fmt.Errorf("no runner for operation kind %q", op.Kind)
	} else {
		err = safeRun(runCtx, runner, op, func(p int, s string) {
			mu.Lock()
			pct, msg = min(max(p, 0), 100), s
			mu.Unlock()
			renew()
		})
	}
	close(done)
	mu.Lock()
	gone := lost
	mu.Unlock()
	if gone || ctx.Err() != nil {
		// Another replica owns it now, or we are shutting down: the lease
		// runs out and the operation is run again.
		return
	}
	state, message, errJSON := api.OpSucceeded, "done", ""
	switch {
	case err == nil:
	case errors.Is(err, context.Canceled) && runCtx.Err() != nil:
		state, message = api.OpCancelled, "cancelled"
	default:
		state = api.OpFailed
		ae, ok := errors.AsType[*api.Error](err)
		if !ok {
			log.Error("operation failed", "err", err)
			ae = api.Errorf(http.StatusInternalServerError, api.CodeInternal, "%s", err.Error())
		}
		message = ae.Error()
		b, _ := json.Marshal(ae)
		errJSON = string(b)
	}
	m.finish(ctx, log, op.ID, state, message, errJSON)
}

// finish records the outcome of an operation this replica holds.
func (m *Manager) finish(ctx context.Context, log *slog.Logger, id, state, message, errJSON string) {
	if err := m.store.Tx(ctx, func(tx *store.Tx) error {
		return tx.FinishOperation(ctx, id, m.opts.Holder, state, message, errJSON)
	}); err != nil {
		log.Error("record operation result", "err", err)
	}
	m.broadcast()
}

func safeRun(ctx context.Context, r Runner, op *store.Operation, p Progress) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("operation runner panicked: %v", v)
		}
	}()
	return r(ctx, op, p)
}

// Wait returns the operation once it has finished, or as it stands when
// timeout passes.
func (m *Manager) Wait(ctx context.Context, id string, timeout time.Duration) (*store.Operation, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		ch := m.changes()
		var op *store.Operation
		err := m.store.View(ctx, func(tx *store.Tx) error {
			var err error
			op, err = tx.GetOperation(ctx, id)
			return err
		})
		if err != nil || op.Done() {
			return op, err
		}
		// Poll as well: the operation may be running on another replica.
		poll := time.NewTimer(250 * time.Millisecond)
		select {
		case <-ctx.Done():
			poll.Stop()
			return op, nil
		case <-deadline.C:
			poll.Stop()
			return op, nil
		case <-ch:
		case <-poll.C:
		}
		poll.Stop()
	}
}

// Cancel cancels a queued operation at once, or asks a running one to stop:
// at once when it runs on this replica, at its next lease renewal when it runs
// on another. A finished operation is left as it is. It returns the operation
// as it then stands.
func (m *Manager) Cancel(ctx context.Context, id string) (*store.Operation, error) {
	return m.CancelWith(ctx, id, nil)
}

// CancelWith is Cancel with check run first, in the same transaction, on the
// operation as it stands: the API uses it to authorise the caller and to
// record the audit event with the change. An error from check aborts the
// cancel and is returned.
func (m *Manager) CancelWith(ctx context.Context, id string, check func(tx *store.Tx, op *store.Operation) error) (*store.Operation, error) {
	var op *store.Operation
	err := m.store.Tx(ctx, func(tx *store.Tx) error {
		if check != nil {
			cur, err := tx.GetOperation(ctx, id)
			if err != nil {
				return err
			}
			if err := check(tx, cur); err != nil {
				return err
			}
		}
		var err error
		op, err = tx.RequestCancel(ctx, id)
		return err
	})
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	stop := m.running[id]
	m.mu.Unlock()
	if stop != nil {
		stop()
	}
	m.broadcast()
	return op, nil
}

// ToAPI converts a stored operation for the wire.
func ToAPI(o *store.Operation) api.Operation {
	out := api.Operation{
		ID:         o.ID,
		Org:        o.OrgID,
		Kind:       o.Kind,
		Target:     api.Ref{Kind: o.TargetKind, ID: o.TargetID},
		State:      o.State,
		Progress:   o.Progress,
		Message:    o.Message,
		CreatedBy:  o.CreatedBy,
		CreatedAt:  o.CreatedAt,
		UpdatedAt:  o.UpdatedAt,
		FinishedAt: o.FinishedAt,
	}
	if o.Error != "" {
		var e api.Error
		if json.Unmarshal([]byte(o.Error), &e) == nil {
			out.Error = &e
		}
	}
	return out
}
