package server

import (
	"context"
	"testing"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/internal/store"
)

// isoComputeObjects are alpha's VMs, snapshots and images for the isolation
// matrix, and the provider's images.
type isoComputeObjects struct {
	refs    map[string][]isoRef
	secrets map[string]string
}

// isoCompute makes host a ready hypervisor and gives alpha, in VDC vdc, one
// VM per action the matrix replays (an action leaves an unfinished
// operation, and a VM takes one at a time), two snapshots and private
// images; and the provider public images. They are written to the store:
// no agent runs here.
func isoCompute(t *testing.T, e *env, org, vdc, host string) isoComputeObjects {
	t.Helper()
	ctx := context.Background()
	out := isoComputeObjects{refs: map[string][]isoRef{}, secrets: map[string]string{}}
	both := func(kind, label, id, name, ghostName string, secret bool) {
		out.refs[kind] = []isoRef{
			{label: label + " by ID", value: id, ghost: store.NewID()},
			{label: label + " by name", value: name, ghost: ghostName},
		}
		if secret {
			out.secrets[id] = label + " ID"
			out.secrets[name] = label + " name"
		}
	}
	err := e.store.Tx(ctx, func(tx *store.Tx) error {
		h, err := tx.GetHost(ctx, host)
		if err != nil {
			return err
		}
		h.State, h.VCPU, h.MemoryMiB, h.DiskGiB, h.CPUOvercommit, h.MemoryOvercommit = api.HostReady, 64, 262144, 4000, 1, 1
		if err := tx.UpdateHost(ctx, h); err != nil {
			return err
		}
		image := func(owner, name, state string) (*store.Image, error) {
			im := &store.Image{OrgID: owner, Name: name, Kind: api.ImageKindKernel, State: state}
			if state == api.ImageAvailable {
				im.Files = []store.ImageFile{{Name: api.ImageFileKernel, Size: 1, SHA256: "00"}}
			}
			return im, tx.CreateImage(ctx, im)
		}
		for _, p := range []struct{ kind, owner, name, state string }{
			{"public-image", "", "tiny", api.ImageAvailable},
			{"public-pending", "", "pubpending", api.ImagePending},
			{"public-unused", "", "unused", api.ImageAvailable},
			{"image", org, "alpha-img", api.ImageAvailable},
			{"image-pending", org, "alpha-pending", api.ImagePending},
			{"image-unused", org, "alpha-unused", api.ImageAvailable},
		} {
			im, err := image(p.owner, p.name, p.state)
			if err != nil {
				return err
			}
			if p.owner == "" {
				out.refs[p.kind] = []isoRef{{label: "public image " + p.name, value: im.ID}, {label: "public image " + p.name + " by name", value: p.name}}
			} else {
				both(p.kind, "alpha's image "+p.name, im.ID, im.Name, "nximage", true)
			}
		}
		tiny, err := tx.GetImage(ctx, "", "tiny")
		if err != nil {
			return err
		}
		for _, p := range []struct {
			kind, name, power, state, snapshot string
		}{
			{"vm", "web", store.PowerRunning, api.VMRunning, ""},
			{"vm-stop", "stopme", store.PowerRunning, api.VMRunning, ""},
			{"vm-force", "pullplug", store.PowerRunning, api.VMRunning, ""},
			{"vm-del", "deleteme", store.PowerRunning, api.VMRunning, ""},
			{"vm-off", "startme", store.PowerStopped, api.VMStopped, ""},
			{"vm-resize", "resizeme", store.PowerStopped, api.VMStopped, ""},
			{"vm-snap", "snapme", store.PowerStopped, api.VMStopped, ""},
			{"vm-revert", "revertme", store.PowerStopped, api.VMStopped, "keep"},
			{"vm-unsnap", "unsnapme", store.PowerStopped, api.VMStopped, "drop"},
		} {
			v := &store.VM{OrgID: org, VDCID: vdc, Name: p.name, Hostname: p.name, ImageID: tiny.ID, SizeID: "s1.small", VCPU: 1,
				MemoryMiB: 1024, DiskGiB: 10, HostID: host, Power: p.power, State: p.state, StopTimeout: defaultStopTimeout}
			if err := tx.CreateVM(ctx, v); err != nil {
				return err
			}
			both(p.kind, "alpha's VM "+p.name, v.ID, v.Name, "nxvm", true)
			if p.snapshot != "" {
				sn := &store.Snapshot{VMID: v.ID, OrgID: org, Name: p.snapshot, State: store.SnapshotReady}
				if err := tx.CreateSnapshot(ctx, sn); err != nil {
					return err
				}
				kind := map[string]string{"keep": "snapshot-revert", "drop": "snapshot-delete"}[p.snapshot]
				out.refs[kind] = []isoRef{
					{label: "alpha's snapshot " + p.snapshot + " by ID", value: sn.ID, ghost: store.NewID()},
					{label: "alpha's snapshot " + p.snapshot + " by name", value: sn.Name, ghost: "nxsnap"},
				}
				out.secrets[sn.ID] = "alpha's snapshot ID"
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("compute fixture: %v", err)
	}
	out.refs["kernel-file"] = []isoRef{{label: "the kernel file", value: api.ImageFileKernel}}
	return out
}
