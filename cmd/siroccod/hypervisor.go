package main

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"

	"github.com/sirocco-cloud/sirocco/internal/compute/qemu"
)

// hypervisor is where a host keeps its VMs and its image cache, and who
// QEMU runs as.
type hypervisor struct {
	dir      string // holds machines/ (the QEMU driver's root) and images/ (the cache)
	qemuUser string // empty runs QEMU as siroccod's own user
	accel    string
}

// defaultVMDir is under /var/lib/sirocco for root, where an unprivileged
// QEMU can reach it, else beside the agent's state.
func defaultVMDir(stateDir string) string {
	if os.Geteuid() == 0 {
		return "/var/lib/sirocco/hypervisor"
	}
	return stateDir
}

// defaultQEMUUser is nobody for root: QEMU never runs as root.
func defaultQEMUUser() string {
	if os.Geteuid() == 0 {
		return "nobody"
	}
	return ""
}

func (h hypervisor) imageDir() string { return filepath.Join(h.dir, "images") }

// driver opens the QEMU driver, checking first that QEMU's user can reach
// the VM directory (a directory under /root, for instance, it cannot).
func (h hypervisor) driver() (*qemu.Driver, error) {
	cfg := qemu.Config{Root: filepath.Join(h.dir, "machines"), Accel: h.accel}
	for _, d := range []string{h.dir, cfg.Root, h.imageDir()} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("vm directory: %w", err)
		}
		if err := os.Chmod(d, 0o755); err != nil {
			return nil, fmt.Errorf("vm directory: %w", err)
		}
	}
	if h.qemuUser != "" {
		u, err := user.Lookup(h.qemuUser)
		if err != nil {
			return nil, fmt.Errorf("--qemu-user %s: %w", h.qemuUser, err)
		}
		uid, _ := strconv.ParseUint(u.Uid, 10, 32)
		gid, _ := strconv.ParseUint(u.Gid, 10, 32)
		cfg.RunAs = &qemu.Credential{UID: uint32(uid), GID: uint32(gid)}
		abs, err := filepath.Abs(h.dir)
		if err != nil {
			return nil, err
		}
		for d := abs; ; d = filepath.Dir(d) {
			st, err := os.Stat(d)
			if err != nil {
				return nil, err
			}
			if st.Mode().Perm()&0o001 == 0 {
				return nil, fmt.Errorf("QEMU runs as %s, which cannot enter %s on the way to the VM directory %s: "+
					"choose another --vm-dir (default /var/lib/sirocco) or --qemu-user", h.qemuUser, d, abs)
			}
			if d == "/" {
				break
			}
		}
	}
	return qemu.New(cfg)
}
