package qemu

// Boot tests: real TCG guests (the busybox test guest of
// internal/compute/testguest). Each boot takes a few seconds.

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sirocco-cloud/sirocco/internal/compute"
	"github.com/sirocco-cloud/sirocco/internal/compute/testguest"
)

// bootTimeout bounds one boot to the ready line under TCG.
const bootTimeout = 30 * time.Second

// waitLog waits until the file at path holds want at least n times, woken by
// inotify on every write.
func waitLog(t *testing.T, path, want string, n int, timeout time.Duration) {
	t.Helper()
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if _, err := unix.InotifyAddWatch(fd, path, unix.IN_MODIFY); err != nil {
		t.Fatalf("watch %s: %v", path, err)
	}
	deadline := time.Now().Add(timeout)
	buf := make([]byte, 4096)
	for {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Count(b, []byte(want)) >= n {
			return
		}
		left := time.Until(deadline)
		if left <= 0 {
			t.Fatalf("%q not seen %d times in %s within %v; it holds:\n%s", want, n, path, timeout, tail(b))
		}
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		if _, err := unix.Poll(fds, int(left/time.Millisecond)+1); err != nil && !errors.Is(err, unix.EINTR) {
			t.Fatal(err)
		}
		for {
			if _, err := unix.Read(fd, buf); err != nil {
				break // drained (EAGAIN)
			}
		}
	}
}

func tail(b []byte) []byte {
	if len(b) > 3000 {
		return b[len(b)-3000:]
	}
	return b
}

func TestBootGuestLifecycle(t *testing.T) {
	kernel, initrd := testguest.Path(t)
	root := t.TempDir()
	d := newDriver(t, root, nil)
	ctx := testCtx(t, 3*time.Minute)
	spec := compute.Spec{
		ID: "boot-1", Name: "boot", Hostname: "guest-one", VCPU: 1, MemoryMiB: 256,
		SSHKeys: []string{"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAITEST test@sirocco"},
		Image:   compute.ImageRef{Kind: compute.ImageKernel, Kernel: kernel, Initrd: initrd, Cmdline: testguest.Cmdline},
	}
	ready := testguest.ReadyPrefix + "hostname=guest-one "
	p := PathsFor(filepath.Join(root, spec.ID))
	step := func(name string, start time.Time) {
		t.Logf("%-28s %v", name, time.Since(start).Round(time.Millisecond))
	}

	start := time.Now()
	if err := d.Create(ctx, spec); err != nil {
		t.Fatal(err)
	}
	if err := d.Start(ctx, spec.ID); err != nil {
		t.Fatal(err)
	}
	step("create+start (qmp up)", start)
	waitLog(t, p.ConsoleLog, ready, 1, bootTimeout)
	step("boot to ready line", start)
	wantState(t, d, spec.ID, compute.StateRunning)

	con, err := d.AttachConsole(ctx, spec.ID)
	if err != nil {
		t.Fatal(err)
	}
	con.Close()

	pid := pidOf(t, p)
	start = time.Now()
	if err := d.Stop(ctx, spec.ID, 20*time.Second); err != nil {
		t.Fatal(err)
	}
	step("graceful stop (ACPI)", start)
	if time.Since(start) >= 20*time.Second || !gone(pid) {
		b, _ := os.ReadFile(p.ConsoleLog)
		t.Fatalf("guest did not power off on ACPI: qemu %d gone=%v after %v; console:\n%s", pid, gone(pid), time.Since(start), tail(b))
	}
	wantState(t, d, spec.ID, compute.StateStopped)

	start = time.Now()
	if err := d.Start(ctx, spec.ID); err != nil {
		t.Fatal(err)
	}
	waitLog(t, p.ConsoleLog, ready, 2, bootTimeout)
	step("second start to ready", start)

	start = time.Now()
	if err := d.Reboot(ctx, spec.ID); err != nil {
		t.Fatal(err)
	}
	waitLog(t, p.ConsoleLog, ready, 3, bootTimeout)
	step("reboot to ready", start)

	log, err := d.ConsoleLog(ctx, spec.ID)
	if err != nil {
		t.Fatal(err)
	}
	log.Close()

	pid = pidOf(t, p)
	start = time.Now()
	if err := d.ForceOff(ctx, spec.ID); err != nil {
		t.Fatal(err)
	}
	step("force off", start)
	if !gone(pid) {
		t.Fatalf("qemu %d still runs after force off", pid)
	}
	wantState(t, d, spec.ID, compute.StateStopped)

	if err := d.Delete(ctx, spec.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("vm dir left after delete: %v", err)
	}
	if entries, _ := os.ReadDir(root); len(entries) != 0 {
		t.Errorf("root not empty after delete: %v", entries)
	}
	if out, _ := os.ReadFile("/proc/net/unix"); strings.Contains(string(out), p.Dir) {
		t.Errorf("a socket of the vm is still open")
	}
}
