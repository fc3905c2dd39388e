package seed

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/internal/auth"
	"github.com/sirocco-cloud/sirocco/internal/billing/rating"
	"github.com/sirocco-cloud/sirocco/internal/store"
)

func TestDemoSeedKeepsExistingData(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "s.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := Demo(ctx, st); err != nil {
		t.Fatal(err)
	}
	// The provider edits the seeded settings and catalog...
	err = st.Tx(ctx, func(tx *store.Tx) error {
		p, err := tx.GetProvider(ctx)
		if err != nil {
			return err
		}
		if p.Currency != "AUD" || p.TrialAmount != "50.00" || p.TrialDays != 30 {
			t.Errorf("demo provider %+v", p)
		}
		p.Name = "Harbour Cloud"
		if err := tx.PutProvider(ctx, p); err != nil {
			return err
		}
		z, err := tx.GetZone(ctx, "au-syd-1a")
		if err != nil {
			return err
		}
		if z.Jurisdiction != "AU" {
			t.Errorf("zone jurisdiction %q", z.Jurisdiction)
		}
		return tx.DeleteSize(ctx, "m1.large")
	})
	if err != nil {
		t.Fatal(err)
	}
	// ...and a second `make run` keeps the edits, adding back only what is missing.
	if err := Demo(ctx, st); err != nil {
		t.Fatal(err)
	}
	st.View(ctx, func(tx *store.Tx) error {
		p, _ := tx.GetProvider(ctx)
		if p.Name != "Harbour Cloud" {
			t.Errorf("second seed overwrote the provider's name: %q", p.Name)
		}
		sizes, _, _ := tx.ListSizes(ctx, store.SizeFilter{}, store.Page{})
		if len(sizes) != len(DemoSizes) {
			t.Errorf("%d sizes, want %d", len(sizes), len(DemoSizes))
		}
		return nil
	})
}

func TestAdminIsCreatedOnce(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "s.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	pw, created, err := Admin(ctx, st, "admin@sirocco.local")
	if err != nil || !created || len(pw) < 16 {
		t.Fatalf("first: %q %v %v", pw, created, err)
	}
	pw2, created, err := Admin(ctx, st, "admin@sirocco.local")
	if err != nil || created || pw2 != "" {
		t.Fatalf("second: %q %v %v", pw2, created, err)
	}
	st.View(ctx, func(tx *store.Tx) error {
		u, err := tx.GetUserByEmail(ctx, "admin@sirocco.local")
		if err != nil {
			t.Fatal(err)
		}
		if !auth.CheckPassword(u.PasswordHash, pw) || !u.EmailVerified {
			t.Error("admin cannot log in with the printed password")
		}
		bs, _ := tx.ListRoleBindings(ctx, u.ID, "", false)
		if len(bs) != 1 || bs[0].Role != api.RoleProviderAdmin {
			t.Errorf("bindings %+v", bs)
		}
		return nil
	})
}

// The demo prices parse as rates, and an s1.small costs what the doc says.
func TestDemoRates(t *testing.T) {
	r, err := rating.ParseRates([]byte(DemoRates))
	if err != nil {
		t.Fatal(err)
	}
	hour, _ := rating.Quote(r, 1, 1024, 10, "standard", 0)
	if hour.String() != "0.027" {
		t.Fatalf("s1.small costs %s an hour, want 0.027", hour)
	}
}
