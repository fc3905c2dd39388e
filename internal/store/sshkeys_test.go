package store_test

import (
	"context"
	"errors"
	"testing"

	"github.com/sirocco-cloud/sirocco/internal/store"
)

func TestSSHKeyRows(t *testing.T) {
	openCatalogStores(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		f := newComputeFixture(t, s)
		laptop := &store.SSHKey{OrgID: f.acme, Name: "laptop", PublicKey: "ssh-ed25519 AAAA laptop", Fingerprint: "SHA256:one", CreatedBy: "u1"}
		ci := &store.SSHKey{OrgID: f.acme, Name: "ci", PublicKey: "ssh-ed25519 BBBB", Fingerprint: "SHA256:two"}
		// Names are per organisation: the other tenant may use the same.
		theirs := &store.SSHKey{OrgID: f.other, Name: "laptop", PublicKey: "ssh-ed25519 CCCC", Fingerprint: "SHA256:three"}
		err := s.Tx(ctx, func(tx *store.Tx) error {
			for _, k := range []*store.SSHKey{laptop, ci, theirs} {
				if err := tx.CreateSSHKey(ctx, k); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		err = s.Tx(ctx, func(tx *store.Tx) error {
			return tx.CreateSSHKey(ctx, &store.SSHKey{OrgID: f.acme, Name: "laptop", PublicKey: "ssh-ed25519 DDDD", Fingerprint: "SHA256:four"})
		})
		if !errors.Is(err, store.ErrConflict) {
			t.Errorf("second key named laptop in acme: %v, want ErrConflict", err)
		}

		err = s.View(ctx, func(tx *store.Tx) error {
			for _, ref := range []string{"laptop", laptop.ID} {
				got, err := tx.GetSSHKey(ctx, f.acme, ref)
				if err != nil {
					return err
				}
				if got.ID != laptop.ID || got.PublicKey != laptop.PublicKey || got.Fingerprint != "SHA256:one" || got.CreatedBy != "u1" ||
					got.CreatedAt.IsZero() {
					t.Errorf("acme's key by %s: %+v", ref, got)
				}
			}
			if _, err := tx.GetSSHKey(ctx, f.other, laptop.ID); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("other org reads acme's key by ID: %v, want ErrNotFound", err)
			}
			if got, err := tx.GetSSHKey(ctx, f.other, "laptop"); err != nil || got.ID != theirs.ID {
				t.Errorf("other org's own laptop: %+v, %v", got, err)
			}

			// One key per page: two pages, in creation order, then none.
			var names []string
			cursor := ""
			for range 3 {
				page, next, err := tx.ListSSHKeys(ctx, f.acme, store.Page{Limit: 1, Cursor: cursor})
				if err != nil {
					return err
				}
				for _, k := range page {
					names = append(names, k.Name)
				}
				if cursor = next; cursor == "" {
					break
				}
			}
			if len(names) != 2 || names[0] != "laptop" || names[1] != "ci" {
				t.Errorf("acme's keys page by page: %v, want [laptop ci]", names)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}

		err = s.Tx(ctx, func(tx *store.Tx) error {
			if err := tx.DeleteSSHKey(ctx, laptop.ID); err != nil {
				return err
			}
			if err := tx.DeleteSSHKey(ctx, laptop.ID); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("delete a deleted key: %v, want ErrNotFound", err)
			}
			list, _, err := tx.ListSSHKeys(ctx, f.acme, store.Page{})
			if err != nil || len(list) != 1 || list[0].ID != ci.ID {
				t.Errorf("acme's keys after deleting laptop: %+v, %v", list, err)
			}
			// The name is free again.
			return tx.CreateSSHKey(ctx, &store.SSHKey{OrgID: f.acme, Name: "laptop", PublicKey: "ssh-ed25519 EEEE", Fingerprint: "SHA256:five"})
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}
