package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"sync"

	"github.com/vishvananda/netns"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/api/agentapi"
	"github.com/sirocco-cloud/sirocco/internal/compute"
	"github.com/sirocco-cloud/sirocco/internal/network"
	"github.com/sirocco-cloud/sirocco/internal/network/dhcp"
	"github.com/sirocco-cloud/sirocco/internal/network/dnsfwd"
)

// Networking carries the host's share of the tenant networks: after every
// sync it makes the dataplane (internal/network) and the networks' DHCP
// servers what the desired state says, level-triggered like the VMs. VM
// ports are also attached by the VM workers right before QEMU starts, so a
// VM never starts without its tap.
type Networking struct {
	host     *network.Host
	tapOwner int // the QEMU user, who opens the taps
	log      *slog.Logger
	// DNSUpstreams, when set, are the resolvers each network's router
	// forwards DNS queries to from its gateway; a network that names no
	// DNS servers then gives its VMs the gateway.
	DNSUpstreams []netip.AddrPort

	mu     sync.Mutex
	dhcp   map[int]*dhcpServer     // by VNI
	dns    map[int]*dnsForwarder   // by VNI
	vnis   map[string]int          // network ID -> VNI, from the last desired state
	taps   map[string]bool         // taps this agent attached and has not removed
	public map[netip.Addr]struct{} // public addresses this agent routed
}

// dnsForwarder is one network's DNS forwarder and the router namespace it
// listens in (a recreated namespace needs a new one).
type dnsForwarder struct {
	fwd  *dnsfwd.Forwarder
	nsID string
}

// dhcpServer is one network's DHCP responder and what it was started with:
// a change of anything but the leases, or of the router namespace itself
// (recreated under the same name), restarts it.
type dhcpServer struct {
	srv    *dhcp.Server
	config string
	nsID   string
}

// NewNetworking drives host's dataplane; taps are created for tapOwner (the
// QEMU user's UID). known are the taps of the VMs already on the host, so
// that those of VMs deleted while the agent was down are removed too.
func NewNetworking(host *network.Host, tapOwner int, known []string, log *slog.Logger) *Networking {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	n := &Networking{host: host, tapOwner: tapOwner, log: log, dhcp: map[int]*dhcpServer{}, dns: map[int]*dnsForwarder{}, vnis: map[string]int{},
		taps: map[string]bool{}, public: map[netip.Addr]struct{}{}}
	for _, t := range known {
		if t != "" {
			n.taps[t] = true
		}
	}
	return n
}

// Close stops the DHCP servers. The dataplane stays: the VMs keep their
// network while the agent is away.
func (n *Networking) Close() {
	n.mu.Lock()
	defer n.mu.Unlock()
	for v, s := range n.dhcp {
		s.srv.Close()
		delete(n.dhcp, v)
	}
	for v, f := range n.dns {
		f.fwd.Close()
		delete(n.dns, v)
	}
}

// Apply makes the host carry exactly the desired networks, ports and public
// addresses, in dependency order: uplinks, networks and their DHCP, ports,
// public addresses; then it removes what is no longer desired: public
// addresses, ports of VMs gone, networks. A failing step is logged and the
// others still run; the next sync tries again. ctx bounds the DHCP servers'
// lives, so it is the agent's, not one sync's.
func (n *Networking) Apply(ctx context.Context, resp *agentapi.SyncResponse) error {
	var errs []error
	for _, u := range resp.Uplinks {
		if err := n.uplink(ctx, u); err != nil {
			errs = append(errs, err)
		}
	}
	vnis := map[string]int{}
	wanted := map[int]bool{}
	for _, d := range resp.Networks {
		vnis[d.ID] = d.VNI
		wanted[d.VNI] = true
		if err := n.ensureNetwork(ctx, d); err != nil {
			errs = append(errs, fmt.Errorf("network %s (vni %d): %w", d.ID, d.VNI, err))
		}
	}
	n.mu.Lock()
	n.vnis = vnis
	n.mu.Unlock()

	referenced := map[string]bool{}
	public := map[netip.Addr]struct{}{}
	for _, vm := range resp.VMs {
		for _, nic := range vm.NICs {
			tap, err := tapOf(nic)
			if err != nil {
				errs = append(errs, fmt.Errorf("vm %s: %w", vm.ID, err))
				continue
			}
			referenced[tap] = true
			if vm.Power == powerDeleted {
				continue // the worker unplugs it once QEMU is gone
			}
			if err := n.ensurePort(ctx, nic); err != nil {
				errs = append(errs, fmt.Errorf("vm %s: %w", vm.ID, err))
				continue
			}
			if nic.PublicIP == "" {
				continue
			}
			p, err := n.publicIP(nic)
			if err != nil {
				errs = append(errs, fmt.Errorf("vm %s: %w", vm.ID, err))
				continue
			}
			public[p.Address] = struct{}{}
			if err := n.host.EnsurePublicIP(ctx, p); err != nil {
				errs = append(errs, fmt.Errorf("vm %s: public ip %s: %w", vm.ID, p.Address, err))
				continue
			}
			n.mu.Lock()
			n.public[p.Address] = struct{}{}
			n.mu.Unlock()
		}
	}

	n.mu.Lock()
	var unroute []netip.Addr
	for a := range n.public {
		if _, ok := public[a]; !ok {
			unroute = append(unroute, a)
		}
	}
	var unplug []string
	for t := range n.taps {
		if !referenced[t] {
			unplug = append(unplug, t)
		}
	}
	n.mu.Unlock()
	for _, a := range unroute {
		if err := n.host.DeletePublicIP(ctx, a); err != nil {
			errs = append(errs, fmt.Errorf("public ip %s: %w", a, err))
			continue
		}
		n.log.Info("public ip removed", "address", a)
		n.mu.Lock()
		delete(n.public, a)
		n.mu.Unlock()
	}
	for _, t := range unplug {
		if err := n.Unplug(ctx, t); err != nil {
			errs = append(errs, err)
		}
	}

	have, err := n.host.Networks(ctx)
	if err != nil {
		errs = append(errs, err)
	}
	n.mu.Lock()
	for v := range n.dhcp {
		if !wanted[v] && !slices.Contains(have, v) {
			have = append(have, v) // a DHCP server left without its network
		}
	}
	n.mu.Unlock()
	for _, v := range have {
		if wanted[v] {
			continue
		}
		n.stopDHCP(v)
		if err := n.host.DeleteNetwork(ctx, v); err != nil {
			errs = append(errs, fmt.Errorf("delete network vni %d: %w", v, err))
			continue
		}
		n.log.Info("network removed", "vni", v)
	}
	return errors.Join(errs...)
}

func (n *Networking) uplink(ctx context.Context, u agentapi.PublicUplink) error {
	prefix, err := netip.ParsePrefix(u.Prefix)
	if err != nil {
		return fmt.Errorf("uplink %s: %w", u.Prefix, err)
	}
	gw, err := netip.ParseAddr(u.Gateway)
	if err != nil {
		return fmt.Errorf("uplink %s gateway: %w", u.Prefix, err)
	}
	if err := n.host.EnsureUplink(ctx, prefix, gw); err != nil {
		return fmt.Errorf("uplink %s via %s: %w", prefix, gw, err)
	}
	return nil
}

// ensureNetwork puts network d on the host and its DHCP server in its router.
func (n *Networking) ensureNetwork(ctx context.Context, d agentapi.DesiredNetwork) error {
	cidr, err := netip.ParsePrefix(d.CIDR)
	if err != nil {
		return fmt.Errorf("cidr: %w", err)
	}
	gw, err := netip.ParseAddr(d.Gateway)
	if err != nil {
		return fmt.Errorf("gateway: %w", err)
	}
	nw := network.Network{ID: d.ID, VNI: d.VNI, CIDR: cidr, Gateway: gw, MTU: d.MTU}
	for _, p := range d.Peers {
		a, err := netip.ParseAddr(p)
		if err != nil {
			return fmt.Errorf("peer %q: %w", p, err)
		}
		nw.Peers = append(nw.Peers, a)
	}
	if err := n.host.EnsureNetwork(ctx, nw); err != nil {
		return err
	}
	cfg := dhcp.Config{Interface: gatewayInterface(d.VNI), ServerIP: gw, Prefix: cidr, Router: gw, MTU: d.MTU,
		Log: n.log.With("network", d.ID)}
	if cfg.MTU == 0 {
		cfg.MTU = network.DefaultMTU
	}
	for _, s := range d.DNS {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return fmt.Errorf("dns %q: %w", s, err)
		}
		cfg.DNS = append(cfg.DNS, a)
	}
	if len(n.DNSUpstreams) > 0 {
		if err := n.ensureDNS(ctx, d.VNI, gw); err != nil {
			return fmt.Errorf("dns forwarder: %w", err)
		}
		if len(cfg.DNS) == 0 {
			cfg.DNS = []netip.Addr{gw}
		}
	}
	for _, l := range d.Leases {
		mac, err := net.ParseMAC(l.MAC)
		ip, ierr := netip.ParseAddr(l.IP)
		if err != nil || ierr != nil {
			n.log.Warn("dhcp lease skipped", "network", d.ID, "mac", l.MAC, "ip", l.IP)
			continue
		}
		cfg.Leases = append(cfg.Leases, dhcp.Lease{MAC: mac, IP: ip, Hostname: l.Hostname})
	}
	return n.ensureDHCP(ctx, d.VNI, cfg)
}

// gatewayInterface is the router's interface on network vni, where its
// DHCP server listens (internal/network names it srg<vni>).
func gatewayInterface(vni int) string { return "srg" + strconv.Itoa(vni) }

// ensureDHCP starts network vni's DHCP server, or gives the running one the
// current leases.
func (n *Networking) ensureDHCP(ctx context.Context, vni int, cfg dhcp.Config) error {
	ns, err := netns.GetFromName(n.host.RouterNamespace(vni))
	if err != nil {
		return fmt.Errorf("router namespace: %w", err)
	}
	defer ns.Close()
	nsID := ns.UniqueId()
	config := fmt.Sprint(cfg.Interface, cfg.ServerIP, cfg.Prefix, cfg.Router, cfg.DNS, cfg.MTU)
	n.mu.Lock()
	defer n.mu.Unlock()
	if s := n.dhcp[vni]; s != nil {
		if s.config == config && s.nsID == nsID {
			s.srv.SetLeases(cfg.Leases)
			return nil
		}
		s.srv.Close()
		delete(n.dhcp, vni)
	}
	cfg.NetNS = ns
	srv, err := dhcp.Serve(ctx, cfg)
	if err != nil {
		return err
	}
	n.dhcp[vni] = &dhcpServer{srv: srv, config: config, nsID: nsID}
	n.log.Info("dhcp serving", "vni", vni, "interface", cfg.Interface, "leases", len(cfg.Leases))
	return nil
}

func (n *Networking) stopDHCP(vni int) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if s := n.dhcp[vni]; s != nil {
		s.srv.Close()
		delete(n.dhcp, vni)
	}
	if f := n.dns[vni]; f != nil {
		f.fwd.Close()
		delete(n.dns, vni)
	}
}

// ensureDNS runs network vni's DNS forwarder on its gateway, port 53.
func (n *Networking) ensureDNS(ctx context.Context, vni int, gw netip.Addr) error {
	ns, err := netns.GetFromName(n.host.RouterNamespace(vni))
	if err != nil {
		return fmt.Errorf("router namespace: %w", err)
	}
	defer ns.Close()
	nsID := ns.UniqueId()
	n.mu.Lock()
	defer n.mu.Unlock()
	if f := n.dns[vni]; f != nil {
		if f.nsID == nsID {
			return nil
		}
		f.fwd.Close()
		delete(n.dns, vni)
	}
	fwd, err := dnsfwd.Start(context.WithoutCancel(ctx), dnsfwd.Config{NetNS: ns, Listen: netip.AddrPortFrom(gw, 53),
		Upstreams: n.DNSUpstreams, Log: n.log.With("vni", vni)})
	if err != nil {
		return err
	}
	n.dns[vni] = &dnsForwarder{fwd: fwd, nsID: nsID}
	return nil
}

// tapOf names the tap of a NIC after its MAC.
func tapOf(nic agentapi.DesiredNIC) (string, error) {
	mac, err := net.ParseMAC(nic.MAC)
	if err != nil || len(mac) != 6 {
		return "", fmt.Errorf("nic mac %q: not an Ethernet address", nic.MAC)
	}
	return network.TapName(mac), nil
}

// ensurePort attaches nic's tap to its network with its anti-spoofing and
// firewall rules.
func (n *Networking) ensurePort(ctx context.Context, nic agentapi.DesiredNIC) error {
	mac, err := net.ParseMAC(nic.MAC)
	if err != nil {
		return fmt.Errorf("nic mac %q: %w", nic.MAC, err)
	}
	ip, err := netip.ParseAddr(nic.IP)
	if err != nil {
		return fmt.Errorf("nic ip %q: %w", nic.IP, err)
	}
	n.mu.Lock()
	vni, ok := n.vnis[nic.Network]
	n.mu.Unlock()
	if !ok {
		return fmt.Errorf("nic %s: network %s is not in the host's desired state", nic.MAC, nic.Network)
	}
	p := network.Port{VNI: vni, Tap: network.TapName(mac), MAC: mac, IP: ip, OwnerUID: n.tapOwner}
	for _, r := range nic.Rules {
		rule := network.Rule{Protocol: r.Protocol, PortFrom: r.PortFrom, PortTo: r.PortTo}
		if r.CIDR != "" {
			if rule.CIDR, err = netip.ParsePrefix(r.CIDR); err != nil {
				return fmt.Errorf("nic %s rule cidr %q: %w", nic.MAC, r.CIDR, err)
			}
		}
		switch r.Direction {
		case api.DirectionIngress:
			p.Ingress = append(p.Ingress, rule)
		case api.DirectionEgress:
			p.Egress = append(p.Egress, rule)
		default:
			return fmt.Errorf("nic %s: rule direction %q", nic.MAC, r.Direction)
		}
	}
	n.mu.Lock()
	n.taps[p.Tap] = true // from now on, removed when no longer desired
	n.mu.Unlock()
	if err := n.host.EnsurePort(ctx, p); err != nil {
		return err
	}
	return nil
}

func (n *Networking) publicIP(nic agentapi.DesiredNIC) (network.PublicIP, error) {
	pub, err := netip.ParseAddr(nic.PublicIP)
	if err != nil {
		return network.PublicIP{}, fmt.Errorf("public ip %q: %w", nic.PublicIP, err)
	}
	priv, err := netip.ParseAddr(nic.IP)
	if err != nil {
		return network.PublicIP{}, fmt.Errorf("nic ip %q: %w", nic.IP, err)
	}
	n.mu.Lock()
	vni, ok := n.vnis[nic.Network]
	n.mu.Unlock()
	if !ok {
		return network.PublicIP{}, fmt.Errorf("public ip %s: network %s is not in the host's desired state", pub, nic.Network)
	}
	return network.PublicIP{Address: pub, Private: priv, VNI: vni}, nil
}

// Plug attaches every NIC of VM d, in order, and returns them as QEMU is to
// use them (MAC and tap); a VM without NICs gets none. Each NIC's tap is
// named after its MAC (network.TapName), so that it is unique on the host
// and found again from the VM's spec after an agent restart.
func (n *Networking) Plug(ctx context.Context, d agentapi.DesiredVM) ([]compute.NIC, error) {
	var nics []compute.NIC
	for _, nic := range d.NICs {
		tap, err := tapOf(nic)
		if err != nil {
			return nil, err
		}
		if err := n.ensurePort(ctx, nic); err != nil {
			return nil, fmt.Errorf("attach nic %s: %w", nic.MAC, err)
		}
		nics = append(nics, compute.NIC{MAC: nic.MAC, Tap: tap})
	}
	return nics, nil
}

// Unplug removes a tap and its rules; a missing one is not an error.
func (n *Networking) Unplug(ctx context.Context, tap string) error {
	if tap == "" {
		return nil
	}
	if err := n.host.DeletePort(ctx, tap); err != nil {
		return fmt.Errorf("delete port %s: %w", tap, err)
	}
	n.mu.Lock()
	delete(n.taps, tap)
	n.mu.Unlock()
	return nil
}

// TxBytes is what a VM whose NICs have macs sent through its taps: the sum
// of their receive counters; a NIC without a tap here counts zero.
func (n *Networking) TxBytes(macs []string) int64 {
	var sum int64
	for _, mac := range macs {
		hw, err := net.ParseMAC(mac)
		if err != nil {
			continue
		}
		b, err := n.host.ReceivedBytes(network.TapName(hw))
		if err != nil {
			continue
		}
		sum += int64(b)
	}
	return sum
}
