package compute

import (
	"bufio"
	"os"
	"strings"
)

// Accelerators QEMU can use.
const (
	AccelKVM = "kvm"
	AccelTCG = "tcg"
)

// DetectAccel picks the accelerator for this host: "kvm" only when the CPU
// flags in cpuinfo (the text of /proc/cpuinfo) show vmx or svm AND
// openKVM (opening /dev/kvm read-write) succeeds; otherwise "tcg". A nested,
// paravirtual /dev/kvm without vmx/svm therefore gives tcg, which is what we
// want: stock guest kernels hang under it. A non-empty override ("kvm" or
// "tcg", from configuration) wins over detection.
func DetectAccel(override, cpuinfo string, openKVM func() error) string {
	switch override {
	case AccelKVM, AccelTCG:
		return override
	}
	if !hasVirtFlag(cpuinfo) {
		return AccelTCG
	}
	if openKVM == nil || openKVM() != nil {
		return AccelTCG
	}
	return AccelKVM
}

// HostAccel runs DetectAccel on this host's /proc/cpuinfo and /dev/kvm.
func HostAccel(override string) string {
	if override == AccelKVM || override == AccelTCG {
		return override
	}
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return AccelTCG
	}
	return DetectAccel("", string(b), OpenDevKVM)
}

// OpenDevKVM opens /dev/kvm read-write and closes it again.
func OpenDevKVM() error {
	f, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0)
	if err != nil {
		return err
	}
	return f.Close()
}

func hasVirtFlag(cpuinfo string) bool {
	sc := bufio.NewScanner(strings.NewReader(cpuinfo))
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok || strings.TrimSpace(key) != "flags" {
			continue
		}
		for _, f := range strings.Fields(val) {
			if f == "vmx" || f == "svm" {
				return true
			}
		}
	}
	return false
}
