package qemu

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sirocco-cloud/sirocco/internal/compute"
)

func TestArgsGolden(t *testing.T) {
	p := PathsFor("/var/lib/sirocco/vms/vm-1")
	disk := compute.Spec{
		ID: "vm-1", Name: "web", Hostname: "web-1", VCPU: 2, MemoryMiB: 2048, DiskGiB: 20,
		Image: compute.ImageRef{Kind: compute.ImageDisk, Disk: "/var/lib/sirocco/images/debian-12.qcow2"},
		NICs:  []compute.NIC{{MAC: "52:54:00:12:34:56", Tap: "st00123456"}},
	}
	// Two NICs and two data disks: the disks sit between the root disk
	// and the seed, the NICs follow in order.
	multi := disk
	multi.NICs = []compute.NIC{{MAC: "52:54:00:12:34:56", Tap: "st00123456"}, {MAC: "52:54:00:ab:cd:ef", Tap: "st00abcdef"}}
	multi.Disks = []compute.Disk{
		{ID: "0190f3a2-7c1e-7d4b-9a10-3f2e1d0c9b8a", Path: "/var/lib/sirocco/disks/0190f3a2-7c1e-7d4b-9a10-3f2e1d0c9b8a.qcow2", SizeGiB: 50},
		{ID: "data", Path: "/var/lib/sirocco/disks/data.qcow2", SizeGiB: 1},
	}
	kernel := compute.Spec{
		ID: "vm-1", Name: "tiny", Hostname: "tiny", VCPU: 1, MemoryMiB: 256,
		Image: compute.ImageRef{Kind: compute.ImageKernel, Kernel: "/var/lib/sirocco/images/vmlinuz",
			Initrd: "/var/lib/sirocco/images/initrd.img", Cmdline: "console=ttyS0 quiet"},
	}
	tests := []struct {
		name  string
		spec  compute.Spec
		accel string
	}{
		{"disk-kvm", disk, compute.AccelKVM},
		{"disk-tcg", disk, compute.AccelTCG},
		{"multi-tcg", multi, compute.AccelTCG},
		{"kernel-kvm", kernel, compute.AccelKVM},
		{"kernel-tcg", kernel, compute.AccelTCG},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := strings.Join(Args(tt.spec, p, tt.accel), "\n") + "\n"
			golden := filepath.Join("testdata", tt.name+".args")
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update)", err)
			}
			if got != string(want) {
				t.Errorf("args differ from %s (run with -update to accept):\n%s", golden, got)
			}
		})
	}
}

func TestArgsEscapesCommas(t *testing.T) {
	spec := compute.Spec{ID: "a", VCPU: 1, MemoryMiB: 64, Image: compute.ImageRef{Kind: compute.ImageKernel, Kernel: "/k"}}
	args := Args(spec, PathsFor("/tmp/x,y"), compute.AccelTCG)
	joined := strings.Join(args, " ")
	if !strings.Contains(joined, "unix:/tmp/x,,y/qmp.sock,server=on") {
		t.Errorf("comma not escaped: %s", joined)
	}
	if strings.Contains(joined, "id=root") {
		t.Errorf("kernel image without disk got a root disk: %s", joined)
	}
}
