package server

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/internal/auth"
	"github.com/sirocco-cloud/sirocco/internal/operation"
	"github.com/sirocco-cloud/sirocco/internal/store"
)

// Long-poll bounds of GET /operations/{id}/wait. The maximum stays well
// under the idle timeouts of common proxies.
const (
	defaultOpWait = 30 * time.Second
	maxOpWait     = 60 * time.Second
)

type (
	operationListIn struct {
		Org    string `query:"org" maxLength:"200" doc:"Only operations of this organisation (ID or name)"`
		State  string `query:"state" enum:"queued,running,succeeded,failed,cancelled" doc:"Only operations in this state"`
		Kind   string `query:"kind" maxLength:"100" doc:"Only operations of this kind" example:"vdc.delete"`
		Target string `query:"target" maxLength:"200" doc:"Only operations acting on the object with this ID"`
		ListParams
	}
	operationWaitIn struct {
		ID      string `path:"id" maxLength:"200"`
		Timeout string `query:"timeout" maxLength:"20" doc:"How long to wait for the operation to finish, as a Go duration (\"45s\", \"1m\") or seconds; default 30s, at most 60s" example:"30s"`
	}
	operationOut struct {
		Body api.Operation
	}
)

// opVisible reports whether the caller may see op: provider roles see every
// operation, tenants those of the organisations they belong to.
func opVisible(p *auth.Principal, op *store.Operation) bool {
	return p.CanReadProvider() || (op.OrgID != "" && p.CanSeeOrg(op.OrgID))
}

// parseWait reads the timeout of a long poll: a Go duration or a number of
// seconds, capped at maxOpWait.
func parseWait(v string) (time.Duration, error) {
	if v == "" {
		return defaultOpWait, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		n, nerr := strconv.Atoi(v)
		if nerr != nil {
			return 0, api.Errorf(http.StatusBadRequest, api.CodeInvalidRequest, "timeout %q: give a duration such as 30s or 1m", v)
		}
		d = time.Duration(n) * time.Second
	}
	if d < 0 {
		return 0, api.Errorf(http.StatusBadRequest, api.CodeInvalidRequest, "timeout %q is negative", v)
	}
	return min(d, maxOpWait), nil
}

func (s *Server) operationRoutes() {
	tags := []string{"Operations"}

	register(s, huma.Operation{OperationID: "list-operations", Method: http.MethodGet, Path: "/api/v1/operations", Summary: "List operations",
		Description: "Oldest first. Tenants see the operations of their organisations; provider roles see all, including provider-wide ones.",
		Tags:        tags},
		func(ctx context.Context, in *operationListIn) (*listOut[api.Operation], error) {
			p, err := principal(ctx)
			if err != nil {
				return nil, err
			}
			pg, err := in.page()
			if err != nil {
				return nil, err
			}
			f := store.OperationFilter{State: in.State, Kind: in.Kind, TargetID: in.Target}
			if !p.CanReadProvider() {
				f.OrgIDs = make([]string, 0, len(p.Orgs))
				for id, role := range p.Orgs {
					if role != "" {
						f.OrgIDs = append(f.OrgIDs, id)
					}
				}
			}
			var rows []store.Operation
			var next string
			err = s.store.View(ctx, func(tx *store.Tx) error {
				if in.Org != "" {
					o, err := s.orgFor(ctx, tx, p, in.Org, canRead)
					if err != nil {
						return err
					}
					f.OrgIDs = []string{o.ID}
				}
				rows, next, err = tx.ListOperations(ctx, f, pg)
				return err
			})
			if err != nil {
				return nil, err
			}
			return &listOut[api.Operation]{Body: listOf(rows, next, operation.ToAPI)}, nil
		})

	register(s, huma.Operation{OperationID: "get-operation", Method: http.MethodGet, Path: "/api/v1/operations/{id}", Summary: "Get an operation", Tags: tags},
		func(ctx context.Context, in *idPath) (*operationOut, error) {
			p, err := principal(ctx)
			if err != nil {
				return nil, err
			}
			op, err := s.visibleOp(ctx, p, in.ID)
			if err != nil {
				return nil, err
			}
			return &operationOut{Body: operation.ToAPI(op)}, nil
		})

	register(s, huma.Operation{OperationID: "wait-operation", Method: http.MethodGet, Path: "/api/v1/operations/{id}/wait", Summary: "Wait for an operation",
		Description: "Long poll: answers as soon as the operation has finished, or with the operation as it stands when the timeout passes. " +
			"Check its state and call again while it is not finished.",
		Tags: tags},
		func(ctx context.Context, in *operationWaitIn) (*operationOut, error) {
			p, err := principal(ctx)
			if err != nil {
				return nil, err
			}
			timeout, err := parseWait(in.Timeout)
			if err != nil {
				return nil, err
			}
			if _, err := s.visibleOp(ctx, p, in.ID); err != nil {
				return nil, err
			}
			op, err := s.ops.Wait(ctx, in.ID, timeout)
			if err != nil {
				return nil, notFoundOr(err, "operation", in.ID)
			}
			return &operationOut{Body: operation.ToAPI(op)}, nil
		})

	register(s, huma.Operation{OperationID: "cancel-operation", Method: http.MethodPost, Path: "/api/v1/operations/{id}/cancel", Summary: "Cancel an operation",
		Description: "A queued operation is cancelled at once; a running one is asked to stop and ends as cancelled unless it finishes first. " +
			"Needs the org-member role or higher in the operation's organisation. A finished operation gives 409 not_cancellable.",
		Tags: tags},
		func(ctx context.Context, in *idPath) (*operationOut, error) {
			p, err := principal(ctx)
			if err != nil {
				return nil, err
			}
			op, err := s.ops.CancelWith(ctx, in.ID, func(tx *store.Tx, op *store.Operation) error {
				if !opVisible(p, op) {
					return api.NotFound("operation", in.ID)
				}
				if op.OrgID == "" && !p.CanAdminProvider() {
					return forbidden("this operation is provider-wide: cancelling it needs the provider-admin role")
				}
				if op.OrgID != "" && !p.CanWriteOrg(op.OrgID) {
					return forbidden("your role (%s) cannot cancel operations of this organisation", p.OrgRole(op.OrgID))
				}
				if op.Done() {
					return api.Errorf(http.StatusConflict, api.CodeNotCancellable, "operation %s already %s", op.ID, op.State)
				}
				return s.audit(ctx, tx, "operation.cancel", "operation", op.ID, op.OrgID,
					strings.TrimSpace(op.Kind+" on "+op.TargetKind+" "+op.TargetID))
			})
			if err != nil {
				return nil, notFoundOr(err, "operation", in.ID)
			}
			return &operationOut{Body: operation.ToAPI(op)}, nil
		})
}

// visibleOp reads an operation the caller may see; any other is 404.
func (s *Server) visibleOp(ctx context.Context, p *auth.Principal, id string) (*store.Operation, error) {
	var op *store.Operation
	err := s.store.View(ctx, func(tx *store.Tx) error {
		var err error
		op, err = tx.GetOperation(ctx, id)
		return err
	})
	if err != nil {
		return nil, notFoundOr(err, "operation", id)
	}
	if !opVisible(p, op) {
		return nil, api.NotFound("operation", id)
	}
	return op, nil
}
