package server

import (
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/internal/store"
)

func TestIdempotencyKey(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		admin := e.providerAdmin()
		body := api.RegionCreate{Name: "au-syd", Jurisdiction: "AU"}
		first := e.do("POST", "/api/v1/regions", admin, body, "Idempotency-Key", "k-1").must(t, http.StatusCreated)
		again := e.do("POST", "/api/v1/regions", admin, body, "Idempotency-Key", "k-1").must(t, http.StatusCreated)
		if string(again.Body) != string(first.Body) || again.Header.Get("Idempotent-Replayed") != "true" {
			t.Fatalf("replay differs:\n%s\n%s", first.Body, again.Body)
		}
		// Without the key the same request is a new one, and conflicts.
		e.do("POST", "/api/v1/regions", admin, body).must(t, http.StatusConflict)
		// Same key, other body: refused.
		p := e.do("POST", "/api/v1/regions", admin, api.RegionCreate{Name: "nz-akl", Jurisdiction: "NZ"}, "Idempotency-Key", "k-1").
			must(t, http.StatusConflict).problem(t)
		if p.Code != api.CodeIdempotencyConflict {
			t.Fatalf("code %q, want %q", p.Code, api.CodeIdempotencyConflict)
		}
		e.do("GET", "/api/v1/regions/nz-akl", admin, nil).must(t, http.StatusNotFound)
		// Keys belong to their caller: another caller's same key is a new request.
		other := e.token(e.user("ops@provider.test", store.RoleBinding{Role: api.RoleProviderAdmin}), "", api.RoleProviderAdmin)
		res := e.do("POST", "/api/v1/regions", other, body, "Idempotency-Key", "k-1").must(t, http.StatusConflict)
		if res.Header.Get("Idempotent-Replayed") != "" {
			t.Fatal("another caller got the first caller's replay")
		}
	})
}

func TestRateLimit(t *testing.T) {
	e := newEnv(t, filepath.Join(t.TempDir(), "s.db"), Config{RateLimit: 1, RateBurst: 3})
	admin := e.providerAdmin()
	for range 3 {
		e.do("GET", "/api/v1/regions", admin, nil).must(t, http.StatusOK)
	}
	res := e.do("GET", "/api/v1/regions", admin, nil).must(t, http.StatusTooManyRequests)
	if p := res.problem(t); p.Code != api.CodeRateLimited {
		t.Fatalf("code %q", p.Code)
	}
	if s, err := strconv.Atoi(res.Header.Get("Retry-After")); err != nil || s < 1 {
		t.Fatalf("Retry-After %q", res.Header.Get("Retry-After"))
	}
	// Limits are per token: another caller is not slowed down.
	other := e.token(e.user("ops@provider.test", store.RoleBinding{Role: api.RoleProviderAdmin}), "", api.RoleProviderAdmin)
	e.do("GET", "/api/v1/regions", other, nil).must(t, http.StatusOK)
}

func TestRequestLimitsAndErrors(t *testing.T) {
	e := newEnv(t, filepath.Join(t.TempDir(), "s.db"), Config{})
	admin := e.providerAdmin()
	big := `{"name":"au-syd","jurisdiction":"AU","display_name":"` + strings.Repeat("x", 2<<20) + `"}`
	if p := e.do("POST", "/api/v1/regions", admin, big).must(t, http.StatusRequestEntityTooLarge).problem(t); p.Code != api.CodePayloadTooLarge {
		t.Errorf("big body: code %q", p.Code)
	}
	if p := e.do("POST", "/api/v1/regions", admin, big, "Idempotency-Key", "big").must(t, http.StatusRequestEntityTooLarge).problem(t); p.Code != api.CodePayloadTooLarge {
		t.Errorf("big body with idempotency key: code %q", p.Code)
	}
	if p := e.do("POST", "/api/v1/regions", admin, `{"name":`).problem(t); p.Status != http.StatusBadRequest && p.Status != http.StatusUnprocessableEntity {
		t.Errorf("malformed JSON: status %d", p.Status)
	}
	if p := e.do("GET", "/api/v1/nothing-here", admin, nil).must(t, http.StatusNotFound).problem(t); p.Code != api.CodeNotFound {
		t.Errorf("unknown path: code %q", p.Code)
	}
	if p := e.do("GET", "/api/v1/regions", "not-a-token", nil).must(t, http.StatusUnauthorized).problem(t); p.Code != api.CodeUnauthenticated {
		t.Errorf("bad token: code %q", p.Code)
	}
	if p := e.do("GET", "/api/v1/regions", "", nil, "Authorization", "Basic Zm9vOmJhcg==").must(t, http.StatusUnauthorized).problem(t); p.Code != api.CodeUnauthenticated {
		t.Errorf("basic auth: code %q", p.Code)
	}
	if res := e.do("GET", "/api/v1/regions", admin, nil); res.Header.Get("X-Request-ID") == "" {
		t.Error("no X-Request-ID")
	}
}

func TestHealthAndMetrics(t *testing.T) {
	e := newEnv(t, filepath.Join(t.TempDir(), "s.db"), Config{})
	e.do("GET", "/healthz", "", nil).must(t, http.StatusOK)
	e.do("GET", "/readyz", "", nil).must(t, http.StatusOK)
	e.do("GET", "/api/v1/regions/nowhere", e.providerAdmin(), nil).must(t, http.StatusNotFound)
	m := string(e.do("GET", "/metrics", "", nil).must(t, http.StatusOK).Body)
	for _, want := range []string{
		`sirocco_http_requests_total{method="GET",route="GET /api/v1/regions/{id}",status="404"} 1`,
		`sirocco_http_request_duration_seconds_bucket{method="GET",route="GET /api/v1/regions/{id}"`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func TestCrossOriginWritesAreRefused(t *testing.T) {
	e := newEnv(t, filepath.Join(t.TempDir(), "s.db"), Config{})
	admin := e.providerAdmin()
	body := api.RegionCreate{Name: "au-syd", Jurisdiction: "AU"}
	p := e.do("POST", "/api/v1/regions", admin, body, "Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example").
		must(t, http.StatusForbidden).problem(t)
	if p.Code != api.CodeForbidden {
		t.Fatalf("code %q", p.Code)
	}
	e.do("GET", "/api/v1/regions/au-syd", admin, nil).must(t, http.StatusNotFound)
	// The same request from the console's own origin goes through.
	e.do("POST", "/api/v1/regions", admin, body, "Sec-Fetch-Site", "same-origin").must(t, http.StatusCreated)
}
