package notify

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/internal/billing/rating"
	"github.com/sirocco-cloud/sirocco/internal/mail"
	"github.com/sirocco-cloud/sirocco/internal/store"
)

// MonthStart is the start of the calendar month (UTC) holding t: a
// budget's period.
func MonthStart(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
}

// Crossed lists the thresholds (percent of amount) that spend has reached,
// in the order given. A budget of zero or less has none.
func Crossed(amount, spend decimal.Decimal, thresholds []int) []int {
	var out []int
	if !amount.IsPositive() {
		return nil
	}
	for _, t := range thresholds {
		// spend/amount >= t/100, without dividing.
		if spend.Mul(decimal.NewFromInt(100)).GreaterThanOrEqual(amount.Mul(decimal.NewFromInt(int64(t)))) {
			out = append(out, t)
		}
	}
	return out
}

// alert is one budget alert committed and still to be mailed.
type alert struct {
	budget    store.Budget
	threshold int
	spend     decimal.Decimal
	org, vdc  string // names, for the mail
}

// CheckBudgets fires the budget alerts due at now: for each budget, the
// thresholds its month-to-date spend has crossed and that have not fired
// this month are recorded, with a budget.threshold event, in one
// transaction; the mails go out after it commits. A crash in between loses
// those mails (the webhook stays): a mail is sent at most once.
func (n *Notifier) CheckBudgets(ctx context.Context, now time.Time) error {
	period := MonthStart(now)
	end := period.AddDate(0, 1, 0)
	var prov *store.Provider
	if err := n.Store.View(ctx, func(tx *store.Tx) (err error) { prov, err = tx.GetProvider(ctx); return err }); err != nil {
		return fmt.Errorf("check budgets: %w", err)
	}
	var errs []error
	for page := (store.Page{Limit: store.MaxLimit}); ; {
		var budgets []store.Budget
		var next string
		err := n.Store.View(ctx, func(tx *store.Tx) (err error) {
			budgets, next, err = tx.ListBudgets(ctx, "", page)
			return err
		})
		if err != nil {
			return fmt.Errorf("check budgets: %w", err)
		}
		// Budgets are listed by ID, not by organisation: the spend of an
		// organisation is read once per page it appears in.
		spends := map[string]map[string]decimal.Decimal{}
		for i := range budgets {
			b := &budgets[i]
			spend, ok := spends[b.OrgID]
			if !ok {
				err := n.Store.View(ctx, func(tx *store.Tx) (err error) { spend, err = tx.RatedSpend(ctx, b.OrgID, period, end); return err })
				if err != nil {
					errs = append(errs, err)
					continue
				}
				spends[b.OrgID] = spend
			}
			if err := n.checkBudget(ctx, prov, b, store.BudgetSpend(b, spend), period, now); err != nil {
				errs = append(errs, fmt.Errorf("budget %s: %w", b.ID, err))
			}
		}
		if next == "" {
			break
		}
		page.Cursor = next
	}
	return errors.Join(errs...)
}

func (n *Notifier) checkBudget(ctx context.Context, prov *store.Provider, b *store.Budget, spend decimal.Decimal, period, now time.Time) error {
	amount, err := decimal.NewFromString(b.Amount)
	if err != nil {
		return fmt.Errorf("amount %q: %w", b.Amount, err)
	}
	crossed := Crossed(amount, spend, b.Thresholds)
	if len(crossed) == 0 {
		return nil
	}
	var a *alert
	err = n.Store.Tx(ctx, func(tx *store.Tx) error {
		a = nil
		fired, err := tx.BudgetAlerts(ctx, b.ID, period)
		if err != nil {
			return err
		}
		top := -1
		for _, t := range crossed {
			if slices.Contains(fired, t) {
				continue
			}
			if err := tx.InsertBudgetAlert(ctx, b.ID, period, t, now); err != nil {
				return err
			}
			top = max(top, t)
		}
		if top < 0 {
			return nil
		}
		a = &alert{budget: *b, threshold: top, spend: spend, vdc: b.VDCID}
		o, err := tx.GetOrg(ctx, b.OrgID)
		if err != nil {
			return err
		}
		a.org = o.Name
		if b.VDCID != "" {
			if v, err := tx.GetVDC(ctx, b.OrgID, b.VDCID); err == nil {
				a.vdc = v.Name
			}
		}
		return n.Event(ctx, tx, b.OrgID, api.EventBudgetThreshold, api.BudgetThresholdData{
			Budget: b.ID, Name: b.Name, VDC: b.VDCID, Threshold: top, Amount: b.Amount, Spent: spend.String(),
			Currency: prov.Currency, PeriodStart: period,
		})
	})
	if err != nil || a == nil {
		return err
	}
	if n.Mail == nil {
		return nil
	}
	for _, to := range b.Emails {
		m := budgetMail(prov, a, to, period)
		if err := n.Mail.Send(ctx, m); err != nil {
			// The alert stands: a mail server down must not make it fire
			// again next time, to the other addresses too.
			n.log().ErrorContext(ctx, "send budget alert", "budget", b.ID, "to", to, "err", err)
		}
	}
	return nil
}

func budgetMail(prov *store.Provider, a *alert, to string, period time.Time) mail.Message {
	name := prov.Name
	if prov.Branding.DisplayName != "" {
		name = prov.Branding.DisplayName
	}
	scope := "organisation " + a.org
	if a.vdc != "" {
		scope = fmt.Sprintf("VDC %s of organisation %s", a.vdc, a.org)
	}
	spent := money(a.spend, prov.Currency)
	amount := money(decimal.RequireFromString(a.budget.Amount), prov.Currency)
	var b strings.Builder
	fmt.Fprintf(&b, `Hello,

The budget %q of %s on %s has reached %d%% of its amount for %s:

  spent so far:  %s
  budget:        %s

The spend counts usage up to the last full hour; it goes on accruing while
resources run. This alert fires once per threshold each month. To change
the budget, or who is alerted, edit it in the console or with
PATCH /api/v1/orgs/%s/budgets/%s.
`, a.budget.Name, scope, name, a.threshold, period.Format("January 2006"), spent, amount, a.budget.OrgID, a.budget.ID)
	return mail.Message{
		To:      to,
		Subject: fmt.Sprintf("Budget %s reached %d%% (%s of %s)", a.budget.Name, a.threshold, spent, amount),
		Body:    b.String(),
	}
}

// money shows an exact amount rounded half-up to the currency's minor unit,
// as the balance is shown.
func money(d decimal.Decimal, currency string) string {
	return currency + " " + rating.Round(d, currency).StringFixed(rating.MinorUnits(currency))
}
