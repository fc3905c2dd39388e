package main

import (
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/sirocco-cloud/sirocco/internal/agent"
	"github.com/sirocco-cloud/sirocco/internal/compute/qemu"
	"github.com/sirocco-cloud/sirocco/internal/network"
)

// hypervisor is where a host keeps its VMs and its image cache, and who
// QEMU runs as.
type hypervisor struct {
	dir      string // holds machines/ (the QEMU driver's root) and images/ (the cache)
	qemuUser string // empty runs QEMU as siroccod's own user
	accel    string
	// underlay and uplink turn tenant networking on (--underlay, --uplink);
	// routerPrefix names the router namespaces (--router-prefix).
	underlay, uplink, routerPrefix string
	// dnsUpstreams are the resolvers the networks' routers forward DNS to
	// (--dns-upstream, comma-separated); empty: those of /etc/resolv.conf
	// that the routers can reach (not loopback).
	dnsUpstreams string
}

// resolvers parses --dns-upstream, or reads the host's resolv.conf.
func (h hypervisor) resolvers() ([]netip.AddrPort, error) {
	list := strings.Split(h.dnsUpstreams, ",")
	if strings.TrimSpace(h.dnsUpstreams) == "" {
		list = nil
		b, _ := os.ReadFile("/etc/resolv.conf")
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Fields(line); len(f) == 2 && f[0] == "nameserver" {
				if a, err := netip.ParseAddr(f[1]); err == nil && a.Is4() && !a.IsLoopback() {
					list = append(list, f[1])
				}
			}
		}
	}
	var out []netip.AddrPort
	for _, s := range list {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil || !a.Is4() {
			return nil, fmt.Errorf("--dns-upstream %q: not an IPv4 address", s)
		}
		out = append(out, netip.AddrPortFrom(a, 53))
	}
	return out, nil
}

// network opens the host's tenant dataplane, or returns nil when the host
// carries no tenant networks: no --underlay, or not root (bridges, taps and
// namespaces need it). Its VMs then run without NICs, as before networking.
func (h hypervisor) network(log *slog.Logger) (*network.Host, error) {
	if h.underlay == "" {
		if h.uplink != "" {
			return nil, fmt.Errorf("--uplink %s needs --underlay", h.uplink)
		}
		return nil, nil
	}
	addr, err := netip.ParseAddr(h.underlay)
	if err != nil || !addr.Is4() {
		return nil, fmt.Errorf("--underlay %q: want this host's IPv4 address for VXLAN", h.underlay)
	}
	if os.Geteuid() != 0 {
		log.Warn("not root: tenant networking is off, VMs run without NICs", "underlay", h.underlay)
		return nil, nil
	}
	return network.New(network.Config{Underlay: addr, Uplink: h.uplink, RouterPrefix: h.routerPrefix})
}

// tapOwner is the UID QEMU runs as, who must be able to open the taps.
func (h hypervisor) tapOwner() (int, error) {
	if h.qemuUser == "" {
		return os.Geteuid(), nil
	}
	u, err := user.Lookup(h.qemuUser)
	if err != nil {
		return 0, fmt.Errorf("--qemu-user %s: %w", h.qemuUser, err)
	}
	return strconv.Atoi(u.Uid)
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

// agentOptions opens the driver and, with --underlay, the dataplane, for an
// agent keeping its state in stateDir.
func (h hypervisor) agentOptions(stateDir string, log *slog.Logger) (agent.Options, error) {
	drv, err := h.driver()
	if err != nil {
		return agent.Options{}, err
	}
	opts := agent.Options{StateDir: stateDir, Accel: h.accel, Driver: drv, ImageDir: h.imageDir(), Log: log}
	if opts.Network, err = h.network(log); err != nil {
		return agent.Options{}, err
	}
	if opts.Network != nil {
		if opts.TapOwner, err = h.tapOwner(); err != nil {
			return agent.Options{}, err
		}
		opts.UnderlayIP = h.underlay
		if opts.DNSUpstreams, err = h.resolvers(); err != nil {
			return agent.Options{}, err
		}
		log.Info("tenant networking on", "underlay", h.underlay, "uplink", h.uplink, "dns_upstreams", len(opts.DNSUpstreams))
	}
	return opts, nil
}
