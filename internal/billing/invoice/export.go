package invoice

import (
	"bytes"
	"cmp"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/shopspring/decimal"

	"github.com/sirocco-cloud/sirocco/internal/billing/rating"
	"github.com/sirocco-cloud/sirocco/internal/store"
)

// stamp formats a time in exports: RFC 3339 in UTC.
func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// InvoiceCSV renders an invoice or credit note: one row per line, then the
// subtotal, credits and total rows (position empty). Amounts are the
// invoice's rounded amounts.
func InvoiceCSV(inv *store.Invoice) []byte {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	number := ""
	if inv.Number != nil {
		number = strconv.FormatInt(*inv.Number, 10)
	}
	w.Write([]string{"number", "kind", "state", "period_start", "period_end", "position", "description", "resource_kind",
		"resource_id", "meter", "quantity", "unit", "unit_price", "amount", "currency"})
	row := func(pos, desc, kind, id, meter, qty, unit, price, amount string) {
		w.Write([]string{number, inv.Kind, inv.State, stamp(inv.PeriodStart), stamp(inv.PeriodEnd), pos, desc, kind, id, meter,
			qty, unit, price, amount, inv.Currency})
	}
	for _, l := range inv.Lines {
		row(strconv.Itoa(l.Position), l.Description, l.ResourceKind, l.ResourceID, l.Meter, l.Quantity, l.Unit, l.UnitPrice, l.Amount)
	}
	row("", "Subtotal", "", "", "", "", "", "", inv.Subtotal)
	row("", "Credits", "", "", "", "", "", "", inv.Credits)
	row("", "Total", "", "", "", "", "", "", inv.Total)
	w.Flush()
	return b.Bytes()
}

// RatedLines reads an organisation's rated lines whose window starts in
// [from, to), in window order.
func (iv *Invoicer) RatedLines(ctx context.Context, orgID string, from, to time.Time) ([]store.RatedLine, error) {
	var lines []store.RatedLine
	err := iv.Store.View(ctx, func(tx *store.Tx) (err error) {
		lines, err = tx.ListRatedLines(ctx, store.RatedLineFilter{OrgID: orgID, From: from, To: to})
		return err
	})
	return lines, err
}

// UsageCSV renders rated lines as the usage export: one row per line with
// its exact, unrounded amount.
func UsageCSV(lines []store.RatedLine) []byte {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	w.Write([]string{"window_start", "window_end", "resource_kind", "resource_id", "resource_name", "vdc_id", "meter",
		"quantity", "unit", "unit_price", "amount", "currency"})
	for _, l := range lines {
		w.Write([]string{stamp(l.WindowStart), stamp(l.WindowEnd), l.ResourceKind, l.ResourceID, l.ResourceName, l.VDCID, l.Meter,
			l.Quantity, l.Unit, l.UnitPrice, l.Amount, l.Currency})
	}
	w.Flush()
	return b.Bytes()
}

// Usage groupings.
const (
	GroupResource = "resource"
	GroupDay      = "day"
)

// UsageRow is usage summed per resource and meter, or per UTC day and
// meter. Amount is exact; Rounded is it rounded half-up to the currency's
// minor unit.
type UsageRow struct {
	Key          string // resource ID, or the day as 2006-01-02
	ResourceKind string // for GroupResource
	ResourceName string // for GroupResource
	Meter        string
	Quantity     decimal.Decimal
	Unit         string
	Amount       decimal.Decimal
	Rounded      decimal.Decimal
	Currency     string
}

// Summarize groups rated lines by resource or by day (GroupResource,
// GroupDay), each row per meter, in key then meter order.
func Summarize(lines []store.RatedLine, by string) ([]UsageRow, error) {
	if by != GroupResource && by != GroupDay {
		return nil, fmt.Errorf("group usage by %q: want %s or %s", by, GroupResource, GroupDay)
	}
	rows := map[string]*UsageRow{}
	var order []*UsageRow
	for _, l := range lines {
		key := l.ResourceID
		if by == GroupDay {
			key = l.WindowStart.UTC().Format(time.DateOnly)
		}
		q, err := decimal.NewFromString(l.Quantity)
		if err != nil {
			return nil, fmt.Errorf("rated line %s quantity: %w", l.ID, err)
		}
		a, err := decimal.NewFromString(l.Amount)
		if err != nil {
			return nil, fmt.Errorf("rated line %s amount: %w", l.ID, err)
		}
		k := key + "\x00" + l.Meter + "\x00" + l.Currency
		r := rows[k]
		if r == nil {
			r = &UsageRow{Key: key, Meter: l.Meter, Unit: l.Unit, Currency: l.Currency}
			if by == GroupResource {
				r.ResourceKind = l.ResourceKind
			}
			rows[k] = r
			order = append(order, r)
		}
		if by == GroupResource && l.ResourceName != "" {
			r.ResourceName = l.ResourceName
		}
		r.Quantity, r.Amount = r.Quantity.Add(q), r.Amount.Add(a)
	}
	out := make([]UsageRow, 0, len(order))
	for _, r := range order {
		r.Rounded = round(r.Amount, r.Currency)
		out = append(out, *r)
	}
	slices.SortStableFunc(out, func(a, b UsageRow) int {
		return cmp.Or(cmp.Compare(a.Key, b.Key), cmp.Compare(meterRank(a.Meter), meterRank(b.Meter)), cmp.Compare(a.Meter, b.Meter))
	})
	return out, nil
}

// focusColumns are the FinOps FOCUS columns of the cost export, in order.
var focusColumns = []string{"BilledCost", "EffectiveCost", "ListCost", "ContractedCost", "BillingCurrency",
	"BillingPeriodStart", "BillingPeriodEnd", "ChargePeriodStart", "ChargePeriodEnd", "ChargeCategory", "ChargeDescription",
	"ResourceId", "ResourceName", "ResourceType", "ServiceName", "ServiceCategory", "SkuId", "PricingQuantity", "PricingUnit",
	"ConsumedQuantity", "ConsumedUnit", "RegionId", "ProviderName", "PublisherName", "InvoiceIssuerName",
	"SubAccountId", "SubAccountName"}

// FocusColumns returns the FOCUS export's header.
func FocusColumns() []string { return slices.Clone(focusColumns) }

// service maps a meter to FOCUS ServiceName and ServiceCategory.
func service(meter string) (name, category string) {
	switch meter {
	case rating.MeterDisk, rating.MeterSnapshot:
		return "Storage", "Storage"
	case rating.MeterPublicIP, rating.MeterEgress:
		return "Network", "Networking"
	}
	return "Compute", "Compute"
}

// FocusCSV renders an organisation's rated lines of [from, to) as a FinOps
// FOCUS cost export, one row per rated line. Costs are exact: sold at the
// rated price, Billed, Effective, List and Contracted cost are the same
// amount (negotiated prices are already in the rated price).
func (iv *Invoicer) FocusCSV(ctx context.Context, orgID string, from, to time.Time) ([]byte, error) {
	var lines []store.RatedLine
	var prov *store.Provider
	var org *store.Org
	regions := map[string]string{}
	err := iv.Store.View(ctx, func(tx *store.Tx) (err error) {
		if org, err = tx.GetOrg(ctx, orgID); err != nil {
			return err
		}
		if prov, err = tx.GetProvider(ctx); err != nil {
			return err
		}
		if lines, err = tx.ListRatedLines(ctx, store.RatedLineFilter{OrgID: orgID, From: from, To: to}); err != nil {
			return err
		}
		for _, l := range lines {
			if _, ok := regions[l.VDCID]; ok || l.VDCID == "" {
				continue
			}
			v, err := tx.GetVDC(ctx, orgID, l.VDCID)
			switch {
			case errors.Is(err, store.ErrNotFound):
				regions[l.VDCID] = "" // deleted since: its region is no longer known
			case err != nil:
				return err
			default:
				regions[l.VDCID] = v.RegionID
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	issuer := prov.Name
	if prov.Branding.DisplayName != "" {
		issuer = prov.Branding.DisplayName
	}
	orgName := org.DisplayName
	if orgName == "" {
		orgName = org.Name
	}
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	w.Write(focusColumns)
	for _, l := range lines {
		svc, cat := service(l.Meter)
		period := MonthStart(l.WindowStart)
		w.Write([]string{l.Amount, l.Amount, l.Amount, l.Amount, l.Currency,
			stamp(period), stamp(period.AddDate(0, 1, 0)), stamp(l.WindowStart), stamp(l.WindowEnd), "Usage",
			fmt.Sprintf("%s %s", l.ResourceKind, meterLabel(l.Meter)),
			l.ResourceID, l.ResourceName, l.ResourceKind, svc, cat, l.Meter, l.Quantity, l.Unit,
			l.Quantity, l.Unit, regions[l.VDCID], issuer, issuer, issuer, org.ID, orgName})
	}
	w.Flush()
	return b.Bytes(), w.Error()
}
