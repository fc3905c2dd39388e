package ledger

import (
	"context"
	"time"

	"github.com/shopspring/decimal"

	"github.com/sirocco-cloud/sirocco/internal/billing/rater"
	"github.com/sirocco-cloud/sirocco/internal/billing/rating"
	"github.com/sirocco-cloud/sirocco/internal/store"
)

// unrated prices an organisation's usage that rating has not reached: from
// the rating watermark (from its first span when rating never ran) to now,
// at the prices in force. Closed spans past the watermark count too, not
// only open ones: a VM stopped ten minutes ago is not rated yet either.
func (l *Ledger) unrated(ctx context.Context, tx *store.Tx, orgID string, now time.Time) (decimal.Decimal, error) {
	from, err := tx.RatedUntil(ctx)
	if err != nil {
		return decimal.Zero, err
	}
	if from.IsZero() {
		// Rating never ran: everything since the organisation's first
		// span is unrated (bounded, so as not to price from year one).
		first, err := tx.ListSpans(ctx, store.SpanFilter{OrgID: orgID, From: time.Time{}, To: now})
		if err != nil || len(first) == 0 {
			return decimal.Zero, err
		}
		from = first[0].StartedAt.Truncate(time.Hour)
	}
	if !from.Before(now) {
		return decimal.Zero, nil
	}
	spanFrom, spanTo := rating.SpanRange(rating.Window{Start: from, End: now})
	stored, err := tx.ListSpans(ctx, store.SpanFilter{OrgID: orgID, From: spanFrom, To: spanTo})
	if err != nil || len(stored) == 0 {
		return decimal.Zero, err
	}
	spans := make([]rating.Span, len(stored))
	for i, s := range stored {
		spans[i] = rating.Span{ID: s.ID, OrgID: s.OrgID, VDCID: s.VDCID, Region: s.RegionID, Model: s.Model,
			ResourceKind: s.ResourceKind, ResourceID: s.ResourceID, ResourceName: s.ResourceName, Meter: s.Meter,
			VCPU: s.VCPU, MemoryMiB: s.MemoryMiB, SizeGiB: s.SizeGiB, Class: s.Class, PowerOnID: s.PowerOnID,
			Start: s.StartedAt, End: s.EndedAt}
	}
	plans, overrides, err := rater.Prices(ctx, tx)
	if err != nil {
		return decimal.Zero, err
	}
	return rating.Accrued(rating.Priced(spans, plans), plans, overrides, from, now)
}

// Display formats an amount for people: rounded half-up to the currency's
// minor unit, with all its places ("12.30", "-0.01", "1200").
func Display(d decimal.Decimal, currency string) string {
	return rating.Round(d, currency).StringFixed(rating.MinorUnits(currency))
}
