package compute

import (
	"errors"
	"os"
	"testing"
)

func TestDetectAccel(t *testing.T) {
	okOpen := func() error { return nil }
	failOpen := func() error { return errors.New("permission denied") }
	const intel = "processor\t: 0\nflags\t\t: fpu vme de pse tsc msr vmx sse2\n"
	const amd = "processor\t: 0\nflags\t\t: fpu svm lm\n"
	const pvm = "processor\t: 0\nflags\t\t: fpu vme hypervisor sse2\nbugs\t\t: vmx_like\n"
	tests := []struct {
		name, override, cpuinfo string
		open                    func() error
		want                    string
	}{
		{"intel with kvm", "", intel, okOpen, AccelKVM},
		{"amd with kvm", "", amd, okOpen, AccelKVM},
		{"vmx but /dev/kvm fails", "", intel, failOpen, AccelTCG},
		{"paravirtual kvm without vmx", "", pvm, okOpen, AccelTCG},
		{"empty cpuinfo", "", "", okOpen, AccelTCG},
		{"override tcg", AccelTCG, intel, okOpen, AccelTCG},
		{"override kvm", AccelKVM, pvm, failOpen, AccelKVM},
		{"bad override ignored", "hvf", pvm, okOpen, AccelTCG},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := DetectAccel(tt.override, tt.cpuinfo, tt.open); got != tt.want {
				t.Errorf("DetectAccel = %q, want %q", got, tt.want)
			}
		})
	}
}

// This machine has a paravirtual /dev/kvm without vmx/svm: it must pick tcg.
func TestHostAccelIsTCGHere(t *testing.T) {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		t.Skip("no /proc/cpuinfo")
	}
	if hasVirtFlag(string(b)) {
		t.Skip("this host shows vmx/svm; the check is for the development machines")
	}
	if got := HostAccel(""); got != AccelTCG {
		t.Errorf("HostAccel = %q, want tcg", got)
	}
}

func TestSpecValidate(t *testing.T) {
	good := Spec{ID: "vm-1", VCPU: 1, MemoryMiB: 128, Image: ImageRef{Kind: ImageKernel, Kernel: "/k"}}
	if err := good.Validate(); err != nil {
		t.Fatalf("good spec: %v", err)
	}
	bad := []Spec{
		{ID: "../x", VCPU: 1, MemoryMiB: 128, Image: good.Image},
		{ID: "a", VCPU: 0, MemoryMiB: 128, Image: good.Image},
		{ID: "a", VCPU: 1, MemoryMiB: 1, Image: good.Image},
		{ID: "a", VCPU: 1, MemoryMiB: 128, Image: ImageRef{Kind: ImageDisk}},
		{ID: "a", VCPU: 1, MemoryMiB: 128, Image: ImageRef{Kind: "iso"}},
	}
	for i, s := range bad {
		if err := s.Validate(); !errors.Is(err, ErrInvalidSpec) {
			t.Errorf("bad[%d]: err = %v, want ErrInvalidSpec", i, err)
		}
	}
}
