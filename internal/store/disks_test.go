package store_test

import (
	"context"
	"errors"
	"testing"

	"github.com/sirocco-cloud/sirocco/internal/store"
)

func TestDiskLifecycle(t *testing.T) {
	openCatalogStores(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		f := newComputeFixture(t, s)
		data := &store.Disk{Meta: store.Meta{Labels: map[string]string{"tier": "db"}}, OrgID: f.acme, VDCID: f.acmeDE, Name: "data", SizeGiB: 20}
		logs := &store.Disk{OrgID: f.acme, VDCID: f.acmeDE, Name: "logs", SizeGiB: 5}
		var web, api2, far *store.VM
		err := s.Tx(ctx, func(tx *store.Tx) error {
			for _, k := range []*store.Disk{data, logs, {OrgID: f.other, VDCID: f.otherDE, Name: "data", SizeGiB: 1}} {
				if err := tx.CreateDisk(ctx, k); err != nil {
					return err
				}
			}
			web = netVM(t, ctx, tx, f, f.acme, f.acmeDE, "h-de", "web")
			api2 = netVM(t, ctx, tx, f, f.acme, f.acmeDE, "h-de", "api")
			far = netVM(t, ctx, tx, f, f.acme, f.acmeAU, "h-au", "far")
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if data.State != store.DiskAvailable || data.HostID != "" || data.VMID != "" {
			t.Errorf("new disk: %+v, want available and bound to no host", data)
		}
		err = s.Tx(ctx, func(tx *store.Tx) error {
			return tx.CreateDisk(ctx, &store.Disk{OrgID: f.acme, VDCID: f.acmeAU, Name: "data", SizeGiB: 1})
		})
		if !errors.Is(err, store.ErrConflict) {
			t.Errorf("second live disk named data in acme: %v, want ErrConflict", err)
		}

		// Attach binds to the VM's host, in order; a bound disk refuses
		// another host, an attached one another VM.
		err = s.Tx(ctx, func(tx *store.Tx) error {
			for _, k := range []*store.Disk{data, logs} {
				if err := tx.AttachDisk(ctx, k, web); err != nil {
					return err
				}
			}
			got, err := tx.VMDisks(ctx, web.ID)
			if err != nil {
				return err
			}
			if len(got) != 2 || got[0].Name != "data" || got[1].Name != "logs" || got[1].Position != 1 || got[0].HostID != "h-de" ||
				got[0].VMName != "web" || got[0].State != store.DiskAttached {
				t.Errorf("web's disks: %+v", got)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		err = s.Tx(ctx, func(tx *store.Tx) error { return tx.AttachDisk(ctx, data, api2) })
		if !errors.Is(err, store.ErrConflict) {
			t.Errorf("attached disk to another VM: %v, want ErrConflict", err)
		}
		err = s.Tx(ctx, func(tx *store.Tx) error {
			if err := tx.DetachDisk(ctx, data); err != nil {
				return err
			}
			if err := tx.AttachDisk(ctx, data, far); !errors.Is(err, store.ErrConflict) {
				t.Errorf("disk bound to h-de attached to a VM on h-au: %v, want ErrConflict", err)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}

		// Sizes only grow; quotas and hosts see every byte.
		err = s.Tx(ctx, func(tx *store.Tx) error {
			data.SizeGiB = 30
			if err := tx.UpdateDisk(ctx, data); err != nil {
				return err
			}
			small := *data
			small.SizeGiB = 10
			if err := tx.UpdateDisk(ctx, &small); !errors.Is(err, store.ErrConflict) {
				t.Errorf("shrink to 10 GiB: %v, want ErrConflict", err)
			}
			vdc, err := tx.VDCDiskGiB(ctx, f.acmeDE)
			if err != nil {
				return err
			}
			hosts, err := tx.DataDiskGiBByHost(ctx)
			if err != nil {
				return err
			}
			if vdc != 35 || len(hosts) != 1 || hosts["h-de"] != 35 {
				t.Errorf("VDC holds %d GiB, hosts %v of disks, want 35 and h-de:35 (unbound disks take no host's room)", vdc, hosts)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}

		// Lists page by ID and filter by label; another tenant's disk never
		// shows, and its name is not found.
		err = s.View(ctx, func(tx *store.Tx) error {
			page, next, err := tx.ListDisks(ctx, store.DiskFilter{OrgID: f.acme}, store.Page{Limit: 1})
			if err != nil {
				return err
			}
			rest, _, err := tx.ListDisks(ctx, store.DiskFilter{OrgID: f.acme}, store.Page{Limit: 1, Cursor: next})
			if err != nil {
				return err
			}
			if len(page) != 1 || len(rest) != 1 || page[0].Name != "data" || rest[0].Name != "logs" {
				t.Errorf("pages: %v then %v", page, rest)
			}
			byLabel, _, err := tx.ListDisks(ctx, store.DiskFilter{OrgID: f.acme}, store.Page{Labels: []store.LabelSelector{{Key: "tier", Value: "db", HasValue: true}}})
			if err != nil {
				return err
			}
			if len(byLabel) != 1 || byLabel[0].ID != data.ID {
				t.Errorf("tier=db: %v", byLabel)
			}
			if _, err := tx.GetDisk(ctx, f.other, data.ID); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("acme's disk read as other: %v, want ErrNotFound", err)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}

		// An attached disk cannot be deleted; a deleting one frees its
		// name, stays on its host for the sync and leaves the bill.
		err = s.Tx(ctx, func(tx *store.Tx) error {
			if err := tx.MarkDiskDeleting(ctx, logs); !errors.Is(err, store.ErrConflict) {
				t.Errorf("delete attached disk: %v, want ErrConflict", err)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		err = s.Tx(ctx, func(tx *store.Tx) error {
			gone, err := tx.DetachVMDisks(ctx, web.ID)
			if err != nil {
				return err
			}
			if len(gone) != 1 || gone[0].ID != logs.ID {
				t.Errorf("detached from web: %v, want logs", gone)
			}
			if err := tx.MarkDiskDeleting(ctx, data); err != nil {
				return err
			}
			if err := tx.CreateDisk(ctx, &store.Disk{OrgID: f.acme, VDCID: f.acmeDE, Name: "data", SizeGiB: 1}); err != nil {
				t.Errorf("reuse the name of a deleting disk: %v", err)
			}
			onHost, err := tx.HostDisks(ctx, "h-de")
			if err != nil {
				return err
			}
			if len(onHost) != 2 {
				t.Errorf("h-de holds %d disks, want data (deleting) and logs", len(onHost))
			}
			billed, err := tx.MeteredDisks(ctx)
			if err != nil {
				return err
			}
			for _, k := range billed {
				if k.ID == data.ID {
					t.Errorf("deleting disk still billed")
				}
			}
			if len(billed) != 3 {
				t.Errorf("%d billed disks, want 3 (logs, the new data, other's)", len(billed))
			}
			return tx.RemoveDisk(ctx, data.ID)
		})
		if err != nil {
			t.Fatal(err)
		}

		// A VM's row going takes nothing with it but the attachment.
		err = s.Tx(ctx, func(tx *store.Tx) error {
			if err := tx.AttachDisk(ctx, logs, api2); err != nil {
				return err
			}
			if err := tx.DeleteVM(ctx, api2.ID); err != nil {
				return err
			}
			k, err := tx.GetDisk(ctx, f.acme, "logs")
			if err != nil {
				return err
			}
			if k.VMID != "" || k.HostID != "h-de" {
				t.Errorf("disk of a deleted VM: %+v, want no VM, still on h-de", k)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}
