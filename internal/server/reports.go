package server

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/shopspring/decimal"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/internal/billing/ledger"
	"github.com/sirocco-cloud/sirocco/internal/billing/rater"
	"github.com/sirocco-cloud/sirocco/internal/billing/rating"
	"github.com/sirocco-cloud/sirocco/internal/store"
)

// Inputs and outputs of the report endpoints.
type (
	forecastOut struct {
		Body api.Forecast
	}
	revenueIn struct {
		From string `query:"from" pattern:"^[0-9]{4}-[0-9]{2}$" doc:"First month, YYYY-MM; default 11 months before to" example:"2026-01"`
		To   string `query:"to" pattern:"^[0-9]{4}-[0-9]{2}$" doc:"Last month included, YYYY-MM; default the current month" example:"2026-12"`
	}
	revenueOut struct {
		Body api.Revenue
	}
)

// maxRevenueMonths bounds a revenue report, which reads every rated line of
// its range.
const maxRevenueMonths = 36

// revenueTopTenants is how many organisations the report ranks.
const revenueTopTenants = 10

func (s *Server) reportRoutes() {
	tags := []string{"Billing"}

	register(s, huma.Operation{OperationID: "get-forecast", Method: http.MethodGet, Path: "/api/v1/orgs/{org}/forecast",
		Summary: "Forecast the month's cost",
		Description: "What the calendar month (UTC) has cost so far (rated usage plus what rating has not reached yet, as the " +
			"balance counts it), what the resources that exist now cost per hour at the prices in force, and the month-end " +
			"forecast: so far plus what they cost until the month ends. Exact decimal strings; *_display fields are rounded " +
			"half-up. Any role in the organisation may read it.",
		Tags: tags},
		func(ctx context.Context, in *creditOrgPath) (*forecastOut, error) {
			p, err := principal(ctx)
			if err != nil {
				return nil, err
			}
			now := s.cfg.Now().UTC()
			var out api.Forecast
			err = s.store.View(ctx, func(tx *store.Tx) error {
				o, err := s.orgFor(ctx, tx, p, in.Org, canRead)
				if err != nil {
					return err
				}
				out, err = forecast(ctx, tx, o.ID, now)
				return err
			})
			if err != nil {
				return nil, err
			}
			return &forecastOut{Body: out}, nil
		})

	register(s, huma.Operation{OperationID: "get-revenue", Method: http.MethodGet, Path: "/api/v1/provider/revenue",
		Summary: "Report revenue by month",
		Description: "Per calendar month (UTC) from `from` to `to` inclusive: the total of finalized and paid invoices for the " +
			"month, credit notes issued in it, credit granted in it by kind, and usage rated in it at list value; and the " +
			"organisations with the most usage over the range. At most 36 months. Provider roles only.",
		Tags: tags},
		func(ctx context.Context, in *revenueIn) (*revenueOut, error) {
			if _, err := requireProviderRead(ctx); err != nil {
				return nil, err
			}
			from, to, err := revenueRange(in.From, in.To, s.cfg.Now())
			if err != nil {
				return nil, err
			}
			var out api.Revenue
			err = s.store.View(ctx, func(tx *store.Tx) error {
				out, err = revenue(ctx, tx, from, to)
				return err
			})
			if err != nil {
				return nil, err
			}
			return &revenueOut{Body: out}, nil
		})
}

// monthOf is the first instant of t's calendar month in UTC.
func monthOf(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
}

// forecast computes an organisation's month so far and to its end at now.
func forecast(ctx context.Context, tx *store.Tx, orgID string, now time.Time) (api.Forecast, error) {
	prov, err := tx.GetProvider(ctx)
	if err != nil {
		return api.Forecast{}, err
	}
	cur := prov.Currency
	start := monthOf(now)
	end := start.AddDate(0, 1, 0)

	// So far: what rating has priced of the month, and from its watermark
	// (or the month's start, whichever is later) to now what it has not,
	// priced as the balance prices it.
	soFar := decimal.Zero
	lines, err := tx.ListRatedLines(ctx, store.RatedLineFilter{OrgID: orgID, From: start, To: end})
	if err != nil {
		return api.Forecast{}, err
	}
	for _, ln := range lines {
		a, err := decimal.NewFromString(ln.Amount)
		if err != nil {
			return api.Forecast{}, fmt.Errorf("rated line %s amount %q: %w", ln.ID, ln.Amount, err)
		}
		soFar = soFar.Add(a)
	}
	from, err := tx.RatedUntil(ctx)
	if err != nil {
		return api.Forecast{}, err
	}
	if from.Before(start) {
		from = start
	}
	plans, overrides, err := rater.Prices(ctx, tx)
	if err != nil {
		return api.Forecast{}, err
	}
	if from.Before(now) {
		spanFrom, spanTo := rating.SpanRange(rating.Window{Start: from, End: now})
		stored, err := tx.ListSpans(ctx, store.SpanFilter{OrgID: orgID, From: spanFrom, To: spanTo})
		if err != nil {
			return api.Forecast{}, err
		}
		unrated, err := rating.Accrued(rating.Priced(ratingSpans(stored), plans), plans, overrides, from, now)
		if err != nil {
			return api.Forecast{}, fmt.Errorf("price unrated usage: %w", err)
		}
		soFar = soFar.Add(unrated)
	}

	// What exists now, as if it had just started: rating it over the next
	// hour gives the hourly rate, and over the rest of the month what the
	// month will still cost, each priced as rating will price it (plans,
	// negotiated prices and allocation models included; a power-on still
	// open owes no minimum).
	open, err := tx.ListSpans(ctx, store.SpanFilter{OrgID: orgID, To: now.Add(time.Microsecond), OpenOnly: true})
	if err != nil {
		return api.Forecast{}, err
	}
	running := rating.Priced(ratingSpans(open), plans)
	for i := range running {
		running[i].Start = now
	}
	sum := func(w rating.Window) (decimal.Decimal, error) {
		if !w.Start.Before(w.End) || len(running) == 0 {
			return decimal.Zero, nil
		}
		ls, err := rating.Rate(running, plans, overrides, w)
		if err != nil {
			return decimal.Zero, fmt.Errorf("price what runs now: %w", err)
		}
		total := decimal.Zero
		for _, l := range ls {
			total = total.Add(l.Amount)
		}
		return total, nil
	}
	perHour, err := sum(rating.Window{Start: now, End: now.Add(time.Hour)})
	if err != nil {
		return api.Forecast{}, err
	}
	rest, err := sum(rating.Window{Start: now, End: end})
	if err != nil {
		return api.Forecast{}, err
	}
	monthEnd := soFar.Add(rest)
	left := decimal.NewFromInt(int64(end.Sub(now)/time.Millisecond)).DivRound(decimal.NewFromInt(3_600_000), 6)
	return api.Forecast{
		Currency: cur, PeriodStart: start, PeriodEnd: end, AsOf: now,
		SoFar: soFar.String(), SoFarDisplay: ledger.Display(soFar, cur),
		PerHour: perHour.String(), PerHourDisplay: ledger.Display(perHour, cur),
		HoursLeft: left.String(),
		Rest:      rest.String(), RestDisplay: ledger.Display(rest, cur),
		MonthEnd: monthEnd.String(), MonthEndDisplay: ledger.Display(monthEnd, cur),
	}, nil
}

// ratingSpans converts stored spans for rating.
func ratingSpans(stored []store.UsageSpan) []rating.Span {
	out := make([]rating.Span, len(stored))
	for i, s := range stored {
		out[i] = rating.Span{ID: s.ID, OrgID: s.OrgID, VDCID: s.VDCID, Region: s.RegionID, Model: s.Model,
			ResourceKind: s.ResourceKind, ResourceID: s.ResourceID, ResourceName: s.ResourceName, Meter: s.Meter,
			VCPU: s.VCPU, MemoryMiB: s.MemoryMiB, SizeGiB: s.SizeGiB, Class: s.Class, PowerOnID: s.PowerOnID,
			Start: s.StartedAt, End: s.EndedAt}
	}
	return out
}

// revenueRange reads the report's months: [from, to) as instants, to being
// the start of the month after the last one included.
func revenueRange(fromQ, toQ string, now time.Time) (from, to time.Time, err error) {
	parse := func(name, v string) (time.Time, error) {
		t, err := time.Parse("2006-01", v)
		if err != nil {
			return t, api.Errorf(http.StatusBadRequest, api.CodeInvalidRequest, "%s %q is not a month such as 2026-03", name, v)
		}
		return t.UTC(), nil
	}
	last := monthOf(now)
	if toQ != "" {
		if last, err = parse("to", toQ); err != nil {
			return
		}
	}
	from = last.AddDate(0, -11, 0)
	if fromQ != "" {
		if from, err = parse("from", fromQ); err != nil {
			return
		}
	}
	to = last.AddDate(0, 1, 0)
	switch {
	case from.After(last):
		err = api.Errorf(http.StatusBadRequest, api.CodeInvalidRequest, "from %s is after to %s", from.Format("2006-01"), last.Format("2006-01"))
	case from.AddDate(0, maxRevenueMonths, 0).Before(to):
		err = api.Errorf(http.StatusBadRequest, api.CodeInvalidRequest, "a report covers at most %d months", maxRevenueMonths)
	}
	return
}

// revenue sums the provider's money by month over [from, to).
func revenue(ctx context.Context, tx *store.Tx, from, to time.Time) (api.Revenue, error) {
	prov, err := tx.GetProvider(ctx)
	if err != nil {
		return api.Revenue{}, err
	}
	cur := prov.Currency
	type month struct {
		invoiced, notes, trial, promo, paid, usage decimal.Decimal
		invoices                                   int
	}
	var keys []string
	months := map[string]*month{}
	for m := from; m.Before(to); m = m.AddDate(0, 1, 0) {
		k := m.Format("2006-01")
		keys = append(keys, k)
		months[k] = &month{}
	}
	// add sums amounts into the months they fall in.
	add := func(as []store.AmountAt, into func(*month, *store.AmountAt, decimal.Decimal)) error {
		for i := range as {
			a := &as[i]
			m := months[a.At.UTC().Format("2006-01")]
			if m == nil {
				continue
			}
			d, err := decimal.NewFromString(a.Amount)
			if err != nil {
				return fmt.Errorf("amount %q of %s: %w", a.Amount, a.OrgID, err)
			}
			into(m, a, d)
		}
		return nil
	}
	invoices, err := tx.InvoicedTotals(ctx, from, to)
	if err != nil {
		return api.Revenue{}, err
	}
	notes, err := tx.CreditNoteTotals(ctx, from, to)
	if err != nil {
		return api.Revenue{}, err
	}
	grants, err := tx.GrantedCredits(ctx, cur, from, to)
	if err != nil {
		return api.Revenue{}, err
	}
	rated, err := tx.RatedAmounts(ctx, cur, from, to)
	if err != nil {
		return api.Revenue{}, err
	}
	byOrg := map[string]decimal.Decimal{}
	err = errors.Join(
		add(invoices, func(m *month, _ *store.AmountAt, d decimal.Decimal) { m.invoiced = m.invoiced.Add(d); m.invoices++ }),
		add(notes, func(m *month, _ *store.AmountAt, d decimal.Decimal) { m.notes = m.notes.Add(d) }),
		add(grants, func(m *month, a *store.AmountAt, d decimal.Decimal) {
			switch a.Kind {
			case store.GrantTrial:
				m.trial = m.trial.Add(d)
			case store.GrantPaid:
				m.paid = m.paid.Add(d)
			default:
				m.promo = m.promo.Add(d)
			}
		}),
		add(rated, func(m *month, a *store.AmountAt, d decimal.Decimal) {
			m.usage = m.usage.Add(d)
			byOrg[a.OrgID] = byOrg[a.OrgID].Add(d)
		}),
	)
	if err != nil {
		return api.Revenue{}, err
	}
	out := api.Revenue{Currency: cur, From: from.Format("2006-01"), To: to.AddDate(0, -1, 0).Format("2006-01"),
		Months: make([]api.RevenueMonth, 0, len(keys)), Tenants: []api.RevenueTenant{}}
	for _, k := range keys {
		m := months[k]
		out.Months = append(out.Months, api.RevenueMonth{Month: k,
			Invoiced: m.invoiced.String(), Invoices: m.invoices, CreditNotes: m.notes.String(),
			CreditsTrial: m.trial.String(), CreditsPromo: m.promo.String(), CreditsPaid: m.paid.String(),
			Usage: m.usage.String(), UsageDisplay: ledger.Display(m.usage, cur)})
	}

	ids := make([]string, 0, len(byOrg))
	for id, d := range byOrg {
		if !d.IsZero() {
			ids = append(ids, id)
		}
	}
	slices.SortFunc(ids, func(a, b string) int {
		return cmp.Or(byOrg[b].Cmp(byOrg[a]), cmp.Compare(a, b))
	})
	ids = ids[:min(len(ids), revenueTopTenants)]
	if len(ids) == 0 {
		return out, nil
	}
	orgs, _, err := tx.ListOrgs(ctx, ids, store.Page{Limit: len(ids)})
	if err != nil {
		return api.Revenue{}, err
	}
	names := map[string]string{}
	for _, o := range orgs {
		names[o.ID] = o.Name
	}
	for _, id := range ids {
		out.Tenants = append(out.Tenants, api.RevenueTenant{Org: id, Name: names[id],
			Usage: byOrg[id].String(), UsageDisplay: ledger.Display(byOrg[id], cur)})
	}
	return out, nil
}
