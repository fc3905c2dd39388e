package server

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/internal/store"
)

func auditEventOf(e *store.AuditEvent) api.AuditEvent {
	return api.AuditEvent{
		ID:        e.ID,
		Time:      e.Time,
		Actor:     api.Actor{Type: e.ActorType, ID: e.ActorID, Email: e.ActorEmail, Token: e.ActorToken},
		Org:       e.OrgID,
		Action:    e.Action,
		Resource:  api.Ref{Kind: e.ResourceKind, ID: e.ResourceID},
		Outcome:   e.Outcome,
		Status:    e.Status,
		SourceIP:  e.SourceIP,
		RequestID: e.RequestID,
		Detail:    e.Detail,
	}
}

// auditAsSystem appends a success event done by the control plane itself (an
// operation runner, a background loop) inside tx. The user who asked for the
// work is in the audit event of their request.
func (s *Server) auditAsSystem(ctx context.Context, tx *store.Tx, action, kind, id, org, detail string) error {
	return tx.InsertAudit(ctx, &store.AuditEvent{
		ActorType:    "system",
		OrgID:        org,
		Action:       action,
		ResourceKind: kind,
		ResourceID:   id,
		Outcome:      "success",
		Detail:       detail,
	})
}

// AuditParams are the filters both audit listings take. (Exported: Huma
// reads query parameters of embedded structs only when their type is.)
type AuditParams struct {
	Actor        string `query:"actor" maxLength:"254" doc:"Only events by this user (ID or e-mail address)"`
	ResourceKind string `query:"resource_kind" maxLength:"50" doc:"Only events on objects of this kind" example:"vdc"`
	Resource     string `query:"resource" maxLength:"200" doc:"Only events on the object with this ID"`
	Action       string `query:"action" maxLength:"100" doc:"Only events of this action" example:"vdc.create"`
	Since        string `query:"since" maxLength:"40" doc:"Only events at or after this time (RFC 3339)" example:"2026-01-01T00:00:00Z"`
	Until        string `query:"until" maxLength:"40" doc:"Only events before this time (RFC 3339)"`
}

func (q AuditParams) filter() (store.AuditFilter, error) {
	f := store.AuditFilter{Actor: q.Actor, ResourceKind: q.ResourceKind, ResourceID: q.Resource, Action: q.Action}
	for _, t := range []struct {
		name, v string
		dst     *time.Time
	}{{"since", q.Since, &f.Since}, {"until", q.Until, &f.Until}} {
		if t.v == "" {
			continue
		}
		at, err := time.Parse(time.RFC3339Nano, t.v)
		if err != nil {
			return f, api.Errorf(http.StatusBadRequest, api.CodeInvalidRequest, "%s %q is not an RFC 3339 time such as 2026-01-31T09:00:00Z", t.name, t.v)
		}
		*t.dst = at
	}
	return f, nil
}

type (
	auditListIn struct {
		Org string `query:"org" maxLength:"200" doc:"Only events of this organisation (ID or name)"`
		AuditParams
		ListParams
	}
	orgAuditListIn struct {
		Org string `path:"org" maxLength:"200" doc:"Organisation ID or name"`
		AuditParams
		ListParams
	}
)

func (s *Server) auditRoutes() {
	tags := []string{"Audit"}

	register(s, huma.Operation{OperationID: "list-audit-events", Method: http.MethodGet, Path: "/api/v1/audit-events", Summary: "List audit events",
		Description: "Every audit event of the installation, oldest first. Provider roles only. Audit events carry no labels.",
		Tags:        tags},
		func(ctx context.Context, in *auditListIn) (*listOut[api.AuditEvent], error) {
			if _, err := requireProviderRead(ctx); err != nil {
				return nil, err
			}
			f, err := in.filter()
			if err != nil {
				return nil, err
			}
			pg, err := in.page()
			if err != nil {
				return nil, err
			}
			var rows []store.AuditEvent
			var next string
			err = s.store.View(ctx, func(tx *store.Tx) error {
				// An ID is taken as it is: the events of a closed and
				// removed organisation stay searchable by its ID.
				f.OrgID = in.Org
				if in.Org != "" && !store.IsID(in.Org) {
					o, err := tx.GetOrgByName(ctx, in.Org)
					if err != nil {
						return notFoundOr(err, "organisation", in.Org)
					}
					f.OrgID = o.ID
				}
				rows, next, err = tx.ListAudit(ctx, f, pg)
				return err
			})
			if err != nil {
				return nil, err
			}
			return &listOut[api.AuditEvent]{Body: listOf(rows, next, auditEventOf)}, nil
		})

	register(s, huma.Operation{OperationID: "list-org-audit-events", Method: http.MethodGet, Path: "/api/v1/orgs/{org}/audit-events",
		Summary:     "List an organisation's audit events",
		Description: "The organisation's audit events, oldest first. Needs the org-admin role there, or a provider role.",
		Tags:        tags},
		func(ctx context.Context, in *orgAuditListIn) (*listOut[api.AuditEvent], error) {
			p, err := principal(ctx)
			if err != nil {
				return nil, err
			}
			f, err := in.filter()
			if err != nil {
				return nil, err
			}
			pg, err := in.page()
			if err != nil {
				return nil, err
			}
			var rows []store.AuditEvent
			var next string
			err = s.store.View(ctx, func(tx *store.Tx) error {
				o, err := s.orgFor(ctx, tx, p, in.Org, canRead)
				if err != nil {
					return err
				}
				if !p.CanAdminOrg(o.ID) && !p.CanReadProvider() {
					return forbidden("the audit log of organisation %q needs the org-admin role there", o.Name)
				}
				f.OrgID = o.ID
				rows, next, err = tx.ListAudit(ctx, f, pg)
				return err
			})
			if err != nil {
				return nil, err
			}
			return &listOut[api.AuditEvent]{Body: listOf(rows, next, auditEventOf)}, nil
		})
}
