// Package rater is the rating loop: it rates closed hour windows of usage
// spans into stored rated lines, each window in one transaction with the
// watermark, so a crash anywhere leaves either the whole window or nothing,
// and a re-run produces the same lines.
package rater

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/shopspring/decimal"

	"github.com/sirocco-cloud/sirocco/internal/billing/rating"
	"github.com/sirocco-cloud/sirocco/internal/store"
)

// DefaultLateness is how many windows before the watermark each run
// re-rates, to take in late data (CloudKitty's wait_periods=2).
const DefaultLateness = 2

// Rater rates usage. Run RunOnce every minute, as a singleton under the
// store lease.
type Rater struct {
	Store *store.Store
	// Lateness is the number of rated windows re-rated by each run
	// (DefaultLateness when 0).
	Lateness int

	// crash, in tests, fails a window's transaction after its lines are
	// inserted, as a crash before the commit would.
	crash func(w rating.Window) error
}

// RunOnce rates every closed hour window from the watermark (from the
// earliest span's hour the first time) up to now's hour, re-rating the last
// Lateness windows before the watermark. A window whose input is unchanged
// stores nothing; changed input stores delta lines, so the lines of a key
// (organisation, resource, meter, window start) always sum to its current
// rating.
func (r *Rater) RunOnce(ctx context.Context, now time.Time) error {
	lateness := r.Lateness
	if lateness <= 0 {
		lateness = DefaultLateness
	}
	end := now.UTC().Truncate(time.Hour)
	var from time.Time
	err := r.Store.View(ctx, func(tx *store.Tx) error {
		until, err := tx.RatedUntil(ctx)
		if err != nil {
			return err
		}
		if !until.IsZero() {
			from = until.Add(-time.Duration(lateness) * time.Hour)
			return nil
		}
		first, err := tx.EarliestSpanStart(ctx)
		from = first.Truncate(time.Hour)
		return err
	})
	if err != nil {
		return fmt.Errorf("rate: %w", err)
	}
	if from.IsZero() {
		return nil // no usage yet
	}
	runID := store.NewID()
	for start := from; start.Before(end); start = start.Add(time.Hour) {
		w := rating.Window{Start: start, End: start.Add(time.Hour)}
		if err := r.Store.Tx(ctx, func(tx *store.Tx) error { return r.window(ctx, tx, w, runID) }); err != nil {
			return fmt.Errorf("rate %s: %w", start.Format(time.RFC3339), err)
		}
	}
	return nil
}

// window rates w and stores what changed, then moves the watermark past w.
func (r *Rater) window(ctx context.Context, tx *store.Tx, w rating.Window, runID string) error {
	from, to := rating.SpanRange(w)
	stored, err := tx.ListSpans(ctx, store.SpanFilter{From: from, To: to})
	if err != nil {
		return err
	}
	spans := make([]rating.Span, len(stored))
	for i, s := range stored {
		spans[i] = rating.Span{ID: s.ID, OrgID: s.OrgID, VDCID: s.VDCID, Region: s.RegionID, Model: s.Model,
			ResourceKind: s.ResourceKind, ResourceID: s.ResourceID, ResourceName: s.ResourceName, Meter: s.Meter,
			VCPU: s.VCPU, MemoryMiB: s.MemoryMiB, SizeGiB: s.SizeGiB, Class: s.Class, PowerOnID: s.PowerOnID,
			Start: s.StartedAt, End: s.EndedAt}
	}
	plans, overrides, err := Prices(ctx, tx)
	if err != nil {
		return err
	}
	lines, err := rating.Rate(rating.Priced(spans, plans), plans, overrides, w)
	if err != nil {
		return err
	}
	samples, err := tx.ListEgress(ctx, "", w.Start, w.End)
	if err != nil {
		return err
	}
	egress := make([]rating.Egress, len(samples))
	for i, e := range samples {
		egress[i] = rating.Egress{OrgID: e.OrgID, VDCID: e.VDCID, Region: e.RegionID, Model: e.Model, ResourceID: e.VMID,
			ResourceName: e.VMName, At: e.SampledAt, Bytes: e.Delta}
	}
	lines = append(lines, rating.RateEgress(egress, plans, overrides, w)...)
	existing, err := tx.ListRatedLines(ctx, store.RatedLineFilter{From: w.Start, To: w.End})
	if err != nil {
		return err
	}
	inserts, err := changes(lines, existing, runID)
	if err != nil {
		return err
	}
	if _, err := tx.InsertRatedLines(ctx, inserts); err != nil {
		return err
	}
	if r.crash != nil {
		if err := r.crash(w); err != nil {
			return err
		}
	}
	until, err := tx.RatedUntil(ctx)
	if err != nil {
		return err
	}
	if w.End.After(until) {
		return tx.SetRatedUntil(ctx, w.End)
	}
	return nil
}

// Prices reads the price plans and every organisation's overrides for
// rating.
func Prices(ctx context.Context, tx *store.Tx) ([]rating.Plan, []rating.Override, error) {
	sp, err := tx.ListPricePlans(ctx)
	if err != nil {
		return nil, nil, err
	}
	plans := make([]rating.Plan, len(sp))
	for i, p := range sp {
		rates, err := rating.ParseRates([]byte(p.Rates))
		if err != nil {
			return nil, nil, fmt.Errorf("price plan %s: %w", p.ID, err)
		}
		plans[i] = rating.Plan{ID: p.ID, Region: p.RegionID, Model: p.Model, Currency: p.Currency, EffectiveFrom: p.EffectiveFrom, Rates: rates}
	}
	so, err := tx.ListPriceOverrides(ctx, "")
	if err != nil {
		return nil, nil, err
	}
	overrides := make([]rating.Override, len(so))
	for i, o := range so {
		rates, err := rating.ParsePartialRates([]byte(o.Rates))
		if err != nil {
			return nil, nil, fmt.Errorf("price override %s: %w", o.ID, err)
		}
		pct, err := decimal.NewFromString(o.DiscountPercent)
		if err != nil {
			return nil, nil, fmt.Errorf("price override %s: discount: %w", o.ID, err)
		}
		overrides[i] = rating.Override{OrgID: o.OrgID, EffectiveFrom: o.EffectiveFrom, DiscountPercent: pct, Rates: rates}
	}
	return plans, overrides, nil
}

// key is what delta lines are computed over.
type key struct {
	org, resource, meter string
	start                time.Time
}

// stored is the existing lines of a key, summed.
type stored struct {
	lines       []store.RatedLine
	qty, amount decimal.Decimal
}

// changes compares a window's fresh rating with its stored lines and
// returns the lines to insert: none for a key whose sums are unchanged;
// the new lines for a new key; for a changed key, one delta line when the
// price is unchanged, else lines reversing the stored ones (per price) and
// the new lines; and reversals for keys that are no longer rated. Every
// line keeps Amount = Quantity × UnitPrice, and the lines of a key sum to
// its current rating. Input hashes of lines after the first of a key are
// derived from the count of lines before them, so they are new and the
// same on any re-run.
func changes(lines []rating.Line, existing []store.RatedLine, runID string) ([]store.RatedLine, error) {
	old := map[key]*stored{}
	var oldKeys []key
	for _, l := range existing {
		k := key{l.OrgID, l.ResourceID, l.Meter, l.WindowStart.UTC()}
		q, err := decimal.NewFromString(l.Quantity)
		if err != nil {
			return nil, fmt.Errorf("rated line %s: quantity: %w", l.ID, err)
		}
		a, err := decimal.NewFromString(l.Amount)
		if err != nil {
			return nil, fmt.Errorf("rated line %s: amount: %w", l.ID, err)
		}
		s, ok := old[k]
		if !ok {
			s = &stored{qty: decimal.Zero, amount: decimal.Zero}
			old[k] = s
			oldKeys = append(oldKeys, k)
		}
		s.lines = append(s.lines, l)
		s.qty, s.amount = s.qty.Add(q), s.amount.Add(a)
	}
	fresh := map[key][]rating.Line{}
	var keys []key
	for _, l := range lines {
		k := key{l.OrgID, l.ResourceID, l.Meter, l.Window.Start.UTC()}
		if _, ok := fresh[k]; !ok {
			keys = append(keys, k)
		}
		fresh[k] = append(fresh[k], l)
	}
	var out []store.RatedLine
	for _, k := range keys {
		news := fresh[k]
		s := old[k]
		if s == nil {
			for _, l := range news {
				out = append(out, toStored(l, l.InputHash, runID))
			}
			continue
		}
		q, a := decimal.Zero, decimal.Zero
		for _, l := range news {
			q, a = q.Add(l.Quantity), a.Add(l.Amount)
		}
		if q.Equal(s.qty) && a.Equal(s.amount) {
			continue // unchanged: a re-run
		}
		n := len(s.lines)
		samePrice := len(news) == 1
		for _, l := range s.lines {
			samePrice = samePrice && l.UnitPrice == news[0].UnitPrice.String()
		}
		if samePrice {
			delta := news[0]
			delta.Quantity, delta.Amount = q.Sub(s.qty), a.Sub(s.amount)
			out = append(out, toStored(delta, derive(delta.InputHash, "delta", n), runID))
			continue
		}
		out = append(out, reverse(s, news[0].InputHash, n, runID)...)
		for _, l := range news {
			out = append(out, toStored(l, derive(l.InputHash, "new", n), runID))
		}
	}
	for _, k := range oldKeys {
		if _, ok := fresh[k]; ok {
			continue
		}
		if s := old[k]; !s.qty.IsZero() || !s.amount.IsZero() {
			out = append(out, reverse(s, "void", len(s.lines), runID)...)
		}
	}
	return out, nil
}

// reverse returns lines cancelling s, one per unit price.
func reverse(s *stored, basis string, n int, runID string) []store.RatedLine {
	type sum struct {
		qty, amount decimal.Decimal
		like        store.RatedLine
	}
	byPrice := map[string]*sum{}
	var prices []string
	for _, l := range s.lines {
		q, _ := decimal.NewFromString(l.Quantity) // parsed by changes already
		a, _ := decimal.NewFromString(l.Amount)
		p, ok := byPrice[l.UnitPrice]
		if !ok {
			p = &sum{qty: decimal.Zero, amount: decimal.Zero, like: l}
			byPrice[l.UnitPrice] = p
			prices = append(prices, l.UnitPrice)
		}
		p.qty, p.amount = p.qty.Add(q), p.amount.Add(a)
	}
	slices.Sort(prices)
	var out []store.RatedLine
	for _, price := range prices {
		p := byPrice[price]
		if p.qty.IsZero() && p.amount.IsZero() {
			continue
		}
		l := p.like
		l.ID, l.CreatedAt, l.PostedTxn, l.InvoiceID, l.RunID = "", time.Time{}, "", "", runID
		l.Quantity, l.Amount = p.qty.Neg().String(), p.amount.Neg().String()
		l.InputHash = derive(basis, "reverse:"+price, n)
		out = append(out, l)
	}
	return out
}

// derive makes the input hash of a line added after n lines of its key.
func derive(hash, what string, n int) string {
	sum := sha256.Sum256([]byte(hash + "\x00" + what + "\x00" + strconv.Itoa(n)))
	return hex.EncodeToString(sum[:])
}

func toStored(l rating.Line, hash, runID string) store.RatedLine {
	return store.RatedLine{OrgID: l.OrgID, VDCID: l.VDCID, ResourceKind: l.ResourceKind, ResourceID: l.ResourceID,
		ResourceName: l.ResourceName, Meter: l.Meter, WindowStart: l.Window.Start, WindowEnd: l.Window.End,
		Quantity: l.Quantity.String(), Unit: l.Unit, UnitPrice: l.UnitPrice.String(), Amount: l.Amount.String(),
		Currency: l.Currency, PlanID: l.PlanID, InputHash: hash, RunID: runID}
}
