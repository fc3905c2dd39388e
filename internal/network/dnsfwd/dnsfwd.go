// Package dnsfwd is the DNS forwarder a tenant network's router answers
// on: queries sent to the gateway's port 53 are relayed to the provider's
// resolvers and the answers sent back, so a VM resolves names with no
// resolver of its own. It relays bytes and reads nothing but the 16-bit
// query ID, which it rewrites so that clients choosing the same ID cannot
// receive each other's answers.
package dnsfwd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/vishvananda/netns"

	"github.com/sirocco-cloud/sirocco/internal/network"
)

// queryTimeout is how long an answer is waited for before its query is
// forgotten (the client retries).
const queryTimeout = 5 * time.Second

// Config is one forwarder.
type Config struct {
	// NetNS is the namespace to listen in (the router's); 0 is the
	// current one. It is not closed.
	NetNS netns.NsHandle
	// Listen is the address queries arrive on (the gateway, port 53).
	Listen netip.AddrPort
	// Upstreams are the resolvers queries go to, tried in turn.
	Upstreams []netip.AddrPort
	Log       *slog.Logger
}

// Forwarder relays queries until Close.
type Forwarder struct {
	cfg        Config
	down, up   *net.UDPConn
	mu         sync.Mutex
	next       uint16
	pending    map[uint16]pending
	done       chan struct{}
	wg         sync.WaitGroup
	closeOnce  sync.Once
	rotateNext int
}

type pending struct {
	client *net.UDPAddr
	id     uint16
	at     time.Time
}

// Start opens the forwarder's sockets inside cfg.NetNS and relays in the
// background until Close or ctx ends.
func Start(ctx context.Context, cfg Config) (*Forwarder, error) {
	if !cfg.Listen.IsValid() || len(cfg.Upstreams) == 0 {
		return nil, errors.New("dns forwarder: a listen address and at least one upstream are needed")
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	var down, up *net.UDPConn
	err := network.InNamespace(cfg.NetNS, func() error {
		var err error
		if down, err = net.ListenUDP("udp", net.UDPAddrFromAddrPort(cfg.Listen)); err != nil {
			return err
		}
		if up, err = net.ListenUDP("udp", nil); err != nil {
			down.Close()
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("dns forwarder on %s: %w", cfg.Listen, err)
	}
	f := &Forwarder{cfg: cfg, down: down, up: up, pending: map[uint16]pending{}, done: make(chan struct{})}
	f.wg.Add(2)
	go f.fromClients()
	go f.fromUpstreams()
	go func() {
		select {
		case <-ctx.Done():
			f.Close()
		case <-f.done:
		}
	}()
	return f, nil
}

// Close stops the forwarder and frees its sockets.
func (f *Forwarder) Close() error {
	f.closeOnce.Do(func() {
		close(f.done)
		f.down.Close()
		f.up.Close()
	})
	f.wg.Wait()
	return nil
}

func (f *Forwarder) fromClients() {
	defer f.wg.Done()
	buf := make([]byte, 65535)
	for {
		n, client, err := f.down.ReadFromUDP(buf)
		if err != nil {
			return
		}
		if n < 12 {
			continue // not a DNS message
		}
		f.mu.Lock()
		now := time.Now()
		for id, p := range f.pending {
			if now.Sub(p.at) > queryTimeout {
				delete(f.pending, id)
			}
		}
		if len(f.pending) >= 1<<15 {
			f.mu.Unlock()
			continue // overloaded: the client retries
		}
		f.next++
		for _, taken := f.pending[f.next]; taken; _, taken = f.pending[f.next] {
			f.next++
		}
		id := f.next
		f.pending[id] = pending{client: client, id: uint16(buf[0])<<8 | uint16(buf[1]), at: now}
		upstream := f.cfg.Upstreams[f.rotateNext%len(f.cfg.Upstreams)]
		f.rotateNext++
		f.mu.Unlock()
		buf[0], buf[1] = byte(id>>8), byte(id)
		if _, err := f.up.WriteToUDPAddrPort(buf[:n], upstream); err != nil {
			f.cfg.Log.Warn("dns query not relayed", "upstream", upstream, "err", err)
		}
	}
}

func (f *Forwarder) fromUpstreams() {
	defer f.wg.Done()
	buf := make([]byte, 65535)
	for {
		n, from, err := f.up.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		if n < 12 || !f.isUpstream(from) {
			continue
		}
		id := uint16(buf[0])<<8 | uint16(buf[1])
		f.mu.Lock()
		p, ok := f.pending[id]
		delete(f.pending, id)
		f.mu.Unlock()
		if !ok {
			continue
		}
		buf[0], buf[1] = byte(p.id>>8), byte(p.id)
		f.down.WriteToUDP(buf[:n], p.client)
	}
}

// isUpstream keeps answers from anyone but the resolvers out.
func (f *Forwarder) isUpstream(a netip.AddrPort) bool {
	a = netip.AddrPortFrom(a.Addr().Unmap(), a.Port())
	for _, u := range f.cfg.Upstreams {
		if u == a {
			return true
		}
	}
	return false
}
