package agent_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/api/agentapi"
	"github.com/sirocco-cloud/sirocco/internal/agent"
	"github.com/sirocco-cloud/sirocco/internal/auth"
	"github.com/sirocco-cloud/sirocco/internal/certs"
	"github.com/sirocco-cloud/sirocco/internal/servertest"
	"github.com/sirocco-cloud/sirocco/internal/store"
)

// joinToken registers host hv1 and makes a join token pinned to fingerprint.
func joinToken(t *testing.T, e *servertest.Env, fingerprint string) string {
	t.Helper()
	ctx := context.Background()
	secret, hash := auth.NewSecret("sjt_")
	err := e.Store.Tx(ctx, func(tx *store.Tx) error {
		if _, err := tx.GetHost(ctx, "hv1"); err != nil {
			if err := tx.CreateRegion(ctx, &store.Region{Meta: store.Meta{ID: "au-syd"}, Jurisdiction: "AU"}); err != nil {
				return err
			}
			if err := tx.CreateZone(ctx, &store.Zone{Meta: store.Meta{ID: "au-syd-1a"}, RegionID: "au-syd"}); err != nil {
				return err
			}
			if err := tx.CreateHost(ctx, &store.Host{Meta: store.Meta{ID: "hv1"}, ZoneID: "au-syd-1a", State: api.HostPending,
				CPUOvercommit: 4, MemoryOvercommit: 1}); err != nil {
				return err
			}
		}
		return tx.CreateJoinToken(ctx, hash, "hv1", "", time.Now().Add(time.Hour))
	})
	if err != nil {
		t.Fatal(err)
	}
	return agentapi.JoinToken{Secret: secret, Fingerprint: fingerprint}.String()
}

func TestJoinPinsTheCertificateAndSurvivesRestart(t *testing.T) {
	e := servertest.New(t, true)
	ctx := context.Background()
	fp := certs.Fingerprint(e.HTTP.Certificate())
	opts := agent.Options{StateDir: t.TempDir(), Accel: "tcg", Log: slog.New(slog.NewTextHandler(io.Discard, nil))}

	// A token naming another certificate: the agent refuses the server (a
	// man in the middle would look like this) and the token stays unused.
	wrong := "sha256:" + strings.Repeat("0", 64)
	tok := joinToken(t, e, wrong)
	if _, err := agent.Join(ctx, e.URL, tok, opts); err == nil {
		t.Fatal("joined a server whose certificate does not match the token")
	}

	tok = joinToken(t, e, fp)
	a, err := agent.Join(ctx, e.URL, tok, opts)
	if err != nil {
		t.Fatalf("join: %v", err)
	}
	if a.HostID() != "hv1" {
		t.Fatalf("host %q", a.HostID())
	}
	if _, err := agent.Join(ctx, e.URL, tok, opts); err == nil {
		t.Fatal("a join token worked twice")
	}

	// A restarted agent loads its identity and reports.
	b, err := agent.Load(opts)
	if err != nil {
		t.Fatal(err)
	}
	r, err := b.Heartbeat(ctx)
	if err != nil {
		t.Fatalf("heartbeat: %v", err)
	}
	if r.State != api.HostReady {
		t.Fatalf("state %s after the first heartbeat", r.State)
	}
	var h *store.Host
	e.Store.View(ctx, func(tx *store.Tx) error { h, err = tx.GetHost(ctx, "hv1"); return err })
	if h.VCPU < 1 || h.MemoryMiB < 1 || h.DiskGiB < 1 || h.Acceleration != "tcg" || h.AgentVersion != agent.Version {
		t.Fatalf("reported capacity %+v", h)
	}
	if _, err := agent.Load(agent.Options{StateDir: t.TempDir()}); err == nil {
		t.Fatal("an agent that never joined loaded")
	}
}
