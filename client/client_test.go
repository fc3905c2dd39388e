package client_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/client"
	"github.com/sirocco-cloud/sirocco/internal/certs"
	"github.com/sirocco-cloud/sirocco/internal/store"
)

// wantCode fails unless err is an *api.Error with status and code.
func wantCode(t testing.TB, err error, status int, code string) *api.Error {
	t.Helper()
	ae, ok := errors.AsType[*api.Error](err)
	if !ok {
		t.Fatalf("error %v (%T), want *api.Error %d %s", err, err, status, code)
	}
	if ae.Status != status || ae.Code != code {
		t.Fatalf("error %d %s (%v), want %d %s", ae.Status, ae.Code, ae, status, code)
	}
	return ae
}

func TestRegionLifecycle(t *testing.T) {
	e := newEnv(t, false)
	c := e.client(e.ProviderAdmin())
	ctx := t.Context()

	r, err := c.CreateRegion(ctx, api.RegionCreate{Name: "au-syd", Jurisdiction: "AU", DisplayName: "Sydney", Labels: api.Labels{"tier": "gold"}})
	if err != nil {
		t.Fatal(err)
	}
	if r.Name != "au-syd" || r.Jurisdiction != "AU" || r.Labels["tier"] != "gold" {
		t.Fatalf("created %+v", r)
	}
	got, err := c.GetRegion(ctx, "au-syd")
	if err != nil || got.DisplayName != "Sydney" {
		t.Fatalf("get: %+v, %v", got, err)
	}

	_, err = c.CreateRegion(ctx, api.RegionCreate{Name: "au-syd", Jurisdiction: "AU"})
	wantCode(t, err, http.StatusConflict, api.CodeAlreadyExists)

	name := "Sydney (NSW)"
	up, err := c.UpdateRegion(ctx, "au-syd", api.RegionUpdate{DisplayName: &name}, client.IfVersion(got.Version))
	if err != nil || up.DisplayName != name || up.Version == got.Version {
		t.Fatalf("update: %+v, %v", up, err)
	}
	// The version read before the update is stale now.
	_, err = c.UpdateRegion(ctx, "au-syd", api.RegionUpdate{DisplayName: &name}, client.IfVersion(got.Version))
	wantCode(t, err, http.StatusPreconditionFailed, api.CodePreconditionFailed)

	if err := c.DeleteRegion(ctx, "au-syd"); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetRegion(ctx, "au-syd")
	wantCode(t, err, http.StatusNotFound, api.CodeNotFound)
}

func TestIdempotencyKeyReplaysCreate(t *testing.T) {
	e := newEnv(t, false)
	c := e.client(e.ProviderAdmin())
	ctx := t.Context()
	in := api.RegionCreate{Name: "nz-akl", Jurisdiction: "NZ"}
	first, err := c.CreateRegion(ctx, in, client.IdempotencyKey("k-1"))
	if err != nil {
		t.Fatal(err)
	}
	// A retry with the same key gets the first answer, not already_exists.
	again, err := c.CreateRegion(ctx, in, client.IdempotencyKey("k-1"))
	if err != nil {
		t.Fatalf("retry: %v", err)
	}
	if again.ID != first.ID || !again.CreatedAt.Equal(first.CreatedAt) {
		t.Fatalf("retry answered %+v, first %+v", again, first)
	}
	_, err = c.CreateRegion(ctx, api.RegionCreate{Name: "nz-wlg", Jurisdiction: "NZ"}, client.IdempotencyKey("k-1"))
	wantCode(t, err, http.StatusConflict, api.CodeIdempotencyConflict)
}

func TestListPagesAndIterators(t *testing.T) {
	e := newEnv(t, false)
	c := e.client(e.ProviderAdmin())
	ctx := t.Context()
	for i := range 5 {
		l := api.Labels{"n": fmt.Sprint(i % 2)}
		if _, err := c.CreateRegion(ctx, api.RegionCreate{Name: fmt.Sprintf("r%d-x", i), Jurisdiction: "AU", Labels: l}); err != nil {
			t.Fatal(err)
		}
	}
	page, err := c.ListRegions(ctx, client.ListOptions{Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != 2 || page.NextCursor == "" {
		t.Fatalf("first page: %d items, cursor %q", len(page.Items), page.NextCursor)
	}

	var names []string
	for r, err := range c.AllRegions(ctx, client.ListOptions{Limit: 2}) {
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, r.Name)
	}
	if want := "r0-x r1-x r2-x r3-x r4-x"; strings.Join(names, " ") != want {
		t.Fatalf("all regions %v, want %s", names, want)
	}

	var odd []string
	for r, err := range c.AllRegions(ctx, client.ListOptions{Limit: 1, Labels: []string{"n=1"}}) {
		if err != nil {
			t.Fatal(err)
		}
		odd = append(odd, r.Name)
	}
	if want := "r1-x r3-x"; strings.Join(odd, " ") != want {
		t.Fatalf("regions labelled n=1: %v, want %s", odd, want)
	}

	// Stopping early stops fetching.
	n := 0
	for range c.AllRegions(ctx, client.ListOptions{Limit: 1}) {
		n++
		break
	}
	if n != 1 {
		t.Fatalf("broke after %d", n)
	}

	// An error ends the iteration with that error.
	bad := e.client("sk_wrong")
	for _, err := range bad.AllRegions(ctx, client.ListOptions{}) {
		wantCode(t, err, http.StatusUnauthorized, api.CodeUnauthenticated)
	}
}

func TestErrorsAreAPIErrors(t *testing.T) {
	e := newEnv(t, false)
	ctx := t.Context()

	_, err := e.client("").ListRegions(ctx, client.ListOptions{})
	wantCode(t, err, http.StatusUnauthorized, api.CodeUnauthenticated)
	_, err = e.client("sk_not_a_token").Me(ctx)
	wantCode(t, err, http.StatusUnauthorized, api.CodeUnauthenticated)

	// A validation failure keeps its field details.
	_, err = e.client(e.ProviderAdmin()).CreateRegion(ctx, api.RegionCreate{Name: "Bad Name", Jurisdiction: "AU"})
	ae := wantCode(t, err, http.StatusUnprocessableEntity, api.CodeValidation)
	if len(ae.Errors) == 0 {
		t.Fatalf("validation error without details: %+v", ae)
	}

	// Something in front of the server answering without a problem document
	// still gives an *api.Error with a code.
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusBadGateway)
		fmt.Fprint(w, "<html><body>Bad gateway</body></html>")
	}))
	defer proxy.Close()
	c, err := client.New(proxy.URL)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.GetProvider(ctx)
	ae = wantCode(t, err, http.StatusBadGateway, api.CodeUnavailable)
	if ae.Detail == "" || strings.Contains(ae.Detail, "<html>") {
		t.Fatalf("detail %q", ae.Detail)
	}
}

func TestNewRejectsBadURLs(t *testing.T) {
	for _, u := range []string{"", "cloud.example.com", "ftp://cloud.example.com", "https://"} {
		if _, err := client.New(u); err == nil {
			t.Errorf("New(%q) succeeded", u)
		}
	}
	c, err := client.New("https://cloud.example.com/api/v1/")
	if err != nil || c.BaseURL() != "https://cloud.example.com" {
		t.Fatalf("base %q, %v", c.BaseURL(), err)
	}
}

func TestLoginMintsTokenAndRevokes(t *testing.T) {
	e := newEnv(t, false)
	e.User("ops@provider.test", store.RoleBinding{Role: api.RoleProviderViewer})
	ctx := t.Context()
	anon := e.client("")

	_, _, err := anon.Login(ctx, "ops@provider.test", "wrong password!")
	wantCode(t, err, http.StatusUnauthorized, api.CodeUnauthenticated)

	session, me, err := anon.Login(ctx, "ops@provider.test", password)
	if err != nil {
		t.Fatal(err)
	}
	if session == "" || me.User.Email != "ops@provider.test" || me.Provider != api.RoleProviderViewer {
		t.Fatalf("login: session %q, me %+v", session, me)
	}
	sc, err := anon.With(client.WithSession(session))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := sc.CreateToken(ctx, api.TokenCreate{Name: "cli@test", Role: api.RoleProviderViewer})
	if err != nil {
		t.Fatal(err)
	}
	if tok.Secret == "" || tok.Role != api.RoleProviderViewer {
		t.Fatalf("token %+v", tok)
	}
	if err := sc.Logout(ctx); err != nil {
		t.Fatal(err)
	}
	_, err = sc.Me(ctx)
	wantCode(t, err, http.StatusUnauthorized, api.CodeUnauthenticated)

	tc := e.client(tok.Secret)
	me, err = tc.Me(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if me.Token == nil || me.Token.ID != tok.ID {
		t.Fatalf("me.token %+v, want %s", me.Token, tok.ID)
	}
	got, err := tc.GetToken(ctx, tok.ID)
	if err != nil || got.Name != "cli@test" {
		t.Fatalf("get token %+v, %v", got, err)
	}
	// A viewer reads but does not write.
	_, err = tc.CreateRegion(ctx, api.RegionCreate{Name: "au-mel", Jurisdiction: "AU"})
	wantCode(t, err, http.StatusForbidden, api.CodeForbidden)

	if err := tc.RevokeToken(ctx, tok.ID); err != nil {
		t.Fatal(err)
	}
	_, err = tc.Me(ctx)
	wantCode(t, err, http.StatusUnauthorized, api.CodeUnauthenticated)
}

func TestVDCDeleteOperation(t *testing.T) {
	e := newEnv(t, false)
	admin := e.client(e.ProviderAdmin())
	ctx := t.Context()
	catalog(t, admin)
	org, err := admin.CreateOrg(ctx, api.OrganisationCreate{Name: "acme", Residency: api.Residency{Jurisdictions: []string{"AU"}}})
	if err != nil {
		t.Fatal(err)
	}
	// An org-admin of acme works by the organisation's name.
	u := e.User("ana@acme.test", store.RoleBinding{OrgID: org.ID, Role: api.RoleOrgAdmin})
	c := e.client(e.Token(u, org.ID, api.RoleOrgAdmin))

	v, err := c.CreateVDC(ctx, "acme", api.VDCCreate{Name: "prod", Zone: "au-syd-1a", Labels: api.Labels{"env": "prod"}})
	if err != nil {
		t.Fatal(err)
	}
	if v.Quotas != api.DefaultQuotas || v.Region != "au-syd" || v.Jurisdiction != "AU" {
		t.Fatalf("created %+v", v)
	}
	desc := "production"
	if _, err := c.UpdateVDC(ctx, "acme", "prod", api.VDCUpdate{Description: &desc}, client.IfVersion(v.Version)); err != nil {
		t.Fatal(err)
	}
	vdcs, err := c.ListVDCs(ctx, "acme", client.ListOptions{Labels: []string{"env=prod"}})
	if err != nil || len(vdcs.Items) != 1 || vdcs.Items[0].Description != desc {
		t.Fatalf("list: %+v, %v", vdcs, err)
	}

	op, err := c.DeleteVDC(ctx, "acme", "prod")
	if err != nil {
		t.Fatal(err)
	}
	if op.Kind != "vdc.delete" || op.Target.ID != v.ID {
		t.Fatalf("operation %+v", op)
	}
	var seen int
	final, err := c.WaitOperation(ctx, op.ID, func(api.Operation) { seen++ })
	if err != nil {
		t.Fatal(err)
	}
	if final.State != api.OpSucceeded || seen == 0 {
		t.Fatalf("final %+v after %d reports", final, seen)
	}
	_, err = c.GetVDC(ctx, "acme", "prod")
	wantCode(t, err, http.StatusNotFound, api.CodeNotFound)

	ops, err := c.ListOperations(ctx, client.OperationListOptions{Org: "acme", Kind: "vdc.delete"})
	if err != nil || len(ops.Items) != 1 || ops.Items[0].ID != op.ID {
		t.Fatalf("operations: %+v, %v", ops, err)
	}
	// A finished operation can no longer be cancelled.
	_, err = c.CancelOperation(ctx, op.ID)
	wantCode(t, err, http.StatusConflict, api.CodeNotCancellable)

	// Another tenant sees none of it.
	evil, err := admin.CreateOrg(ctx, api.OrganisationCreate{Name: "evil"})
	if err != nil {
		t.Fatal(err)
	}
	eveUser := e.User("eve@evil.test", store.RoleBinding{OrgID: evil.ID, Role: api.RoleOrgAdmin})
	eve := e.client(e.Token(eveUser, evil.ID, api.RoleOrgAdmin))
	_, err = eve.GetOperation(ctx, op.ID)
	wantCode(t, err, http.StatusNotFound, api.CodeNotFound)
	_, err = eve.ListVDCs(ctx, "acme", client.ListOptions{})
	wantCode(t, err, http.StatusNotFound, api.CodeNotFound)

	events, err := c.ListOrgAuditEvents(ctx, "acme", client.AuditListOptions{Action: "vdc.create"})
	if err != nil || len(events.Items) != 1 || events.Items[0].Resource.ID != v.ID {
		t.Fatalf("audit: %+v, %v", events, err)
	}
	all, err := admin.ListAuditEvents(ctx, client.AuditListOptions{Org: "acme", ResourceKind: "vdc"})
	if err != nil || len(all.Items) < 2 {
		t.Fatalf("provider audit: %+v, %v", all, err)
	}
}

func TestWaitOperationReportsFailure(t *testing.T) {
	// The real server has no operation that fails on demand, so a fake one
	// answers the wait endpoint: first running, then failed.
	calls := 0
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/operations/op1/wait" || r.URL.Query().Get("timeout") == "" {
			http.NotFound(w, r)
			return
		}
		calls++
		w.Header().Set("Content-Type", "application/json")
		if calls == 1 {
			fmt.Fprint(w, `{"id":"op1","kind":"vdc.delete","state":"running","progress":40,"message":"deleting","target":{"kind":"vdc","id":"v"}}`)
			return
		}
		fmt.Fprint(w, `{"id":"op1","kind":"vdc.delete","state":"failed","progress":40,"target":{"kind":"vdc","id":"v"},
			"error":{"status":409,"code":"not_empty","detail":"the VDC still has VMs"}}`)
	}))
	defer fake.Close()
	c, err := client.New(fake.URL)
	if err != nil {
		t.Fatal(err)
	}
	var progress []int
	op, err := c.WaitOperation(t.Context(), "op1", func(o api.Operation) { progress = append(progress, o.Progress) })
	ae := wantCode(t, err, http.StatusConflict, api.CodeNotEmpty)
	if op == nil || op.State != api.OpFailed || ae.Detail != "the VDC still has VMs" || len(progress) != 2 {
		t.Fatalf("op %+v, progress %v", op, progress)
	}
}

func TestFingerprintPinsSelfSignedServer(t *testing.T) {
	e := newEnv(t, true)
	ctx := t.Context()
	fp := certs.Fingerprint(e.HTTP.Certificate())

	// The test server's certificate is trusted by no CA.
	c, err := client.New(e.URL)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetProvider(ctx); err == nil {
		t.Fatal("an unpinned self-signed server was trusted")
	}

	c, err = client.New(e.URL, client.WithFingerprint(fp))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetProvider(ctx); err != nil {
		t.Fatalf("pinned: %v", err)
	}

	wrong := "sha256:" + strings.Repeat("0", 64)
	c, err = client.New(e.URL, client.WithFingerprint(wrong), client.WithHTTPClient(&http.Client{}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetProvider(ctx); err == nil || !strings.Contains(err.Error(), "does not match the pinned fingerprint") {
		t.Fatalf("wrong pin: %v", err)
	}
}
