package agent

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"time"

	"github.com/sirocco-cloud/sirocco/api/agentapi"
	"github.com/sirocco-cloud/sirocco/internal/certs"
)

// syncTimeout bounds one sync call. It is above the control plane's ~25 s
// hold of a waiting sync, so a held answer is never cut short.
const syncTimeout = 40 * time.Second

// syncLimit bounds a sync answer: the desired state of every VM on the host.
const syncLimit = 64 << 20

// Backoff after a failed sync.
const (
	backoffMin = time.Second
	backoffMax = 5 * time.Second
)

// syncer is the reconcile loop: observe, report, receive the desired state,
// hand it to the reconciler, repeat.
type syncer struct {
	a        *Agent
	client   *http.Client // sync calls
	rec      *Reconciler
	net      *Networking         // nil without tenant networking
	macs     map[string][]string // VM ID -> its NICs' MACs, from the last answer
	cache    *Cache
	consoles *consoles
	// generation is the host generation of the last desired state applied.
	generation int64
}

func (a *Agent) newSyncer() (*syncer, error) {
	tr := &http.Transport{TLSClientConfig: certs.PinnedTLSConfig(a.state.Fingerprint), ResponseHeaderTimeout: syncTimeout}
	// Image downloads and consoles last as long as they need: their ctx
	// bounds them, not a client timeout (which coder/websocket refuses).
	stream := &http.Client{Transport: tr}
	dir := a.opts.ImageDir
	if dir == "" {
		dir = filepath.Join(a.opts.StateDir, "images")
	}
	cache := NewCache(dir, a.state.Server, stream, a.state.Credential)
	rec, err := NewReconciler(a.opts.Driver, cache, a.opts.StateDir, a.opts.Log)
	if err != nil {
		return nil, err
	}
	// The first report names the disks already here.
	rec.loadDisks(context.Background())
	if a.opts.Network != nil {
		list, err := a.opts.Driver.List(context.Background())
		if err != nil {
			return nil, fmt.Errorf("list vms: %w", err)
		}
		var taps []string
		for _, vm := range list {
			for _, nic := range vm.Spec.NICs {
				taps = append(taps, nic.Tap)
			}
		}
		rec.net = NewNetworking(a.opts.Network, a.opts.TapOwner, taps, a.opts.Log.With("component", "network"))
		rec.net.DNSUpstreams = a.opts.DNSUpstreams
	}
	return &syncer{
		a:        a,
		client:   &http.Client{Timeout: syncTimeout, Transport: tr},
		rec:      rec,
		net:      rec.net,
		cache:    cache,
		consoles: newConsoles(a.state.Server, stream, a.state.Credential, a.opts.Driver, a.opts.Log),
	}, nil
}

// run syncs until ctx ends, then waits for the VM workers and consoles.
// Errors are logged and retried with backoff; VMs are never touched because
// the control plane cannot be reached.
func (s *syncer) run(ctx context.Context) {
	log := s.a.opts.Log
	wait := false // the first report goes out at once
	backoff := backoffMin
	for ctx.Err() == nil {
		select {
		case <-s.rec.Changed():
			wait = false
		default:
		}
		resp, changed, err := s.sync(ctx, wait)
		switch {
		case ctx.Err() != nil:
		case changed:
			// A worker finished while the control plane held the
			// answer: report it now.
			wait = false
			continue
		case err != nil:
			log.Warn("sync failed", "err", err, "retry", backoff)
			select {
			case <-ctx.Done():
			case <-time.After(backoff + rand.N(backoff/4)):
			}
			backoff = min(backoff*2, backoffMax)
			wait = false
			continue
		}
		if ctx.Err() != nil {
			break
		}
		backoff = backoffMin
		if s.net != nil {
			// Networks and ports first: a VM's worker plugs its NIC
			// into them.
			if err := s.net.Apply(ctx, resp); err != nil {
				log.Warn("networking", "err", err)
			}
		}
		// Disks before VMs: a VM starts with its disks there.
		s.rec.ApplyDisks(ctx, resp.Disks)
		s.rec.Apply(ctx, resp.VMs)
		s.macs = map[string][]string{}
		for _, v := range resp.VMs {
			for _, nic := range v.NICs {
				s.macs[v.ID] = append(s.macs[v.ID], nic.MAC)
			}
		}
		s.consoles.serve(ctx, resp.Consoles)
		s.generation = resp.Generation
		wait = true
	}
	s.rec.Wait()
	s.consoles.wait()
	if s.net != nil {
		s.net.Close()
	}
}

// sync makes one call. The call is cancelled as soon as the reconciler has
// something new to report (changed is then true), so that a VM's new state
// reaches the control plane without waiting out a long poll.
func (s *syncer) sync(ctx context.Context, wait bool) (resp *agentapi.SyncResponse, changed bool, err error) {
	req := agentapi.SyncRequest{Protocol: agentapi.ProtocolVersion, Generation: s.generation, Wait: wait,
		VMs: s.rec.Observe(ctx), Images: s.cache.IDs(), Disks: s.rec.ObserveDisks(ctx)}
	if s.net != nil {
		// Egress for billing: what each VM sent through its taps.
		for i := range req.VMs {
			if macs := s.macs[req.VMs[i].ID]; len(macs) > 0 {
				req.VMs[i].TxBytes = s.net.TxBytes(macs)
			}
		}
	}
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	watched := make(chan bool, 1)
	go func() {
		select {
		case <-s.rec.Changed():
			cancel()
			watched <- true
		case <-cctx.Done():
			watched <- false
		}
	}()
	resp = &agentapi.SyncResponse{}
	err = s.a.callWith(cctx, s.client, syncLimit, agentapi.PathSync, s.a.state.Credential, req, resp)
	cancel()
	if <-watched {
		return nil, true, nil
	}
	if err != nil && errors.Is(err, context.Canceled) && ctx.Err() != nil {
		return nil, false, ctx.Err()
	}
	if err != nil {
		return nil, false, err
	}
	return resp, false, nil
}
