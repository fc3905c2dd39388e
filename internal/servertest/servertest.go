// Package servertest runs a real Sirocco API server on a fresh SQLite store
// for the tests of the packages that drive it from outside (the SDK, the
// CLI): the same server, operations and local SMTP sink as production, on
// loopback. Only tests import it. (The server's own tests keep their harness
// inside the package, which cannot import this one.)
package servertest

import (
	"context"
	"io"
	stdlog "log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/internal/auth"
	"github.com/sirocco-cloud/sirocco/internal/image"
	"github.com/sirocco-cloud/sirocco/internal/mail"
	"github.com/sirocco-cloud/sirocco/internal/mail/mailtest"
	"github.com/sirocco-cloud/sirocco/internal/operation"
	"github.com/sirocco-cloud/sirocco/internal/server"
	"github.com/sirocco-cloud/sirocco/internal/store"
)

// Password is every seeded user's password.
const Password = "correct horse battery"

// Env is one running server.
type Env struct {
	t     testing.TB
	Store *store.Store
	HTTP  *httptest.Server
	URL   string
	Mail  *mailtest.Server
}

// New starts a server, over TLS (self-signed, from httptest) when tls is set.
// Everything stops when the test ends.
func New(t testing.TB, tls bool) *Env {
	t.Helper()
	return NewWrapped(t, tls, nil)
}

// NewWrapped starts a server whose API handler is served through wrap (the
// console mounts itself beside the API this way); nil serves the API alone.
func NewWrapped(t testing.TB, tls bool, wrap func(api http.Handler) (http.Handler, error)) *Env {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "sirocco.db"), store.Options{})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	sink := mailtest.NewServer(t)
	sender, err := mail.NewSMTPSender(mail.SMTPConfig{Addr: sink.Addr(), From: "cloud@sirocco.test"})
	if err != nil {
		t.Fatalf("smtp sender: %v", err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ops := operation.New(st, log, operation.Options{Holder: "test", Poll: 50 * time.Millisecond})
	images := &image.Catalog{Dir: filepath.Join(t.TempDir(), "catalog"), Img: &image.QemuImg{},
		Limits: image.Limits{MaxVirtualBytes: 64 << 30, MaxFileBytes: 1 << 30}}
	srv := server.New(server.Config{BaseURL: "https://cloud.sirocco.test", RateLimit: 10000, RateBurst: 10000, Images: images},
		st, sender, ops, log, prometheus.NewRegistry())
	done := make(chan struct{})
	go func() { ops.Run(ctx); close(done) }()
	var h http.Handler = srv.Handler()
	if wrap != nil {
		if h, err = wrap(h); err != nil {
			t.Fatalf("wrap the API: %v", err)
		}
	}
	hs := httptest.NewUnstartedServer(h)
	if tls {
		// Refused handshakes are what pinning tests are about, not noise.
		hs.Config.ErrorLog = stdlog.New(io.Discard, "", 0)
		hs.StartTLS()
	} else {
		hs.Start()
	}
	t.Cleanup(func() {
		hs.Close()
		cancel()
		<-done
		st.Close()
	})
	return &Env{t: t, Store: st, HTTP: hs, URL: hs.URL, Mail: sink}
}

// User creates a verified user with Password and the given bindings, directly
// in the store.
func (e *Env) User(email string, bindings ...store.RoleBinding) *store.User {
	e.t.Helper()
	hash, err := auth.HashPassword(Password)
	if err != nil {
		e.t.Fatal(err)
	}
	u := &store.User{Email: email, Name: email, PasswordHash: hash, EmailVerified: true}
	ctx := context.Background()
	err = e.Store.Tx(ctx, func(tx *store.Tx) error {
		if err := tx.CreateUser(ctx, u); err != nil {
			return err
		}
		for _, b := range bindings {
			b.UserID = u.ID
			if err := tx.PutRoleBinding(ctx, &b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		e.t.Fatalf("create user %s: %v", email, err)
	}
	return u
}

// Token makes an API token for a user, scoped to org ("" for provider) and role.
func (e *Env) Token(u *store.User, org, role string) string {
	e.t.Helper()
	secret, hash := auth.NewSecret(auth.PrefixToken)
	ctx := context.Background()
	err := e.Store.Tx(ctx, func(tx *store.Tx) error {
		return tx.CreateToken(ctx, &store.Token{UserID: u.ID, OrgID: org, Role: role, Name: "test", Prefix: secret[:12], Hash: hash})
	})
	if err != nil {
		e.t.Fatalf("create token: %v", err)
	}
	return secret
}

// ProviderAdmin returns a token of a new provider admin.
func (e *Env) ProviderAdmin() string {
	e.t.Helper()
	u := e.User("admin@provider.test", store.RoleBinding{Role: api.RoleProviderAdmin})
	return e.Token(u, "", api.RoleProviderAdmin)
}
