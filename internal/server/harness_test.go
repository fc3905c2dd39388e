package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
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
	"github.com/sirocco-cloud/sirocco/internal/store"
	"github.com/sirocco-cloud/sirocco/internal/store/storetest"
)

// env is one running API server on a fresh store, with a local SMTP sink.
type env struct {
	t     testing.TB
	store *store.Store
	srv   *Server
	http  *httptest.Server
	url   string
	mail  *mailtest.Server
	ops   *operation.Manager
}

// forEachEngine runs fn against a fresh server on SQLite and on PostgreSQL.
func forEachEngine(t *testing.T, fn func(t *testing.T, e *env)) {
	forEachEngineWith(t, func(t *testing.T, engine string) { fn(t, newEnvFor(t, engine, Config{})) })
}

// forEachEngineWith runs fn on SQLite and PostgreSQL, leaving the env (and
// its Config) to fn.
func forEachEngineWith(t *testing.T, fn func(t *testing.T, engine string)) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) { fn(t, engine) })
	}
}

// newEnvFor starts a server with cfg on a fresh store of the named engine.
func newEnvFor(t *testing.T, engine string, cfg Config) *env {
	if engine == "postgres" {
		return newEnv(t, storetest.PostgresURL(t), cfg)
	}
	return newEnv(t, filepath.Join(t.TempDir(), "sirocco.db"), cfg)
}

func newEnv(t testing.TB, dsn string, cfg Config) *env {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	// A test that sets the server's clock sets the store's too: usage spans
	// and timestamps follow it.
	st, err := store.Open(ctx, dsn, store.Options{Now: cfg.Now})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	sink := mailtest.NewServer(t)
	sender, err := mail.NewSMTPSender(mail.SMTPConfig{Addr: sink.Addr(), From: "cloud@sirocco.test"})
	if err != nil {
		t.Fatalf("smtp sender: %v", err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	ops := operation.New(st, log, operation.Options{Holder: "test", Poll: 50 * time.Millisecond})
	if cfg.RateLimit == 0 {
		cfg.RateLimit, cfg.RateBurst = 10000, 10000
	}
	if cfg.BaseURL == "" {
		cfg.BaseURL = "https://cloud.sirocco.test"
	}
	if cfg.TLSFingerprint == "" {
		cfg.TLSFingerprint = testFingerprint
	}
	if cfg.Images == nil {
		cfg.Images = &image.Catalog{Dir: filepath.Join(t.TempDir(), "images"), Img: &image.QemuImg{},
			Limits: image.Limits{MaxVirtualBytes: 64 << 30, MaxFileBytes: 1 << 30}}
	}
	srv := New(cfg, st, sender, ops, log, prometheus.NewRegistry())
	done := make(chan struct{})
	go func() { ops.Run(ctx); close(done) }()
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		hs.Close()
		cancel()
		<-done
		st.Close()
	})
	return &env{t: t, store: st, srv: srv, http: hs, url: hs.URL, mail: sink, ops: ops}
}

// testFingerprint stands in for the served certificate's fingerprint, which
// join tokens carry (httptest serves plain HTTP here).
const testFingerprint = "sha256:00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

type testWriter struct{ t testing.TB }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(string(bytes.TrimRight(b, "\n")))
	return len(b), nil
}

// user creates a verified user with the given bindings directly in the store
// and returns a session-less token for it with the given scope.
func (e *env) user(email string, bindings ...store.RoleBinding) *store.User {
	e.t.Helper()
	hash, err := auth.HashPassword("correct horse battery")
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
	u := e.user("admin@provider.test", store.RoleBinding{OrgID: "", Role: api.RoleProviderAdmin})
	return e.token(u, "", api.RoleProviderAdmin)
}

// tenant creates an organisation with residency r and an org-admin, and
// returns the organisation and a token of its admin.
func (e *env) tenant(name string, r store.Residency) (*store.Org, string) {
	e.t.Helper()
	o := &store.Org{Name: name, State: api.OrgActive, Residency: r}
	if err := e.store.Tx(context.Background(), func(tx *store.Tx) error { return tx.CreateOrg(context.Background(), o) }); err != nil {
		e.t.Fatalf("create org: %v", err)
	}
	u := e.user("admin@"+name+".test", store.RoleBinding{OrgID: o.ID, Role: api.RoleOrgAdmin})
	return o, e.token(u, o.ID, api.RoleOrgAdmin)
}

// resp is an HTTP answer.
type resp struct {
	Status int
	Header http.Header
	Body   []byte
}

// decode unmarshals the body into v, failing the test on error.
func (r *resp) decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode %s: %v", r.Body, err)
	}
}

// problem decodes an error body.
func (r *resp) problem(t testing.TB) api.Error {
	t.Helper()
	if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("error content type %q, want application/problem+json (body %s)", ct, r.Body)
	}
	var e api.Error
	r.decode(t, &e)
	return e
}

// do sends a request with an optional bearer token, JSON body and extra
// headers given as name, value pairs.
func (e *env) do(method, path, token string, body any, headers ...string) *resp {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = bytes.NewBufferString(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		buf, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(buf)
	}
	req, err := http.NewRequest(method, e.url+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := e.http.Client().Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return &resp{Status: res.StatusCode, Header: res.Header, Body: b}
}

// must fails the test unless the response has status want.
func (r *resp) must(t testing.TB, want int) *resp {
	t.Helper()
	if r.Status != want {
		t.Fatalf("status %d, want %d: %s", r.Status, want, r.Body)
	}
	return r
}
