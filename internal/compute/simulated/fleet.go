package simulated

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/internal/agent"
	"github.com/sirocco-cloud/sirocco/internal/store"
)

// Fleet is n simulated hosts, each with a real agent joined over the real
// protocol (pinned TLS, join token, heartbeats), all in this process.
type Fleet struct {
	Agents []*agent.Agent
}

// FleetOptions describe the simulated hosts.
type FleetOptions struct {
	Hosts    int
	Zone     string
	Capacity api.Capacity
	// StateDir holds each agent's identity, one directory per host.
	StateDir string
	// Workers joins and heartbeats this many hosts at once. Default 16.
	Workers int
	Log     *slog.Logger
}

// JoinFleet registers and joins the hosts sim-00000, sim-00001, ... to the
// control plane at server (whose certificate has fingerprint) backed by st.
func JoinFleet(ctx context.Context, st *store.Store, server, fingerprint string, o FleetOptions) (*Fleet, error) {
	f := &Fleet{Agents: make([]*agent.Agent, o.Hosts)}
	err := f.each(ctx, o.Workers, func(ctx context.Context, i int) error {
		id := fmt.Sprintf("sim-%05d", i)
		token, err := agent.Enrol(ctx, st, id, o.Zone, fingerprint)
		if err != nil {
			return err
		}
		capacity := o.Capacity
		f.Agents[i], err = agent.Join(ctx, server, token, agent.Options{StateDir: filepath.Join(o.StateDir, id),
			Accel: "tcg", Capacity: &capacity, Log: o.Log})
		return err
	})
	return f, err
}

// HeartbeatAll sends one heartbeat from every host.
func (f *Fleet) HeartbeatAll(ctx context.Context, workers int) error {
	return f.each(ctx, workers, func(ctx context.Context, i int) error {
		_, err := f.Agents[i].Heartbeat(ctx)
		return err
	})
}

func (f *Fleet) each(ctx context.Context, workers int, fn func(ctx context.Context, i int) error) error {
	if workers <= 0 {
		workers = 16
	}
	next := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	for range workers {
		wg.Go(func() {
			for i := range next {
				if err := fn(ctx, i); err != nil {
					mu.Lock()
					if first == nil {
						first = fmt.Errorf("simulated host %d: %w", i, err)
					}
					mu.Unlock()
				}
			}
		})
	}
	for i := range f.Agents {
		next <- i
	}
	close(next)
	wg.Wait()
	return first
}
