package server

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/internal/store"
)

func TestAuditEvents(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		admin := e.providerAdmin()
		vdcCatalog(t, e, admin) // regions au-syd, au-mel, nz-akl
		acme, owner := e.tenant("acme", store.Residency{})
		viewer := e.token(e.user("viewer@acme.test", store.RoleBinding{OrgID: acme.ID, Role: api.RoleOrgViewer}), acme.ID, api.RoleOrgViewer)
		watcher := e.token(e.user("watch@provider.test", store.RoleBinding{Role: api.RoleProviderViewer}), "", api.RoleProviderViewer)
		globex, rival := e.tenant("globex", store.Residency{})

		var web, rivalVDC api.VDC
		e.do("POST", "/api/v1/orgs/acme/vdcs", owner, api.VDCCreate{Name: "web", Zone: "au-syd-1a"}).must(t, http.StatusCreated).decode(t, &web)
		e.do("POST", "/api/v1/orgs/globex/vdcs", rival, api.VDCCreate{Name: "web", Zone: "nz-akl-1a"}).must(t, http.StatusCreated).decode(t, &rivalVDC)
		// Refused requests are recorded too.
		e.do("POST", "/api/v1/orgs/acme/vdcs", viewer, api.VDCCreate{Name: "db", Zone: "au-syd-1a"}).must(t, http.StatusForbidden)
		var op api.Operation
		e.do("DELETE", "/api/v1/orgs/acme/vdcs/web", owner, nil).must(t, http.StatusAccepted).decode(t, &op)
		waitOp(t, e, owner, op.ID)

		list := func(token, path string, query url.Values) []api.AuditEvent {
			t.Helper()
			var l api.List[api.AuditEvent]
			if len(query) > 0 {
				path += "?" + query.Encode()
			}
			e.do("GET", path, token, nil).must(t, http.StatusOK).decode(t, &l)
			return l.Items
		}
		find := func(events []api.AuditEvent, action, resource string) *api.AuditEvent {
			for i := range events {
				if events[i].Action == action && events[i].Resource.ID == resource {
					return &events[i]
				}
			}
			return nil
		}

		all := list(admin, "/api/v1/audit-events", nil)
		region := find(all, "region.create", "au-syd")
		if region == nil || region.Actor.Type != "user" || region.Actor.Email != "admin@provider.test" || region.Actor.Token == "" ||
			region.Org != "" || region.Outcome != "success" || region.Resource.Kind != "region" || region.RequestID == "" || region.SourceIP == "" {
			t.Fatalf("region.create event: %+v", region)
		}
		created := find(all, "vdc.create", web.ID)
		if created == nil || created.Actor.Email != "admin@acme.test" || created.Org != acme.ID || created.Resource.Kind != "vdc" || created.Outcome != "success" {
			t.Fatalf("vdc.create event: %+v", created)
		}
		var refused *api.AuditEvent
		for i := range all {
			if all[i].Outcome == "failure" {
				refused = &all[i]
			}
		}
		if refused == nil || refused.Status != http.StatusForbidden || refused.Actor.Email != "viewer@acme.test" || refused.Org != acme.ID ||
			refused.Action != "POST /api/v1/orgs/{org}/vdcs" {
			t.Fatalf("refused request event: %+v", refused)
		}
		var deleted []api.AuditEvent
		for _, ev := range all {
			if ev.Action == "vdc.delete" && ev.Resource.ID == web.ID {
				deleted = append(deleted, ev)
			}
		}
		if len(deleted) != 2 || deleted[0].Actor.Email != "admin@acme.test" || deleted[1].Actor.Type != "system" || deleted[1].Org != acme.ID {
			t.Fatalf("vdc.delete events (request, then the operation's): %+v", deleted)
		}

		filters := []struct {
			name  string
			query url.Values
			want  int
			check func(api.AuditEvent) bool
		}{
			{"action", url.Values{"action": {"vdc.create"}}, 2, func(ev api.AuditEvent) bool { return ev.Action == "vdc.create" }},
			{"org by name", url.Values{"org": {"globex"}}, 1, func(ev api.AuditEvent) bool { return ev.Org == globex.ID }},
			{"org by ID", url.Values{"org": {acme.ID}}, 4, func(ev api.AuditEvent) bool { return ev.Org == acme.ID }},
			{"actor by e-mail", url.Values{"actor": {"Viewer@acme.test"}}, 1, func(ev api.AuditEvent) bool { return ev.Actor.Email == "viewer@acme.test" }},
			{"resource kind", url.Values{"resource_kind": {"region"}}, 3, func(ev api.AuditEvent) bool { return ev.Resource.Kind == "region" }},
			{"resource", url.Values{"resource": {rivalVDC.ID}}, 1, func(ev api.AuditEvent) bool { return ev.Resource.ID == rivalVDC.ID }},
			{"since long ago", url.Values{"since": {"2000-01-01T00:00:00Z"}}, len(all), nil},
			{"since the future", url.Values{"since": {"2999-01-01T00:00:00Z"}}, 0, nil},
			{"until long ago", url.Values{"until": {"2000-01-01T00:00:00+10:00"}}, 0, nil},
		}
		for _, tt := range filters {
			t.Run(tt.name, func(t *testing.T) {
				got := list(watcher, "/api/v1/audit-events", tt.query)
				if len(got) != tt.want {
					t.Fatalf("%d events, want %d: %+v", len(got), tt.want, got)
				}
				for _, ev := range got {
					if tt.check != nil && !tt.check(ev) {
						t.Errorf("event does not match the filter: %+v", ev)
					}
				}
			})
		}
		if p := e.do("GET", "/api/v1/audit-events?since=yesterday", admin, nil).must(t, http.StatusBadRequest).problem(t); p.Code != api.CodeInvalidRequest {
			t.Errorf("bad since: code %q", p.Code)
		}
		e.do("GET", "/api/v1/audit-events?org=nobody", admin, nil).must(t, http.StatusNotFound)

		// A tenant's admin sees its organisation's events only.
		mine := list(owner, "/api/v1/orgs/acme/audit-events", nil)
		if len(mine) != 4 {
			t.Fatalf("org audit log: %d events, want 4: %+v", len(mine), mine)
		}
		for _, ev := range mine {
			if ev.Org != acme.ID {
				t.Errorf("foreign event in acme's log: %+v", ev)
			}
		}
		if got := list(owner, "/api/v1/orgs/acme/audit-events", url.Values{"action": {"vdc.create"}}); len(got) != 1 || got[0].ID != created.ID {
			t.Errorf("filtered org audit log: %+v", got)
		}
		if got := list(watcher, "/api/v1/orgs/"+acme.ID+"/audit-events", nil); len(got) != 4 {
			t.Errorf("provider viewer reading acme's log: %d events", len(got))
		}
		if p := e.do("GET", "/api/v1/orgs/globex/audit-events", owner, nil).must(t, http.StatusNotFound).problem(t); p.Code != api.CodeNotFound {
			t.Errorf("other org's log: code %q", p.Code)
		}
		e.do("GET", "/api/v1/orgs/acme/audit-events", viewer, nil).must(t, http.StatusForbidden)
		e.do("GET", "/api/v1/audit-events", owner, nil).must(t, http.StatusForbidden)
	})
}
