package server

import (
	"context"
	"net/http"

	"github.com/sirocco-cloud/sirocco/internal/store"
)

// audit appends a success event for the current request inside tx, so the
// change and its record commit together.
func (s *Server) audit(ctx context.Context, tx *store.Tx, action, kind, id, org, detail string) error {
	ri := info(ctx)
	ri.audited = true
	e := &store.AuditEvent{
		ActorType:    "anonymous",
		OrgID:        org,
		Action:       action,
		ResourceKind: kind,
		ResourceID:   id,
		Outcome:      "success",
		SourceIP:     ri.sourceIP,
		RequestID:    ri.id,
		Detail:       detail,
	}
	if p := ri.principal; p != nil {
		e.ActorType, e.ActorID, e.ActorEmail, e.ActorToken = "user", p.UserID, p.Email, p.TokenID
	}
	return tx.InsertAudit(ctx, e)
}

// auditFailure records a refused or failed mutating request. It runs after
// the response, outside the request's transaction (which rolled back).
func (s *Server) auditFailure(r *http.Request, ri *reqInfo, status int) {
	e := &store.AuditEvent{
		ActorType: "anonymous",
		Action:    routeOf(r),
		Outcome:   "failure",
		Status:    status,
		SourceIP:  ri.sourceIP,
		RequestID: ri.id,
	}
	ctx := context.WithoutCancel(r.Context())
	p := ri.principal
	if v := r.PathValue("org"); v != "" {
		org := v
		if !store.IsID(v) {
			org = ""
			_ = s.store.View(ctx, func(tx *store.Tx) error {
				if o, err := tx.GetOrgByName(ctx, v); err == nil {
					org = o.ID
				}
				return nil
			})
		}
		// Only an organisation the caller can see gets the event in its log:
		// another tenant's probes must neither show there, with the prober's
		// identity, nor fill it. The provider-wide log keeps the path.
		if p != nil && org != "" && p.CanSeeOrg(org) {
			e.OrgID = org
		} else {
			e.Detail = r.URL.Path
		}
	}
	if p != nil {
		e.ActorType, e.ActorID, e.ActorEmail, e.ActorToken = "user", p.UserID, p.Email, p.TokenID
	}
	if err := s.store.Tx(ctx, func(tx *store.Tx) error { return tx.InsertAudit(ctx, e) }); err != nil {
		s.log.ErrorContext(ctx, "write audit event", "err", err, "request_id", ri.id)
	}
}

func routeOf(r *http.Request) string {
	if r.Pattern != "" {
		return r.Pattern
	}
	return r.Method + " " + r.URL.Path
}
