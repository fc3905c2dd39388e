package server

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/internal/operation"
	"github.com/sirocco-cloud/sirocco/internal/store"
)

// vdcCatalog makes regions au-syd and au-mel (AU) and nz-akl (NZ) through
// the API, each with one zone "<region>-1a" (zones straight in the store).
func vdcCatalog(t *testing.T, e *env, admin string) {
	t.Helper()
	for _, r := range []struct{ name, jurisdiction string }{{"au-syd", "AU"}, {"au-mel", "AU"}, {"nz-akl", "NZ"}} {
		e.do("POST", "/api/v1/regions", admin, api.RegionCreate{Name: r.name, Jurisdiction: r.jurisdiction}).must(t, http.StatusCreated)
		err := e.store.Tx(context.Background(), func(tx *store.Tx) error {
			return tx.CreateZone(context.Background(), &store.Zone{Meta: store.Meta{ID: r.name + "-1a"}, RegionID: r.name})
		})
		if err != nil {
			t.Fatalf("create zone: %v", err)
		}
	}
}

// waitOp long-polls an operation through the API until it has finished.
func waitOp(t *testing.T, e *env, token, id string) api.Operation {
	t.Helper()
	var op api.Operation
	e.do("GET", "/api/v1/operations/"+id+"/wait?timeout=10s", token, nil).must(t, http.StatusOK).decode(t, &op)
	if !op.Done() {
		t.Fatalf("operation %s still %s after 10 s", id, op.State)
	}
	return op
}

func TestVDCs(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		admin := e.providerAdmin()
		vdcCatalog(t, e, admin)
		acme, owner := e.tenant("acme", store.Residency{})
		viewer := e.token(e.user("viewer@acme.test", store.RoleBinding{OrgID: acme.ID, Role: api.RoleOrgViewer}), acme.ID, api.RoleOrgViewer)
		member := e.token(e.user("dev@acme.test", store.RoleBinding{OrgID: acme.ID, Role: api.RoleOrgMember}), acme.ID, api.RoleOrgMember)
		globex, rival := e.tenant("globex", store.Residency{})

		// Creation fills in the defaults and shows where the VDC lives.
		var web api.VDC
		res := e.do("POST", "/api/v1/orgs/acme/vdcs", owner, api.VDCCreate{Name: "web", Zone: "au-syd-1a", Labels: api.Labels{"env": "prod"}}).must(t, http.StatusCreated)
		res.decode(t, &web)
		if web.Org != acme.ID || web.Zone != "au-syd-1a" || web.Region != "au-syd" || web.Jurisdiction != "AU" ||
			web.AllocationModel != api.AllocationPAYG || web.Quotas != api.DefaultQuotas || web.State != "ready" || web.Labels["env"] != "prod" {
			t.Fatalf("created %+v", web)
		}
		if loc := res.Header.Get("Location"); loc != "/api/v1/orgs/"+acme.ID+"/vdcs/"+web.ID {
			t.Errorf("Location %q", loc)
		}
		small := api.Quotas{VCPU: 2, MemoryMiB: 2048, DiskGiB: 20, VMs: 1, PublicIPs: 0}
		var batch api.VDC
		e.do("POST", "/api/v1/orgs/"+acme.ID+"/vdcs", member, api.VDCCreate{Name: "batch", Zone: "au-mel-1a",
			AllocationModel: api.AllocationReservation, Quotas: &small}).must(t, http.StatusCreated).decode(t, &batch)
		if batch.AllocationModel != api.AllocationReservation || batch.Quotas != small {
			t.Fatalf("created %+v", batch)
		}
		// globex may use the same name: names are unique per organisation.
		var rivalWeb api.VDC
		e.do("POST", "/api/v1/orgs/globex/vdcs", rival, api.VDCCreate{Name: "web", Zone: "nz-akl-1a"}).must(t, http.StatusCreated).decode(t, &rivalWeb)

		refusals := []struct {
			name   string
			token  string
			body   any
			status int
			code   string
		}{
			{"duplicate name", owner, api.VDCCreate{Name: "web", Zone: "au-syd-1a"}, http.StatusConflict, api.CodeAlreadyExists},
			{"unknown zone", owner, api.VDCCreate{Name: "db", Zone: "mars-1a"}, http.StatusUnprocessableEntity, api.CodeValidation},
			{"bad name", owner, api.VDCCreate{Name: "Web!", Zone: "au-syd-1a"}, http.StatusUnprocessableEntity, api.CodeValidation},
			{"negative quota", owner, `{"name":"db","zone":"au-syd-1a","quotas":{"vcpu":-1,"memory_mib":1,"disk_gib":1,"vms":1,"public_ips":1}}`, http.StatusUnprocessableEntity, api.CodeValidation},
			{"viewer", viewer, api.VDCCreate{Name: "db", Zone: "au-syd-1a"}, http.StatusForbidden, api.CodeForbidden},
		}
		for _, tt := range refusals {
			t.Run(tt.name, func(t *testing.T) {
				p := e.do("POST", "/api/v1/orgs/acme/vdcs", tt.token, tt.body).must(t, tt.status).problem(t)
				if p.Code != tt.code {
					t.Errorf("code %q, want %q (%s)", p.Code, tt.code, p.Detail)
				}
				if tt.name == "unknown zone" && !strings.Contains(p.Detail, "mars-1a") {
					t.Errorf("detail %q does not name the zone", p.Detail)
				}
			})
		}

		// Reads: by name or ID, with label filter; the viewer may read.
		var list api.List[api.VDC]
		e.do("GET", "/api/v1/orgs/acme/vdcs", viewer, nil).must(t, http.StatusOK).decode(t, &list)
		if len(list.Items) != 2 || list.Items[0].Name != "web" || list.Items[1].Name != "batch" {
			t.Fatalf("list: %+v", list.Items)
		}
		list = api.List[api.VDC]{}
		e.do("GET", "/api/v1/orgs/acme/vdcs?label=env=prod", viewer, nil).must(t, http.StatusOK).decode(t, &list)
		if len(list.Items) != 1 || list.Items[0].ID != web.ID {
			t.Fatalf("label filter: %+v", list.Items)
		}
		var got api.VDC
		e.do("GET", "/api/v1/orgs/acme/vdcs/"+web.ID, viewer, nil).must(t, http.StatusOK).decode(t, &got)
		tag := e.do("GET", "/api/v1/orgs/acme/vdcs/web", viewer, nil).must(t, http.StatusOK).Header.Get("ETag")
		if got.Name != "web" || tag != `"1"` {
			t.Fatalf("get: %+v, ETag %s", got, tag)
		}

		// Tenant isolation: another organisation, and its objects, do not exist for acme.
		for _, path := range []string{
			"/api/v1/orgs/globex/vdcs",
			"/api/v1/orgs/" + globex.ID + "/vdcs/" + rivalWeb.ID,
			"/api/v1/orgs/acme/vdcs/" + rivalWeb.ID,
		} {
			if p := e.do("GET", path, owner, nil).must(t, http.StatusNotFound).problem(t); p.Code != api.CodeNotFound {
				t.Errorf("GET %s: code %q", path, p.Code)
			}
		}
		e.do("DELETE", "/api/v1/orgs/acme/vdcs/"+rivalWeb.ID, owner, nil).must(t, http.StatusNotFound)
		e.do("POST", "/api/v1/orgs/globex/vdcs", owner, api.VDCCreate{Name: "spy", Zone: "au-syd-1a"}).must(t, http.StatusNotFound)

		// Updates: If-Match guards them; viewers cannot make them.
		desc := "public web tier"
		var upd api.VDC
		res = e.do("PATCH", "/api/v1/orgs/acme/vdcs/web", member, api.VDCUpdate{Description: &desc, Quotas: &small}, "If-Match", tag).must(t, http.StatusOK)
		res.decode(t, &upd)
		if upd.Description != desc || upd.Quotas != small || upd.Version != 2 || res.Header.Get("ETag") != `"2"` || upd.Labels["env"] != "prod" {
			t.Fatalf("updated %+v", upd)
		}
		if p := e.do("PATCH", "/api/v1/orgs/acme/vdcs/web", owner, api.VDCUpdate{Description: &desc}, "If-Match", tag).must(t, http.StatusPreconditionFailed).problem(t); p.Code != api.CodePreconditionFailed {
			t.Errorf("stale If-Match: code %q", p.Code)
		}
		e.do("PATCH", "/api/v1/orgs/acme/vdcs/web", viewer, api.VDCUpdate{Description: &desc}).must(t, http.StatusForbidden)
		e.do("PATCH", "/api/v1/orgs/acme/vdcs/web", owner, `{"zone":"nz-akl-1a"}`).must(t, http.StatusUnprocessableEntity)
		e.do("DELETE", "/api/v1/orgs/acme/vdcs/web", viewer, nil).must(t, http.StatusForbidden)

		// Deletion is an operation. Hold it until the test has looked at
		// the VDC while it is deleting.
		gate := make(chan struct{})
		e.ops.Handle(opVDCDelete, func(ctx context.Context, op *store.Operation, p operation.Progress) error {
			select {
			case <-gate:
			case <-ctx.Done():
				return ctx.Err()
			}
			return e.srv.runVDCDelete(ctx, op, p)
		})
		var op api.Operation
		res = e.do("DELETE", "/api/v1/orgs/acme/vdcs/web", member, nil).must(t, http.StatusAccepted)
		res.decode(t, &op)
		if op.Kind != "vdc.delete" || op.Target != (api.Ref{Kind: "vdc", ID: web.ID}) || op.Org != acme.ID || op.Done() {
			t.Fatalf("delete operation %+v", op)
		}
		if loc := res.Header.Get("Location"); loc != "/api/v1/operations/"+op.ID {
			t.Errorf("Location %q", loc)
		}
		e.do("GET", "/api/v1/orgs/acme/vdcs/web", owner, nil).must(t, http.StatusOK).decode(t, &got)
		if got.State != "deleting" {
			t.Fatalf("state %q while deleting", got.State)
		}
		if p := e.do("DELETE", "/api/v1/orgs/acme/vdcs/web", owner, nil).must(t, http.StatusConflict).problem(t); p.Code != api.CodeConflict || !strings.Contains(p.Detail, op.ID) {
			t.Errorf("second delete: %+v", p)
		}
		e.do("PATCH", "/api/v1/orgs/acme/vdcs/web", owner, api.VDCUpdate{Description: &desc}).must(t, http.StatusConflict)
		close(gate)
		if done := waitOp(t, e, member, op.ID); done.State != api.OpSucceeded {
			t.Fatalf("delete operation ended %s: %+v", done.State, done.Error)
		}
		e.do("GET", "/api/v1/orgs/acme/vdcs/web", owner, nil).must(t, http.StatusNotFound)
		list = api.List[api.VDC]{}
		e.do("GET", "/api/v1/orgs/acme/vdcs?label=env=prod", owner, nil).must(t, http.StatusOK).decode(t, &list)
		if len(list.Items) != 0 {
			t.Fatalf("labels of the deleted VDC still match: %+v", list.Items)
		}
		// The name is free again.
		e.do("POST", "/api/v1/orgs/acme/vdcs", owner, api.VDCCreate{Name: "web", Zone: "au-syd-1a"}).must(t, http.StatusCreated)
	})
}

// A cancelled deletion leaves the VDC deleting; deleting it again works.
func TestVDCDeleteAfterCancel(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		admin := e.providerAdmin()
		vdcCatalog(t, e, admin)
		_, owner := e.tenant("acme", store.Residency{})
		e.do("POST", "/api/v1/orgs/acme/vdcs", owner, api.VDCCreate{Name: "web", Zone: "au-syd-1a"}).must(t, http.StatusCreated)

		started := make(chan struct{}, 1)
		e.ops.Handle(opVDCDelete, func(ctx context.Context, op *store.Operation, p operation.Progress) error {
			started <- struct{}{}
			<-ctx.Done()
			return ctx.Err()
		})
		var op api.Operation
		e.do("DELETE", "/api/v1/orgs/acme/vdcs/web", owner, nil).must(t, http.StatusAccepted).decode(t, &op)
		<-started
		e.do("POST", "/api/v1/operations/"+op.ID+"/cancel", owner, nil).must(t, http.StatusOK)
		if done := waitOp(t, e, owner, op.ID); done.State != api.OpCancelled {
			t.Fatalf("cancelled delete ended %s", done.State)
		}
		var v api.VDC
		e.do("GET", "/api/v1/orgs/acme/vdcs/web", owner, nil).must(t, http.StatusOK).decode(t, &v)
		if v.State != "deleting" {
			t.Fatalf("state %q after a cancelled delete", v.State)
		}

		e.ops.Handle(opVDCDelete, e.srv.runVDCDelete)
		e.do("DELETE", "/api/v1/orgs/acme/vdcs/web", owner, nil).must(t, http.StatusAccepted).decode(t, &op)
		if done := waitOp(t, e, owner, op.ID); done.State != api.OpSucceeded {
			t.Fatalf("second delete ended %s", done.State)
		}
		e.do("GET", "/api/v1/orgs/acme/vdcs/web", owner, nil).must(t, http.StatusNotFound)
	})
}

func TestVDCResidency(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		admin := e.providerAdmin()
		vdcCatalog(t, e, admin)
		_, nzOnly := e.tenant("kiwi", store.Residency{Jurisdictions: []string{"NZ"}})
		_, sydOnly := e.tenant("harbour", store.Residency{Regions: []string{"au-syd"}})
		_, either := e.tenant("tasman", store.Residency{Jurisdictions: []string{"NZ"}, Regions: []string{"au-mel"}})

		tests := []struct {
			org, token, zone string
			allowed          bool
		}{
			{"kiwi", nzOnly, "nz-akl-1a", true},
			{"kiwi", nzOnly, "au-syd-1a", false},
			{"harbour", sydOnly, "au-syd-1a", true},
			{"harbour", sydOnly, "au-mel-1a", false}, // same jurisdiction, another region
			{"harbour", sydOnly, "nz-akl-1a", false},
			{"tasman", either, "nz-akl-1a", true},
			{"tasman", either, "au-mel-1a", true},
			{"tasman", either, "au-syd-1a", false},
		}
		for _, tt := range tests {
			t.Run(tt.org+" in "+tt.zone, func(t *testing.T) {
				res := e.do("POST", "/api/v1/orgs/"+tt.org+"/vdcs", tt.token, api.VDCCreate{Name: "v-" + tt.zone, Zone: tt.zone})
				if tt.allowed {
					res.must(t, http.StatusCreated)
					return
				}
				p := res.must(t, http.StatusForbidden).problem(t)
				if p.Code != api.CodeResidency {
					t.Fatalf("code %q, want %s", p.Code, api.CodeResidency)
				}
				if !strings.Contains(p.Detail, tt.zone) {
					t.Errorf("detail %q does not name the zone", p.Detail)
				}
			})
		}
		// The message says what the zone is and what is allowed.
		p := e.do("POST", "/api/v1/orgs/kiwi/vdcs", nzOnly, api.VDCCreate{Name: "syd", Zone: "au-syd-1a"}).must(t, http.StatusForbidden).problem(t)
		for _, want := range []string{"au-syd-1a", "AU", "NZ"} {
			if !strings.Contains(p.Detail, want) {
				t.Errorf("detail %q lacks %q", p.Detail, want)
			}
		}
	})
}

func TestVDCCreateNeedsStanding(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		admin := e.providerAdmin()
		vdcCatalog(t, e, admin)
		acme, _ := e.tenant("acme", store.Residency{})
		newbie := e.user("new@acme.test", store.RoleBinding{OrgID: acme.ID, Role: api.RoleOrgAdmin})
		newbie.EmailVerified = false
		shady, shadyAdmin := e.tenant("shady", store.Residency{})
		shady.State = api.OrgSuspended
		err := e.store.Tx(context.Background(), func(tx *store.Tx) error {
			if err := tx.UpdateUser(context.Background(), newbie); err != nil {
				return err
			}
			return tx.UpdateOrg(context.Background(), shady)
		})
		if err != nil {
			t.Fatal(err)
		}

		tests := []struct {
			name, org, token, code string
		}{
			{"unverified e-mail", "acme", e.token(newbie, acme.ID, api.RoleOrgAdmin), api.CodeEmailNotVerified},
			{"suspended organisation", "shady", shadyAdmin, api.CodeOrgRestricted},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				p := e.do("POST", "/api/v1/orgs/"+tt.org+"/vdcs", tt.token, api.VDCCreate{Name: "web", Zone: "au-syd-1a"}).must(t, http.StatusForbidden).problem(t)
				if p.Code != tt.code {
					t.Errorf("code %q, want %q", p.Code, tt.code)
				}
			})
		}
		// The provider is not held back by a tenant's restriction on its own
		// e-mail, but the organisation's state still applies.
		e.do("POST", "/api/v1/orgs/acme/vdcs", admin, api.VDCCreate{Name: "web", Zone: "au-syd-1a"}).must(t, http.StatusCreated)
		e.do("POST", "/api/v1/orgs/shady/vdcs", admin, api.VDCCreate{Name: "web", Zone: "au-syd-1a"}).must(t, http.StatusForbidden)
	})
}
