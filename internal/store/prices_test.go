package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sirocco-cloud/sirocco/internal/store"
)

func TestPricePlansEffectiveDated(t *testing.T) {
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	openStoresWithClock(t, func() time.Time { return now }, func(t *testing.T, s *store.Store) {
		newComputeFixture(t, s) // regions de and au
		plan := func(region, model string, from time.Time, vcpu string) *store.PricePlan {
			return &store.PricePlan{RegionID: region, Model: model, EffectiveFrom: from, Currency: "AUD",
				Rates: `{"vcpu_hour":"` + vcpu + `"}`, Description: model + " " + vcpu}
		}
		jan, mar, apr := now.AddDate(0, -2, 0), now.AddDate(0, 0, -1), now.AddDate(0, 1, 0)
		plans := []*store.PricePlan{
			plan("de", "payg", mar, "0.02"),
			plan("de", "payg", jan, "0.01"),
			plan("de", "payg", apr, "0.03"), // announced, not yet in force
			plan("au", "payg", jan, "0.05"),
			plan("de", "reservation", jan, "0.009"),
		}
		for _, p := range plans {
			if err := meterTx(t, s, func(ctx context.Context, tx *store.Tx) error { return tx.CreatePricePlan(ctx, p) }); err != nil {
				t.Fatalf("create %s: %v", p.Description, err)
			}
		}
		for _, c := range []struct {
			name string
			p    *store.PricePlan
		}{
			{"same region, model and date", plan("de", "payg", mar, "0.5")},
			{"unknown region", plan("mars", "payg", mar, "0.5")},
		} {
			if err := meterTx(t, s, func(ctx context.Context, tx *store.Tx) error { return tx.CreatePricePlan(ctx, c.p) }); !errors.Is(err, store.ErrConflict) {
				t.Errorf("%s: %v, want ErrConflict", c.name, err)
			}
		}

		list := view(t, s, func(ctx context.Context, tx *store.Tx) ([]store.PricePlan, error) { return tx.ListPricePlans(ctx) })
		var got []string
		for _, p := range list {
			got = append(got, p.Description)
		}
		if want := []string{"payg 0.05", "payg 0.01", "payg 0.02", "payg 0.03", "reservation 0.009"}; !sameStrings(got, want) {
			t.Fatalf("plans %q, want by region, model, date %q", got, want)
		}
		read := view(t, s, func(ctx context.Context, tx *store.Tx) (*store.PricePlan, error) {
			return tx.GetPricePlan(ctx, plans[0].ID)
		})
		if read.Rates != `{"vcpu_hour":"0.02"}` || read.Currency != "AUD" || !read.EffectiveFrom.Equal(mar) || read.Version != 1 {
			t.Fatalf("read back %+v", read)
		}

		// The plan in force is the latest one not after the instant.
		for _, c := range []struct {
			at   time.Time
			want string
		}{
			{jan, "payg 0.01"},
			{mar.Add(-time.Microsecond), "payg 0.01"},
			{mar, "payg 0.02"},
			{now, "payg 0.02"},
			{apr, "payg 0.03"},
		} {
			p := view(t, s, func(ctx context.Context, tx *store.Tx) (*store.PricePlan, error) {
				return tx.PricePlanAt(ctx, "de", "payg", c.at)
			})
			if p.Description != c.want {
				t.Errorf("plan at %s: %s, want %s", c.at, p.Description, c.want)
			}
		}
		err := s.View(context.Background(), func(tx *store.Tx) error {
			_, err := tx.PricePlanAt(context.Background(), "de", "payg", jan.Add(-time.Second))
			return err
		})
		if !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("plan before the first: %v, want ErrNotFound", err)
		}

		// Only a plan not yet in force can go: bills were rated by the others.
		for _, c := range []struct {
			name, id string
			want     error
		}{
			{"in force", plans[0].ID, store.ErrConflict},
			{"superseded", plans[1].ID, store.ErrConflict},
			{"future", plans[2].ID, nil},
			{"already deleted", plans[2].ID, store.ErrNotFound},
		} {
			err := meterTx(t, s, func(ctx context.Context, tx *store.Tx) error { return tx.DeletePricePlan(ctx, c.id) })
			if !errors.Is(err, c.want) || (err == nil) != (c.want == nil) {
				t.Errorf("delete %s plan: %v, want %v", c.name, err, c.want)
			}
		}
		if n := len(view(t, s, func(ctx context.Context, tx *store.Tx) ([]store.PricePlan, error) { return tx.ListPricePlans(ctx) })); n != 4 {
			t.Fatalf("%d plans after deleting the future one, want 4", n)
		}
	})
}

func TestPriceOverridesPerOrganisation(t *testing.T) {
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	openStoresWithClock(t, func() time.Time { return now }, func(t *testing.T, s *store.Store) {
		f := newComputeFixture(t, s)
		past, future := now.AddDate(0, -1, 0), now.AddDate(0, 1, 0)
		mk := func(org string, from time.Time, pct string) *store.PriceOverride {
			return &store.PriceOverride{OrgID: org, EffectiveFrom: from, DiscountPercent: pct, Note: "deal " + pct}
		}
		ovs := []*store.PriceOverride{mk(f.acme, past, "10"), mk(f.acme, future, "20"), mk(f.other, past, "5")}
		for _, o := range ovs {
			if err := meterTx(t, s, func(ctx context.Context, tx *store.Tx) error { return tx.CreatePriceOverride(ctx, o) }); err != nil {
				t.Fatal(err)
			}
		}
		if ovs[0].Rates != "{}" {
			t.Errorf("override without rates stores %q, want {}", ovs[0].Rates)
		}
		for _, c := range []struct {
			name string
			o    *store.PriceOverride
		}{
			{"same organisation and date", mk(f.acme, past, "15")},
			{"unknown organisation", mk(store.NewID(), past, "15")},
		} {
			if err := meterTx(t, s, func(ctx context.Context, tx *store.Tx) error { return tx.CreatePriceOverride(ctx, c.o) }); !errors.Is(err, store.ErrConflict) {
				t.Errorf("%s: %v, want ErrConflict", c.name, err)
			}
		}
		acme := view(t, s, func(ctx context.Context, tx *store.Tx) ([]store.PriceOverride, error) {
			return tx.ListPriceOverrides(ctx, f.acme)
		})
		if len(acme) != 2 || acme[0].DiscountPercent != "10" || acme[1].DiscountPercent != "20" {
			t.Fatalf("acme's overrides %+v, want 10 %% then 20 %%", acme)
		}
		in := view(t, s, func(ctx context.Context, tx *store.Tx) (*store.PriceOverride, error) {
			return tx.PriceOverrideAt(ctx, f.acme, now)
		})
		if in.ID != ovs[0].ID {
			t.Fatalf("override in force %+v, want the 10 %% one", in)
		}
		for _, c := range []struct {
			name, org, id string
			want          error
		}{
			{"of another organisation", f.other, ovs[1].ID, store.ErrNotFound},
			{"in force", f.acme, ovs[0].ID, store.ErrConflict},
			{"future", f.acme, ovs[1].ID, nil},
		} {
			err := meterTx(t, s, func(ctx context.Context, tx *store.Tx) error { return tx.DeletePriceOverride(ctx, c.org, c.id) })
			if !errors.Is(err, c.want) || (err == nil) != (c.want == nil) {
				t.Errorf("delete override %s: %v, want %v", c.name, err, c.want)
			}
		}
		if all := view(t, s, func(ctx context.Context, tx *store.Tx) ([]store.PriceOverride, error) {
			return tx.ListPriceOverrides(ctx, "")
		}); len(all) != 2 {
			t.Fatalf("%d overrides left, want 2", len(all))
		}
	})
}
