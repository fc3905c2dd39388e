package network

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	mnl "github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// Rule allows traffic to (ingress) or from (egress) a port. Protocol is
// tcp, udp, icmp or any (""); ports 0 mean all; an invalid (zero) CIDR
// means any address.
type Rule struct {
	Protocol         string
	PortFrom, PortTo int
	CIDR             netip.Prefix
}

type errUnknownProtocol string

func (e errUnknownProtocol) Error() string { return fmt.Sprintf("unknown protocol %q", string(e)) }

// Port is a VM NIC on network VNI, attached through Tap.
type Port struct {
	VNI int
	Tap string
	MAC net.HardwareAddr
	IP  netip.Addr
	// OwnerUID may open the tap (the QEMU user); used when creating it.
	OwnerUID int
	// Ingress allows new connections from outside the network (the
	// internet, other networks); with none, nothing from outside gets in.
	// Egress, when not empty, is all a VM may open towards the outside.
	Ingress, Egress []Rule
}

func (p *Port) validate() error {
	if p.Tap == "" || len(p.Tap) > 15 || strings.ContainsAny(p.Tap, "/ ") {
		return fmt.Errorf("tap name %q invalid", p.Tap)
	}
	if len(p.MAC) != 6 {
		return fmt.Errorf("mac %s invalid", p.MAC)
	}
	if !p.IP.Is4() {
		return fmt.Errorf("ip %s: need IPv4", p.IP)
	}
	for _, r := range append(append([]Rule{}, p.Ingress...), p.Egress...) {
		if _, err := ruleMatches(r, ipSrc); err != nil {
			return err
		}
		if r.PortFrom < 0 || r.PortTo > 65535 || (r.PortTo != 0 && r.PortTo < r.PortFrom) {
			return fmt.Errorf("port range %d-%d invalid", r.PortFrom, r.PortTo)
		}
	}
	return nil
}

func portChain(tap string) string    { return "port-" + tap }
func ingressChain(tap string) string { return "in-" + tap }
func egressChain(tap string) string  { return "eg-" + tap }

// EnsurePort attaches p.Tap (created as a persistent tap owned by
// p.OwnerUID when missing; an existing interface is used as is) to the
// network's bridge, lets it send only from p.MAC and p.IP, and installs its
// firewall in the router.
func (h *Host) EnsurePort(ctx context.Context, p Port) error {
	if err := p.validate(); err != nil {
		return fmt.Errorf("port %s: %w", p.Tap, err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return err
	}
	br, err := linkOrNil(h.nl, bridgeName(p.VNI))
	if err != nil {
		return err
	}
	if br == nil {
		return fmt.Errorf("port %s: network %d is not on this host", p.Tap, p.VNI)
	}
	l, err := linkOrNil(h.nl, p.Tap)
	if err != nil {
		return err
	}
	if l == nil {
		if err := InNamespace(h.cfg.NetNS, func() error { return createTap(p.Tap, p.OwnerUID) }); err != nil {
			return fmt.Errorf("port %s: %w", p.Tap, err)
		}
		if l, err = h.nl.LinkByName(p.Tap); err != nil {
			return fmt.Errorf("port %s: %w", p.Tap, err)
		}
	}
	if err := ensureUp(h.nl, l, br.Attrs().MTU, br.Attrs().Index); err != nil {
		return err
	}
	if err := h.ensurePortSpoofing(p); err != nil {
		return fmt.Errorf("port %s anti-spoofing: %w", p.Tap, err)
	}
	if err := h.ensurePortFirewall(p); err != nil {
		return fmt.Errorf("port %s firewall: %w", p.Tap, err)
	}
	return nil
}

// createTap makes a persistent tap the way QEMU opens it: no packet info,
// virtio-net headers, a single queue.
func createTap(name string, owner int) error {
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open tun: %w", err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return err
	}
	ifr.SetUint16(unix.IFF_TAP | unix.IFF_NO_PI | unix.IFF_VNET_HDR)
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
		return fmt.Errorf("TUNSETIFF: %w", err)
	}
	if err := unix.IoctlSetInt(fd, unix.TUNSETOWNER, owner); err != nil {
		return fmt.Errorf("TUNSETOWNER: %w", err)
	}
	if err := unix.IoctlSetInt(fd, unix.TUNSETPERSIST, 1); err != nil {
		return fmt.Errorf("TUNSETPERSIST: %w", err)
	}
	return nil
}

// ensurePortSpoofing writes the tap's chain in the network's bridge table:
// frames must carry the NIC's MAC, ARP and IPv4 its address (DHCP from
// 0.0.0.0 excepted); everything else is dropped.
func (h *Host) ensurePortSpoofing(p Port) error {
	nc, err := nftAt(h.cfg.NetNS)
	if err != nil {
		return err
	}
	t := bridgeTable(p.VNI)
	ports, err := nc.GetSetByName(t, mapPorts)
	if err != nil {
		return fmt.Errorf("network %d has no bridge table: %w", p.VNI, err)
	}
	unspec := netip.IPv4Unspecified()
	c := regularChain(nc, t, portChain(p.Tap))
	addRules(nc, c,
		rule(etherAddr(ethSrc, expr.CmpOpNeq, p.MAC), drop()),
		rule(etherType(etherTypeARP), payloadIs(expr.PayloadBaseNetworkHeader, arpSHA, 6, expr.CmpOpNeq, p.MAC), drop()),
		rule(etherType(etherTypeARP), arpAddr(arpSPA, expr.CmpOpEq, p.IP), accept()),
		rule(etherType(etherTypeARP), arpAddr(arpSPA, expr.CmpOpEq, unspec), accept()), // address probes
		rule(etherType(etherTypeIP), ipAddr(ipSrc, expr.CmpOpEq, p.IP), accept()),
		rule(etherType(etherTypeIP), ipAddr(ipSrc, expr.CmpOpEq, unspec), ipProtocol(unix.IPPROTO_UDP),
			portRange(thDport, 67, 67), accept()),
		drop())
	if err := nc.SetAddElements(ports, []nftables.SetElement{{Key: ifname(p.Tap), VerdictData: jumpTo(c.Name)}}); err != nil {
		return err
	}
	return nc.Flush()
}

// ensurePortFirewall writes the port's ingress and egress chains in the
// router and points the router's maps at them for the port's address.
func (h *Host) ensurePortFirewall(p Port) error {
	nc, done, err := h.routerConn(p.VNI)
	if err != nil {
		return err
	}
	defer done()
	t := routerTable()
	ingress, err := nc.GetSetByName(t, mapIngress)
	if err != nil {
		return fmt.Errorf("router table: %w", err)
	}
	egress, err := nc.GetSetByName(t, mapEgress)
	if err != nil {
		return fmt.Errorf("router table: %w", err)
	}
	// Elements of this tap under another address (the port's IP changed)
	// go first.
	for _, m := range []*nftables.Set{ingress, egress} {
		if err := deleteJumps(nc, m, p.Tap, p.IP); err != nil {
			return err
		}
	}
	in := regularChain(nc, t, ingressChain(p.Tap))
	for _, r := range p.Ingress {
		m, _ := ruleMatches(r, ipSrc)
		addRules(nc, in, rule(m, accept()))
	}
	eg := regularChain(nc, t, egressChain(p.Tap))
	for _, r := range p.Egress {
		m, _ := ruleMatches(r, ipDst)
		addRules(nc, eg, rule(m, accept()))
	}
	if len(p.Egress) > 0 {
		addRules(nc, eg, drop())
	}
	key := []nftables.SetElement{{Key: p.IP.AsSlice(), VerdictData: jumpTo(in.Name)}}
	if err := nc.SetAddElements(ingress, key); err != nil {
		return err
	}
	key = []nftables.SetElement{{Key: p.IP.AsSlice(), VerdictData: jumpTo(eg.Name)}}
	if err := nc.SetAddElements(egress, key); err != nil {
		return err
	}
	return nc.Flush()
}

// deleteJumps queues the deletion of m's elements jumping to tap's chains,
// except the one keyed keep (pass an invalid Addr to delete all).
func deleteJumps(nc *nftables.Conn, m *nftables.Set, tap string, keep netip.Addr) error {
	elems, err := nc.GetSetElements(m)
	if err != nil {
		return fmt.Errorf("list %s: %w", m.Name, err)
	}
	var del []nftables.SetElement
	for _, e := range elems {
		switch verdictChain(e.Val) {
		case ingressChain(tap), egressChain(tap), portChain(tap):
		default:
			continue
		}
		if a, ok := netip.AddrFromSlice(e.Key); ok && a == keep {
			continue
		}
		del = append(del, nftables.SetElement{Key: e.Key})
	}
	if len(del) == 0 {
		return nil
	}
	return nc.SetDeleteElements(m, del)
}

// verdictChain is the chain a verdict map value jumps to: the library
// hands the value back as its raw netlink attributes.
func verdictChain(val []byte) string {
	ad, err := mnl.NewAttributeDecoder(val)
	if err != nil {
		return ""
	}
	for ad.Next() {
		if ad.Type() == unix.NFTA_VERDICT_CHAIN {
			return strings.TrimRight(ad.String(), "\x00")
		}
	}
	return ""
}

// DeletePort removes the tap (or the interface playing it), its
// anti-spoofing chain and its firewall. A missing port is not an error.
func (h *Host) DeletePort(ctx context.Context, tap string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return err
	}
	l, err := linkOrNil(h.nl, tap)
	if err != nil {
		return err
	}
	if l != nil {
		if err := h.nl.LinkDel(l); err != nil {
			return fmt.Errorf("delete %s: %w", tap, err)
		}
	}
	// The tap no longer says which network it was on: look in all.
	vnis, err := h.networks()
	if err != nil {
		return err
	}
	for _, v := range vnis {
		if err := h.deletePortRules(v, tap); err != nil {
			return fmt.Errorf("port %s on network %d: %w", tap, v, err)
		}
	}
	return nil
}

func (h *Host) deletePortRules(v int, tap string) error {
	nc, err := nftAt(h.cfg.NetNS)
	if err != nil {
		return err
	}
	t := bridgeTable(v)
	if ports, err := nc.GetSetByName(t, mapPorts); err == nil {
		if err := deleteJumps(nc, ports, tap, netip.Addr{}); err != nil {
			return err
		}
		if err := nc.Flush(); err != nil {
			return err
		}
		if err := delChainIfAny(nc, t, portChain(tap)); err != nil {
			return err
		}
	}
	if _, err := os.Stat(netnsDir + "/" + h.RouterNamespace(v)); err != nil {
		return nil
	}
	rc, done, err := h.routerConn(v)
	if err != nil {
		return err
	}
	defer done()
	rt := routerTable()
	for _, name := range []string{mapIngress, mapEgress} {
		m, err := rc.GetSetByName(rt, name)
		if err != nil {
			return nil // no router table: nothing of the port's is left
		}
		if err := deleteJumps(rc, m, tap, netip.Addr{}); err != nil {
			return err
		}
	}
	if err := rc.Flush(); err != nil {
		return err
	}
	for _, c := range []string{ingressChain(tap), egressChain(tap)} {
		if err := delChainIfAny(rc, rt, c); err != nil {
			return err
		}
	}
	return nil
}

func delChainIfAny(nc *nftables.Conn, t *nftables.Table, name string) error {
	if _, err := nc.ListChain(t, name); err != nil {
		return nil
	}
	nc.DelChain(&nftables.Chain{Table: t, Name: name})
	if err := nc.Flush(); err != nil {
		return fmt.Errorf("delete chain %s: %w", name, err)
	}
	return nil
}

// ReceivedBytes is what the host has received on interface iface: for a
// VM's tap, the bytes the VM sent. The counter starts again at zero when
// the tap is created anew.
func (h *Host) ReceivedBytes(iface string) (uint64, error) {
	l, err := h.nl.LinkByName(iface)
	if err != nil {
		return 0, fmt.Errorf("counters of %s: %w", iface, err)
	}
	if st := l.Attrs().Statistics; st != nil {
		return st.RxBytes, nil
	}
	return 0, nil
}
