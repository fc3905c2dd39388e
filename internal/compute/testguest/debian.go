package testguest

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// DebianCmdline boots the Debian guest with its root on the first virtio disk.
const DebianCmdline = "root=/dev/vda rw console=ttyS0 panic=-1"

// DebianPath returns the kernel, initrd and root disk of the debootstrap
// Debian guest (real cloud-init and openssh-server), building it with
// images/testguest/build-debian.sh into the cache first when it is missing
// (about 2 to 4 minutes, as root). It fails t when the guest cannot be built.
func DebianPath(t testing.TB) (kernel, initrd, disk string) {
	t.Helper()
	base, err := CacheDir()
	if err != nil {
		t.Fatalf("testguest: %v", err)
	}
	dir := filepath.Join(filepath.Dir(base), "testguest-debian")
	script, err := buildScript()
	if err != nil {
		t.Fatalf("testguest: %v", err)
	}
	script = filepath.Join(filepath.Dir(script), "build-debian.sh")
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		t.Fatalf("testguest: %v", err)
	}
	unlock, err := lock(dir + ".lock")
	if err != nil {
		t.Fatalf("testguest: %v", err)
	}
	defer unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 2*buildTimeout)
	defer cancel()
	start := time.Now()
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, "bash", script, dir)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("testguest: cannot build the Debian guest (make image-debian): %v\n%s", err, out.Bytes())
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Logf("testguest: built the Debian guest in %s (%v)", dir, d.Round(time.Second))
	}
	return filepath.Join(dir, "vmlinuz"), filepath.Join(dir, "initrd.img"), filepath.Join(dir, "disk.qcow2")
}
