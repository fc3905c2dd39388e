package store_test

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/sirocco-cloud/sirocco/internal/store"
)

func TestImageRoundTrip(t *testing.T) {
	openCatalogStores(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		f := newComputeFixture(t, s)
		sum := "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
		private := &store.Image{OrgID: f.acme, Name: "debian-12", Description: "ours", Kind: "kernel", OS: "debian-12",
			Cmdline: "console=ttyS0", State: "pending", Source: "upload", Expect: map[string]string{"kernel": sum},
			Meta: store.Meta{Labels: map[string]string{"team": "infra"}}}
		// The public catalog already has a debian-12: names are per owner.
		if err := s.Tx(ctx, func(tx *store.Tx) error { return tx.CreateImage(ctx, private) }); err != nil {
			t.Fatal(err)
		}
		err := s.Tx(ctx, func(tx *store.Tx) error {
			return tx.CreateImage(ctx, &store.Image{OrgID: f.acme, Name: "debian-12", Kind: "disk", State: "pending"})
		})
		if !errors.Is(err, store.ErrConflict) {
			t.Errorf("second private debian-12: %v, want ErrConflict", err)
		}
		err = s.Tx(ctx, func(tx *store.Tx) error {
			return tx.CreateImage(ctx, &store.Image{Name: "debian-12", Kind: "disk", State: "pending"})
		})
		if !errors.Is(err, store.ErrConflict) {
			t.Errorf("second public debian-12: %v, want ErrConflict", err)
		}

		get := func(org, key string) (*store.Image, error) {
			var im *store.Image
			err := s.View(ctx, func(tx *store.Tx) (err error) { im, err = tx.GetImage(ctx, org, key); return err })
			return im, err
		}
		got, err := get(f.acme, "debian-12")
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != private.ID || got.Kind != "kernel" || got.Cmdline != "console=ttyS0" || got.Source != "upload" ||
			got.Description != "ours" || got.OS != "debian-12" || !reflect.DeepEqual(got.Expect, private.Expect) ||
			len(got.Files) != 0 || got.Labels["team"] != "infra" {
			t.Errorf("private image read back as %+v", got)
		}
		public, err := get("", "debian-12")
		if err != nil || public.ID != f.image || public.OrgID != "" {
			t.Errorf("public debian-12: %+v, %v", public, err)
		}
		// Public lookups never reach private images, nor one organisation another's.
		for _, c := range []struct{ org, key string }{{"", private.ID}, {f.other, private.ID}, {f.other, "debian-12"}, {f.acme, f.image}} {
			if _, err := get(c.org, c.key); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("GetImage(%q, %s): %v, want ErrNotFound", c.org, c.key, err)
			}
		}
		byID := view(t, s, func(ctx context.Context, tx *store.Tx) (*store.Image, error) { return tx.GetImageByID(ctx, private.ID) })
		if byID.OrgID != f.acme {
			t.Errorf("GetImageByID = %+v", byID)
		}

		// The upload lands: files, state and a grown minimum disk are stored.
		err = s.Tx(ctx, func(tx *store.Tx) error {
			im, err := tx.GetImageByID(ctx, private.ID)
			if err != nil {
				return err
			}
			im.Files = []store.ImageFile{{Name: "kernel", Size: 1234, SHA256: sum}, {Name: "disk", Size: 99, SHA256: sum, VirtualSize: 1 << 30}}
			im.State, im.Message, im.MinDiskGiB, im.Description = "available", "", 1, "ours, uploaded"
			im.Labels = nil
			return tx.UpdateImage(ctx, im)
		})
		if err != nil {
			t.Fatal(err)
		}
		got, err = get(f.acme, private.ID)
		if err != nil {
			t.Fatal(err)
		}
		wantFiles := []store.ImageFile{{Name: "kernel", Size: 1234, SHA256: sum}, {Name: "disk", Size: 99, SHA256: sum, VirtualSize: 1 << 30}}
		if got.State != "available" || got.Version != 2 || got.MinDiskGiB != 1 || got.Description != "ours, uploaded" ||
			!reflect.DeepEqual(got.Files, wantFiles) || len(got.Labels) != 0 {
			t.Errorf("after update: %+v", got)
		}
	})
}

func TestListImages(t *testing.T) {
	openCatalogStores(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		f := newComputeFixture(t, s)
		err := s.Tx(ctx, func(tx *store.Tx) error {
			for _, im := range []*store.Image{
				{Name: "alpine", Kind: "disk", State: "pending", Meta: store.Meta{Labels: map[string]string{"os": "alpine"}}},
				{Name: "ubuntu", Kind: "disk", State: "available"},
				{OrgID: f.acme, Name: "golden", Kind: "disk", State: "available"},
				{OrgID: f.other, Name: "theirs", Kind: "disk", State: "available"},
			} {
				if err := tx.CreateImage(ctx, im); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		alpine, err := store.ParseLabelSelector("os=alpine")
		if err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			name   string
			filter store.ImageFilter
			page   store.Page
			want   []string
		}{
			{"public catalog", store.ImageFilter{}, store.Page{}, []string{"debian-12", "alpine", "ubuntu"}},
			{"available public", store.ImageFilter{State: "available"}, store.Page{}, []string{"debian-12", "ubuntu"}},
			{"labels", store.ImageFilter{}, store.Page{Labels: []store.LabelSelector{alpine}}, []string{"alpine"}},
			{"private", store.ImageFilter{OrgID: f.acme}, store.Page{}, []string{"golden"}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got := view(t, s, func(ctx context.Context, tx *store.Tx) ([]string, error) {
					ims, _, err := tx.ListImages(ctx, tt.filter, tt.page)
					var names []string
					for _, im := range ims {
						names = append(names, im.Name)
					}
					return names, err
				})
				if !reflect.DeepEqual(got, tt.want) {
					t.Errorf("got %v, want %v", got, tt.want)
				}
			})
		}

		var paged []string
		p := store.Page{Limit: 2}
		for range 5 {
			type page struct {
				ims  []store.Image
				next string
			}
			got := view(t, s, func(ctx context.Context, tx *store.Tx) (page, error) {
				ims, next, err := tx.ListImages(ctx, store.ImageFilter{}, p)
				return page{ims, next}, err
			})
			for _, im := range got.ims {
				paged = append(paged, im.Name)
			}
			if got.next == "" {
				break
			}
			p.Cursor = got.next
		}
		if want := []string{"debian-12", "alpine", "ubuntu"}; !reflect.DeepEqual(paged, want) {
			t.Errorf("paged %v, want %v", paged, want)
		}
	})
}

func TestDeleteImageInUse(t *testing.T) {
	openCatalogStores(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		f := newComputeFixture(t, s)
		v := f.vm(f.acme, f.acmeDE, "h-de", "web")
		createVMs(t, s, v)
		if n := view(t, s, func(ctx context.Context, tx *store.Tx) (int, error) { return tx.ImageUsers(ctx, f.image) }); n != 1 {
			t.Errorf("ImageUsers = %d, want 1", n)
		}
		err := s.Tx(ctx, func(tx *store.Tx) error { return tx.DeleteImage(ctx, f.image) })
		if !errors.Is(err, store.ErrConflict) {
			t.Fatalf("delete an image in use: %v, want ErrConflict", err)
		}
		err = s.Tx(ctx, func(tx *store.Tx) error {
			if err := tx.SetImageCopies(ctx, "h-de", []string{f.image}); err != nil {
				return err
			}
			if err := tx.DeleteVM(ctx, v.ID); err != nil {
				return err
			}
			return tx.DeleteImage(ctx, f.image)
		})
		if err != nil {
			t.Fatalf("delete once unused: %v", err)
		}
		err = s.View(ctx, func(tx *store.Tx) error { _, err := tx.GetImageByID(ctx, f.image); return err })
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("deleted image: %v, want ErrNotFound", err)
		}
		// Its cached copies are forgotten with it.
		if hosts := view(t, s, func(ctx context.Context, tx *store.Tx) ([]string, error) { return tx.ImageCopyHosts(ctx, f.image) }); len(hosts) != 0 {
			t.Errorf("copies of a deleted image: %v", hosts)
		}
		err = s.Tx(ctx, func(tx *store.Tx) error { return tx.DeleteImage(ctx, f.image) })
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("delete twice: %v, want ErrNotFound", err)
		}
	})
}

func TestSetImageCopies(t *testing.T) {
	openCatalogStores(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		f := newComputeFixture(t, s)
		second := &store.Image{Name: "ubuntu", Kind: "disk", State: "available"}
		if err := s.Tx(ctx, func(tx *store.Tx) error { return tx.CreateImage(ctx, second) }); err != nil {
			t.Fatal(err)
		}
		report := func(host string, ids ...string) {
			t.Helper()
			if err := s.Tx(ctx, func(tx *store.Tx) error { return tx.SetImageCopies(ctx, host, ids) }); err != nil {
				t.Fatalf("SetImageCopies(%s, %v): %v", host, ids, err)
			}
		}
		holders := func(image string) []string {
			t.Helper()
			return view(t, s, func(ctx context.Context, tx *store.Tx) ([]string, error) { return tx.ImageCopyHosts(ctx, image) })
		}

		// An image the catalog does not know (deleted meanwhile) is ignored.
		report("h-de", f.image, second.ID, store.NewID())
		report("h-au", f.image)
		if got := holders(f.image); !reflect.DeepEqual(got, []string{"h-au", "h-de"}) {
			t.Errorf("holders of debian-12: %v", got)
		}
		if got := holders(second.ID); !reflect.DeepEqual(got, []string{"h-de"}) {
			t.Errorf("holders of ubuntu: %v", got)
		}

		// A report replaces the host's set and leaves other hosts alone.
		report("h-de", second.ID)
		if got := holders(f.image); !reflect.DeepEqual(got, []string{"h-au"}) {
			t.Errorf("holders of debian-12 after h-de evicted it: %v", got)
		}
		if got := holders(second.ID); !reflect.DeepEqual(got, []string{"h-de"}) {
			t.Errorf("holders of ubuntu after the second report: %v", got)
		}
		report("h-de")
		if got := holders(second.ID); len(got) != 0 {
			t.Errorf("holders of ubuntu after an empty report: %v", got)
		}
	})
}
