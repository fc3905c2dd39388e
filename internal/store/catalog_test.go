package store_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/sirocco-cloud/sirocco/internal/store"
	"github.com/sirocco-cloud/sirocco/internal/store/storetest"
)

// openCatalogStores runs fn on a fresh SQLite and a fresh PostgreSQL store.
func openCatalogStores(t *testing.T, fn func(t *testing.T, s *store.Store)) {
	for _, c := range []struct {
		name string
		dsn  func(t *testing.T) string
	}{
		{"sqlite", func(t *testing.T) string { return filepath.Join(t.TempDir(), "sirocco.db") }},
		{"postgres", func(t *testing.T) string { return storetest.PostgresURL(t) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, err := store.Open(context.Background(), c.dsn(t), store.Options{})
			if err != nil {
				t.Fatalf("open: %v", err)
			}
			t.Cleanup(func() { s.Close() })
			fn(t, s)
		})
	}
}

func TestProviderRow(t *testing.T) {
	openCatalogStores(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		var p *store.Provider
		if err := s.View(ctx, func(tx *store.Tx) (err error) { p, err = tx.GetProvider(ctx); return err }); err != nil {
			t.Fatal(err)
		}
		if want := store.DefaultProvider(); *p != want || p.Version != 0 {
			t.Fatalf("before any save: %+v, want the defaults %+v", p, want)
		}
		// Saved twice: the first save inserts the row, the second updates it.
		for i, amount := range []string{"25.50", "0.000001"} {
			err := s.Tx(ctx, func(tx *store.Tx) error {
				p, err := tx.GetProvider(ctx)
				if err != nil {
					return err
				}
				p.TrialAmount, p.SignupEnabled = amount, false
				p.Branding = store.Branding{PrimaryColor: "#112233", SupportEmail: "help@example.test"}
				return tx.PutProvider(ctx, p)
			})
			if err != nil {
				t.Fatalf("save %d: %v", i, err)
			}
			var got *store.Provider
			if err := s.View(ctx, func(tx *store.Tx) (err error) { got, err = tx.GetProvider(ctx); return err }); err != nil {
				t.Fatal(err)
			}
			if got.TrialAmount != amount || got.SignupEnabled || got.Version != int64(i+1) || got.Branding.PrimaryColor != "#112233" ||
				got.Branding.SupportEmail != "help@example.test" || got.Name != "Sirocco" || got.UpdatedAt.IsZero() {
				t.Errorf("after save %d: %+v", i, got)
			}
		}
	})
}

func TestHostAndSizeRows(t *testing.T) {
	openCatalogStores(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		beat := time.Date(2025, 3, 4, 5, 6, 7, 123456000, time.UTC)
		err := s.Tx(ctx, func(tx *store.Tx) error {
			if err := tx.CreateRegion(ctx, &store.Region{Meta: store.Meta{ID: "r1"}, Jurisdiction: "DE"}); err != nil {
				return err
			}
			if err := tx.CreateZone(ctx, &store.Zone{Meta: store.Meta{ID: "z1"}, RegionID: "r1"}); err != nil {
				return err
			}
			h := &store.Host{Meta: store.Meta{ID: "h1"}, ZoneID: "z1", State: "ready", VCPU: 8, MemoryMiB: 1 << 16, DiskGiB: 1024,
				CPUOvercommit: 1.1, MemoryOvercommit: 1.25, Acceleration: "kvm", LastHeartbeat: &beat}
			if err := tx.CreateHost(ctx, h); err != nil {
				return err
			}
			for _, z := range []*store.Size{
				{Meta: store.Meta{ID: "a"}, VCPU: 1, MemoryMiB: 512, DiskGiB: 5, Deprecated: true},
				{Meta: store.Meta{ID: "b"}, VCPU: 2, MemoryMiB: 2048, DiskGiB: 20},
			} {
				if err := tx.CreateSize(ctx, z); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		err = s.View(ctx, func(tx *store.Tx) error {
			h, err := tx.GetHost(ctx, "h1")
			if err != nil {
				return err
			}
			if h.CPUOvercommit != 1.1 || h.MemoryOvercommit != 1.25 || h.LastHeartbeat == nil || !h.LastHeartbeat.Equal(beat) || h.DiskGiB != 1024 {
				t.Errorf("host read back as %+v", h)
			}
			if hosts, vdcs, err := tx.ZoneUsers(ctx, "z1"); err != nil || hosts != 1 || vdcs != 0 {
				t.Errorf("zone users: %d hosts, %d vdcs, %v", hosts, vdcs, err)
			}
			all, _, err := tx.ListSizes(ctx, store.SizeFilter{}, store.Page{})
			if err != nil {
				return err
			}
			current, _, err := tx.ListSizes(ctx, store.SizeFilter{ExcludeDeprecated: true}, store.Page{})
			if err != nil {
				return err
			}
			if len(all) != 2 || !all[0].Deprecated || len(current) != 1 || current[0].ID != "b" {
				t.Errorf("sizes: all %+v, current %+v", all, current)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}
