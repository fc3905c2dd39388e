package simulated

import (
	"context"
	"errors"
	"testing"

	"github.com/sirocco-cloud/sirocco/internal/compute"
)

func TestDriverLifecycle(t *testing.T) {
	ctx := context.Background()
	d := NewDriver()
	spec := compute.Spec{ID: "vm1", Name: "web1", Hostname: "web1", VCPU: 1, MemoryMiB: 512,
		Image: compute.ImageRef{Kind: compute.ImageKernel, Kernel: "/k"}}
	if err := d.Create(ctx, spec); err != nil {
		t.Fatal(err)
	}
	if err := d.Create(ctx, spec); !errors.Is(err, compute.ErrExists) {
		t.Fatalf("second create: %v", err)
	}
	if err := d.Create(ctx, compute.Spec{ID: "bad id"}); !errors.Is(err, compute.ErrInvalidSpec) {
		t.Fatalf("invalid spec: %v", err)
	}
	if err := d.Reboot(ctx, "vm1"); !errors.Is(err, compute.ErrNotRunning) {
		t.Fatalf("reboot of a stopped vm: %v", err)
	}
	steps := []struct {
		name string
		do   func() error
		want compute.State
	}{
		{"start", func() error { return d.Start(ctx, "vm1") }, compute.StateRunning},
		{"start again", func() error { return d.Start(ctx, "vm1") }, compute.StateRunning},
		{"reboot", func() error { return d.Reboot(ctx, "vm1") }, compute.StateRunning},
		{"stop", func() error { return d.Stop(ctx, "vm1", 0) }, compute.StateStopped},
		{"force off when stopped", func() error { return d.ForceOff(ctx, "vm1") }, compute.StateStopped},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if got, _ := d.State(ctx, "vm1"); got != s.want {
			t.Fatalf("%s: state %s, want %s", s.name, got, s.want)
		}
	}
	vms, _ := d.List(ctx)
	if len(vms) != 1 || vms[0].Spec.Hostname != "web1" {
		t.Fatalf("list %+v", vms)
	}
	if err := d.Delete(ctx, "vm1"); err != nil {
		t.Fatal(err)
	}
	if err := d.Delete(ctx, "vm1"); err != nil {
		t.Fatalf("delete of a missing vm: %v", err)
	}
	if _, err := d.State(ctx, "vm1"); !errors.Is(err, compute.ErrNotFound) {
		t.Fatalf("state after delete: %v", err)
	}
}

func TestDriverResizeAndSnapshotsNeedAStoppedVM(t *testing.T) {
	ctx := context.Background()
	d := NewDriver()
	spec := compute.Spec{ID: "vm1", Name: "db", VCPU: 1, MemoryMiB: 512, DiskGiB: 10,
		Image: compute.ImageRef{Kind: compute.ImageDisk, Disk: "/base.qcow2"}}
	if err := d.Create(ctx, spec); err != nil {
		t.Fatal(err)
	}
	if err := d.Start(ctx, "vm1"); err != nil {
		t.Fatal(err)
	}
	for name, err := range map[string]error{
		"resize":   d.Resize(ctx, "vm1", 2, 1024, 20),
		"snapshot": d.Snapshot(ctx, "vm1", "s1"),
	} {
		if !errors.Is(err, compute.ErrRunning) {
			t.Fatalf("%s of a running vm: %v", name, err)
		}
	}
	if err := d.Stop(ctx, "vm1", 0); err != nil {
		t.Fatal(err)
	}
	if err := d.Resize(ctx, "vm1", 2, 1024, 5); !errors.Is(err, compute.ErrInvalidSpec) {
		t.Fatalf("shrinking the disk: %v", err)
	}
	if err := d.Resize(ctx, "vm1", 2, 1024, 20); err != nil {
		t.Fatal(err)
	}
	vms, _ := d.List(ctx)
	if s := vms[0].Spec; s.VCPU != 2 || s.MemoryMiB != 1024 || s.DiskGiB != 20 {
		t.Fatalf("after resize: %+v", s)
	}
	for _, n := range []string{"s1", "s2"} {
		if err := d.Snapshot(ctx, "vm1", n); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.RestoreSnapshot(ctx, "vm1", "s1"); err != nil {
		t.Fatal(err)
	}
	if err := d.RestoreSnapshot(ctx, "vm1", "nope"); !errors.Is(err, compute.ErrNotFound) {
		t.Fatalf("restore of a missing snapshot: %v", err)
	}
	if err := d.DeleteSnapshot(ctx, "vm1", "s1"); err != nil {
		t.Fatal(err)
	}
	if got, _ := d.ListSnapshots(ctx, "vm1"); len(got) != 1 || got[0] != "s2" {
		t.Fatalf("snapshots %v, want [s2]", got)
	}
}
