package cli_test

import (
	"context"
	"strings"
	"testing"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/internal/cli"
	"github.com/sirocco-cloud/sirocco/internal/store"
)

// stopVM makes VM name of acme stopped, as its host would report it
// having applied everything asked of it (no agent runs here).
func (n *netCloud) stopVM(t *testing.T, name string) {
	t.Helper()
	ctx := context.Background()
	err := n.Store.Tx(ctx, func(tx *store.Tx) error {
		o, err := tx.LookupOrg(ctx, "acme")
		if err != nil {
			return err
		}
		v, err := tx.GetVM(ctx, o.ID, name)
		if err != nil {
			return err
		}
		v.Power = store.PowerStopped
		if err := tx.UpdateVM(ctx, v, false); err != nil {
			return err
		}
		_, err = tx.ObserveVM(ctx, v.HostID, store.ObservedVM{ID: v.ID, State: api.VMStopped, Generation: v.Generation})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestDiskCommands(t *testing.T) {
	n := newNetCloud(t)

	data := decode[api.Disk](t, n.as(t, "disk", "create", "data", "--size", "20", "--label", "tier=db", "-o", "json"))
	if data.SizeGiB != 20 || data.State != api.DiskAvailable || data.VDC != "main" || data.Labels["tier"] != "db" {
		t.Fatalf("created %+v", data)
	}
	wantFail(t, n.run(t, "disk", "create", "other"), cli.ExitUsage, "--size is required")
	wantFail(t, n.run(t, "disk", "create", "data", "--size", "1"), cli.ExitConflict, "already_exists")
	wantIn(t, n.as(t, "disk", "list").stdout, "data", "20 GiB", "available", "tier=db")

	// Attaching needs a stopped VM; then the disk lives on the VM's host.
	created := decode[api.VMCreated](t, n.as(t, "vm", "create", "web", "--image", "tiny", "--size", "s1.small", "--no-wait", "-o", "json"))
	wantFail(t, n.run(t, "disk", "attach", "data"), cli.ExitUsage, "--vm is required")
	wantFail(t, n.run(t, "disk", "attach", "data", "--vm", "web"), cli.ExitConflict, "stop the VM first")
	n.stopVM(t, "web")
	n.as(t, "operation", "wait", created.Operations[0].ID)
	attached := decode[api.Disk](t, n.as(t, "disk", "attach", "data", "--vm", "web", "-o", "json"))
	if attached.State != api.DiskAttached || attached.VMName != "web" || attached.Host != "hv1" {
		t.Fatalf("attached %+v", attached)
	}
	wantIn(t, n.as(t, "disk", "show", "data").stdout, "attached", "web", "hv1")
	wantIn(t, n.as(t, "disk", "list", "--vm", "web").stdout, "data")
	wantFail(t, n.run(t, "disk", "delete", "data"), cli.ExitConflict, "disk_attached")

	// Grow only.
	wantIn(t, n.as(t, "disk", "resize", "data", "--size", "30").stdout, "Disk data is now 30 GiB.")
	wantFail(t, n.run(t, "disk", "resize", "data", "--size", "10"), cli.ExitConflict, "disk_shrink")

	wantIn(t, n.as(t, "disk", "detach", "data").stdout, "available")
	wantIn(t, n.as(t, "disk", "delete", "data").stdout, "Deleted disk data.")
	// Its host still removes the file: the name is free, the disk shows
	// as deleting by ID.
	wantIn(t, n.as(t, "disk", "show", data.ID).stdout, "deleting")
	wantFail(t, n.run(t, "disk", "show", "data"), cli.ExitNotFound, "not_found")
	wantIn(t, n.as(t, "events", "--types", "disk.create,disk.attach,disk.update,disk.detach,disk.delete").stdout,
		"disk.create", "disk.attach", "disk.update", "disk.detach", "disk.delete")

	// vm create --disk attaches a disk at creation.
	n.as(t, "disk", "create", "pgdata", "--size", "5")
	db := decode[api.VMCreated](t, n.as(t, "vm", "create", "db", "--image", "tiny", "--size", "s1.small", "--disk", "pgdata",
		"--stopped", "--no-wait", "-o", "json"))
	if d := decode[api.Disk](t, n.as(t, "disk", "show", "pgdata", "-o", "json")); d.State != api.DiskAttached || d.VM != db.VMs[0].ID {
		t.Fatalf("disk after vm create --disk: %+v", d)
	}
	// (This cloud has no price plan: the price warning comes first.)
	if r := n.run(t, "vm", "create", "db2", "--image", "tiny", "--size", "s1.small", "--disk", "nosuch", "--no-wait"); r.code == 0 ||
		!strings.Contains(r.stderr, "error: ") || !strings.Contains(r.stderr, "nosuch") {
		t.Fatalf("vm create --disk nosuch: exit %d\n%s", r.code, r.stderr)
	}
}
