package qemu

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sirocco-cloud/sirocco/internal/compute"
)

// newDriver returns a TCG driver on a fresh root; VMs left at the end of
// the test are deleted.
func newDriver(t *testing.T, root string, runAs *Credential) *Driver {
	t.Helper()
	requireTool(t, "qemu-system-x86_64")
	requireTool(t, "qemu-img")
	d, err := New(Config{Root: root, Accel: compute.AccelTCG, RunAs: runAs})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Not testCtx: the test's context is cancelled before cleanups run.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		vms, _ := d.List(ctx)
		for _, vm := range vms {
			d.Delete(ctx, vm.Spec.ID)
		}
	})
	return d
}

// blankBase makes a small empty qcow2 to stand for a cached image.
func blankBase(t *testing.T, dir string) string {
	t.Helper()
	base := filepath.Join(dir, "base.qcow2")
	out, err := exec.Command("qemu-img", "create", "-q", "-f", "qcow2", base, "64M").CombinedOutput()
	if err != nil {
		t.Fatalf("qemu-img create: %v: %s", err, out)
	}
	return base
}

// diskSpec is a VM booting a blank disk: the firmware finds nothing to
// boot and loops, ignoring ACPI, which is what the force paths need.
func diskSpec(id, base string) compute.Spec {
	return compute.Spec{
		ID: id, Name: id, Hostname: id, VCPU: 1, MemoryMiB: 64, DiskGiB: 1,
		Image: compute.ImageRef{Kind: compute.ImageDisk, Disk: base},
	}
}

func pidOf(t *testing.T, p Paths) int {
	t.Helper()
	b, err := os.ReadFile(p.Pidfile)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

// gone reports whether pid has exited (a zombie counts as exited).
func gone(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	_, rest, _ := bytes.Cut(b, []byte(") "))
	return len(rest) > 0 && rest[0] == 'Z'
}

func wantState(t *testing.T, d *Driver, id string, want compute.State) {
	t.Helper()
	got, err := d.State(testCtx(t, 10*time.Second), id)
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Fatalf("state of %s = %s, want %s", id, got, want)
	}
}

func TestCreateDiskAndLifecycleWithoutGuest(t *testing.T) {
	root := t.TempDir()
	d := newDriver(t, root, nil)
	base := blankBase(t, t.TempDir())
	ctx := testCtx(t, 60*time.Second)
	spec := diskSpec("vm-a", base)

	if err := d.Create(ctx, spec); err != nil {
		t.Fatal(err)
	}
	if err := d.Create(ctx, spec); !errors.Is(err, compute.ErrExists) {
		t.Fatalf("second create: %v, want ErrExists", err)
	}
	p := PathsFor(filepath.Join(root, "vm-a"))
	if size, err := d.img.virtualSize(ctx, p.Disk); err != nil || size != 1<<30 {
		t.Fatalf("overlay size = %d, %v; want 1 GiB", size, err)
	}
	out, _ := exec.Command("qemu-img", "info", "-U", "--output=json", p.Disk).Output()
	if !bytes.Contains(out, []byte(base)) {
		t.Errorf("overlay does not name its base: %s", out)
	}
	wantState(t, d, "vm-a", compute.StateStopped)
	if _, err := d.State(ctx, "nope"); !errors.Is(err, compute.ErrNotFound) {
		t.Errorf("state of missing vm: %v", err)
	}
	if _, err := d.State(ctx, "../etc"); !errors.Is(err, compute.ErrNotFound) {
		t.Errorf("state of bad id: %v", err)
	}

	// Cold resize and snapshots.
	if err := d.Resize(ctx, "vm-a", 2, 128, 2); err != nil {
		t.Fatal(err)
	}
	if size, _ := d.img.virtualSize(ctx, p.Disk); size != 2<<30 {
		t.Errorf("after resize: %d bytes", size)
	}
	if err := d.Resize(ctx, "vm-a", 2, 128, 1); err == nil {
		t.Error("shrinking resize succeeded")
	}
	if err := d.Snapshot(ctx, "vm-a", "snap1"); err != nil {
		t.Fatal(err)
	}
	if names, err := d.ListSnapshots(ctx, "vm-a"); err != nil || !slices.Equal(names, []string{"snap1"}) {
		t.Fatalf("snapshots = %v, %v", names, err)
	}
	if err := d.RestoreSnapshot(ctx, "vm-a", "snap1"); err != nil {
		t.Fatal(err)
	}
	if err := d.DeleteSnapshot(ctx, "vm-a", "snap1"); err != nil {
		t.Fatal(err)
	}

	// Start, then a graceful stop the firmware ignores: forced after the timeout.
	if err := d.Start(ctx, "vm-a"); err != nil {
		t.Fatal(err)
	}
	wantState(t, d, "vm-a", compute.StateRunning)
	if err := d.Start(ctx, "vm-a"); err != nil {
		t.Fatalf("start of a running vm: %v", err)
	}
	if err := d.Resize(ctx, "vm-a", 1, 64, 0); !errors.Is(err, compute.ErrRunning) {
		t.Errorf("resize while running: %v", err)
	}
	if err := d.Snapshot(ctx, "vm-a", "s"); !errors.Is(err, compute.ErrRunning) {
		t.Errorf("snapshot while running: %v", err)
	}
	if out, _ := os.ReadFile("/proc/" + strconv.Itoa(pidOf(t, p)) + "/cmdline"); !bytes.Contains(out, []byte("-smp\x002\x00")) {
		t.Errorf("resized vcpu not used: %q", out)
	}
	pid := pidOf(t, p)
	start := time.Now()
	if err := d.Stop(ctx, "vm-a", 300*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el < 300*time.Millisecond {
		t.Errorf("stop returned after %v, before its timeout", el)
	}
	if !gone(pid) {
		t.Errorf("qemu %d still runs after stop", pid)
	}
	wantState(t, d, "vm-a", compute.StateStopped)
	for _, f := range []string{p.QMP, p.ConsoleSock, p.Pidfile} {
		if _, err := os.Stat(f); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left after stop", f)
		}
	}
	if err := d.Reboot(ctx, "vm-a"); !errors.Is(err, compute.ErrNotRunning) {
		t.Errorf("reboot while stopped: %v", err)
	}

	// Delete while running leaves nothing.
	if err := d.Start(ctx, "vm-a"); err != nil {
		t.Fatal(err)
	}
	pid = pidOf(t, p)
	if err := d.Delete(ctx, "vm-a"); err != nil {
		t.Fatal(err)
	}
	if !gone(pid) {
		t.Errorf("qemu %d still runs after delete", pid)
	}
	if entries, _ := os.ReadDir(root); len(entries) != 0 {
		t.Errorf("root not empty after delete: %v", entries)
	}
	if err := d.Delete(ctx, "vm-a"); err != nil {
		t.Errorf("second delete: %v", err)
	}
}

func TestStartFailureReportsQEMULog(t *testing.T) {
	root := t.TempDir()
	d := newDriver(t, root, nil)
	ctx := testCtx(t, 30*time.Second)
	spec := compute.Spec{ID: "bad", VCPU: 1, MemoryMiB: 64,
		Image: compute.ImageRef{Kind: compute.ImageKernel, Kernel: filepath.Join(root, "missing-kernel")}}
	if err := d.Create(ctx, spec); err != nil {
		t.Fatal(err)
	}
	err := d.Start(ctx, "bad")
	if err == nil || !strings.Contains(err.Error(), "missing-kernel") {
		t.Fatalf("start with a missing kernel: %v", err)
	}
	wantState(t, d, "bad", compute.StateStopped)
}

// An agent restart: a new Driver on the same root adopts the running VM
// without disturbing it.
func TestAdoptAfterRestart(t *testing.T) {
	root := t.TempDir()
	d1 := newDriver(t, root, nil)
	base := blankBase(t, t.TempDir())
	ctx := testCtx(t, 60*time.Second)
	if err := d1.Create(ctx, diskSpec("vm-b", base)); err != nil {
		t.Fatal(err)
	}
	if err := d1.Create(ctx, diskSpec("vm-c", base)); err != nil {
		t.Fatal(err)
	}
	if err := d1.Start(ctx, "vm-b"); err != nil {
		t.Fatal(err)
	}
	p := PathsFor(filepath.Join(root, "vm-b"))
	pid := pidOf(t, p)
	d1.Close()

	d2 := newDriver(t, root, nil)
	vms, err := d2.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]compute.State{}
	for _, vm := range vms {
		got[vm.Spec.ID] = vm.State
	}
	if got["vm-b"] != compute.StateRunning || got["vm-c"] != compute.StateStopped || len(got) != 2 {
		t.Fatalf("list after restart = %v", got)
	}
	if pidOf(t, p) != pid || gone(pid) {
		t.Fatal("adoption restarted or lost the process")
	}
	if err := d2.ForceOff(ctx, "vm-b"); err != nil {
		t.Fatal(err)
	}
	if !gone(pid) {
		t.Errorf("qemu %d still runs after force off", pid)
	}
	wantState(t, d2, "vm-b", compute.StateStopped)
}

// QEMU as an unprivileged user (nobody), the VM directory given to it.
func TestRunAsUnprivilegedUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to switch users")
	}
	tmp := t.TempDir()
	// Let the qemu user reach the root and the base image.
	for _, dir := range []string{filepath.Dir(tmp), tmp} {
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	root := filepath.Join(tmp, "vms")
	cred := &Credential{UID: 65534, GID: 65534}
	d := newDriver(t, root, cred)
	base := blankBase(t, tmp)
	os.Chmod(base, 0o644)
	ctx := testCtx(t, 60*time.Second)
	if err := d.Create(ctx, diskSpec("vm-u", base)); err != nil {
		t.Fatal(err)
	}
	p := PathsFor(filepath.Join(root, "vm-u"))
	var st syscall.Stat_t
	if err := syscall.Stat(p.Dir, &st); err != nil || st.Uid != cred.UID {
		t.Fatalf("vm dir owner = %d, %v", st.Uid, err)
	}
	if err := syscall.Stat(p.Spec, &st); err != nil || st.Uid != 0 || st.Mode&0o077 != 0 {
		t.Errorf("spec.json: uid %d mode %o; want root-only", st.Uid, st.Mode&0o777)
	}
	if err := d.Start(ctx, "vm-u"); err != nil {
		t.Fatal(err)
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pidOf(t, p)))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(status, []byte("\nUid:\t65534\t65534\t65534\t65534\n")) {
		t.Errorf("qemu does not run as 65534:\n%s", status)
	}
	if err := d.Delete(ctx, "vm-u"); err != nil {
		t.Fatal(err)
	}
}
