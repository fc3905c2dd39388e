package server

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/internal/store"
)

func orgNames(l api.List[api.Organisation]) []string {
	var out []string
	for _, o := range l.Items {
		out = append(out, o.Name)
	}
	return out
}

func TestOrgVisibility(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		admin := e.providerAdmin()
		acme, acmeTok := e.tenant("acme", store.Residency{})
		globex, _ := e.tenant("globex", store.Residency{})
		e.do("POST", "/api/v1/orgs", admin, api.OrganisationCreate{Name: "initech", Labels: api.Labels{"tier": "gold"}}).must(t, http.StatusCreated)

		var l api.List[api.Organisation]
		e.do("GET", "/api/v1/orgs", acmeTok, nil).must(t, http.StatusOK).decode(t, &l)
		if got := orgNames(l); len(got) != 1 || got[0] != "acme" {
			t.Errorf("tenant sees %v, want only acme", got)
		}
		l = api.List[api.Organisation]{}
		e.do("GET", "/api/v1/orgs", admin, nil).must(t, http.StatusOK).decode(t, &l)
		if got := orgNames(l); len(got) != 3 {
			t.Errorf("provider sees %v, want all three", got)
		}
		l = api.List[api.Organisation]{}
		e.do("GET", "/api/v1/orgs?label=tier=gold", admin, nil).must(t, http.StatusOK).decode(t, &l)
		if got := orgNames(l); len(got) != 1 || got[0] != "initech" {
			t.Errorf("label filter: %v", got)
		}
		l = api.List[api.Organisation]{}
		e.do("GET", "/api/v1/orgs?limit=2", admin, nil).must(t, http.StatusOK).decode(t, &l)
		if len(l.Items) != 2 || l.NextCursor == "" {
			t.Fatalf("page 1: %v next %q", orgNames(l), l.NextCursor)
		}
		next := l.NextCursor
		l = api.List[api.Organisation]{}
		e.do("GET", "/api/v1/orgs?limit=2&cursor="+next, admin, nil).must(t, http.StatusOK).decode(t, &l)
		if len(l.Items) != 1 || l.NextCursor != "" {
			t.Fatalf("page 2: %v next %q", orgNames(l), l.NextCursor)
		}

		// By name or ID; a foreign organisation does not exist for the tenant.
		for _, ref := range []string{"acme", acme.ID} {
			r := e.do("GET", "/api/v1/orgs/"+ref, acmeTok, nil).must(t, http.StatusOK)
			if r.Header.Get("ETag") != `"1"` {
				t.Errorf("GET %s: ETag %q", ref, r.Header.Get("ETag"))
			}
		}
		for _, ref := range []string{"globex", globex.ID, "nosuch"} {
			if p := e.do("GET", "/api/v1/orgs/"+ref, acmeTok, nil).must(t, http.StatusNotFound).problem(t); p.Code != api.CodeNotFound {
				t.Errorf("GET foreign %s: code %q", ref, p.Code)
			}
		}
		e.do("GET", "/api/v1/orgs/globex", admin, nil).must(t, http.StatusOK)
	})
}

func TestOrgCreateAndUpdate(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		admin := e.providerAdmin()
		acme, acmeTok := e.tenant("acme", store.Residency{})
		member := e.token(e.user("member@acme.test", store.RoleBinding{OrgID: acme.ID, Role: api.RoleOrgMember}), acme.ID, api.RoleOrgMember)
		viewer := e.token(e.user("viewer@acme.test", store.RoleBinding{OrgID: acme.ID, Role: api.RoleOrgViewer}), acme.ID, api.RoleOrgViewer)
		pviewer := e.token(e.user("ops@provider.test", store.RoleBinding{Role: api.RoleProviderViewer}), "", api.RoleProviderViewer)
		e.do("POST", "/api/v1/regions", admin, api.RegionCreate{Name: "au-syd", Jurisdiction: "AU"}).must(t, http.StatusCreated)

		var o api.Organisation
		e.do("POST", "/api/v1/orgs", admin, api.OrganisationCreate{Name: "initech", DisplayName: "Initech",
			Residency: api.Residency{Jurisdictions: []string{"AU", "NZ"}, Regions: []string{"au-syd"}}}).must(t, http.StatusCreated).decode(t, &o)
		if o.State != api.OrgActive || o.DisplayName != "Initech" || len(o.Residency.Jurisdictions) != 2 || o.Version != 1 {
			t.Errorf("created %+v", o)
		}
		for _, tc := range []struct {
			name   string
			token  string
			body   api.OrganisationCreate
			status int
			code   string
		}{
			{"duplicate", admin, api.OrganisationCreate{Name: "initech"}, http.StatusConflict, api.CodeAlreadyExists},
			{"tenant", acmeTok, api.OrganisationCreate{Name: "hooli"}, http.StatusForbidden, api.CodeForbidden},
			{"provider viewer", pviewer, api.OrganisationCreate{Name: "hooli"}, http.StatusForbidden, api.CodeForbidden},
			{"lower-case jurisdiction", admin, api.OrganisationCreate{Name: "hooli", Residency: api.Residency{Jurisdictions: []string{"au"}}}, http.StatusUnprocessableEntity, api.CodeValidation},
			{"unknown region", admin, api.OrganisationCreate{Name: "hooli", Residency: api.Residency{Regions: []string{"mars-1"}}}, http.StatusUnprocessableEntity, api.CodeValidation},
			{"name like an ID", admin, api.OrganisationCreate{Name: store.NewID()}, http.StatusUnprocessableEntity, api.CodeValidation},
		} {
			if p := e.do("POST", "/api/v1/orgs", tc.token, tc.body).must(t, tc.status).problem(t); p.Code != tc.code {
				t.Errorf("%s: code %q, want %q", tc.name, p.Code, tc.code)
			}
		}

		// The org-admin changes the display name; If-Match guards it.
		tag := e.do("GET", "/api/v1/orgs/acme", acmeTok, nil).must(t, http.StatusOK).Header.Get("ETag")
		name := "ACME Corp"
		e.do("PATCH", "/api/v1/orgs/acme", acmeTok, api.OrganisationUpdate{DisplayName: &name}, "If-Match", tag).must(t, http.StatusOK).decode(t, &o)
		if o.DisplayName != name || o.Version != 2 {
			t.Errorf("patched %+v", o)
		}
		e.do("PATCH", "/api/v1/orgs/acme", acmeTok, api.OrganisationUpdate{DisplayName: &name}, "If-Match", tag).must(t, http.StatusPreconditionFailed)

		// Members, viewers and provider viewers may not change it; only the provider changes the state.
		for _, tok := range []string{member, viewer, pviewer} {
			e.do("PATCH", "/api/v1/orgs/acme", tok, api.OrganisationUpdate{DisplayName: &name}).must(t, http.StatusForbidden)
		}
		suspended, closed := api.OrgSuspended, api.OrgClosed
		if p := e.do("PATCH", "/api/v1/orgs/acme", acmeTok, api.OrganisationUpdate{State: &suspended}).must(t, http.StatusForbidden).problem(t); p.Code != api.CodeForbidden {
			t.Errorf("tenant state change: code %q", p.Code)
		}
		e.do("PATCH", "/api/v1/orgs/acme", admin, api.OrganisationUpdate{State: &suspended}).must(t, http.StatusOK).decode(t, &o)
		if o.State != api.OrgSuspended {
			t.Errorf("state %q, want suspended", o.State)
		}
		e.do("PATCH", "/api/v1/orgs/acme", admin, api.OrganisationUpdate{State: &closed}).must(t, http.StatusUnprocessableEntity)
		// Sending the current state back is not a change.
		e.do("PATCH", "/api/v1/orgs/acme", acmeTok, api.OrganisationUpdate{State: &suspended, DisplayName: &name}).must(t, http.StatusOK)
		e.do("GET", "/api/v1/orgs/acme", viewer, nil).must(t, http.StatusOK).decode(t, &o)
		if o.State != api.OrgSuspended {
			t.Errorf("viewer reads state %q", o.State)
		}
	})
}

func TestOrgResidencyKeepsVDCs(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		admin := e.providerAdmin()
		_, acmeTok := e.tenant("acme", store.Residency{})
		e.do("POST", "/api/v1/regions", admin, api.RegionCreate{Name: "au-syd", Jurisdiction: "AU"}).must(t, http.StatusCreated)
		e.do("POST", "/api/v1/regions", admin, api.RegionCreate{Name: "de-fra", Jurisdiction: "DE"}).must(t, http.StatusCreated)
		e.do("POST", "/api/v1/zones", admin, api.ZoneCreate{Name: "au-syd-1a", Region: "au-syd"}).must(t, http.StatusCreated)
		e.do("POST", "/api/v1/orgs/acme/vdcs", acmeTok, api.VDCCreate{Name: "web", Zone: "au-syd-1a"}).must(t, http.StatusCreated)

		for _, r := range []api.Residency{{Jurisdictions: []string{"DE"}}, {Regions: []string{"de-fra"}}} {
			p := e.do("PATCH", "/api/v1/orgs/acme", acmeTok, api.OrganisationUpdate{Residency: &r}).must(t, http.StatusConflict).problem(t)
			if p.Code != api.CodeResidency || !strings.Contains(p.Detail, `"web"`) {
				t.Errorf("residency %+v: %s %q", r, p.Code, p.Detail)
			}
		}
		var o api.Organisation
		e.do("GET", "/api/v1/orgs/acme", acmeTok, nil).must(t, http.StatusOK).decode(t, &o)
		if len(o.Residency.Jurisdictions)+len(o.Residency.Regions) != 0 {
			t.Errorf("refused policy applied: %+v", o.Residency)
		}
		for _, r := range []api.Residency{{Jurisdictions: []string{"DE"}, Regions: []string{"au-syd"}}, {Jurisdictions: []string{"AU"}}} {
			o = api.Organisation{}
			e.do("PATCH", "/api/v1/orgs/acme", acmeTok, api.OrganisationUpdate{Residency: &r}).must(t, http.StatusOK).decode(t, &o)
			if len(o.Residency.Jurisdictions) != len(r.Jurisdictions) || len(o.Residency.Regions) != len(r.Regions) {
				t.Errorf("residency %+v, want %+v", o.Residency, r)
			}
		}
	})
}

func TestOrgClose(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		admin := e.providerAdmin()
		acme, acmeTok := e.tenant("acme", store.Residency{})
		_, globexTok := e.tenant("globex", store.Residency{})
		member := e.token(e.user("member@acme.test", store.RoleBinding{OrgID: acme.ID, Role: api.RoleOrgMember}), acme.ID, api.RoleOrgMember)
		e.do("POST", "/api/v1/regions", admin, api.RegionCreate{Name: "au-syd", Jurisdiction: "AU"}).must(t, http.StatusCreated)
		e.do("POST", "/api/v1/zones", admin, api.ZoneCreate{Name: "au-syd-1a", Region: "au-syd"}).must(t, http.StatusCreated)
		e.do("POST", "/api/v1/orgs/acme/vdcs", acmeTok, api.VDCCreate{Name: "web", Zone: "au-syd-1a"}).must(t, http.StatusCreated)
		var inv api.Invitation
		e.do("POST", "/api/v1/orgs/acme/invitations", acmeTok, api.InvitationCreate{Email: "new@acme.test", Role: api.RoleOrgMember}).
			must(t, http.StatusCreated).decode(t, &inv)

		e.do("DELETE", "/api/v1/orgs/acme", member, nil).must(t, http.StatusForbidden)
		e.do("DELETE", "/api/v1/orgs/acme", globexTok, nil).must(t, http.StatusNotFound)

		r := e.do("DELETE", "/api/v1/orgs/acme", acmeTok, nil).must(t, http.StatusAccepted)
		var op api.Operation
		r.decode(t, &op)
		if op.Kind != "org.close" || op.Org != acme.ID || op.Target.ID != acme.ID || r.Header.Get("Location") != "/api/v1/operations/"+op.ID {
			t.Fatalf("operation %+v, Location %q", op, r.Header.Get("Location"))
		}
		e.do("GET", "/api/v1/operations/"+op.ID+"/wait?timeout=20s", admin, nil).must(t, http.StatusOK).decode(t, &op)
		if op.State != api.OpSucceeded {
			t.Fatalf("close operation ended %s: %+v", op.State, op.Error)
		}

		// The organisation's tokens stop working; its records stay for the provider.
		for _, tok := range []string{acmeTok, member} {
			e.do("GET", "/api/v1/orgs/acme", tok, nil).must(t, http.StatusUnauthorized)
		}
		var o api.Organisation
		e.do("GET", "/api/v1/orgs/acme", admin, nil).must(t, http.StatusOK).decode(t, &o)
		if o.State != api.OrgClosed {
			t.Errorf("state %q, want closed", o.State)
		}
		var vdcs api.List[api.VDC]
		e.do("GET", "/api/v1/orgs/acme/vdcs", admin, nil).must(t, http.StatusOK).decode(t, &vdcs)
		if len(vdcs.Items) != 0 {
			t.Errorf("VDCs left: %+v", vdcs.Items)
		}
		var invs api.List[api.Invitation]
		e.do("GET", "/api/v1/orgs/acme/invitations", admin, nil).must(t, http.StatusOK).decode(t, &invs)
		for _, i := range invs.Items {
			if i.State == "pending" {
				t.Errorf("invitation %s still pending", i.ID)
			}
		}
		var events api.List[api.AuditEvent]
		e.do("GET", "/api/v1/audit-events?action=org.close&resource="+acme.ID, admin, nil).must(t, http.StatusOK).decode(t, &events)
		var system bool
		for _, ev := range events.Items {
			system = system || ev.Actor.Type == "system"
		}
		if !system {
			t.Errorf("no system audit event for the close: %+v", events.Items)
		}
		if p := e.do("DELETE", "/api/v1/orgs/acme", admin, nil).must(t, http.StatusConflict).problem(t); p.Code != api.CodeConflict {
			t.Errorf("closing again: code %q", p.Code)
		}
		name := "x"
		e.do("PATCH", "/api/v1/orgs/acme", admin, api.OrganisationUpdate{DisplayName: &name}).must(t, http.StatusConflict)
		e.do("POST", "/api/v1/tokens", admin, api.TokenCreate{Name: "late", Org: "acme", Role: api.RoleOrgViewer}).must(t, http.StatusConflict)
	})
}

func TestOrgCloseTwiceWhilePending(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		admin := e.providerAdmin()
		e.tenant("acme", store.Residency{})
		var first, second api.Operation
		e.do("DELETE", "/api/v1/orgs/acme", admin, nil).must(t, http.StatusAccepted).decode(t, &first)
		// Either the first is still pending or it has closed the organisation: both refuse.
		e.do("DELETE", "/api/v1/orgs/acme", admin, nil).must(t, http.StatusConflict)
		e.do("GET", "/api/v1/operations/"+first.ID+"/wait?timeout=20s", admin, nil).must(t, http.StatusOK).decode(t, &second)
		if second.State != api.OpSucceeded {
			t.Fatalf("close ended %s", second.State)
		}
	})
}

func TestMembers(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		admin := e.providerAdmin()
		acme, acmeTok := e.tenant("acme", store.Residency{})
		_, globexTok := e.tenant("globex", store.Residency{})
		bob := e.user("bob@example.test")
		viewer := e.token(e.user("viewer@acme.test", store.RoleBinding{OrgID: acme.ID, Role: api.RoleOrgViewer}), acme.ID, api.RoleOrgViewer)

		var b api.RoleBinding
		e.do("POST", "/api/v1/orgs/acme/members", acmeTok, api.RoleBindingCreate{Email: "Bob@Example.test", Role: api.RoleOrgMember}).
			must(t, http.StatusOK).decode(t, &b)
		if b.User != bob.ID || b.Email != "bob@example.test" || b.Org != acme.ID || b.Role != api.RoleOrgMember {
			t.Fatalf("binding %+v", b)
		}
		bobTok := e.token(bob, acme.ID, api.RoleOrgMember)
		e.do("GET", "/api/v1/orgs/acme", bobTok, nil).must(t, http.StatusOK)

		var l api.List[api.RoleBinding]
		e.do("GET", "/api/v1/orgs/acme/members", viewer, nil).must(t, http.StatusOK).decode(t, &l)
		if len(l.Items) != 3 {
			t.Fatalf("members %+v", l.Items)
		}
		emails := map[string]string{}
		for _, m := range l.Items {
			emails[m.Email] = m.Role
		}
		if emails["bob@example.test"] != api.RoleOrgMember || emails["admin@acme.test"] != api.RoleOrgAdmin {
			t.Errorf("members %v", emails)
		}

		// Replace: same user, new role, still one binding.
		e.do("POST", "/api/v1/orgs/acme/members", acmeTok, api.RoleBindingCreate{User: bob.ID, Role: api.RoleOrgViewer}).must(t, http.StatusOK).decode(t, &b)
		if b.Role != api.RoleOrgViewer {
			t.Errorf("replaced role %q", b.Role)
		}
		l = api.List[api.RoleBinding]{}
		e.do("GET", "/api/v1/orgs/acme/members", acmeTok, nil).must(t, http.StatusOK).decode(t, &l)
		if len(l.Items) != 3 {
			t.Errorf("after replace: %d members", len(l.Items))
		}

		for _, tc := range []struct {
			name   string
			token  string
			org    string
			body   api.RoleBindingCreate
			status int
			code   string
		}{
			{"unknown user", acmeTok, "acme", api.RoleBindingCreate{Email: "nobody@example.test", Role: api.RoleOrgMember}, http.StatusNotFound, api.CodeNotFound},
			{"provider role", acmeTok, "acme", api.RoleBindingCreate{User: bob.ID, Role: api.RoleProviderAdmin}, http.StatusUnprocessableEntity, api.CodeValidation},
			{"nobody named", acmeTok, "acme", api.RoleBindingCreate{Role: api.RoleOrgMember}, http.StatusUnprocessableEntity, api.CodeValidation},
			{"viewer", viewer, "acme", api.RoleBindingCreate{User: bob.ID, Role: api.RoleOrgAdmin}, http.StatusForbidden, api.CodeForbidden},
			{"member token", bobTok, "acme", api.RoleBindingCreate{User: bob.ID, Role: api.RoleOrgAdmin}, http.StatusForbidden, api.CodeForbidden},
			{"foreign org", globexTok, "acme", api.RoleBindingCreate{User: bob.ID, Role: api.RoleOrgMember}, http.StatusNotFound, api.CodeNotFound},
			{"last admin demoted", acmeTok, "acme", api.RoleBindingCreate{Email: "admin@acme.test", Role: api.RoleOrgMember}, http.StatusConflict, api.CodeConflict},
		} {
			if p := e.do("POST", "/api/v1/orgs/"+tc.org+"/members", tc.token, tc.body).must(t, tc.status).problem(t); p.Code != tc.code {
				t.Errorf("%s: code %q, want %q", tc.name, p.Code, tc.code)
			}
		}
		e.do("GET", "/api/v1/orgs/acme/members", globexTok, nil).must(t, http.StatusNotFound)
		e.do("DELETE", "/api/v1/orgs/acme/members/admin@acme.test", acmeTok, nil).must(t, http.StatusConflict)
		e.do("DELETE", "/api/v1/orgs/acme/members/"+bob.ID, viewer, nil).must(t, http.StatusForbidden)
		e.do("DELETE", "/api/v1/orgs/acme/members/"+bob.ID, globexTok, nil).must(t, http.StatusNotFound)
		e.do("DELETE", "/api/v1/orgs/acme/members/stranger@example.test", acmeTok, nil).must(t, http.StatusNotFound)

		// With a second admin, the first may step down.
		e.do("POST", "/api/v1/orgs/acme/members", admin, api.RoleBindingCreate{User: bob.ID, Role: api.RoleOrgAdmin}).must(t, http.StatusOK)
		e.do("POST", "/api/v1/orgs/acme/members", acmeTok, api.RoleBindingCreate{Email: "admin@acme.test", Role: api.RoleOrgMember}).must(t, http.StatusOK)
		e.do("GET", "/api/v1/orgs/acme/members", acmeTok, nil).must(t, http.StatusOK)
		e.do("POST", "/api/v1/orgs/acme/members", acmeTok, api.RoleBindingCreate{User: bob.ID, Role: api.RoleOrgMember}).must(t, http.StatusForbidden)

		// Removing a member revokes their tokens for the organisation at once.
		bobAdmin := e.token(bob, acme.ID, api.RoleOrgAdmin)
		e.do("DELETE", "/api/v1/orgs/acme/members/viewer@acme.test", bobAdmin, nil).must(t, http.StatusNoContent)
		e.do("GET", "/api/v1/orgs/acme", viewer, nil).must(t, http.StatusUnauthorized)
		e.do("DELETE", "/api/v1/orgs/acme/members/viewer@acme.test", bobAdmin, nil).must(t, http.StatusNotFound)
	})
}

func TestProviderRoleBindings(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		admin := e.providerAdmin()
		acme, acmeTok := e.tenant("acme", store.Residency{})
		ops := e.user("ops@provider.test")

		var b api.RoleBinding
		e.do("POST", "/api/v1/role-bindings", admin, api.RoleBindingCreate{Email: "ops@provider.test", Role: api.RoleProviderViewer}).
			must(t, http.StatusOK).decode(t, &b)
		if b.User != ops.ID || b.Org != "" || b.Role != api.RoleProviderViewer {
			t.Fatalf("binding %+v", b)
		}
		opsTok := e.token(ops, "", api.RoleProviderViewer)
		e.do("GET", "/api/v1/users", opsTok, nil).must(t, http.StatusOK)
		e.do("GET", "/api/v1/orgs/acme", opsTok, nil).must(t, http.StatusOK)
		e.do("PATCH", "/api/v1/orgs/acme", opsTok, api.OrganisationUpdate{}).must(t, http.StatusForbidden)

		e.do("POST", "/api/v1/role-bindings", acmeTok, api.RoleBindingCreate{User: ops.ID, Role: api.RoleProviderAdmin}).must(t, http.StatusForbidden)
		e.do("POST", "/api/v1/role-bindings", opsTok, api.RoleBindingCreate{User: ops.ID, Role: api.RoleProviderAdmin}).must(t, http.StatusForbidden)
		e.do("POST", "/api/v1/role-bindings", admin, api.RoleBindingCreate{User: ops.ID, Role: api.RoleOrgAdmin}).must(t, http.StatusUnprocessableEntity)
		e.do("GET", "/api/v1/role-bindings", opsTok, nil).must(t, http.StatusForbidden)

		var l api.List[api.RoleBinding]
		e.do("GET", "/api/v1/role-bindings", admin, nil).must(t, http.StatusOK).decode(t, &l)
		if len(l.Items) != 2 {
			t.Fatalf("provider bindings %+v", l.Items)
		}
		var adminBinding string
		for _, x := range l.Items {
			if x.Role == api.RoleProviderAdmin {
				adminBinding = x.ID
			}
		}
		if p := e.do("DELETE", "/api/v1/role-bindings/"+adminBinding, admin, nil).must(t, http.StatusConflict).problem(t); p.Code != api.CodeConflict {
			t.Errorf("last provider-admin removed: code %q", p.Code)
		}
		e.do("POST", "/api/v1/role-bindings", admin, api.RoleBindingCreate{Email: "admin@provider.test", Role: api.RoleProviderViewer}).must(t, http.StatusConflict)

		// Organisation bindings are not managed here.
		var members api.List[api.RoleBinding]
		e.do("GET", "/api/v1/orgs/acme/members", admin, nil).must(t, http.StatusOK).decode(t, &members)
		e.do("DELETE", "/api/v1/role-bindings/"+members.Items[0].ID, admin, nil).must(t, http.StatusNotFound)
		e.do("GET", "/api/v1/orgs/"+acme.ID, acmeTok, nil).must(t, http.StatusOK)

		e.do("DELETE", "/api/v1/role-bindings/"+b.ID, admin, nil).must(t, http.StatusNoContent)
		e.do("GET", "/api/v1/users", opsTok, nil).must(t, http.StatusUnauthorized)
		e.do("DELETE", "/api/v1/role-bindings/"+b.ID, admin, nil).must(t, http.StatusNotFound)
	})
}

func TestUsers(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		admin := e.providerAdmin()
		_, acmeTok := e.tenant("acme", store.Residency{})
		bob := e.user("bob@example.test")
		bobTok := e.token(bob, "", api.RoleProviderViewer) // grants nothing: bob has no provider role

		var l api.List[api.User]
		e.do("GET", "/api/v1/users", admin, nil).must(t, http.StatusOK).decode(t, &l)
		if len(l.Items) != 3 {
			t.Errorf("users: %d", len(l.Items))
		}
		l = api.List[api.User]{}
		e.do("GET", "/api/v1/users?email=BOB@example.test", admin, nil).must(t, http.StatusOK).decode(t, &l)
		if len(l.Items) != 1 || l.Items[0].ID != bob.ID || !l.Items[0].EmailVerified {
			t.Errorf("by e-mail: %+v", l.Items)
		}
		l = api.List[api.User]{}
		e.do("GET", "/api/v1/users?limit=2", admin, nil).must(t, http.StatusOK).decode(t, &l)
		if len(l.Items) != 2 || l.NextCursor == "" {
			t.Errorf("page: %d items, next %q", len(l.Items), l.NextCursor)
		}
		e.do("GET", "/api/v1/users", acmeTok, nil).must(t, http.StatusForbidden)

		var u api.User
		e.do("GET", "/api/v1/users/"+bob.ID, bobTok, nil).must(t, http.StatusOK).decode(t, &u)
		if u.Email != "bob@example.test" {
			t.Errorf("self: %+v", u)
		}
		e.do("GET", "/api/v1/users/"+bob.ID, acmeTok, nil).must(t, http.StatusNotFound)
		e.do("GET", "/api/v1/users/"+bob.ID, admin, nil).must(t, http.StatusOK)

		var me api.List[api.User]
		e.do("GET", "/api/v1/users?email=admin@provider.test", admin, nil).must(t, http.StatusOK).decode(t, &me)
		e.do("DELETE", "/api/v1/users/"+me.Items[0].ID, admin, nil).must(t, http.StatusConflict)
		e.do("DELETE", "/api/v1/users/"+bob.ID, acmeTok, nil).must(t, http.StatusForbidden)
		e.do("DELETE", "/api/v1/users/"+bob.ID, admin, nil).must(t, http.StatusNoContent)
		e.do("GET", "/api/v1/users/"+bob.ID, admin, nil).must(t, http.StatusNotFound)
		e.do("GET", "/api/v1/users/"+bob.ID, bobTok, nil).must(t, http.StatusUnauthorized)
	})
}

func TestTokens(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		admin := e.providerAdmin()
		acme, acmeTok := e.tenant("acme", store.Residency{})
		e.tenant("globex", store.Residency{})
		bob := e.user("bob@example.test", store.RoleBinding{OrgID: acme.ID, Role: api.RoleOrgMember})
		bobTok := e.token(bob, acme.ID, api.RoleOrgMember)

		before := time.Now()
		var ci api.TokenCreated
		r := e.do("POST", "/api/v1/tokens", acmeTok, api.TokenCreate{Name: "ci", Org: "acme", Role: api.RoleOrgMember}).must(t, http.StatusCreated)
		r.decode(t, &ci)
		if !strings.HasPrefix(ci.Secret, "sirocco_") || ci.Prefix != ci.Secret[:12] || ci.Org != acme.ID || ci.Role != api.RoleOrgMember {
			t.Fatalf("created %+v", ci)
		}
		if ci.ExpiresAt == nil || ci.ExpiresAt.Before(before.Add(90*24*time.Hour-time.Minute)) || ci.ExpiresAt.After(time.Now().Add(90*24*time.Hour)) {
			t.Errorf("default expiry %v, want in 90 days", ci.ExpiresAt)
		}
		if r.Header.Get("Location") != "/api/v1/tokens/"+ci.ID || r.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("headers %v", r.Header)
		}

		// The secret works as a bearer token, with the token's role.
		e.do("GET", "/api/v1/orgs/acme", ci.Secret, nil).must(t, http.StatusOK)
		e.do("PATCH", "/api/v1/orgs/acme", ci.Secret, api.OrganisationUpdate{}).must(t, http.StatusForbidden)
		e.do("GET", "/api/v1/orgs/globex", ci.Secret, nil).must(t, http.StatusNotFound)

		year := time.Now().Add(400 * 24 * time.Hour)
		past := time.Now().Add(-time.Hour)
		for _, tc := range []struct {
			name   string
			token  string
			body   api.TokenCreate
			status int
		}{
			{"broader than own role", bobTok, api.TokenCreate{Name: "x", Org: "acme", Role: api.RoleOrgAdmin}, http.StatusForbidden},
			{"token mints broader", ci.Secret, api.TokenCreate{Name: "x", Org: "acme", Role: api.RoleOrgAdmin}, http.StatusForbidden},
			{"foreign org", acmeTok, api.TokenCreate{Name: "x", Org: "globex", Role: api.RoleOrgViewer}, http.StatusNotFound},
			{"provider token without provider role", acmeTok, api.TokenCreate{Name: "x", Role: api.RoleProviderViewer}, http.StatusForbidden},
			{"org token of another org from a scoped token", ci.Secret, api.TokenCreate{Name: "x", Org: "globex", Role: api.RoleOrgViewer}, http.StatusNotFound},
			{"provider token from org token", func() string {
				return e.token(e.user("both@example.test", store.RoleBinding{Role: api.RoleProviderAdmin}), acme.ID, api.RoleOrgAdmin)
			}(), api.TokenCreate{Name: "x", Role: api.RoleProviderViewer}, http.StatusForbidden},
			{"org role without org", acmeTok, api.TokenCreate{Name: "x", Role: api.RoleOrgViewer}, http.StatusUnprocessableEntity},
			{"provider role in org", admin, api.TokenCreate{Name: "x", Org: "acme", Role: api.RoleProviderViewer}, http.StatusUnprocessableEntity},
			{"expires_in too short", acmeTok, api.TokenCreate{Name: "x", Org: "acme", Role: api.RoleOrgViewer, ExpiresIn: "30s"}, http.StatusUnprocessableEntity},
			{"expires_in too long", acmeTok, api.TokenCreate{Name: "x", Org: "acme", Role: api.RoleOrgViewer, ExpiresIn: "9000h"}, http.StatusUnprocessableEntity},
			{"expires_in not a duration", acmeTok, api.TokenCreate{Name: "x", Org: "acme", Role: api.RoleOrgViewer, ExpiresIn: "90d"}, http.StatusUnprocessableEntity},
			{"expires_at past", acmeTok, api.TokenCreate{Name: "x", Org: "acme", Role: api.RoleOrgViewer, ExpiresAt: &past}, http.StatusUnprocessableEntity},
			{"expires_at beyond a year", acmeTok, api.TokenCreate{Name: "x", Org: "acme", Role: api.RoleOrgViewer, ExpiresAt: &year}, http.StatusUnprocessableEntity},
		} {
			e.do("POST", "/api/v1/tokens", tc.token, tc.body).must(t, tc.status)
		}

		// Explicit lifetimes; a token cannot outlive the token that makes it.
		var short api.TokenCreated
		e.do("POST", "/api/v1/tokens", acmeTok, api.TokenCreate{Name: "short", Org: acme.ID, Role: api.RoleOrgViewer, ExpiresIn: "1h"}).
			must(t, http.StatusCreated).decode(t, &short)
		if d := short.ExpiresAt.Sub(before); d < time.Hour || d > time.Hour+time.Minute {
			t.Errorf("expires_in 1h: expires after %v", d)
		}
		at := time.Now().Add(48 * time.Hour).UTC().Truncate(time.Second)
		var abs api.TokenCreated
		e.do("POST", "/api/v1/tokens", acmeTok, api.TokenCreate{Name: "abs", Org: "acme", Role: api.RoleOrgViewer, ExpiresAt: &at}).
			must(t, http.StatusCreated).decode(t, &abs)
		if !abs.ExpiresAt.Equal(at) {
			t.Errorf("expires_at %v, want %v", abs.ExpiresAt, at)
		}
		e.do("POST", "/api/v1/tokens", short.Secret, api.TokenCreate{Name: "longer", Org: "acme", Role: api.RoleOrgViewer, ExpiresIn: "2h"}).
			must(t, http.StatusUnprocessableEntity)
		var child api.TokenCreated
		e.do("POST", "/api/v1/tokens", short.Secret, api.TokenCreate{Name: "child", Org: "acme", Role: api.RoleOrgViewer}).
			must(t, http.StatusCreated).decode(t, &child)
		if !child.ExpiresAt.Equal(*short.ExpiresAt) {
			t.Errorf("child expires %v, want its parent's %v", child.ExpiresAt, short.ExpiresAt)
		}

		// A provider-admin may make a token for any organisation; it acts there only.
		var pa api.TokenCreated
		e.do("POST", "/api/v1/tokens", admin, api.TokenCreate{Name: "support", Org: "globex", Role: api.RoleOrgAdmin}).
			must(t, http.StatusCreated).decode(t, &pa)
		e.do("PATCH", "/api/v1/orgs/globex", pa.Secret, api.OrganisationUpdate{}).must(t, http.StatusOK)
		e.do("GET", "/api/v1/orgs/acme", pa.Secret, nil).must(t, http.StatusNotFound)
		e.do("GET", "/api/v1/users", pa.Secret, nil).must(t, http.StatusForbidden)
		var l api.List[api.Organisation]
		e.do("GET", "/api/v1/orgs", pa.Secret, nil).must(t, http.StatusOK).decode(t, &l)
		if got := orgNames(l); len(got) != 1 || got[0] != "globex" {
			t.Errorf("org token lists %v", got)
		}

		// Listing shows the caller's own tokens, never a secret.
		lr := e.do("GET", "/api/v1/tokens", acmeTok, nil).must(t, http.StatusOK)
		if strings.Contains(string(lr.Body), "secret") || strings.Contains(string(lr.Body), ci.Secret) {
			t.Errorf("listing leaks secrets: %s", lr.Body)
		}
		var toks api.List[api.Token]
		lr.decode(t, &toks)
		if len(toks.Items) != 5 { // the harness token, ci, short, abs, child
			t.Errorf("own tokens: %d", len(toks.Items))
		}
		for _, k := range toks.Items {
			if k.ID == pa.ID {
				t.Errorf("another user's token listed")
			}
		}
		var got api.Token
		e.do("GET", "/api/v1/tokens/"+ci.ID, acmeTok, nil).must(t, http.StatusOK).decode(t, &got)
		if got.Name != "ci" || got.Prefix != ci.Prefix {
			t.Errorf("get %+v", got)
		}
		// Another member of the same organisation cannot see or revoke it.
		e.do("GET", "/api/v1/tokens/"+ci.ID, bobTok, nil).must(t, http.StatusNotFound)
		e.do("DELETE", "/api/v1/tokens/"+ci.ID, bobTok, nil).must(t, http.StatusNotFound)
		// A narrow token cannot revoke a broader one of the same user.
		e.do("DELETE", "/api/v1/tokens/"+ci.ID, short.Secret, nil).must(t, http.StatusForbidden)

		// Revocation is immediate.
		e.do("DELETE", "/api/v1/tokens/"+ci.ID, acmeTok, nil).must(t, http.StatusNoContent)
		e.do("GET", "/api/v1/orgs/acme", ci.Secret, nil).must(t, http.StatusUnauthorized)
		e.do("GET", "/api/v1/tokens/"+ci.ID, acmeTok, nil).must(t, http.StatusNotFound)

		// Org admins see and revoke every member's tokens for their organisation.
		var orgToks api.List[api.Token]
		e.do("GET", "/api/v1/orgs/acme/tokens", acmeTok, nil).must(t, http.StatusOK).decode(t, &orgToks)
		var bobTokID string
		for _, k := range orgToks.Items {
			if k.User == bob.ID {
				bobTokID = k.ID
			}
			if k.Org != acme.ID {
				t.Errorf("foreign token listed: %+v", k)
			}
		}
		if bobTokID == "" {
			t.Fatalf("bob's token not listed: %+v", orgToks.Items)
		}
		e.do("GET", "/api/v1/orgs/acme/tokens", bobTok, nil).must(t, http.StatusForbidden)
		e.do("DELETE", "/api/v1/orgs/globex/tokens/"+bobTokID, pa.Secret, nil).must(t, http.StatusNotFound)
		e.do("DELETE", "/api/v1/orgs/acme/tokens/"+bobTokID, acmeTok, nil).must(t, http.StatusNoContent)
		e.do("GET", "/api/v1/orgs/acme", bobTok, nil).must(t, http.StatusUnauthorized)

		// A retried creation never replays a stored secret: the secret is not kept.
		var k1, k2 api.TokenCreated
		body := api.TokenCreate{Name: "retry", Org: "acme", Role: api.RoleOrgViewer}
		e.do("POST", "/api/v1/tokens", acmeTok, body, "Idempotency-Key", "k1").must(t, http.StatusCreated).decode(t, &k1)
		r = e.do("POST", "/api/v1/tokens", acmeTok, body, "Idempotency-Key", "k1").must(t, http.StatusCreated)
		r.decode(t, &k2)
		if r.Header.Get("Idempotent-Replayed") != "" || k1.Secret == k2.Secret {
			t.Errorf("token creation replayed")
		}
	})
}
