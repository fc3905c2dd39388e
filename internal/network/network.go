// Package network is a host's tenant dataplane: per network a bridge, a
// VXLAN segment to the other hosts and a router namespace holding the
// gateway, NAT and the firewall; per VM NIC a tap with anti-spoofing; per
// public address a route, a proxy ARP entry and 1:1 NAT.
//
// Every operation is idempotent and acts on an explicit network namespace
// (Config.NetNS), so one process can drive several "hosts" in tests.
package network

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// DefaultMTU is a tenant network's MTU: 1500 on the underlay minus the 50
// bytes of VXLAN encapsulation.
const DefaultMTU = 1450

// VXLANPort is the IANA VXLAN UDP port.
const VXLANPort = 4789

// DefaultRouterPrefix names router namespaces: srtr-<vni>.
const DefaultRouterPrefix = "srtr-"

// Config is one host's dataplane setup.
type Config struct {
	// NetNS is the host's namespace; 0 means the current one.
	NetNS netns.NsHandle
	// Underlay is the host's address for VXLAN between hosts.
	Underlay netip.Addr
	// Uplink is the interface on the external network that carries public
	// addresses and egress traffic; empty means egress leaves by whatever
	// route the host has and public addresses are unavailable.
	Uplink string
	// RouterPrefix names router namespaces (prefix + VNI); tests running
	// two hosts in one kernel give each its own. Default DefaultRouterPrefix.
	RouterPrefix string
}

// Network is a tenant network as this host carries it.
type Network struct {
	ID      string
	VNI     int
	CIDR    netip.Prefix
	Gateway netip.Addr
	MTU     int          // 0 = DefaultMTU
	Peers   []netip.Addr // the other hosts' underlay addresses
}

// Host programs one host's dataplane.
type Host struct {
	cfg Config
	nl  *netlink.Handle
	// mu serializes changes: nftables maps are read then written.
	mu sync.Mutex
}

// New returns a Host for cfg.
func New(cfg Config) (*Host, error) {
	if cfg.RouterPrefix == "" {
		cfg.RouterPrefix = DefaultRouterPrefix
	}
	if cfg.Underlay.IsValid() && !cfg.Underlay.Is4() {
		return nil, fmt.Errorf("underlay %s: only IPv4 is supported", cfg.Underlay)
	}
	nl, err := handleAt(cfg.NetNS)
	if err != nil {
		return nil, fmt.Errorf("netlink: %w", err)
	}
	return &Host{cfg: cfg, nl: nl}, nil
}

// Close releases the host's netlink socket.
func (h *Host) Close() error {
	h.nl.Close()
	return nil
}

func handleAt(ns netns.NsHandle) (*netlink.Handle, error) {
	if ns <= 0 {
		return netlink.NewHandle()
	}
	return netlink.NewHandleAt(ns)
}

func nftAt(ns netns.NsHandle) (*nftables.Conn, error) {
	if ns <= 0 {
		return nftables.New()
	}
	return nftables.New(nftables.WithNetNSFd(int(ns)))
}

// Device names; all stay within 15 characters for any 24-bit VNI.
func bridgeName(v int) string      { return "sbr" + strconv.Itoa(v) }
func vxlanName(v int) string       { return "svx" + strconv.Itoa(v) }
func gatewayName(v int) string     { return "srg" + strconv.Itoa(v) } // in the router
func gatewayPeerName(v int) string { return "srb" + strconv.Itoa(v) } // in the bridge
func transitName(v int) string     { return "srt" + strconv.Itoa(v) } // in the router
func transitHostName(v int) string { return "srh" + strconv.Itoa(v) } // on the host

// RouterNamespace is the name of network vni's router namespace, where the
// gateway address lives (DHCP and DNS serve from there).
func (h *Host) RouterNamespace(vni int) string { return h.cfg.RouterPrefix + strconv.Itoa(vni) }

// TapName is the tap device name for a NIC's MAC: st + its last 4 bytes.
func TapName(mac net.HardwareAddr) string {
	if len(mac) < 4 {
		return ""
	}
	return fmt.Sprintf("st%x", []byte(mac[len(mac)-4:]))
}

// transitAddrs derives network v's /31 between host and router from
// 169.254.0.0/16: 32768 pairs, so two networks on one host must not have
// VNIs equal modulo 32768 (EnsureNetwork refuses).
func transitAddrs(v int) (hostSide, routerSide netip.Addr) {
	i := uint32(v%32768) * 2
	hostSide = netip.AddrFrom4([4]byte{169, 254, byte(i >> 8), byte(i)})
	return hostSide, hostSide.Next()
}

// transitPrefix holds every router transit address.
func transitPrefix() netip.Prefix { return netip.PrefixFrom(netip.AddrFrom4([4]byte{169, 254}), 16) }

// gatewayMAC is the router's MAC on network v. It is the same on every host
// (the gateway is local everywhere), so frames from or for it never cross
// VXLAN: the bridge table drops them there.
func gatewayMAC(v int) net.HardwareAddr {
	return net.HardwareAddr{0x02, 0x53, 0x00, byte(v >> 16), byte(v >> 8), byte(v)}
}

func (n *Network) validate() error {
	if n.VNI < 1 || n.VNI > 1<<24-1 {
		return fmt.Errorf("vni %d out of range", n.VNI)
	}
	if !n.CIDR.IsValid() || !n.CIDR.Addr().Is4() || n.CIDR.Bits() > 30 {
		return fmt.Errorf("cidr %s: need an IPv4 prefix of /30 or larger", n.CIDR)
	}
	if !n.CIDR.Contains(n.Gateway) {
		return fmt.Errorf("gateway %s not in %s", n.Gateway, n.CIDR)
	}
	if n.MTU == 0 {
		n.MTU = DefaultMTU
	}
	if n.MTU < 576 || n.MTU > 9000 {
		return fmt.Errorf("mtu %d out of range", n.MTU)
	}
	return nil
}

// EnsureNetwork makes this host carry n: bridge, VXLAN to exactly n.Peers,
// router namespace with gateway, transit link, NAT and the base firewall.
func (h *Host) EnsureNetwork(ctx context.Context, n Network) error {
	if err := n.validate(); err != nil {
		return fmt.Errorf("network %s: %w", n.ID, err)
	}
	if !h.cfg.Underlay.IsValid() {
		return errors.New("network: host has no underlay address")
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := h.checkTransitFree(n.VNI); err != nil {
		return err
	}
	if err := writeSysctl(h.cfg.NetNS, "net/ipv4/ip_forward", "1"); err != nil {
		return err
	}
	br, err := h.ensureBridge(n)
	if err != nil {
		return err
	}
	if err := h.ensureVXLAN(n, br); err != nil {
		return err
	}
	if err := h.syncPeers(n); err != nil {
		return err
	}
	rns, err := namedNS(h.RouterNamespace(n.VNI))
	if err != nil {
		return err
	}
	defer rns.Close()
	if err := h.ensureRouterLinks(n, br, rns); err != nil {
		return err
	}
	if err := writeSysctl(rns, "net/ipv4/ip_forward", "1"); err != nil {
		return err
	}
	if err := h.ensureRouterTable(n, rns); err != nil {
		return fmt.Errorf("router nftables: %w", err)
	}
	if err := h.ensureBridgeTable(n); err != nil {
		return fmt.Errorf("bridge nftables: %w", err)
	}
	if err := h.ensureHostTable(); err != nil {
		return fmt.Errorf("host nftables: %w", err)
	}
	return nil
}

// checkTransitFree refuses a VNI whose transit /31 another network on this
// host already uses.
func (h *Host) checkTransitFree(v int) error {
	hostSide, _ := transitAddrs(v)
	addrs, err := h.nl.AddrList(nil, netlink.FAMILY_V4)
	if err != nil {
		return fmt.Errorf("list addresses: %w", err)
	}
	for _, a := range addrs {
		if a.IP.Equal(hostSide.AsSlice()) && a.Label != transitHostName(v) {
			return fmt.Errorf("vni %d: transit %s already used by %s", v, hostSide, a.Label)
		}
	}
	return nil
}

func isNotFound(err error) bool {
	var nf netlink.LinkNotFoundError
	return errors.As(err, &nf)
}

// linkOrNil returns the named link, or nil when there is none.
func linkOrNil(nl *netlink.Handle, name string) (netlink.Link, error) {
	l, err := nl.LinkByName(name)
	if isNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("link %s: %w", name, err)
	}
	return l, nil
}

// ensureUp sets the MTU (when mtu > 0), the master (when master > 0) and
// brings the link up, each only when it differs.
func ensureUp(nl *netlink.Handle, l netlink.Link, mtu, master int) error {
	a := l.Attrs()
	if mtu > 0 && a.MTU != mtu {
		if err := nl.LinkSetMTU(l, mtu); err != nil {
			return fmt.Errorf("%s mtu: %w", a.Name, err)
		}
	}
	if master > 0 && a.MasterIndex != master {
		if err := nl.LinkSetMasterByIndex(l, master); err != nil {
			return fmt.Errorf("%s master: %w", a.Name, err)
		}
	}
	if a.Flags&net.FlagUp == 0 {
		if err := nl.LinkSetUp(l); err != nil {
			return fmt.Errorf("%s up: %w", a.Name, err)
		}
	}
	return nil
}

func (h *Host) ensureBridge(n Network) (netlink.Link, error) {
	name := bridgeName(n.VNI)
	l, err := linkOrNil(h.nl, name)
	if err != nil {
		return nil, err
	}
	if l == nil {
		if err := h.nl.LinkAdd(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: name, MTU: n.MTU}}); err != nil {
			return nil, fmt.Errorf("add bridge %s: %w", name, err)
		}
		if l, err = h.nl.LinkByName(name); err != nil {
			return nil, fmt.Errorf("bridge %s: %w", name, err)
		}
	}
	return l, ensureUp(h.nl, l, n.MTU, 0)
}

func (h *Host) ensureVXLAN(n Network, br netlink.Link) error {
	name := vxlanName(n.VNI)
	l, err := linkOrNil(h.nl, name)
	if err != nil {
		return err
	}
	if vx, ok := l.(*netlink.Vxlan); l != nil && (!ok || vx.VxlanId != n.VNI ||
		!vx.SrcAddr.Equal(h.cfg.Underlay.AsSlice()) || vx.Port != VXLANPort || vx.Learning) {
		// VXLAN parameters cannot change in place.
		if err := h.nl.LinkDel(l); err != nil {
			return fmt.Errorf("replace %s: %w", name, err)
		}
		l = nil
	}
	if l == nil {
		vx := &netlink.Vxlan{
			LinkAttrs: netlink.LinkAttrs{Name: name, MTU: n.MTU},
			VxlanId:   n.VNI,
			SrcAddr:   h.cfg.Underlay.AsSlice(),
			Port:      VXLANPort,
			Learning:  false,
		}
		if err := h.nl.LinkAdd(vx); err != nil {
			return fmt.Errorf("add vxlan %s: %w", name, err)
		}
		if l, err = h.nl.LinkByName(name); err != nil {
			return fmt.Errorf("vxlan %s: %w", name, err)
		}
	}
	return ensureUp(h.nl, l, n.MTU, br.Attrs().Index)
}

// syncPeers makes the VXLAN device flood to exactly n.Peers: one all-zero
// FDB entry per peer (head-end replication), stale ones removed.
func (h *Host) syncPeers(n Network) error {
	l, err := h.nl.LinkByName(vxlanName(n.VNI))
	if err != nil {
		return fmt.Errorf("vxlan: %w", err)
	}
	zero := net.HardwareAddr{0, 0, 0, 0, 0, 0}
	want := map[netip.Addr]bool{}
	for _, p := range n.Peers {
		if p != h.cfg.Underlay {
			want[p.Unmap()] = true
		}
	}
	have, err := h.nl.NeighList(l.Attrs().Index, unix.AF_BRIDGE)
	if err != nil {
		return fmt.Errorf("list fdb: %w", err)
	}
	for _, e := range have {
		if e.IP == nil || !slices.Equal(e.HardwareAddr, zero) {
			continue
		}
		ip, _ := netip.AddrFromSlice(e.IP)
		ip = ip.Unmap()
		if want[ip] {
			delete(want, ip)
			continue
		}
		if err := h.nl.NeighDel(&e); err != nil {
			return fmt.Errorf("remove peer %s: %w", ip, err)
		}
	}
	for p := range want {
		e := &netlink.Neigh{
			LinkIndex:    l.Attrs().Index,
			Family:       unix.AF_BRIDGE,
			Flags:        netlink.NTF_SELF,
			State:        netlink.NUD_PERMANENT,
			HardwareAddr: zero,
			IP:           p.AsSlice(),
		}
		if err := h.nl.NeighAppend(e); err != nil {
			return fmt.Errorf("add peer %s: %w", p, err)
		}
	}
	return nil
}

// ensureVeth makes a veth pair hostName (in h's namespace) <-> peerName (in
// rns). A half left behind (e.g. the router namespace was recreated) is
// replaced.
func (h *Host) ensureVeth(rnl *netlink.Handle, rns netns.NsHandle, hostName, peerName string, mtu int) (hostL, peerL netlink.Link, err error) {
	if hostL, err = linkOrNil(h.nl, hostName); err != nil {
		return nil, nil, err
	}
	if peerL, err = linkOrNil(rnl, peerName); err != nil {
		return nil, nil, err
	}
	if hostL != nil && peerL != nil {
		return hostL, peerL, nil
	}
	if hostL != nil {
		if err := h.nl.LinkDel(hostL); err != nil {
			return nil, nil, fmt.Errorf("remove stale %s: %w", hostName, err)
		}
	}
	if peerL != nil {
		if err := rnl.LinkDel(peerL); err != nil {
			return nil, nil, fmt.Errorf("remove stale %s: %w", peerName, err)
		}
	}
	v := &netlink.Veth{
		LinkAttrs:     netlink.LinkAttrs{Name: hostName, MTU: mtu},
		PeerName:      peerName,
		PeerNamespace: netlink.NsFd(int(rns)),
		PeerMTU:       uint32(mtu),
	}
	if err := h.nl.LinkAdd(v); err != nil {
		return nil, nil, fmt.Errorf("add veth %s: %w", hostName, err)
	}
	if hostL, err = h.nl.LinkByName(hostName); err != nil {
		return nil, nil, fmt.Errorf("veth %s: %w", hostName, err)
	}
	if peerL, err = rnl.LinkByName(peerName); err != nil {
		return nil, nil, fmt.Errorf("veth %s: %w", peerName, err)
	}
	return hostL, peerL, nil
}

func prefixAddr(a netip.Addr, bits int) *netlink.Addr {
	return &netlink.Addr{IPNet: &net.IPNet{IP: a.AsSlice(), Mask: net.CIDRMask(bits, 32)}}
}

func (h *Host) ensureRouterLinks(n Network, br netlink.Link, rns netns.NsHandle) error {
	rnl, err := netlink.NewHandleAt(rns)
	if err != nil {
		return fmt.Errorf("router netlink: %w", err)
	}
	defer rnl.Close()
	if lo, err := rnl.LinkByName("lo"); err == nil {
		if err := ensureUp(rnl, lo, 0, 0); err != nil {
			return err
		}
	}
	v := n.VNI
	// Gateway: srb<v> in the bridge, srg<v> in the router.
	srb, srg, err := h.ensureVeth(rnl, rns, gatewayPeerName(v), gatewayName(v), n.MTU)
	if err != nil {
		return err
	}
	if err := ensureUp(h.nl, srb, n.MTU, br.Attrs().Index); err != nil {
		return err
	}
	if !slices.Equal(srg.Attrs().HardwareAddr, gatewayMAC(v)) {
		if err := rnl.LinkSetHardwareAddr(srg, gatewayMAC(v)); err != nil {
			return fmt.Errorf("gateway mac: %w", err)
		}
	}
	if err := rnl.AddrReplace(srg, prefixAddr(n.Gateway, n.CIDR.Bits())); err != nil {
		return fmt.Errorf("gateway address: %w", err)
	}
	if err := ensureUp(rnl, srg, n.MTU, 0); err != nil {
		return err
	}
	// Transit: srh<v> on the host, srt<v> in the router.
	hostSide, routerSide := transitAddrs(v)
	srh, srt, err := h.ensureVeth(rnl, rns, transitHostName(v), transitName(v), 1500)
	if err != nil {
		return err
	}
	if err := h.nl.AddrReplace(srh, prefixAddr(hostSide, 31)); err != nil {
		return fmt.Errorf("transit address: %w", err)
	}
	if err := ensureUp(h.nl, srh, 0, 0); err != nil {
		return err
	}
	if err := rnl.AddrReplace(srt, prefixAddr(routerSide, 31)); err != nil {
		return fmt.Errorf("router transit address: %w", err)
	}
	if err := ensureUp(rnl, srt, 0, 0); err != nil {
		return err
	}
	def := &netlink.Route{LinkIndex: srt.Attrs().Index, Gw: hostSide.AsSlice(),
		Dst: &net.IPNet{IP: net.IPv4zero.To4(), Mask: net.CIDRMask(0, 32)}}
	if err := rnl.RouteReplace(def); err != nil {
		return fmt.Errorf("router default route: %w", err)
	}
	return nil
}

// Table and map names.
const (
	tableName    = "sirocco"
	mapPipDNAT   = "pip_dnat" // public -> private
	mapPipSNAT   = "pip_snat" // private -> public
	mapIngress   = "ingress"  // VM address -> jump in-<tap>
	mapEgress    = "egress"   // VM address -> jump eg-<tap>
	mapPorts     = "ports"    // tap name -> jump port-<tap>
	ctEstRel     = expr.CtStateBitESTABLISHED | expr.CtStateBitRELATED
	bridgeFilter = -200 // the bridge family's filter priority
)

func bridgeTableName(v int) string { return "sirocco-" + strconv.Itoa(v) }

func routerTable() *nftables.Table {
	return &nftables.Table{Family: nftables.TableFamilyIPv4, Name: tableName}
}

func bridgeTable(v int) *nftables.Table {
	return &nftables.Table{Family: nftables.TableFamilyBridge, Name: bridgeTableName(v)}
}

// ensureSet adds set s unless the table already has it (its elements stay).
func ensureSet(nc *nftables.Conn, s *nftables.Set) error {
	if _, err := nc.GetSetByName(s.Table, s.Name); err == nil {
		return nil
	}
	if err := nc.AddSet(s, nil); err != nil {
		return fmt.Errorf("set %s: %w", s.Name, err)
	}
	return nil
}

// baseChain adds (or keeps) a base chain and empties it, so the caller
// rewrites its rules in the same transaction.
func baseChain(nc *nftables.Conn, t *nftables.Table, name string, typ nftables.ChainType, hook *nftables.ChainHook, prio int32) *nftables.Chain {
	c := nc.AddChain(&nftables.Chain{Name: name, Table: t, Type: typ, Hooknum: hook,
		Priority: nftables.ChainPriorityRef(nftables.ChainPriority(prio))})
	nc.FlushChain(c)
	return c
}

// regularChain adds (or keeps) a chain and empties it.
func regularChain(nc *nftables.Conn, t *nftables.Table, name string) *nftables.Chain {
	c := nc.AddChain(&nftables.Chain{Name: name, Table: t})
	nc.FlushChain(c)
	return c
}

func loadIP(offset uint32) *expr.Payload {
	return &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: offset, Len: 4}
}

// ensureRouterTable writes the router's NAT and firewall base chains. The
// maps keep their elements (public addresses, ports) across calls.
func (h *Host) ensureRouterTable(n Network, rns netns.NsHandle) error {
	nc, err := nftAt(rns)
	if err != nil {
		return err
	}
	t := nc.AddTable(routerTable())
	if err := nc.Flush(); err != nil {
		return fmt.Errorf("table: %w", err)
	}
	for _, s := range []*nftables.Set{
		{Table: t, Name: mapPipDNAT, IsMap: true, KeyType: nftables.TypeIPAddr, DataType: nftables.TypeIPAddr},
		{Table: t, Name: mapPipSNAT, IsMap: true, KeyType: nftables.TypeIPAddr, DataType: nftables.TypeIPAddr},
		{Table: t, Name: mapIngress, IsMap: true, KeyType: nftables.TypeIPAddr, DataType: nftables.TypeVerdict},
		{Table: t, Name: mapEgress, IsMap: true, KeyType: nftables.TypeIPAddr, DataType: nftables.TypeVerdict},
	} {
		if err := ensureSet(nc, s); err != nil {
			return err
		}
	}
	srt, srg := transitName(n.VNI), gatewayName(n.VNI)

	// iifname srt dnat to ip daddr map @pip_dnat
	pre := baseChain(nc, t, "pre", nftables.ChainTypeNAT, nftables.ChainHookPrerouting, -100)
	addRules(nc, pre, rule(iif(srt), natMap(expr.NATTypeDestNAT, loadIP(ipDst), mapPipDNAT)))

	// oifname srt snat to ip saddr map @pip_snat
	// oifname srt ip saddr <cidr> masquerade
	post := baseChain(nc, t, "post", nftables.ChainTypeNAT, nftables.ChainHookPostrouting, 100)
	addRules(nc, post,
		rule(oif(srt), natMap(expr.NATTypeSourceNAT, loadIP(ipSrc), mapPipSNAT)),
		rule(oif(srt), ipPrefix(ipSrc, expr.CmpOpEq, n.CIDR), []expr.Any{&expr.Masq{}}))

	// ct state established,related accept
	// ct state invalid drop
	// iifname srt ip daddr vmap @ingress   (a port's allow rules)
	// iifname srt drop                     (nothing new from outside otherwise)
	// iifname srg ip saddr vmap @egress    (a port's egress rules, if any)
	fwd := baseChain(nc, t, "fwd", nftables.ChainTypeFilter, nftables.ChainHookForward, 0)
	addRules(nc, fwd,
		rule(ctState(ctEstRel), accept()),
		rule(ctState(expr.CtStateBitINVALID), drop()),
		rule(iif(srt), vmapLookup(loadIP(ipDst), mapIngress)),
		rule(iif(srt), drop()),
		rule(iif(srg), vmapLookup(loadIP(ipSrc), mapEgress)))

	// Nothing from outside reaches the router itself.
	in := baseChain(nc, t, "in", nftables.ChainTypeFilter, nftables.ChainHookInput, 0)
	addRules(nc, in,
		rule(ctState(ctEstRel), accept()),
		rule(iif(srt), drop()))
	return nc.Flush()
}

// ensureBridgeTable writes network v's bridge filter: the gateway, its ARP
// and DHCP stay local to each host, and each port jumps to its
// anti-spoofing chain.
func (h *Host) ensureBridgeTable(n Network) error {
	nc, err := nftAt(h.cfg.NetNS)
	if err != nil {
		return err
	}
	t := nc.AddTable(bridgeTable(n.VNI))
	if err := nc.Flush(); err != nil {
		return fmt.Errorf("table: %w", err)
	}
	if err := ensureSet(nc, &nftables.Set{Table: t, Name: mapPorts, IsMap: true,
		KeyType: nftables.TypeIFName, DataType: nftables.TypeVerdict}); err != nil {
		return err
	}
	vx, gw, mac := vxlanName(n.VNI), n.Gateway, gatewayMAC(n.VNI)
	pre := baseChain(nc, t, "pre", nftables.ChainTypeFilter, nftables.ChainHookPrerouting, bridgeFilter)
	addRules(nc, pre,
		rule(iif(vx), etherAddr(ethSrc, expr.CmpOpEq, mac), drop()),
		rule(iif(vx), etherAddr(ethDst, expr.CmpOpEq, mac), drop()),
		rule(iif(vx), etherType(etherTypeARP), arpAddr(arpTPA, expr.CmpOpEq, gw), drop()),
		rule(iif(vx), etherType(etherTypeARP), arpAddr(arpSPA, expr.CmpOpEq, gw), drop()),
		rule(iif(vx), etherType(etherTypeIP), ipProtocol(unix.IPPROTO_UDP), portRange(thDport, 67, 68), drop()),
		rule([]expr.Any{&expr.Meta{Key: expr.MetaKeyIIFNAME, Register: 1},
			&expr.Lookup{SourceRegister: 1, IsDestRegSet: true, SetName: mapPorts}}))
	return nc.Flush()
}

// ensureHostTable masquerades router transit addresses leaving the host.
func (h *Host) ensureHostTable() error {
	nc, err := nftAt(h.cfg.NetNS)
	if err != nil {
		return err
	}
	t := nc.AddTable(&nftables.Table{Family: nftables.TableFamilyIPv4, Name: tableName})
	post := baseChain(nc, t, "post", nftables.ChainTypeNAT, nftables.ChainHookPostrouting, 100)
	out := ipPrefix(ipDst, expr.CmpOpNeq, transitPrefix())
	if h.cfg.Uplink != "" {
		out = oif(h.cfg.Uplink)
	}
	// ip saddr 169.254.0.0/16 oifname <uplink> masquerade
	addRules(nc, post, rule(ipPrefix(ipSrc, expr.CmpOpEq, transitPrefix()), out, []expr.Any{&expr.Masq{}}))
	return nc.Flush()
}

// DeleteNetwork removes everything EnsureNetwork and the network's ports
// and public addresses created, except the taps themselves (DeletePort).
// A network this host does not carry is not an error.
func (h *Host) DeleteNetwork(ctx context.Context, vni int) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return err
	}
	// Public addresses routed into this network: their proxy ARP entries
	// outlive the route, so remove them first.
	if srh, err := linkOrNil(h.nl, transitHostName(vni)); err != nil {
		return err
	} else if srh != nil {
		pips, err := h.routedPublicIPs(srh.Attrs().Index)
		if err != nil {
			return err
		}
		for _, p := range pips {
			if err := h.removeProxyARP(p); err != nil {
				return err
			}
		}
	}
	for _, name := range []string{transitHostName(vni), gatewayPeerName(vni), vxlanName(vni), bridgeName(vni)} {
		l, err := linkOrNil(h.nl, name)
		if err != nil {
			return err
		}
		if l != nil {
			if err := h.nl.LinkDel(l); err != nil {
				return fmt.Errorf("delete %s: %w", name, err)
			}
		}
	}
	if err := deleteNamedNS(h.RouterNamespace(vni)); err != nil {
		return err
	}
	nc, err := nftAt(h.cfg.NetNS)
	if err != nil {
		return err
	}
	if err := deleteTable(nc, bridgeTable(vni)); err != nil {
		return err
	}
	left, err := h.networks()
	if err != nil {
		return err
	}
	if len(left) == 0 {
		return deleteTable(nc, &nftables.Table{Family: nftables.TableFamilyIPv4, Name: tableName})
	}
	return nil
}

func deleteTable(nc *nftables.Conn, t *nftables.Table) error {
	tables, err := nc.ListTablesOfFamily(t.Family)
	if err != nil {
		return fmt.Errorf("list tables: %w", err)
	}
	for _, have := range tables {
		if have.Name == t.Name {
			nc.DelTable(t)
			if err := nc.Flush(); err != nil {
				return fmt.Errorf("delete table %s: %w", t.Name, err)
			}
		}
	}
	return nil
}

// Networks lists the VNIs this host carries (a bridge or a router
// namespace exists), sorted.
func (h *Host) Networks(ctx context.Context) ([]int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.networks()
}

func (h *Host) networks() ([]int, error) {
	links, err := h.nl.LinkList()
	if err != nil {
		return nil, fmt.Errorf("list links: %w", err)
	}
	var out []int
	for _, l := range links {
		if v, ok := strings.CutPrefix(l.Attrs().Name, "sbr"); ok {
			if n, err := strconv.Atoi(v); err == nil {
				out = append(out, n)
			}
		}
	}
	entries, err := os.ReadDir(netnsDir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("list namespaces: %w", err)
	}
	for _, e := range entries {
		if v, ok := strings.CutPrefix(e.Name(), h.cfg.RouterPrefix); ok {
			if n, err := strconv.Atoi(v); err == nil {
				out = append(out, n)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// routerConn opens network v's router namespace (which must exist) for
// nftables.
func (h *Host) routerConn(v int) (*nftables.Conn, func(), error) {
	rns, err := netns.GetFromName(h.RouterNamespace(v))
	if err != nil {
		return nil, nil, fmt.Errorf("network %d is not on this host: %w", v, err)
	}
	nc, err := nftables.New(nftables.WithNetNSFd(int(rns)))
	if err != nil {
		rns.Close()
		return nil, nil, err
	}
	return nc, func() { rns.Close() }, nil
}
