package client_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/client"
)

// collect reads a finished stream whole.
func collect(t *testing.T, c *client.Client, opts client.EventOptions) []api.ResourceEvent {
	t.Helper()
	var out []api.ResourceEvent
	for e, err := range c.Events(t.Context(), opts) {
		if err != nil {
			t.Fatalf("events %+v: %v", opts, err)
		}
		out = append(out, e)
	}
	return out
}

func actions(evs []api.ResourceEvent) []string {
	var out []string
	for _, e := range evs {
		out = append(out, e.Action)
	}
	return out
}

func TestEventsCatchUpAndFollow(t *testing.T) {
	nc := newNetCloud(t)
	ctx := t.Context()
	c := nc.tenant
	start := client.EventIDAt(time.Now().Add(-time.Minute))

	if _, err := c.CreateNetwork(ctx, "acme", api.NetworkCreate{Name: "lan", CIDR: "10.0.0.0/24"}); err != nil {
		t.Fatal(err)
	}
	ip, err := c.AllocatePublicIP(ctx, "acme", api.PublicIPAllocate{})
	if err != nil {
		t.Fatal(err)
	}

	// Catching up: the tenant's changes since start, in order, and the
	// stream ends by itself. The provider's pool and catalog are not theirs.
	evs := collect(t, c, client.EventOptions{After: start})
	got := actions(evs)
	want := []string{"org.create", "vdc.create", "network.create", "public-ip.allocate"}
	if len(got) != len(want) {
		t.Fatalf("actions %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("actions %v, want %v", got, want)
		}
	}
	last := evs[3]
	if last.ResourceKind != "public-ip" || last.ResourceID != ip.ID || last.Org != nc.org.ID || last.ID == "" || last.Time.IsZero() {
		t.Fatalf("event %+v", last)
	}
	// Resuming after an event gives what came after it only.
	if rest := collect(t, c, client.EventOptions{After: evs[2].ID}); len(rest) != 1 || rest[0].ID != last.ID {
		t.Fatalf("after %s: %v", evs[2].ID, actions(rest))
	}
	// Types narrow it; the provider sees its own changes too.
	if only := collect(t, nc.admin, client.EventOptions{After: start, Types: []string{"public-ip-pool.create", "network.create"}}); len(only) != 2 ||
		only[0].Action != "public-ip-pool.create" || only[1].Action != "network.create" {
		t.Fatalf("types: %v", actions(only))
	}
	// Without After and without Follow there is nothing yet to send.
	if none := collect(t, c, client.EventOptions{}); len(none) != 0 {
		t.Fatalf("from now: %v", actions(none))
	}

	// Following: a change made while the stream is open arrives, and
	// cancelling the context ends the stream with the context's error.
	fctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	seen := make(chan api.ResourceEvent)
	ended := make(chan error, 1)
	go func() {
		for e, err := range c.Events(fctx, client.EventOptions{Follow: true, After: client.EventIDAt(time.Now()), Types: []string{"network.delete"}}) {
			if err != nil {
				ended <- err
				return
			}
			seen <- e
		}
		ended <- nil
	}()
	if _, err := c.CreateNetwork(ctx, "acme", api.NetworkCreate{Name: "tmp", CIDR: "10.9.0.0/24"}); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteNetwork(ctx, "acme", "tmp"); err != nil {
		t.Fatal(err)
	}
	select {
	case e := <-seen:
		if e.Action != "network.delete" || e.ResourceKind != "network" {
			t.Fatalf("followed %+v", e)
		}
	case err := <-ended:
		t.Fatalf("stream ended before the change: %v", err)
	}
	cancel()
	if err := <-ended; !errors.Is(err, context.Canceled) {
		t.Fatalf("stream ended with %v, want context.Canceled", err)
	}
}

func TestEventsRefused(t *testing.T) {
	nc := newNetCloud(t)
	for _, tc := range []struct {
		c      *client.Client
		opts   client.EventOptions
		status int
		code   string
	}{
		{nc.tenant, client.EventOptions{After: "not-an-id"}, http.StatusBadRequest, api.CodeInvalidRequest},
		{nc.tenant, client.EventOptions{Types: []string{"VM Create"}}, http.StatusBadRequest, api.CodeInvalidRequest},
		// Another tenant's organisation, or one that does not exist, is not found.
		{nc.tenant, client.EventOptions{Org: "nowhere"}, http.StatusNotFound, api.CodeNotFound},
		{nc.client(""), client.EventOptions{}, http.StatusUnauthorized, api.CodeUnauthenticated},
	} {
		// A refusal is one error, not an empty stream.
		var errs []error
		for _, err := range tc.c.Events(t.Context(), tc.opts) {
			errs = append(errs, err)
		}
		if len(errs) != 1 {
			t.Fatalf("%+v: %d yields, want one error", tc.opts, len(errs))
		}
		wantCode(t, errs[0], tc.status, tc.code)
	}
}
