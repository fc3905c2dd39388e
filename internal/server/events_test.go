package server

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/internal/auth"
	"github.com/sirocco-cloud/sirocco/internal/store"
)

// eventsEnv registers the events route when routes() does not yet.
func eventsEnv(e *env) {
	if e.srv.OpenAPI().Paths[api.PathEvents] == nil {
		e.srv.eventRoutes()
	}
}

// sseEvent is one event as a client reads it off the wire.
type sseEvent struct {
	id, event string
	data      api.ResourceEvent
}

// stream is an open events stream read by a real HTTP client.
type stream struct {
	t      *testing.T
	events chan sseEvent
	cancel context.CancelFunc
}

// openStream connects to the events stream with a token, a query and
// extra headers (name, value pairs), and reads it until the test ends.
func openStream(t *testing.T, e *env, token, query string, headers ...string) *stream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.url+api.PathEvents+query, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := e.http.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("events: status %d, content type %q", res.StatusCode, res.Header.Get("Content-Type"))
	}
	s := &stream{t: t, events: make(chan sseEvent, 100), cancel: cancel}
	t.Cleanup(func() { cancel(); res.Body.Close() })
	go func() {
		defer close(s.events)
		sc := bufio.NewScanner(res.Body)
		var ev sseEvent
		var data strings.Builder
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if data.Len() > 0 {
					if err := json.Unmarshal([]byte(data.String()), &ev.data); err != nil {
						t.Errorf("event data %q: %v", data.String(), err)
						return
					}
					s.events <- ev
				}
				ev, data = sseEvent{}, strings.Builder{}
			case strings.HasPrefix(line, "id: "):
				ev.id = strings.TrimPrefix(line, "id: ")
			case strings.HasPrefix(line, "event: "):
				ev.event = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				data.WriteString(strings.TrimPrefix(line, "data: "))
			}
		}
	}()
	return s
}

// next waits for the stream's next event.
func (s *stream) next() sseEvent {
	s.t.Helper()
	select {
	case ev, ok := <-s.events:
		if !ok {
			s.t.Fatal("the stream ended")
		}
		return ev
	case <-time.After(10 * time.Second):
		s.t.Fatal("no event within 10 s")
	}
	return sseEvent{}
}

// expect reads the next event and checks its action and resource.
func (s *stream) expect(action, resource string) sseEvent {
	s.t.Helper()
	ev := s.next()
	if ev.event != action || ev.data.Action != action || ev.data.ResourceID != resource || ev.id != ev.data.ID {
		s.t.Fatalf("event %s %s (id %s, data %+v), want %s of %s", ev.event, ev.data.ResourceID, ev.id, ev.data, action, resource)
	}
	return ev
}

func TestEventsStream(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		eventsEnv(e)
		admin := e.providerAdmin()
		vdcCatalog(t, e, admin)
		acme, acmeTok := e.tenant("acme", store.Residency{})
		globex, globexTok := e.tenant("globex", store.Residency{})
		// A consultant works for both, with a token for globex only.
		consultant := e.user("consultant@example.test",
			store.RoleBinding{OrgID: acme.ID, Role: api.RoleOrgMember}, store.RoleBinding{OrgID: globex.ID, Role: api.RoleOrgMember})
		consultantTok := e.token(consultant, globex.ID, api.RoleOrgMember)

		mine := openStream(t, e, acmeTok, "")
		provider := openStream(t, e, admin, "")
		scoped := openStream(t, e, consultantTok, "")
		updates := openStream(t, e, acmeTok, "?types=vdc.update,vdc.delete")
		onlyGlobex := openStream(t, e, admin, "?org=globex")

		var web, theirs, db api.VDC
		e.do("POST", "/api/v1/orgs/acme/vdcs", acmeTok, api.VDCCreate{Name: "web", Zone: "au-syd-1a"}).must(t, http.StatusCreated).decode(t, &web)
		e.do("POST", "/api/v1/orgs/globex/vdcs", globexTok, api.VDCCreate{Name: "web", Zone: "nz-akl-1a"}).must(t, http.StatusCreated).decode(t, &theirs)
		// Refused requests are audited too, but change nothing: no event.
		e.do("POST", "/api/v1/orgs/acme/vdcs", acmeTok, api.VDCCreate{Name: "web", Zone: "au-syd-1a"}).must(t, http.StatusConflict)
		e.do("POST", "/api/v1/orgs/acme/vdcs", acmeTok, api.VDCCreate{Name: "db", Zone: "au-syd-1a"}).must(t, http.StatusCreated).decode(t, &db)
		desc := "front end"
		e.do("PATCH", "/api/v1/orgs/acme/vdcs/web", acmeTok, api.VDCUpdate{Description: &desc}).must(t, http.StatusOK)

		// The tenant sees its own changes in order, not globex's.
		first := mine.expect("vdc.create", web.ID)
		if d := first.data; d.Org != acme.ID || d.ResourceKind != "vdc" || d.Actor.Email != "admin@acme.test" || !strings.Contains(d.Detail, "web") {
			t.Errorf("event data %+v", d)
		}
		mine.expect("vdc.create", db.ID)
		mine.expect("vdc.update", web.ID)
		// The provider sees both organisations'.
		provider.expect("vdc.create", web.ID)
		if ev := provider.expect("vdc.create", theirs.ID); ev.data.Org != globex.ID {
			t.Errorf("globex's event names organisation %q", ev.data.Org)
		}
		provider.expect("vdc.create", db.ID)
		onlyGlobex.expect("vdc.create", theirs.ID)
		// A token scoped to one organisation sees that one only.
		scoped.expect("vdc.create", theirs.ID)
		// A filter on types skips the rest.
		updates.expect("vdc.update", web.ID)

		// Reconnecting with Last-Event-ID resumes after that event.
		resumed := openStream(t, e, acmeTok, "", "Last-Event-ID", first.id)
		resumed.expect("vdc.create", db.ID)
		resumed.expect("vdc.update", web.ID)
		viaQuery := openStream(t, e, acmeTok, "?after="+first.id+"&types=vdc.create")
		viaQuery.expect("vdc.create", db.ID)

		// Nothing more arrived on the tenant's or the scoped stream.
		for name, s := range map[string]*stream{"acme": mine, "scoped": scoped} {
			select {
			case ev := <-s.events:
				t.Errorf("%s stream got an extra event %s of %s", name, ev.event, ev.data.ResourceID)
			case <-time.After(1500 * time.Millisecond):
			}
		}
	})
}

func TestEventsStreamRefuses(t *testing.T) {
	e := newEnvFor(t, "sqlite", Config{})
	eventsEnv(e)
	_, acmeTok := e.tenant("acme", store.Residency{})
	e.tenant("globex", store.Residency{})
	tests := []struct {
		name, token, query string
		status             int
	}{
		{"anonymous", "", "", http.StatusUnauthorized},
		{"another tenant's organisation", acmeTok, "?org=globex", http.StatusNotFound},
		{"not an event type", acmeTok, "?types=vm", http.StatusBadRequest},
		{"not an event ID", acmeTok, "?after=yesterday", http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.do("GET", api.PathEvents+tt.query, tt.token, nil).must(t, tt.status).problem(t)
		})
	}
}

func TestEventVisibility(t *testing.T) {
	principal := func(scope *auth.TokenScope, bindings ...auth.Binding) *auth.Principal {
		p := &auth.Principal{}
		auth.Resolve(p, bindings, scope)
		return p
	}
	viewer := principal(nil, auth.Binding{Org: "acme", Role: api.RoleOrgViewer})
	orgAdmin := principal(nil, auth.Binding{Org: "acme", Role: api.RoleOrgAdmin})
	providerViewer := principal(nil, auth.Binding{Role: api.RoleProviderViewer})
	tests := []struct {
		name string
		p    *auth.Principal
		e    store.AuditEvent
		want bool
	}{
		{"viewer, own VM", viewer, store.AuditEvent{OrgID: "acme", ResourceKind: "vm"}, true},
		{"viewer, another organisation", viewer, store.AuditEvent{OrgID: "globex", ResourceKind: "vm"}, false},
		{"viewer, provider-wide", viewer, store.AuditEvent{ResourceKind: "region"}, false},
		{"viewer, a token", viewer, store.AuditEvent{OrgID: "acme", ResourceKind: "token"}, false},
		{"viewer, a webhook", viewer, store.AuditEvent{OrgID: "acme", ResourceKind: "webhook"}, false},
		{"org admin, a webhook", orgAdmin, store.AuditEvent{OrgID: "acme", ResourceKind: "webhook"}, true},
		{"provider viewer, anything", providerViewer, store.AuditEvent{OrgID: "globex", ResourceKind: "token"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := eventVisible(tt.p, &tt.e); got != tt.want {
				t.Errorf("eventVisible = %v, want %v", got, tt.want)
			}
		})
	}
}
