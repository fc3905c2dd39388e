package cli_test

import (
	"context"
	"io"
	stdlog "log"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/internal/auth"
	"github.com/sirocco-cloud/sirocco/internal/mail"
	"github.com/sirocco-cloud/sirocco/internal/mail/mailtest"
	"github.com/sirocco-cloud/sirocco/internal/operation"
	"github.com/sirocco-cloud/sirocco/internal/server"
	"github.com/sirocco-cloud/sirocco/internal/store"
)

// password is every seeded user's password.
const password = "correct horse battery"

// env is a real API server on a fresh SQLite store, as the server's own
// tests build it (internal/server/harness_test.go).
type env struct {
	t     testing.TB
	store *store.Store
	http  *httptest.Server
	url   string
	mail  *mailtest.Server
}

func newEnv(t testing.TB, tls bool) *env {
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
	srv := server.New(server.Config{BaseURL: "https://cloud.sirocco.test", RateLimit: 10000, RateBurst: 10000}, st, sender, ops, log, prometheus.NewRegistry())
	done := make(chan struct{})
	go func() { ops.Run(ctx); close(done) }()
	hs := httptest.NewUnstartedServer(srv.Handler())
	if tls {
		// Refused handshakes are what the pinning tests are about, not noise.
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
	return &env{t: t, store: st, http: hs, url: hs.URL, mail: sink}
}

// user creates a verified user with the given bindings directly in the store.
func (e *env) user(email string, bindings ...store.RoleBinding) *store.User {
	e.t.Helper()
	hash, err := auth.HashPassword(password)
	if err != nil {
		e.t.Fatal(err)
	}
	u := &store.User{Email: email, Name: email, PasswordHash: hash, EmailVerified: true}
	err = e.store.Tx(context.Background(), func(tx *store.Tx) error {
		if err := tx.CreateUser(context.Background(), u); err != nil {
			return err
		}
		for _, b := range bindings {
			b.UserID = u.ID
			if err := tx.PutRoleBinding(context.Background(), &b); err != nil {
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

// token makes an API token for a user, scoped to org ("" for provider) and role.
func (e *env) token(u *store.User, org, role string) string {
	e.t.Helper()
	secret, hash := auth.NewSecret(auth.PrefixToken)
	err := e.store.Tx(context.Background(), func(tx *store.Tx) error {
		return tx.CreateToken(context.Background(), &store.Token{UserID: u.ID, OrgID: org, Role: role, Name: "test", Prefix: secret[:12], Hash: hash})
	})
	if err != nil {
		e.t.Fatalf("create token: %v", err)
	}
	return secret
}

// providerAdmin returns a token of a new provider admin.
func (e *env) providerAdmin() string {
	e.t.Helper()
	u := e.user("admin@provider.test", store.RoleBinding{Role: api.RoleProviderAdmin})
	return e.token(u, "", api.RoleProviderAdmin)
}
