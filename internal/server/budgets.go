package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	netmail "net/mail"
	"slices"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/shopspring/decimal"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/internal/store"
)

// budgetOf converts a budget with its month-to-date spend.
func budgetOf(b *store.Budget, currency string, spent decimal.Decimal, period time.Time) api.Budget {
	return api.Budget{
		Meta:        metaOf(b.Meta),
		Org:         b.OrgID,
		VDC:         b.VDCID,
		Name:        b.Name,
		Amount:      b.Amount,
		Currency:    currency,
		Thresholds:  nonNilSlice(b.Thresholds),
		Emails:      nonNilSlice(b.Emails),
		Spent:       spent.String(),
		PeriodStart: period,
	}
}

func nonNilSlice[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// monthStart is the start of the UTC calendar month holding t: the period
// of budgets.
func monthStart(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
}

// budgetView reads what a budget answer needs besides the budget: the
// currency, the period and the organisation's spend in it.
func (s *Server) budgetView(ctx context.Context, tx *store.Tx, orgID string) (func(*store.Budget) api.Budget, error) {
	p, err := tx.GetProvider(ctx)
	if err != nil {
		return nil, err
	}
	period := monthStart(s.cfg.Now())
	spend, err := tx.RatedSpend(ctx, orgID, period, period.AddDate(0, 1, 0))
	if err != nil {
		return nil, err
	}
	return func(b *store.Budget) api.Budget { return budgetOf(b, p.Currency, store.BudgetSpend(b, spend), period) }, nil
}

// validBudgetAmount checks an amount is an exact decimal above zero.
func validBudgetAmount(amount string) error {
	d, err := decimal.NewFromString(amount)
	if err != nil || !d.IsPositive() {
		e := api.Errorf(http.StatusUnprocessableEntity, api.CodeValidation, "budget amount %q must be a decimal greater than zero", amount)
		e.Errors = []api.ErrorDetail{{Location: "body.amount", Message: "not a positive decimal", Value: amount}}
		return e
	}
	return nil
}

// validThresholds checks and sorts thresholds: 1 to 1000 %, no repeats.
func validThresholds(ts []int) ([]int, error) {
	out := slices.Clone(ts)
	slices.Sort(out)
	for i, t := range out {
		if t < 1 || t > 1000 {
			return nil, api.Errorf(http.StatusUnprocessableEntity, api.CodeValidation, "threshold %d%%: use 1 to 1000", t)
		}
		if i > 0 && out[i-1] == t {
			return nil, api.Errorf(http.StatusUnprocessableEntity, api.CodeValidation, "threshold %d%% is given twice", t)
		}
	}
	return out, nil
}

// validEmails checks alert addresses: bare addresses, no repeats.
func validEmails(emails []string) ([]string, error) {
	out := make([]string, 0, len(emails))
	for _, e := range emails {
		a, err := netmail.ParseAddress(e)
		if err != nil || a.Address != strings.TrimSpace(e) {
			return nil, api.Errorf(http.StatusUnprocessableEntity, api.CodeValidation, "%q is not an e-mail address (give it bare, like ann@example.com)", e)
		}
		if slices.Contains(out, a.Address) {
			return nil, api.Errorf(http.StatusUnprocessableEntity, api.CodeValidation, "e-mail address %q is given twice", e)
		}
		out = append(out, a.Address)
	}
	return out, nil
}

// Inputs of the budget endpoints.
type (
	budgetPath struct {
		Org    string `path:"org" maxLength:"200" doc:"Organisation ID or name"`
		Budget string `path:"budget" maxLength:"200" doc:"Budget ID or name"`
	}
	budgetListIn struct {
		Org string `path:"org" maxLength:"200" doc:"Organisation ID or name"`
		ListParams
	}
	budgetCreateIn struct {
		Org  string `path:"org" maxLength:"200" doc:"Organisation ID or name"`
		Body api.BudgetCreate
	}
	budgetUpdateIn struct {
		Org     string `path:"org" maxLength:"200" doc:"Organisation ID or name"`
		Budget  string `path:"budget" maxLength:"200" doc:"Budget ID or name"`
		IfMatch string `header:"If-Match" doc:"ETag from a previous read; the update fails with 412 if the budget changed since"`
		Body    api.BudgetUpdate
	}
)

func (s *Server) budgetRoutes() {
	tags := []string{"Budgets"}

	register(s, huma.Operation{OperationID: "list-budgets", Method: http.MethodGet, Path: "/api/v1/orgs/{org}/budgets", Summary: "List budgets",
		Description: "Each budget shows its month-to-date spend: rated usage of the current UTC month up to the last rated hour.",
		Tags:        tags},
		func(ctx context.Context, in *budgetListIn) (*listOut[api.Budget], error) {
			p, err := principal(ctx)
			if err != nil {
				return nil, err
			}
			pg, err := in.page()
			if err != nil {
				return nil, err
			}
			var out *api.List[api.Budget]
			err = s.store.View(ctx, func(tx *store.Tx) error {
				o, err := s.orgFor(ctx, tx, p, in.Org, canRead)
				if err != nil {
					return err
				}
				rows, next, err := tx.ListBudgets(ctx, o.ID, pg)
				if err != nil {
					return err
				}
				view, err := s.budgetView(ctx, tx, o.ID)
				if err != nil {
					return err
				}
				out = listOf(rows, next, view)
				return nil
			})
			if err != nil {
				return nil, err
			}
			return &listOut[api.Budget]{Body: out}, nil
		})

	register(s, huma.Operation{OperationID: "get-budget", Method: http.MethodGet, Path: "/api/v1/orgs/{org}/budgets/{budget}", Summary: "Get a budget", Tags: tags},
		func(ctx context.Context, in *budgetPath) (*bodyOut[api.Budget], error) {
			p, err := principal(ctx)
			if err != nil {
				return nil, err
			}
			var out api.Budget
			var version int64
			err = s.store.View(ctx, func(tx *store.Tx) error {
				o, err := s.orgFor(ctx, tx, p, in.Org, canRead)
				if err != nil {
					return err
				}
				b, err := tx.GetBudget(ctx, o.ID, in.Budget)
				if err != nil {
					return notFoundOr(err, "budget", in.Budget)
				}
				view, err := s.budgetView(ctx, tx, o.ID)
				if err != nil {
					return err
				}
				out, version = view(b), b.Version
				return nil
			})
			if err != nil {
				return nil, err
			}
			return &bodyOut[api.Budget]{ETag: etag(version), Body: out}, nil
		})

	register(s, huma.Operation{OperationID: "create-budget", Method: http.MethodPost, Path: "/api/v1/orgs/{org}/budgets", Summary: "Create a budget",
		Description: "Needs the org-member role or higher. A budget watches the whole organisation, or one VDC, per calendar month (UTC); " +
			"each threshold alerts once a month by e-mail to the addresses given and by a budget.threshold webhook event. " +
			"Budgets alert only: they never stop resources.",
		Tags: tags, DefaultStatus: http.StatusCreated},
		func(ctx context.Context, in *budgetCreateIn) (*createdOut[api.Budget], error) {
			p, err := principal(ctx)
			if err != nil {
				return nil, err
			}
			body := in.Body
			if store.IsID(body.Name) {
				return nil, api.Errorf(http.StatusUnprocessableEntity, api.CodeValidation, "budget name %q has the shape of an ID: choose another", body.Name)
			}
			if err := validBudgetAmount(body.Amount); err != nil {
				return nil, err
			}
			thresholds := api.DefaultBudgetThresholds
			if body.Thresholds != nil {
				thresholds = body.Thresholds
			}
			if thresholds, err = validThresholds(thresholds); err != nil {
				return nil, err
			}
			emails, err := validEmails(body.Emails)
			if err != nil {
				return nil, err
			}
			var out api.Budget
			var b *store.Budget
			err = s.store.Tx(ctx, func(tx *store.Tx) error {
				o, err := s.orgFor(ctx, tx, p, in.Org, canWrite)
				if err != nil {
					return err
				}
				b = &store.Budget{OrgID: o.ID, Name: body.Name, Amount: body.Amount, Thresholds: thresholds, Emails: emails}
				if body.VDC != "" {
					v, err := tx.GetVDC(ctx, o.ID, body.VDC)
					if err != nil {
						return budgetVDCMissing(err, body.VDC)
					}
					b.VDCID = v.ID
				}
				if err := tx.CreateBudget(ctx, b); err != nil {
					return conflictOr(err, api.CodeAlreadyExists, "organisation %q already has a budget named %q", o.Name, b.Name)
				}
				view, err := s.budgetView(ctx, tx, o.ID)
				if err != nil {
					return err
				}
				out = view(b)
				return s.audit(ctx, tx, "budget.create", "budget", b.ID, o.ID, budgetDetail(b))
			})
			if err != nil {
				return nil, err
			}
			return &createdOut[api.Budget]{Location: "/api/v1/orgs/" + b.OrgID + "/budgets/" + b.ID, ETag: etag(b.Version), Body: out}, nil
		})

	register(s, huma.Operation{OperationID: "update-budget", Method: http.MethodPatch, Path: "/api/v1/orgs/{org}/budgets/{budget}", Summary: "Update a budget",
		Description: "Needs the org-member role or higher. Changing the amount or the thresholds lets every threshold alert again " +
			"this month against the new figures. The VDC is fixed.",
		Tags: tags},
		func(ctx context.Context, in *budgetUpdateIn) (*bodyOut[api.Budget], error) {
			p, err := principal(ctx)
			if err != nil {
				return nil, err
			}
			var out api.Budget
			var b *store.Budget
			err = s.store.Tx(ctx, func(tx *store.Tx) error {
				o, err := s.orgFor(ctx, tx, p, in.Org, canWrite)
				if err != nil {
					return err
				}
				if b, err = tx.GetBudget(ctx, o.ID, in.Budget); err != nil {
					return notFoundOr(err, "budget", in.Budget)
				}
				if err := checkIfMatch(in.IfMatch, b.Version); err != nil {
					return err
				}
				var changed []string
				rearm := false
				if n := in.Body.Name; n != nil && *n != b.Name {
					if store.IsID(*n) {
						return api.Errorf(http.StatusUnprocessableEntity, api.CodeValidation, "budget name %q has the shape of an ID: choose another", *n)
					}
					b.Name = *n
					changed = append(changed, "name "+*n)
				}
				if a := in.Body.Amount; a != nil && *a != b.Amount {
					if err := validBudgetAmount(*a); err != nil {
						return err
					}
					b.Amount, rearm = *a, true
					changed = append(changed, "amount "+*a)
				}
				if ts := in.Body.Thresholds; ts != nil {
					v, err := validThresholds(*ts)
					if err != nil {
						return err
					}
					if !slices.Equal(v, b.Thresholds) {
						b.Thresholds, rearm = v, true
						changed = append(changed, fmt.Sprintf("thresholds %v", v))
					}
				}
				if es := in.Body.Emails; es != nil {
					v, err := validEmails(*es)
					if err != nil {
						return err
					}
					b.Emails = v
					changed = append(changed, fmt.Sprintf("%d e-mail addresses", len(v)))
				}
				if err := tx.UpdateBudget(ctx, b); err != nil {
					return conflictOr(err, api.CodeAlreadyExists, "organisation %q already has a budget named %q", o.Name, b.Name)
				}
				if rearm {
					if err := tx.ResetBudgetAlerts(ctx, b.ID); err != nil {
						return err
					}
				}
				view, err := s.budgetView(ctx, tx, o.ID)
				if err != nil {
					return err
				}
				out = view(b)
				return s.audit(ctx, tx, "budget.update", "budget", b.ID, o.ID, strings.Join(changed, "; "))
			})
			if err != nil {
				return nil, err
			}
			return &bodyOut[api.Budget]{ETag: etag(b.Version), Body: out}, nil
		})

	register(s, huma.Operation{OperationID: "delete-budget", Method: http.MethodDelete, Path: "/api/v1/orgs/{org}/budgets/{budget}", Summary: "Delete a budget",
		Description: "Needs the org-member role or higher.", Tags: tags, DefaultStatus: http.StatusNoContent},
		func(ctx context.Context, in *budgetPath) (*emptyOut, error) {
			p, err := principal(ctx)
			if err != nil {
				return nil, err
			}
			err = s.store.Tx(ctx, func(tx *store.Tx) error {
				o, err := s.orgFor(ctx, tx, p, in.Org, canWrite)
				if err != nil {
					return err
				}
				b, err := tx.GetBudget(ctx, o.ID, in.Budget)
				if err != nil {
					return notFoundOr(err, "budget", in.Budget)
				}
				if err := tx.DeleteBudget(ctx, b.ID); err != nil {
					return err
				}
				return s.audit(ctx, tx, "budget.delete", "budget", b.ID, o.ID, b.Name)
			})
			return nil, err
		})
}

// budgetVDCMissing is the validation error for a VDC the organisation does
// not have.
func budgetVDCMissing(err error, vdc string) error {
	if errors.Is(err, store.ErrNotFound) {
		e := api.Errorf(http.StatusUnprocessableEntity, api.CodeValidation, "the organisation has no VDC %q", vdc)
		e.Errors = []api.ErrorDetail{{Location: "body.vdc", Message: "no such VDC", Value: vdc}}
		return e
	}
	return err
}

func budgetDetail(b *store.Budget) string {
	scope := "organisation"
	if b.VDCID != "" {
		scope = "VDC " + b.VDCID
	}
	return fmt.Sprintf("%s: %s per month over the %s, thresholds %v", b.Name, b.Amount, scope, b.Thresholds)
}
