package server

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/internal/auth"
	"github.com/sirocco-cloud/sirocco/internal/events"
	"github.com/sirocco-cloud/sirocco/internal/store"
)

// Events stream timing.
const (
	// eventsPoll is how often a stream reads the audit log.
	eventsPoll = time.Second
	// eventsHeartbeat is how often an idle stream sends a comment, so
	// proxies and load balancers do not close it, and checks again that the
	// caller's credentials and roles still hold.
	eventsHeartbeat = 15 * time.Second
	// maxEventTypes caps ?types=.
	maxEventTypes = 50
)

func (s *Server) eventRoutes() {
	s.mux.HandleFunc("GET "+api.PathEvents, s.streamEvents)
	oapi := s.api.OpenAPI()
	data := oapi.Components.Schemas.Schema(reflect.TypeFor[api.ResourceEvent](), true, "")
	str := &huma.Schema{Type: "string"}
	oapi.AddOperation(&huma.Operation{
		OperationID: "stream-events", Method: http.MethodGet, Path: api.PathEvents, Tags: []string{"Events"},
		Summary: "Stream resource changes (Server-Sent Events)",
		Description: "A `text/event-stream` of the changes the caller may see, as they happen: every successful change " +
			"recorded in the audit log. Provider roles see every organisation's and the provider-wide ones; anyone else sees " +
			"those of their organisations (a token scoped to one organisation, that one), changes to tokens, invitations and " +
			"webhooks only where they are org-admin.\n\n" +
			"Each event has `id:` the audit event ID, `event:` the action (such as `vm.create`) and `data:` a ResourceEvent " +
			"in JSON. The stream starts with changes made after it opens, or after the event named by the `Last-Event-ID` " +
			"header (sent by browsers when they reconnect) or by `after`. The server reads the log every second and sends " +
			"a comment line every 15 s when idle; the stream ends when the client goes or its credentials stop being valid.",
		Parameters: []*huma.Param{
			{Name: "org", In: "query", Description: "Only changes of this organisation (ID or name)", Schema: str},
			{Name: "types", In: "query", Description: "Only these actions, comma-separated", Example: "vm.create,vm.delete", Schema: str},
			{Name: "follow", In: "query", Description: "false: send what there is and end, instead of following (default true)", Schema: str},
			{Name: "after", In: "query", Description: "Start after this event ID", Schema: str},
			{Name: "Last-Event-ID", In: "header", Description: "Start after this event ID (takes precedence over after)", Schema: str},
		},
		Responses: map[string]*huma.Response{
			"200": {Description: "The stream; each event's data is a ResourceEvent",
				Content: map[string]*huma.MediaType{"text/event-stream": {Schema: data}}},
			"default": {Description: "Error", Content: map[string]*huma.MediaType{"application/problem+json": {Schema: &huma.Schema{Ref: "#/components/schemas/ErrorModel"}}}},
		},
	})
}

// eventsQuery is what a stream asked for.
type eventsQuery struct {
	org   string // organisation ID; "" for all the caller may see
	after string // start after this event ID
	types []string
	// once answers with what there is now and ends (?follow=false), for
	// scripts catching up.
	once bool
}

func (s *Server) parseEventsQuery(ctx context.Context, p *auth.Principal, r *http.Request) (eventsQuery, error) {
	q := r.URL.Query()
	var eq eventsQuery
	eq.after = strings.TrimSpace(r.Header.Get("Last-Event-ID"))
	if eq.after == "" {
		eq.after = q.Get("after")
	}
	if eq.after != "" && !store.IsID(eq.after) {
		return eq, api.Errorf(http.StatusBadRequest, api.CodeInvalidRequest, "%q is not an event ID", eq.after)
	}
	if eq.after == "" {
		// From now on. IDs carry the wall clock, not the server's
		// configured one.
		eq.after = events.IDAt(time.Now())
	}
	switch q.Get("follow") {
	case "", "true":
	case "false":
		eq.once = true
	default:
		return eq, api.Errorf(http.StatusBadRequest, api.CodeInvalidRequest, "follow must be true or false")
	}
	for t := range strings.SplitSeq(q.Get("types"), ",") {
		if t = strings.TrimSpace(t); t == "" {
			continue
		}
		if !api.IsResourceEventType(t) {
			return eq, api.Errorf(http.StatusBadRequest, api.CodeInvalidRequest, "%q is not an event type such as vm.create", t)
		}
		eq.types = append(eq.types, t)
	}
	if len(eq.types) > maxEventTypes {
		return eq, api.Errorf(http.StatusBadRequest, api.CodeInvalidRequest, "at most %d event types", maxEventTypes)
	}
	ref := q.Get("org")
	if ref == "" {
		return eq, nil
	}
	if p.CanReadProvider() && store.IsID(ref) {
		// As in the audit log: the changes of a closed and removed
		// organisation stay readable by its ID.
		eq.org = ref
		return eq, nil
	}
	err := s.store.View(ctx, func(tx *store.Tx) error {
		o, err := s.orgFor(ctx, tx, p, ref, canRead)
		if err != nil {
			return err
		}
		eq.org = o.ID
		return nil
	})
	return eq, err
}

// streamEvents serves GET /api/v1/events.
func (s *Server) streamEvents(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	p, err := principal(ctx)
	var eq eventsQuery
	if err == nil {
		eq, err = s.parseEventsQuery(ctx, p, r)
	}
	if err != nil {
		writeProblem(w, r, s.apiError(ctx, err).(*api.Error))
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // nginx would otherwise hold events back
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	// A server-wide write timeout would cut every stream; not all writers
	// support lifting it, and then there is none to lift.
	_ = rc.SetWriteDeadline(time.Time{})
	if events.WriteComment(w, "sirocco events") != nil || rc.Flush() != nil {
		return
	}

	feed := events.NewFeed(s.store, eq.after)
	poll := time.NewTicker(eventsPoll)
	defer poll.Stop()
	heartbeat := time.NewTicker(eventsHeartbeat)
	defer heartbeat.Stop()
	for {
		evs, err := feed.Next(ctx, s.cfg.Now(), eventScope(p, eq.org))
		if err != nil {
			if ctx.Err() == nil {
				// The client reconnects with Last-Event-ID and loses nothing.
				s.log.WarnContext(ctx, "events stream", "err", err, "request_id", requestID(ctx))
			}
			return
		}
		sent := false
		for i := range evs {
			e := &evs[i]
			if !eventVisible(p, e) || (len(eq.types) > 0 && !slices.Contains(eq.types, e.Action)) {
				continue
			}
			data, err := json.Marshal(events.Of(e))
			if err != nil {
				s.log.ErrorContext(ctx, "encode event", "event", e.ID, "err", err)
				continue
			}
			if events.WriteSSE(w, e.ID, e.Action, data) != nil {
				return
			}
			sent = true
		}
		if sent && rc.Flush() != nil || eq.once && len(evs) < events.MaxBatch {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-poll.C:
		case <-heartbeat.C:
			np, aerr := s.reauthenticate(r)
			switch {
			case aerr == nil:
				p = np
			case aerr.Status == http.StatusUnauthorized:
				return // revoked, expired or logged out
			}
			// Otherwise the store could not tell: keep the roles known.
			if events.WriteComment(w, "heartbeat") != nil || rc.Flush() != nil {
				return
			}
		}
	}
}

// reauthenticate resolves the request's credentials again: a stream lasts
// longer than the check at its start, and a revoked token or a lost role
// must stop it.
func (s *Server) reauthenticate(r *http.Request) (*auth.Principal, *api.Error) {
	if authz := r.Header.Get("Authorization"); authz != "" {
		_, secret, _ := strings.Cut(authz, " ")
		return s.tokenPrincipal(r.Context(), strings.TrimSpace(secret))
	}
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return nil, badCredentials("the session")
	}
	return s.sessionPrincipal(r.Context(), c.Value)
}

// eventScope is whose changes p reads: with org, that organisation's if p
// may see it; otherwise every organisation's for a provider role, and p's
// own organisations for anyone else.
func eventScope(p *auth.Principal, org string) events.Scope {
	switch {
	case org != "" && p.CanSeeOrg(org):
		return events.Scope{Orgs: []string{org}}
	case org != "":
		return events.Scope{}
	case p.CanReadProvider():
		return events.Scope{All: true}
	}
	var sc events.Scope
	for o := range p.Orgs {
		if p.CanSeeOrg(o) {
			sc.Orgs = append(sc.Orgs, o)
		}
	}
	slices.Sort(sc.Orgs)
	return sc
}

// eventVisible reports whether p may see the change e. Within an
// organisation, changes to what only its admins may list (tokens,
// invitations, webhooks) are shown only to them.
func eventVisible(p *auth.Principal, e *store.AuditEvent) bool {
	switch {
	case p.CanReadProvider():
		return true
	case e.OrgID == "" || !p.CanSeeOrg(e.OrgID):
		return false
	}
	switch e.ResourceKind {
	case "token", "invitation", "webhook":
		return p.CanAdminOrg(e.OrgID)
	}
	return true
}
