package server

import (
	"context"
	"testing"

	"github.com/sirocco-cloud/sirocco/internal/store"
)

// diskIsolationRules classifies this feature's operations for the isolation matrix.
func diskIsolationRules() []isoRule {
	body := func(v any) func(*isoFixture, map[string]string) any {
		return func(*isoFixture, map[string]string) any { return v }
	}
	return []isoRule{
		{op: "list-disks", kind: isoOrg, queries: []string{"", "vdc={vdc}", "vm={vm}"}, refs: map[string][]string{"vm": {"vm-off"}}},
		{op: "get-disk", kind: isoOrg, refs: map[string][]string{"disk": {"disk", "disk-att"}}},
		{op: "create-disk", kind: isoOrg, body: body(map[string]any{"name": "implant-disk", "vdc": "atlas", "size_gib": 1})},
		{op: "update-disk", kind: isoOrg, refs: map[string][]string{"disk": {"disk"}}, body: body(map[string]any{"labels": map[string]string{"by": "bravo"}})},
		{op: "attach-disk", kind: isoOrg, refs: map[string][]string{"disk": {"disk"}}, body: body(map[string]any{"vm": "startme"})},
		{op: "detach-disk", kind: isoOrg, refs: map[string][]string{"disk": {"disk-att"}}},
		{op: "delete-disk", kind: isoOrg, refs: map[string][]string{"disk": {"disk-del"}}},
	}
}

// isoDisks gives alpha, in VDC vdc, three disks: one free ("disk"), one
// attached to stopped VM vmID ("disk-att", bound to its host) and one to
// delete ("disk-del"). The disk actions replay before the VM actions, so
// the VM is still stopped and idle then.
func isoDisks(t *testing.T, e *env, org, vdc, vmID string) isoComputeObjects {
	t.Helper()
	ctx := context.Background()
	out := isoComputeObjects{refs: map[string][]isoRef{}, secrets: map[string]string{}}
	both := func(kind, label, id, name, ghost string) {
		out.refs[kind] = []isoRef{
			{label: label + " by ID", value: id, ghost: store.NewID()},
			{label: label + " by name", value: name, ghost: ghost},
		}
		out.secrets[id] = label + " ID"
		out.secrets[name] = label + " name"
	}
	err := e.store.Tx(ctx, func(tx *store.Tx) error {
		vm, err := tx.GetVMByID(ctx, vmID)
		if err != nil {
			return err
		}
		for _, d := range []struct{ kind, name string }{{"disk", "vault-disk"}, {"disk-att", "plugged-disk"}, {"disk-del", "scrap-disk"}} {
			k := &store.Disk{OrgID: org, VDCID: vdc, Name: d.name, SizeGiB: 2}
			if err := tx.CreateDisk(ctx, k); err != nil {
				return err
			}
			if d.kind == "disk-att" {
				if err := tx.AttachDisk(ctx, k, vm); err != nil {
					return err
				}
			}
			both(d.kind, "alpha's disk "+d.name, k.ID, k.Name, "nxdisk")
		}
		return nil
	})
	if err != nil {
		t.Fatalf("disk fixture: %v", err)
	}
	return out
}
