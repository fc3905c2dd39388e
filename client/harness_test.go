package client_test

import (
	"testing"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/client"
	"github.com/sirocco-cloud/sirocco/internal/servertest"
)

// password is every seeded user's password.
const password = servertest.Password

// env is a real API server on a fresh SQLite store (internal/servertest).
type env struct {
	*servertest.Env
	t testing.TB
}

func newEnv(t testing.TB, tls bool) *env {
	t.Helper()
	return &env{Env: servertest.New(t, tls), t: t}
}

// client returns an SDK client for the server with the given token.
func (e *env) client(token string, opts ...client.Option) *client.Client {
	e.t.Helper()
	if token != "" {
		opts = append(opts, client.WithToken(token))
	}
	c, err := client.New(e.URL, opts...)
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// catalog creates region au-syd (AU) and zone au-syd-1a.
func catalog(t testing.TB, c *client.Client) {
	t.Helper()
	ctx := t.Context()
	if _, err := c.CreateRegion(ctx, api.RegionCreate{Name: "au-syd", Jurisdiction: "AU"}); err != nil {
		t.Fatalf("create region: %v", err)
	}
	if _, err := c.CreateZone(ctx, api.ZoneCreate{Name: "au-syd-1a", Region: "au-syd"}); err != nil {
		t.Fatalf("create zone: %v", err)
	}
}
