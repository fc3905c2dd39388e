package metering_test

import (
	"context"
	"testing"

	"github.com/sirocco-cloud/sirocco/internal/billing/rating"
	"github.com/sirocco-cloud/sirocco/internal/metering"
	"github.com/sirocco-cloud/sirocco/internal/store"
)

// A data disk is billed from creation to deletion at its size, a new span
// per size; the reconciler leaves a metered disk alone and repairs one
// created without metering.
func TestDataDiskBilledFromCreateToDelete(t *testing.T) {
	forEachEngine(t, func(t *testing.T, f *fixture) {
		k := &store.Disk{OrgID: f.org, VDCID: f.payg.ID, Name: "data", SizeGiB: 20}
		f.tx(func(ctx context.Context, tx *store.Tx) error {
			if err := tx.CreateDisk(ctx, k); err != nil {
				return err
			}
			return metering.DiskCreated(ctx, tx, k)
		})
		f.clock.set("10:00:00")
		f.tx(func(ctx context.Context, tx *store.Tx) error {
			k.SizeGiB = 30
			if err := tx.UpdateDisk(ctx, k); err != nil {
				return err
			}
			return metering.DiskResized(ctx, tx, k)
		})
		rec := &metering.Reconciler{Store: f.s}
		f.clock.set("10:30:00")
		if err := rec.RunOnce(context.Background(), f.clock.now); err != nil {
			t.Fatal(err)
		}
		f.clock.set("11:00:00")
		f.tx(func(ctx context.Context, tx *store.Tx) error {
			if err := tx.MarkDiskDeleting(ctx, k); err != nil {
				return err
			}
			return metering.DiskDeleted(ctx, tx, k)
		})
		spans := f.spans(k.ID, rating.SpanDisk)
		if got := interval(spans); got != "09:00:00-10:00:00 10:00:00-11:00:00" {
			t.Fatalf("disk spans %s, want 09:00:00-10:00:00 10:00:00-11:00:00", got)
		}
		if spans[0].SizeGiB != 20 || spans[1].SizeGiB != 30 || spans[1].ResourceKind != metering.KindDisk || spans[1].ResourceName != "data" ||
			spans[1].Class != metering.DiskClass || spans[1].RegionID != "de" {
			t.Fatalf("spans %+v", spans)
		}

		// Created behind metering's back: the reconciler opens its span.
		lost := &store.Disk{OrgID: f.org, VDCID: f.payg.ID, Name: "lost", SizeGiB: 5}
		f.tx(func(ctx context.Context, tx *store.Tx) error { return tx.CreateDisk(ctx, lost) })
		if err := rec.RunOnce(context.Background(), f.clock.now); err != nil {
			t.Fatal(err)
		}
		if got := f.spans(lost.ID, rating.SpanDisk); len(got) != 1 || got[0].EndedAt != nil || got[0].Source != metering.SourceReconciler {
			t.Fatalf("unmetered disk's spans after reconciling: %+v", got)
		}
		if got := interval(f.spans(k.ID, rating.SpanDisk)); got != "09:00:00-10:00:00 10:00:00-11:00:00" {
			t.Fatalf("the reconciler changed a deleted disk's spans: %s", got)
		}
	})
}
