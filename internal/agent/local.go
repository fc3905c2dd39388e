package agent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/api/agentapi"
	"github.com/sirocco-cloud/sirocco/internal/auth"
	"github.com/sirocco-cloud/sirocco/internal/store"
)

// Local is the agent `siroccod serve --local-host` runs in-process, making
// the control plane's own machine a hypervisor host of zone: it registers the
// host in the store if needed and joins over the same pinned-TLS protocol as
// a remote agent, through server (the control plane's loopback URL).
func Local(ctx context.Context, st *store.Store, server, fingerprint, hostID, zone string, opts Options) (*Agent, error) {
	if a, err := Load(opts); err == nil {
		// In-process, the control plane is trusted as it is now: its
		// address or certificate may have changed since the agent joined.
		a.state.Server, a.state.Fingerprint = server, fingerprint
		a.client = pinnedClient(fingerprint)
		return a, a.save()
	} else if !errors.Is(err, ErrNotJoined) {
		return nil, err
	}
	token, err := Enrol(ctx, st, hostID, zone, fingerprint)
	if err != nil {
		return nil, err
	}
	return Join(ctx, server, token, opts)
}

// Enrol registers host hostID in zone if it is missing and returns a fresh
// join token for it, for agents the control plane starts itself (the local
// host, simulated hosts); operators use `sirocco host add` instead.
func Enrol(ctx context.Context, st *store.Store, hostID, zone, fingerprint string) (string, error) {
	secret, hash := auth.NewSecret("sjt_")
	err := st.Tx(ctx, func(tx *store.Tx) error {
		if _, err := tx.GetZone(ctx, zone); err != nil {
			return fmt.Errorf("zone %s for host %s: %w", zone, hostID, err)
		}
		if _, err := tx.GetHost(ctx, hostID); errors.Is(err, store.ErrNotFound) {
			h := &store.Host{Meta: store.Meta{ID: hostID}, ZoneID: zone, State: api.HostPending, CPUOvercommit: 4, MemoryOvercommit: 1}
			if err := tx.CreateHost(ctx, h); err != nil {
				return err
			}
		} else if err != nil {
			return err
		}
		return tx.CreateJoinToken(ctx, hash, hostID, "", time.Now().Add(time.Minute))
	})
	if err != nil {
		return "", err
	}
	return agentapi.JoinToken{Secret: secret, Fingerprint: fingerprint}.String(), nil
}

// LocalHostID names the local host after the machine.
func LocalHostID() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "local"
	}
	return h
}
