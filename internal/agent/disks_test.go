package agent_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/api/agentapi"
	"github.com/sirocco-cloud/sirocco/internal/compute/qemu"
	"github.com/sirocco-cloud/sirocco/internal/compute/testguest"
)

// TestDataDisksQEMU follows a data disk through the real QEMU driver, with
// QEMU as an unprivileged user: the sync answer names it, so its file
// appears beside the VMs' directory at the right size, owned by QEMU's user;
// the VM attached to it runs with it (QMP query-block); it grows while the
// VM runs; detached while stopped, the VM starts without it; it outlives the
// VM; marked deleted, its file goes and the host stops reporting it.
func TestDataDisksQEMU(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("needs root to run QEMU as another user (run make test as root)")
	}
	kernel, initrd := testguest.Path(t)
	e := newImageEndpoint(t, false)
	var files []agentapi.ImageFile
	for name, path := range map[string]string{api.ImageFileKernel: kernel, api.ImageFileInitrd: initrd} {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, e.add("testguest", name, b))
	}
	root := t.TempDir()
	// Let QEMU's user (nobody) reach the VMs, the disks and the images.
	for _, dir := range []string{filepath.Dir(root), root} {
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	nobody := &qemu.Credential{UID: 65534, GID: 65534}
	drv, err := qemu.New(qemu.Config{Root: filepath.Join(root, "vms-qemu"), Accel: "tcg", RunAs: nobody})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { drv.Delete(context.Background(), "qemu-d"); drv.Close() })
	r := newReconciler(t, drv, root, e)
	ctx := context.Background()

	const diskID = "0190f3a2-7c1e-7d4b-9a10-3f2e1d0c9b8a"
	path := filepath.Join(root, "disks", diskID+".qcow2")
	r.ApplyDisks(ctx, []agentapi.DesiredDisk{{ID: diskID, SizeGiB: 2}})
	if got := virtualSize(t, path); got != 2<<30 {
		t.Fatalf("disk file of %d bytes, want 2 GiB", got)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil || st.Uid != nobody.UID || st.Mode&0o077 != 0 {
		t.Fatalf("disk file: uid %d mode %o (%v); want QEMU's user's alone", st.Uid, st.Mode&0o777, err)
	}
	wantDisks(t, r, agentapi.ObservedDisk{ID: diskID, SizeGiB: 2})

	d := agentapi.DesiredVM{ID: "qemu-d", Generation: 1, Power: api.PowerRunning, Name: "guest", Hostname: "guest-disk",
		VCPU: 1, MemoryMiB: 256, StopTimeoutSeconds: 20, Disks: []string{diskID},
		Image: agentapi.Image{ID: "testguest", Kind: api.ImageKindKernel, Cmdline: testguest.Cmdline, Files: files}}
	wantObserved(t, "create", apply(t, r, d)["qemu-d"], api.VMRunning, 1)
	waitConsole(t, drv, "qemu-d", testguest.ReadyPrefix+"hostname=guest-disk ", 60*time.Second)
	qmpSock := filepath.Join(root, "vms-qemu", "qemu-d", "qmp.sock")
	if got := queryBlock(t, drv, qmpSock)["disk-0"]; got.file != path || got.size != 2<<30 {
		t.Fatalf("QEMU's disk-0: %+v, want %s of 2 GiB", got, path)
	}

	// Grown while the VM runs: through QEMU, which holds the file.
	r.ApplyDisks(ctx, []agentapi.DesiredDisk{{ID: diskID, SizeGiB: 3}})
	wantDisks(t, r, agentapi.ObservedDisk{ID: diskID, SizeGiB: 3})
	if got := queryBlock(t, drv, qmpSock)["disk-0"]; got.size != 3<<30 {
		t.Fatalf("QEMU's disk-0 after growing: %+v, want 3 GiB", got)
	}

	// Attachments change while the VM is stopped: detached, it starts
	// without the disk; attached again, it has it.
	d.Generation, d.Power, d.Disks = 2, api.PowerStopped, nil
	wantObserved(t, "stop and detach", apply(t, r, d)["qemu-d"], api.VMStopped, 2)
	d.Generation, d.Power = 3, api.PowerRunning
	wantObserved(t, "start detached", apply(t, r, d)["qemu-d"], api.VMRunning, 3)
	if got, ok := queryBlock(t, drv, qmpSock)["disk-0"]; ok {
		t.Fatalf("QEMU still has disk-0 after it was detached: %+v", got)
	}
	d.Generation, d.Power, d.Disks = 4, api.PowerStopped, []string{diskID}
	wantObserved(t, "stop and attach", apply(t, r, d)["qemu-d"], api.VMStopped, 4)

	// Deleting the VM keeps the disk; deleting the disk removes it.
	d.Generation, d.Power = 5, "deleted"
	if obs := apply(t, r, d); len(obs) != 0 {
		t.Fatalf("deleted VM still reported: %+v", obs)
	}
	if got := virtualSize(t, path); got != 3<<30 {
		t.Fatalf("disk after its VM was deleted: %d bytes", got)
	}
	r.ApplyDisks(ctx, []agentapi.DesiredDisk{{ID: diskID, SizeGiB: 3}})
	wantDisks(t, r, agentapi.ObservedDisk{ID: diskID, SizeGiB: 3})
	r.ApplyDisks(ctx, []agentapi.DesiredDisk{{ID: diskID, SizeGiB: 3, Deleted: true}})
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("deleted disk's file: %v", err)
	}
	wantDisks(t, r)
}

// TestDataDisksKeepsUnnamedFiles: a disk file the control plane does not
// name is kept and reported, never guessed deleted; a disk never shrinks.
func TestDataDisksKeepsUnnamedFiles(t *testing.T) {
	root := t.TempDir()
	drv, err := qemu.New(qemu.Config{Root: filepath.Join(root, "vms"), Accel: "tcg"})
	if err != nil {
		t.Skipf("no QEMU: %v", err)
	}
	r := newReconciler(t, drv, root, newImageEndpoint(t, false))
	ctx := context.Background()
	r.ApplyDisks(ctx, []agentapi.DesiredDisk{{ID: "a", SizeGiB: 1}, {ID: "b", SizeGiB: 4}})
	r.ApplyDisks(ctx, []agentapi.DesiredDisk{{ID: "b", SizeGiB: 2}})
	wantDisks(t, r, agentapi.ObservedDisk{ID: "a", SizeGiB: 1}, agentapi.ObservedDisk{ID: "b", SizeGiB: 4})
	if got := virtualSize(t, filepath.Join(root, "disks", "b.qcow2")); got != 4<<30 {
		t.Fatalf("disk b shrank to %d bytes", got)
	}
	// A new agent on the same host reports the files at once.
	r2 := newReconciler(t, drv, root, newImageEndpoint(t, false))
	r2.ApplyDisks(ctx, nil)
	wantDisks(t, r2, agentapi.ObservedDisk{ID: "a", SizeGiB: 1}, agentapi.ObservedDisk{ID: "b", SizeGiB: 4})
}

func wantDisks(t *testing.T, r interface {
	ObserveDisks(context.Context) []agentapi.ObservedDisk
}, want ...agentapi.ObservedDisk) {
	t.Helper()
	if got := r.ObserveDisks(context.Background()); !slices.Equal(got, want) {
		t.Fatalf("reported disks %+v, want %+v", got, want)
	}
}

func virtualSize(t *testing.T, path string) int64 {
	t.Helper()
	out, err := exec.Command("qemu-img", "info", "-U", "--output=json", path).Output()
	if err != nil {
		t.Fatalf("qemu-img info %s: %v", path, err)
	}
	var info struct {
		VirtualSize int64 `json:"virtual-size"`
	}
	if err := json.Unmarshal(out, &info); err != nil {
		t.Fatal(err)
	}
	return info.VirtualSize
}

type blockDevice struct {
	file string
	size int64
}

// queryBlock asks the running VM's QEMU for its block devices, by drive
// id. QEMU serves one monitor client at a time: the driver lets go of its
// own (the VM keeps running) and adopts the VM again at its next call.
func queryBlock(t *testing.T, drv *qemu.Driver, sock string) map[string]blockDevice {
	t.Helper()
	drv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	q, err := qemu.DialQMP(ctx, sock)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	var devs []struct {
		Device   string `json:"device"`
		Inserted *struct {
			File  string `json:"file"`
			Image struct {
				VirtualSize int64 `json:"virtual-size"`
			} `json:"image"`
		} `json:"inserted"`
	}
	if err := q.Execute(ctx, "query-block", nil, &devs); err != nil {
		t.Fatal(err)
	}
	out := map[string]blockDevice{}
	for _, d := range devs {
		if d.Inserted != nil {
			out[d.Device] = blockDevice{file: d.Inserted.File, size: d.Inserted.Image.VirtualSize}
		}
	}
	return out
}
