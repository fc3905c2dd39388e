package console

import (
	"cmp"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/client"
)

// billingRoutes registers the pages of this file: usage, budgets and
// invoices of an organisation.
func (c *Console) billingRoutes() {
	c.mux.Handle("GET /console/o/{org}/usage", c.tenant(c.billUsagePage))
	c.mux.Handle("GET /console/o/{org}/budgets", c.tenant(c.billBudgetsPage))
	c.mux.Handle("POST /console/o/{org}/budgets", c.tenant(c.billCreateBudget))
	c.mux.Handle("POST /console/o/{org}/budgets/{budget}/amount", c.tenant(c.billUpdateBudgetAmount))
	c.mux.Handle("POST /console/o/{org}/budgets/{budget}/delete", c.tenant(c.billDeleteBudget))
	c.mux.Handle("GET /console/o/{org}/invoices", c.tenant(c.billInvoicesPage))
	c.mux.Handle("GET /console/o/{org}/invoices/{invoice}", c.tenant(c.billInvoicePage))
}

// billAPIPath is the URL path of an API endpoint under the organisation, for
// links the browser follows itself (downloads): its session cookie
// authenticates them.
func billAPIPath(v *visit, parts ...string) string {
	p := "/api/v1/orgs/" + url.PathEscape(v.org.Org)
	for _, s := range parts {
		p += "/" + url.PathEscape(s)
	}
	return p
}

// billActionError shows page name again with a failed action's message above
// it. Unlike formError it maps no field errors and refills no form: the
// action came from a small per-row form, not from the page's main form.
func billActionError(v *visit, name string, data any, err error) error {
	ae, ok := errors.AsType[*api.Error](err)
	if !ok || ae.Status == http.StatusUnauthorized {
		return err
	}
	v.view.Form = url.Values{}
	v.view.Error = cmp.Or(ae.Detail, ae.Title)
	return v.renderStatus(max(ae.Status, http.StatusBadRequest), name, data)
}

// billFieldError is a validation error of one form field found before the API
// is called (a value that does not even parse), shown like the API's own.
func billFieldError(field, msg string) *api.Error {
	e := api.Errorf(http.StatusUnprocessableEntity, api.CodeValidation, "%s", msg)
	e.Errors = []api.ErrorDetail{{Location: "body." + field, Message: msg}}
	return e
}

// billWritable says whether the visitor's role may change things in the
// organisation; it only hides buttons, the API decides.
func billWritable(v *visit) bool { return v.org.Role != api.RoleOrgViewer }

// acctIsAdmin says whether the visitor administers the organisation; it
// only picks what to show and which endpoint to call, the API decides.
func acctIsAdmin(v *visit) bool { return v.org.Role == api.RoleOrgAdmin }

// Usage.

// Chart geometry, in SVG user units: the chart scales to its box.
const (
	billChartWidth  = 720
	billChartHeight = 220
	billChartTop    = 10
	billChartBottom = 24 // room for the day labels
	billChartLeft   = 8
)

type billUsageData struct {
	Month      time.Time
	Prev, Next string // months, "" when there is none to go to
	Currency   string
	Days       []billUsageDay // every day of the month, with or without usage
	Used       []billUsageDay // the days with usage, for the table
	Resources  []billUsageResource
	Total      string // exact
	CSV        string
	ChartW     int
	ChartH     int
	AxisY      int
	Empty      bool
	ThisMonth  bool
	MonthInput string
}

type billUsageDay struct {
	Day     time.Time
	Amount  string // exact
	Display string
	// Bar geometry; Height is 0 on a day without usage.
	X, Y, Width, Height int
	LabelX              int
}

type billUsageResource struct {
	Name, Kind, Meter, Quantity, Unit string
	Amount                            string // exact
	Display                           string
}

// billAmount shows an exact amount rounded to cents, except that a small
// charge shows as less than a cent rather than as nothing.
func billAmount(amount decimal.Decimal, currency string) string {
	if amount.IsPositive() && amount.Round(2).IsZero() {
		return "< 0.01 " + currency
	}
	return money(amount.String(), currency)
}

// billUsagePage shows a month's rated usage by day (a chart and a table) and
// by resource.
func (c *Console) billUsagePage(v *visit) error {
	v.view.Area = "usage"
	now := c.cfg.Now().UTC()
	thisMonth := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	month := thisMonth
	if m := v.r.URL.Query().Get("month"); m != "" {
		t, err := time.Parse("2006-01", m)
		if err != nil {
			return api.Errorf(http.StatusBadRequest, api.CodeValidation, "month %q: give it as YYYY-MM, e.g. %s", m, thisMonth.Format("2006-01"))
		}
		month = t.UTC()
	}
	end := month.AddDate(0, 1, 0)
	ctx := v.r.Context()
	opts := client.UsageOptions{From: month, To: end}
	opts.Group = "day"
	byDay, err := v.api.GetUsage(ctx, v.org.Org, opts)
	if err != nil {
		return err
	}
	opts.Group = "resource"
	byResource, err := v.api.GetUsage(ctx, v.org.Org, opts)
	if err != nil {
		return err
	}
	data, err := billUsageView(month, byDay, byResource, v.view.Provider.Currency)
	if err != nil {
		return err
	}
	data.ThisMonth = month.Equal(thisMonth)
	data.Prev = month.AddDate(0, -1, 0).Format("2006-01")
	if month.Before(thisMonth) {
		data.Next = month.AddDate(0, 1, 0).Format("2006-01")
	}
	q := url.Values{"from": {month.Format(time.RFC3339)}, "to": {end.Format(time.RFC3339)}}
	data.CSV = billAPIPath(v, "usage.csv") + "?" + q.Encode()
	return v.render("bill-usage", data)
}

// billUsageView sums the API's rows per day and per resource, exactly, and lays
// out the bars. Floats appear only in the bars' pixel maths.
func billUsageView(month time.Time, byDay, byResource *api.Usage, currency string) (billUsageData, error) {
	d := billUsageData{Month: month, Currency: currency, ChartW: billChartWidth, ChartH: billChartHeight, AxisY: billChartHeight - billChartBottom,
		MonthInput: month.Format("2006-01")}
	sums := map[string]decimal.Decimal{}
	total := decimal.Zero
	for _, r := range byDay.Items {
		a, err := decimal.NewFromString(r.Amount)
		if err != nil {
			return d, fmt.Errorf("usage of %s: amount %q: %w", r.Key, r.Amount, err)
		}
		sums[r.Key] = sums[r.Key].Add(a)
		total = total.Add(a)
		if r.Currency != "" {
			d.Currency = r.Currency
		}
	}
	days := month.AddDate(0, 1, -1).Day()
	slot := (billChartWidth - billChartLeft) / days
	plot := decimal.NewFromInt(billChartHeight - billChartTop - billChartBottom)
	top := decimal.Zero
	for _, s := range sums {
		top = decimal.Max(top, s)
	}
	for i := range days {
		day := month.AddDate(0, 0, i)
		u := billUsageDay{Day: day, X: billChartLeft + i*slot + slot/6, Width: slot - slot/3, LabelX: billChartLeft + i*slot + slot/2}
		if s, ok := sums[day.Format(time.DateOnly)]; ok && !s.IsZero() {
			u.Amount, u.Display = s.String(), billAmount(s, d.Currency)
			if top.IsPositive() {
				u.Height = max(1, int(s.Div(top).Mul(plot).Round(0).IntPart()))
			}
			u.Y = billChartHeight - billChartBottom - u.Height
			d.Used = append(d.Used, u)
		}
		d.Days = append(d.Days, u)
	}
	// Both groupings sum the same rated lines; should a rating run between
	// the two reads, the total follows the table it is printed under.
	rt := decimal.Zero
	for _, r := range byResource.Items {
		a, err := decimal.NewFromString(r.Amount)
		if err != nil {
			return d, fmt.Errorf("usage of %s: amount %q: %w", r.Key, r.Amount, err)
		}
		rt = rt.Add(a)
		d.Resources = append(d.Resources, billUsageResource{Name: cmp.Or(r.ResourceName, r.Key), Kind: r.ResourceKind, Meter: r.Meter,
			Quantity: r.Quantity, Unit: r.Unit, Amount: r.Amount, Display: billAmount(a, d.Currency)})
	}
	total = rt
	d.Total = total.String()
	d.Empty = len(byDay.Items) == 0 && len(byResource.Items) == 0
	return d, nil
}

// Budgets.

type billBudgetsData struct {
	Budgets  []billBudgetRow
	VDCs     []api.VDC
	CanWrite bool
}

type billBudgetRow struct {
	api.Budget
	VDCName string
	// Reached are the thresholds the month's spend has reached.
	Reached []int
	Percent string
}

func (c *Console) billBudgetsData(v *visit) (billBudgetsData, error) {
	ctx := v.r.Context()
	d := billBudgetsData{CanWrite: billWritable(v)}
	for vdc, err := range v.api.AllVDCs(ctx, v.org.Org, client.ListOptions{}) {
		if err != nil {
			return d, err
		}
		d.VDCs = append(d.VDCs, vdc)
	}
	for b, err := range v.api.AllBudgets(ctx, v.org.Org, client.ListOptions{}) {
		if err != nil {
			return d, err
		}
		row := billBudgetRow{Budget: b, VDCName: b.VDC}
		if i := slices.IndexFunc(d.VDCs, func(x api.VDC) bool { return x.ID == b.VDC }); i >= 0 {
			row.VDCName = d.VDCs[i].Name
		}
		amount, err1 := decimal.NewFromString(b.Amount)
		spent, err2 := decimal.NewFromString(b.Spent)
		if err1 == nil && err2 == nil && amount.IsPositive() {
			pct := spent.Mul(decimal.NewFromInt(100)).Div(amount)
			row.Percent = pct.Round(0).String()
			for _, t := range b.Thresholds {
				if pct.GreaterThanOrEqual(decimal.NewFromInt(int64(t))) {
					row.Reached = append(row.Reached, t)
				}
			}
		}
		d.Budgets = append(d.Budgets, row)
	}
	return d, nil
}

func (c *Console) billBudgetsPage(v *visit) error {
	v.view.Area = "budgets"
	d, err := c.billBudgetsData(v)
	if err != nil {
		return err
	}
	if v.view.Form == nil {
		v.view.Form = url.Values{"thresholds": {"50, 80, 100"}}
	}
	return v.render("bill-budgets", d)
}

// billSplitList splits a comma- or space-separated form value.
func billSplitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' || r == '\t' || r == ';' })
}

func (c *Console) billCreateBudget(v *visit) error {
	v.view.Area = "budgets"
	f := v.form()
	in := api.BudgetCreate{Name: strings.TrimSpace(f.Get("name")), Amount: strings.TrimSpace(f.Get("amount")),
		VDC: f.Get("vdc"), Emails: billSplitList(f.Get("emails"))}
	var err error
	for _, s := range billSplitList(strings.ReplaceAll(f.Get("thresholds"), "%", "")) {
		t, perr := strconv.Atoi(s)
		if perr != nil {
			err = billFieldError("thresholds", fmt.Sprintf("%q is not a whole percentage: give numbers like 50, 80, 100", s))
			break
		}
		in.Thresholds = append(in.Thresholds, t)
	}
	if err == nil {
		_, err = v.api.CreateBudget(v.r.Context(), v.org.Org, in)
	}
	if err != nil {
		d, derr := c.billBudgetsData(v)
		if derr != nil {
			return derr
		}
		return v.formError("bill-budgets", d, err)
	}
	return v.redirect(v.orgPath("budgets"), fmt.Sprintf("Budget %s created.", in.Name))
}

func (c *Console) billUpdateBudgetAmount(v *visit) error {
	v.view.Area = "budgets"
	name := v.r.PathValue("budget")
	amount := strings.TrimSpace(v.form().Get("amount"))
	if _, err := v.api.UpdateBudget(v.r.Context(), v.org.Org, name, api.BudgetUpdate{Amount: &amount}); err != nil {
		d, derr := c.billBudgetsData(v)
		if derr != nil {
			return derr
		}
		return billActionError(v, "bill-budgets", d, err)
	}
	return v.redirect(v.orgPath("budgets"), fmt.Sprintf("Budget %s is now %s %s a month.", name, amount, v.view.Provider.Currency))
}

func (c *Console) billDeleteBudget(v *visit) error {
	v.view.Area = "budgets"
	name := v.r.PathValue("budget")
	if err := v.api.DeleteBudget(v.r.Context(), v.org.Org, name); err != nil {
		d, derr := c.billBudgetsData(v)
		if derr != nil {
			return derr
		}
		return billActionError(v, "bill-budgets", d, err)
	}
	return v.redirect(v.orgPath("budgets"), fmt.Sprintf("Budget %s deleted.", name))
}

// Invoices.

type billInvoicesData struct {
	Invoices []billInvoiceRow
	Next     string // cursor of the next page
}

type billInvoiceRow struct {
	api.Invoice
	// Due is what is left to pay: the total of a finalized invoice not yet
	// paid, nothing otherwise (a draft is not due yet).
	Due string
}

func billInvoiceRowOf(inv api.Invoice) billInvoiceRow {
	r := billInvoiceRow{Invoice: inv}
	if inv.State == "finalized" && inv.Kind != "credit_note" {
		r.Due = inv.Total
	}
	return r
}

func (c *Console) billInvoicesPage(v *visit) error {
	v.view.Area = "invoices"
	l, err := v.api.ListInvoices(v.r.Context(), v.org.Org, client.ListOptions{Limit: 50, Cursor: v.r.URL.Query().Get("cursor")})
	if err != nil {
		return err
	}
	d := billInvoicesData{Next: l.NextCursor}
	for _, inv := range l.Items {
		d.Invoices = append(d.Invoices, billInvoiceRowOf(inv))
	}
	return v.render("bill-invoices", d)
}

type billInvoiceData struct {
	billInvoiceRow
	PDF, CSV string
}

func (c *Console) billInvoicePage(v *visit) error {
	v.view.Area = "invoices"
	inv, err := v.api.GetInvoice(v.r.Context(), v.org.Org, v.r.PathValue("invoice"))
	if err != nil {
		return err
	}
	return v.render("bill-invoice", billInvoiceData{billInvoiceRow: billInvoiceRowOf(*inv),
		PDF: billAPIPath(v, "invoices", inv.ID, "pdf"), CSV: billAPIPath(v, "invoices", inv.ID, "csv")})
}
