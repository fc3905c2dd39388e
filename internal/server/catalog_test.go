package server

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/internal/store"
)

// providerViewer returns a token of a new provider viewer.
func (e *env) providerViewer() string {
	e.t.Helper()
	u := e.user("viewer@provider.test", store.RoleBinding{OrgID: "", Role: api.RoleProviderViewer})
	return e.token(u, "", api.RoleProviderViewer)
}

// setHostState moves a host the way its agent would (join, lost heartbeat),
// which no API call may do.
func (e *env) setHostState(t *testing.T, id, state string) {
	t.Helper()
	ctx := context.Background()
	err := e.store.Tx(ctx, func(tx *store.Tx) error {
		h, err := tx.GetHost(ctx, id)
		if err != nil {
			return err
		}
		h.State = state
		return tx.UpdateHost(ctx, h)
	})
	if err != nil {
		t.Fatalf("set host %s %s: %v", id, state, err)
	}
}

// wantProblem checks a refusal's status and code.
func wantProblem(t *testing.T, r *resp, status int, code string) api.Error {
	t.Helper()
	p := r.must(t, status).problem(t)
	if p.Code != code {
		t.Errorf("code %q, want %q (%s)", p.Code, code, p.Detail)
	}
	return p
}

func TestZones(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		admin := e.providerAdmin()
		_, tenant := e.tenant("acme", store.Residency{})
		e.do("POST", "/api/v1/regions", admin, api.RegionCreate{Name: "au-syd", Jurisdiction: "AU"}).must(t, http.StatusCreated)
		e.do("POST", "/api/v1/regions", admin, api.RegionCreate{Name: "nz-akl", Jurisdiction: "NZ"}).must(t, http.StatusCreated)

		var z api.Zone
		e.do("POST", "/api/v1/zones", admin, api.ZoneCreate{Name: "au-syd-1a", Region: "au-syd", DisplayName: "Sydney A",
			Labels: api.Labels{"tier": "gold"}}).must(t, http.StatusCreated).decode(t, &z)
		if z.Name != "au-syd-1a" || z.Region != "au-syd" || z.Jurisdiction != "AU" || z.Version != 1 || z.Labels["tier"] != "gold" {
			t.Fatalf("created %+v", z)
		}
		p := wantProblem(t, e.do("POST", "/api/v1/zones", admin, api.ZoneCreate{Name: "xx-nowhere-1a", Region: "xx-nowhere"}),
			http.StatusUnprocessableEntity, api.CodeValidation)
		if !strings.Contains(p.Detail, `"xx-nowhere"`) {
			t.Errorf("unknown region: detail %q does not name it", p.Detail)
		}
		wantProblem(t, e.do("POST", "/api/v1/zones", admin, api.ZoneCreate{Name: "au-syd-1a", Region: "au-syd"}), http.StatusConflict, api.CodeAlreadyExists)
		wantProblem(t, e.do("POST", "/api/v1/zones", tenant, api.ZoneCreate{Name: "au-syd-1b", Region: "au-syd"}), http.StatusForbidden, api.CodeForbidden)
		e.do("POST", "/api/v1/zones", admin, api.ZoneCreate{Name: "nz-akl-1a", Region: "nz-akl"}).must(t, http.StatusCreated)

		// Tenants read the catalog, filtered by region and label, a page at a time.
		for _, c := range []struct {
			query string
			want  []string
		}{
			{"", []string{"au-syd-1a", "nz-akl-1a"}},
			{"?region=nz-akl", []string{"nz-akl-1a"}},
			{"?region=xx-nowhere", nil},
			{"?label=tier=gold", []string{"au-syd-1a"}},
			{"?limit=1", []string{"au-syd-1a"}},
		} {
			var list api.List[api.Zone]
			e.do("GET", "/api/v1/zones"+c.query, tenant, nil).must(t, http.StatusOK).decode(t, &list)
			var got []string
			for _, z := range list.Items {
				got = append(got, z.Name)
			}
			if strings.Join(got, ",") != strings.Join(c.want, ",") {
				t.Errorf("GET /zones%s: %v, want %v", c.query, got, c.want)
			}
			if c.query == "?limit=1" {
				var next api.List[api.Zone]
				e.do("GET", "/api/v1/zones?limit=1&cursor="+list.NextCursor, tenant, nil).must(t, http.StatusOK).decode(t, &next)
				if len(next.Items) != 1 || next.Items[0].Name != "nz-akl-1a" || next.NextCursor != "" {
					t.Errorf("page 2: %+v", next)
				}
			}
		}

		got := e.do("GET", "/api/v1/zones/nz-akl-1a", tenant, nil).must(t, http.StatusOK)
		got.decode(t, &z)
		if z.Jurisdiction != "NZ" {
			t.Errorf("get: jurisdiction %q, want NZ", z.Jurisdiction)
		}
		wantProblem(t, e.do("GET", "/api/v1/zones/xx-nowhere-1a", tenant, nil), http.StatusNotFound, api.CodeNotFound)

		// If-Match guards updates; the region cannot be changed.
		name := "Auckland A"
		tag := got.Header.Get("ETag")
		e.do("PATCH", "/api/v1/zones/nz-akl-1a", admin, api.ZoneUpdate{DisplayName: &name}, "If-Match", tag).must(t, http.StatusOK).decode(t, &z)
		if z.DisplayName != name || z.Version != 2 {
			t.Errorf("updated %+v", z)
		}
		wantProblem(t, e.do("PATCH", "/api/v1/zones/nz-akl-1a", admin, api.ZoneUpdate{DisplayName: &name}, "If-Match", tag),
			http.StatusPreconditionFailed, api.CodePreconditionFailed)
		wantProblem(t, e.do("PATCH", "/api/v1/zones/nz-akl-1a", admin, `{"region":"au-syd"}`), http.StatusUnprocessableEntity, api.CodeValidation)
		wantProblem(t, e.do("PATCH", "/api/v1/zones/nz-akl-1a", tenant, api.ZoneUpdate{DisplayName: &name}), http.StatusForbidden, api.CodeForbidden)

		// A zone holding a host cannot go.
		e.do("POST", "/api/v1/hosts", admin, api.HostCreate{Name: "hv1", Zone: "au-syd-1a"}).must(t, http.StatusCreated)
		p = wantProblem(t, e.do("DELETE", "/api/v1/zones/au-syd-1a", admin, nil), http.StatusConflict, api.CodeNotEmpty)
		if !strings.Contains(p.Detail, "1 host") {
			t.Errorf("delete used zone: detail %q does not say what uses it", p.Detail)
		}
		wantProblem(t, e.do("DELETE", "/api/v1/zones/au-syd-1a", tenant, nil), http.StatusForbidden, api.CodeForbidden)
		e.do("DELETE", "/api/v1/hosts/hv1", admin, nil).must(t, http.StatusNoContent)
		e.do("DELETE", "/api/v1/zones/au-syd-1a", admin, nil).must(t, http.StatusNoContent)
		wantProblem(t, e.do("GET", "/api/v1/zones/au-syd-1a", admin, nil), http.StatusNotFound, api.CodeNotFound)
		wantProblem(t, e.do("DELETE", "/api/v1/zones/au-syd-1a", admin, nil), http.StatusNotFound, api.CodeNotFound)
		wantProblem(t, e.do("GET", "/api/v1/zones", "", nil), http.StatusUnauthorized, api.CodeUnauthenticated)
	})
}

func TestHosts(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		admin := e.providerAdmin()
		viewer := e.providerViewer()
		_, tenant := e.tenant("acme", store.Residency{})
		e.do("POST", "/api/v1/regions", admin, api.RegionCreate{Name: "au-syd", Jurisdiction: "AU"}).must(t, http.StatusCreated)
		for _, z := range []string{"au-syd-1a", "au-syd-1b"} {
			e.do("POST", "/api/v1/zones", admin, api.ZoneCreate{Name: z, Region: "au-syd"}).must(t, http.StatusCreated)
		}

		var h api.Host
		e.do("POST", "/api/v1/hosts", admin, api.HostCreate{Name: "hv1.syd", Zone: "au-syd-1a",
			Capacity: api.Capacity{VCPU: 32, MemoryMiB: 131072, DiskGiB: 2000}, Labels: api.Labels{"rack": "r1"}}).
			must(t, http.StatusCreated).decode(t, &h)
		if h.Name != "hv1.syd" || h.Zone != "au-syd-1a" || h.State != api.HostPending || h.Capacity.VCPU != 32 ||
			h.Overcommit != (api.Overcommit{CPU: 4, Memory: 1}) || h.Labels["rack"] != "r1" {
			t.Fatalf("created %+v", h)
		}
		e.do("POST", "/api/v1/hosts", admin, api.HostCreate{Name: "hv2.syd", Zone: "au-syd-1b",
			Overcommit: &api.Overcommit{CPU: 2, Memory: 1.5}}).must(t, http.StatusCreated).decode(t, &h)
		if h.Overcommit != (api.Overcommit{CPU: 2, Memory: 1.5}) {
			t.Errorf("overcommit %+v", h.Overcommit)
		}

		for _, c := range []struct {
			name   string
			token  string
			body   any
			status int
			code   string
		}{
			{"unknown zone", admin, api.HostCreate{Name: "hv3", Zone: "au-syd-9z"}, http.StatusUnprocessableEntity, api.CodeValidation},
			{"duplicate", admin, api.HostCreate{Name: "hv1.syd", Zone: "au-syd-1b"}, http.StatusConflict, api.CodeAlreadyExists},
			{"bad name", admin, api.HostCreate{Name: "HV3", Zone: "au-syd-1a"}, http.StatusUnprocessableEntity, api.CodeValidation},
			{"memory overcommit too high", admin, api.HostCreate{Name: "hv3", Zone: "au-syd-1a", Overcommit: &api.Overcommit{CPU: 4, Memory: 8}},
				http.StatusUnprocessableEntity, api.CodeValidation},
			{"viewer", viewer, api.HostCreate{Name: "hv3", Zone: "au-syd-1a"}, http.StatusForbidden, api.CodeForbidden},
			{"tenant", tenant, api.HostCreate{Name: "hv3", Zone: "au-syd-1a"}, http.StatusForbidden, api.CodeForbidden},
		} {
			t.Run(c.name, func(t *testing.T) {
				wantProblem(t, e.do("POST", "/api/v1/hosts", c.token, c.body), c.status, c.code)
			})
		}

		// Hosts are provider-only: viewers read, tenants do not even list.
		for _, c := range []struct {
			query string
			want  []string
		}{
			{"", []string{"hv1.syd", "hv2.syd"}},
			{"?zone=au-syd-1b", []string{"hv2.syd"}},
			{"?state=pending", []string{"hv1.syd", "hv2.syd"}},
			{"?state=ready", nil},
			{"?label=rack=r1", []string{"hv1.syd"}},
		} {
			var list api.List[api.Host]
			e.do("GET", "/api/v1/hosts"+c.query, viewer, nil).must(t, http.StatusOK).decode(t, &list)
			var got []string
			for _, h := range list.Items {
				got = append(got, h.Name)
			}
			if strings.Join(got, ",") != strings.Join(c.want, ",") {
				t.Errorf("GET /hosts%s: %v, want %v", c.query, got, c.want)
			}
		}
		wantProblem(t, e.do("GET", "/api/v1/hosts?state=broken", viewer, nil), http.StatusUnprocessableEntity, api.CodeValidation)
		wantProblem(t, e.do("GET", "/api/v1/hosts", tenant, nil), http.StatusForbidden, api.CodeForbidden)
		wantProblem(t, e.do("GET", "/api/v1/hosts/hv1.syd", tenant, nil), http.StatusForbidden, api.CodeForbidden)
		e.do("GET", "/api/v1/hosts/hv1.syd", viewer, nil).must(t, http.StatusOK)

		// Pending and down belong to the agent: no edit makes such a host ready or draining.
		ready, draining := api.HostReady, api.HostDraining
		p := wantProblem(t, e.do("PATCH", "/api/v1/hosts/hv1.syd", admin, api.HostUpdate{State: &ready}), http.StatusConflict, api.CodeConflict)
		if !strings.Contains(p.Detail, "pending") {
			t.Errorf("ready from pending: detail %q", p.Detail)
		}
		wantProblem(t, e.do("PATCH", "/api/v1/hosts/hv1.syd", admin, api.HostUpdate{State: &draining}), http.StatusConflict, api.CodeConflict)
		wantProblem(t, e.do("PATCH", "/api/v1/hosts/hv1.syd", admin, `{"state":"down"}`), http.StatusUnprocessableEntity, api.CodeValidation)

		// Once its agent has joined, the operator drains it and brings it back.
		e.setHostState(t, "hv1.syd", api.HostReady)
		wantProblem(t, e.do("PATCH", "/api/v1/hosts/hv1.syd", viewer, api.HostUpdate{State: &draining}), http.StatusForbidden, api.CodeForbidden)
		wantProblem(t, e.do("PATCH", "/api/v1/hosts/hv1.syd", tenant, api.HostUpdate{State: &draining}), http.StatusForbidden, api.CodeForbidden)
		tag := e.do("GET", "/api/v1/hosts/hv1.syd", admin, nil).must(t, http.StatusOK).Header.Get("ETag")
		e.do("PATCH", "/api/v1/hosts/hv1.syd", admin, api.HostUpdate{State: &draining}, "If-Match", tag).must(t, http.StatusOK).decode(t, &h)
		if h.State != api.HostDraining {
			t.Fatalf("drained: state %q", h.State)
		}
		wantProblem(t, e.do("PATCH", "/api/v1/hosts/hv1.syd", admin, api.HostUpdate{State: &ready}, "If-Match", tag),
			http.StatusPreconditionFailed, api.CodePreconditionFailed)
		var list api.List[api.Host]
		e.do("GET", "/api/v1/hosts?state=draining", viewer, nil).must(t, http.StatusOK).decode(t, &list)
		if len(list.Items) != 1 || list.Items[0].Name != "hv1.syd" {
			t.Errorf("draining hosts: %+v", list.Items)
		}
		oc := api.Overcommit{CPU: 8, Memory: 1.25}
		e.do("PATCH", "/api/v1/hosts/hv1.syd", admin, api.HostUpdate{State: &ready, Overcommit: &oc}).must(t, http.StatusOK).decode(t, &h)
		if h.State != api.HostReady || h.Overcommit != oc || h.Labels["rack"] != "r1" {
			t.Errorf("back to ready: %+v", h)
		}

		// A host that stopped reporting comes back by itself, not by an edit.
		e.setHostState(t, "hv1.syd", api.HostDown)
		wantProblem(t, e.do("PATCH", "/api/v1/hosts/hv1.syd", admin, api.HostUpdate{State: &ready}), http.StatusConflict, api.CodeConflict)

		// No VMs are placed yet, so a host can always be deleted.
		wantProblem(t, e.do("DELETE", "/api/v1/hosts/hv1.syd", viewer, nil), http.StatusForbidden, api.CodeForbidden)
		e.do("DELETE", "/api/v1/hosts/hv1.syd", admin, nil).must(t, http.StatusNoContent)
		wantProblem(t, e.do("GET", "/api/v1/hosts/hv1.syd", admin, nil), http.StatusNotFound, api.CodeNotFound)
		wantProblem(t, e.do("DELETE", "/api/v1/hosts/hv1.syd", admin, nil), http.StatusNotFound, api.CodeNotFound)
	})
}

func TestSizes(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		admin := e.providerAdmin()
		_, tenant := e.tenant("acme", store.Residency{})

		var z api.Size
		e.do("POST", "/api/v1/sizes", admin, api.SizeCreate{Name: "s1.small", Description: "1 vCPU, 1 GiB", VCPU: 1, MemoryMiB: 1024, DiskGiB: 10,
			PriceClass: "standard"}).must(t, http.StatusCreated).decode(t, &z)
		if z.Name != "s1.small" || z.VCPU != 1 || z.MemoryMiB != 1024 || z.DiskGiB != 10 || z.PriceClass != "standard" || z.Deprecated {
			t.Fatalf("created %+v", z)
		}
		e.do("POST", "/api/v1/sizes", admin, api.SizeCreate{Name: "s1.large", VCPU: 4, MemoryMiB: 8192, DiskGiB: 80}).must(t, http.StatusCreated)
		wantProblem(t, e.do("POST", "/api/v1/sizes", admin, api.SizeCreate{Name: "s1.small", VCPU: 1, MemoryMiB: 1024, DiskGiB: 10}),
			http.StatusConflict, api.CodeAlreadyExists)
		wantProblem(t, e.do("POST", "/api/v1/sizes", admin, api.SizeCreate{Name: "s1.zero", VCPU: 0, MemoryMiB: 1024, DiskGiB: 10}),
			http.StatusUnprocessableEntity, api.CodeValidation)
		wantProblem(t, e.do("POST", "/api/v1/sizes", tenant, api.SizeCreate{Name: "s1.mine", VCPU: 1, MemoryMiB: 1024, DiskGiB: 10}),
			http.StatusForbidden, api.CodeForbidden)

		// Deprecation hides nothing by default: existing VMs still show their size.
		tag := e.do("GET", "/api/v1/sizes/s1.small", tenant, nil).must(t, http.StatusOK).Header.Get("ETag")
		yes := true
		e.do("PATCH", "/api/v1/sizes/s1.small", admin, api.SizeUpdate{Deprecated: &yes}, "If-Match", tag).must(t, http.StatusOK).decode(t, &z)
		if !z.Deprecated || z.Description != "1 vCPU, 1 GiB" || z.Version != 2 {
			t.Errorf("deprecated %+v", z)
		}
		wantProblem(t, e.do("PATCH", "/api/v1/sizes/s1.small", admin, api.SizeUpdate{Deprecated: &yes}, "If-Match", tag),
			http.StatusPreconditionFailed, api.CodePreconditionFailed)
		wantProblem(t, e.do("PATCH", "/api/v1/sizes/s1.small", admin, `{"vcpu":2}`), http.StatusUnprocessableEntity, api.CodeValidation)
		wantProblem(t, e.do("PATCH", "/api/v1/sizes/s1.small", tenant, api.SizeUpdate{Deprecated: &yes}), http.StatusForbidden, api.CodeForbidden)
		for _, c := range []struct {
			query string
			want  string
		}{
			{"", "s1.large,s1.small"},
			{"?include_deprecated=true", "s1.large,s1.small"},
			{"?include_deprecated=false", "s1.large"},
		} {
			var list api.List[api.Size]
			e.do("GET", "/api/v1/sizes"+c.query, tenant, nil).must(t, http.StatusOK).decode(t, &list)
			var got []string
			for _, s := range list.Items {
				got = append(got, s.Name)
				if s.Deprecated != (s.Name == "s1.small") {
					t.Errorf("GET /sizes%s: %s deprecated=%v", c.query, s.Name, s.Deprecated)
				}
			}
			if strings.Join(got, ",") != c.want {
				t.Errorf("GET /sizes%s: %v, want %s", c.query, got, c.want)
			}
		}

		wantProblem(t, e.do("DELETE", "/api/v1/sizes/s1.small", tenant, nil), http.StatusForbidden, api.CodeForbidden)
		e.do("DELETE", "/api/v1/sizes/s1.small", admin, nil).must(t, http.StatusNoContent)
		wantProblem(t, e.do("GET", "/api/v1/sizes/s1.small", tenant, nil), http.StatusNotFound, api.CodeNotFound)
		wantProblem(t, e.do("GET", "/api/v1/sizes", "", nil), http.StatusUnauthorized, api.CodeUnauthenticated)
	})
}

func TestProviderSettings(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		admin := e.providerAdmin()
		_, tenant := e.tenant("acme", store.Residency{})

		// Public before anything is saved: the defaults.
		var p api.Provider
		got := e.do("GET", "/api/v1/provider", "", nil).must(t, http.StatusOK)
		got.decode(t, &p)
		if p.Name != "Sirocco" || p.Currency != "USD" || !p.SignupEnabled || p.TrialCredit != (api.TrialCredit{Amount: "0.00", Days: 30}) {
			t.Fatalf("defaults %+v", p)
		}
		tag := got.Header.Get("ETag")

		name, cur, off := "Kestrel Cloud", "AUD", false
		upd := api.ProviderUpdate{Name: &name, Currency: &cur, SignupEnabled: &off,
			Branding:    &api.Branding{PrimaryColor: "#0b5fff", LogoURL: "https://kestrel.example/logo.svg", SupportEmail: "help@kestrel.example"},
			TrialCredit: &api.TrialCredit{Amount: "50.00", Days: 14}}
		wantProblem(t, e.do("PATCH", "/api/v1/provider", tenant, upd), http.StatusForbidden, api.CodeForbidden)
		wantProblem(t, e.do("PATCH", "/api/v1/provider", "", upd), http.StatusUnauthorized, api.CodeUnauthenticated)
		e.do("PATCH", "/api/v1/provider", admin, upd, "If-Match", tag).must(t, http.StatusOK).decode(t, &p)
		if p.Name != name || p.Currency != cur || p.SignupEnabled || p.Branding.PrimaryColor != "#0b5fff" ||
			p.TrialCredit != (api.TrialCredit{Amount: "50.00", Days: 14}) || p.Version != 1 {
			t.Fatalf("updated %+v", p)
		}
		wantProblem(t, e.do("PATCH", "/api/v1/provider", admin, upd, "If-Match", tag), http.StatusPreconditionFailed, api.CodePreconditionFailed)

		for _, c := range []struct {
			name string
			body string
		}{
			{"lower-case currency", `{"currency":"aud"}`},
			{"long currency", `{"currency":"AUDX"}`},
			{"amount with exponent", `{"trial_credit":{"amount":"5e1","days":14}}`},
			{"negative amount", `{"trial_credit":{"amount":"-5","days":14}}`},
			{"amount as number", `{"trial_credit":{"amount":50.5,"days":14}}`},
			{"too many decimals", `{"trial_credit":{"amount":"0.1234567","days":14}}`},
			{"huge amount", `{"trial_credit":{"amount":"12345678901234567890","days":14}}`},
			{"named colour", `{"branding":{"primary_color":"blue"}}`},
			{"short colour", `{"branding":{"accent_color":"#fff"}}`},
			{"script logo", `{"branding":{"logo_url":"javascript:alert(1)"}}`},
			{"bad support e-mail", `{"branding":{"support_email":"help at kestrel"}}`},
			{"blank name", `{"name":"   "}`},
			{"unknown field", `{"colour":"#000000"}`},
		} {
			t.Run(c.name, func(t *testing.T) {
				wantProblem(t, e.do("PATCH", "/api/v1/provider", admin, c.body), http.StatusUnprocessableEntity, api.CodeValidation)
			})
		}

		// Refused changes left nothing behind.
		e.do("GET", "/api/v1/provider", "", nil).must(t, http.StatusOK).decode(t, &p)
		if p.Name != name || p.Currency != cur || p.Version != 1 || p.Branding.LogoURL != "https://kestrel.example/logo.svg" {
			t.Errorf("after refusals %+v", p)
		}
	})
}
