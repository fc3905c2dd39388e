package qemu

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/sirocco-cloud/sirocco/internal/compute"
	"github.com/sirocco-cloud/sirocco/internal/compute/testguest"
)

// TestDebianGuestRealCloudInit boots the debootstrap Debian guest through
// the driver, under TCG here: its real cloud-init must read our NoCloud seed,
// set our hostname and install our SSH key for the default user, which a
// runcmd line reports on the serial console.
func TestDebianGuestRealCloudInit(t *testing.T) {
	kernel, initrd, disk := testguest.DebianPath(t)
	root := t.TempDir()
	d := newDriver(t, root, nil)
	ctx := testCtx(t, 6*time.Minute)
	spec := compute.Spec{
		ID: "debian-1", Name: "debian", Hostname: "deb-sirocco-test", VCPU: 2, MemoryMiB: 1024,
		SSHKeys: []string{"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeKeyForTheSiroccoTest sirocco-test-key"},
		// The driver merges the key into this #cloud-config.
		UserData: "#cloud-config\nruncmd:\n  - echo \"SIROCCO-DEBIAN-READY hostname=$(hostname) key=$(awk '{print $3}' /home/debian/.ssh/authorized_keys)\" > /dev/ttyS0\n",
		Image:    compute.ImageRef{Kind: compute.ImageKernel, Kernel: kernel, Initrd: initrd, Disk: disk, Cmdline: testguest.DebianCmdline},
	}
	start := time.Now()
	if err := d.Create(ctx, spec); err != nil {
		t.Fatal(err)
	}
	if err := d.Start(ctx, spec.ID); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Not ctx: the test's context is cancelled before cleanups run.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := d.Delete(ctx, spec.ID); err != nil {
			t.Errorf("delete: %v", err)
		}
	})
	waitLog(t, PathsFor(filepath.Join(root, spec.ID)).ConsoleLog,
		"SIROCCO-DEBIAN-READY hostname=deb-sirocco-test key=sirocco-test-key", 1, 5*time.Minute)
	t.Logf("real cloud-init applied hostname and key %v after start", time.Since(start).Round(time.Second))
}
