package network

import (
	"context"
	"fmt"
	"hash/crc32"
	"net"
	"net/netip"
	"slices"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// PublicIP is a public address 1:1 NATed to Private on network VNI.
type PublicIP struct {
	Address netip.Addr
	Private netip.Addr
	VNI     int
}

func host32(a netip.Addr) *net.IPNet {
	return &net.IPNet{IP: a.AsSlice(), Mask: net.CIDRMask(32, 32)}
}

func (h *Host) uplink() (netlink.Link, error) {
	if h.cfg.Uplink == "" {
		return nil, fmt.Errorf("host has no uplink")
	}
	l, err := h.nl.LinkByName(h.cfg.Uplink)
	if err != nil {
		return nil, fmt.Errorf("uplink %s: %w", h.cfg.Uplink, err)
	}
	return l, nil
}

// EnsurePublicIP makes p.Address reach p.Private: the host routes it into
// the network's router and answers ARP for it on the uplink; the router
// DNATs it to the VM and SNATs the VM's traffic to it. Moving an address to
// another VM or network moves all of that.
func (h *Host) EnsurePublicIP(ctx context.Context, p PublicIP) error {
	if !p.Address.Is4() || !p.Private.Is4() {
		return fmt.Errorf("public ip %s -> %s: need IPv4", p.Address, p.Private)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return err
	}
	up, err := h.uplink()
	if err != nil {
		return err
	}
	srh, err := h.nl.LinkByName(transitHostName(p.VNI))
	if err != nil {
		return fmt.Errorf("public ip %s: network %d is not on this host: %w", p.Address, p.VNI, err)
	}
	// Drop the address from every router (another network's, or this one
	// under another private address) before adding it.
	if err := h.removeNAT(p.Address); err != nil {
		return err
	}
	nc, done, err := h.routerConn(p.VNI)
	if err != nil {
		return err
	}
	defer done()
	t := routerTable()
	dnat, err := nc.GetSetByName(t, mapPipDNAT)
	if err != nil {
		return fmt.Errorf("router table: %w", err)
	}
	snat, err := nc.GetSetByName(t, mapPipSNAT)
	if err != nil {
		return fmt.Errorf("router table: %w", err)
	}
	// The private address may have had another public one.
	if err := deleteKeys(nc, snat, p.Private); err != nil {
		return err
	}
	if err := nc.SetAddElements(dnat, []nftables.SetElement{{Key: p.Address.AsSlice(), Val: p.Private.AsSlice()}}); err != nil {
		return err
	}
	if err := nc.SetAddElements(snat, []nftables.SetElement{{Key: p.Private.AsSlice(), Val: p.Address.AsSlice()}}); err != nil {
		return err
	}
	if err := nc.Flush(); err != nil {
		return fmt.Errorf("public ip %s nat: %w", p.Address, err)
	}
	_, routerSide := transitAddrs(p.VNI)
	route := &netlink.Route{Dst: host32(p.Address), LinkIndex: srh.Attrs().Index, Gw: routerSide.AsSlice()}
	if err := h.nl.RouteReplace(route); err != nil {
		return fmt.Errorf("public ip %s route: %w", p.Address, err)
	}
	// A proxy entry answers ARP on the uplink for an address routed
	// elsewhere (the host forwards); no proxy_arp for the whole uplink.
	if err := h.nl.NeighSet(&netlink.Neigh{LinkIndex: up.Attrs().Index, Family: unix.AF_INET,
		Flags: netlink.NTF_PROXY, IP: p.Address.AsSlice()}); err != nil {
		return fmt.Errorf("public ip %s proxy arp: %w", p.Address, err)
	}
	return nil
}

// deleteKeys queues deleting key from map m if present.
func deleteKeys(nc *nftables.Conn, m *nftables.Set, key netip.Addr) error {
	elems, err := nc.GetSetElements(m)
	if err != nil {
		return fmt.Errorf("list %s: %w", m.Name, err)
	}
	for _, e := range elems {
		if a, ok := netip.AddrFromSlice(e.Key); ok && a == key {
			return nc.SetDeleteElements(m, []nftables.SetElement{{Key: e.Key}})
		}
	}
	return nil
}

// removeNAT deletes addr's 1:1 NAT from every router on this host.
func (h *Host) removeNAT(addr netip.Addr) error {
	vnis, err := h.networks()
	if err != nil {
		return err
	}
	for _, v := range vnis {
		nc, done, err := h.routerConn(v)
		if err != nil {
			continue // being deleted
		}
		err = func() error {
			defer done()
			t := routerTable()
			dnat, err := nc.GetSetByName(t, mapPipDNAT)
			if err != nil {
				return nil
			}
			snat, err := nc.GetSetByName(t, mapPipSNAT)
			if err != nil {
				return nil
			}
			if err := deleteKeys(nc, dnat, addr); err != nil {
				return err
			}
			elems, err := nc.GetSetElements(snat)
			if err != nil {
				return err
			}
			for _, e := range elems {
				if a, ok := netip.AddrFromSlice(e.Val); ok && a == addr {
					if err := nc.SetDeleteElements(snat, []nftables.SetElement{{Key: e.Key}}); err != nil {
						return err
					}
				}
			}
			return nc.Flush()
		}()
		if err != nil {
			return fmt.Errorf("public ip %s nat on network %d: %w", addr, v, err)
		}
	}
	return nil
}

// DeletePublicIP removes addr's route, proxy ARP entry and NAT. A missing
// address is not an error.
func (h *Host) DeletePublicIP(ctx context.Context, addr netip.Addr) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := h.removeNAT(addr); err != nil {
		return err
	}
	routes, err := h.nl.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Dst: host32(addr)}, netlink.RT_FILTER_DST)
	if err != nil {
		return fmt.Errorf("public ip %s routes: %w", addr, err)
	}
	for _, r := range routes {
		if err := h.nl.RouteDel(&r); err != nil {
			return fmt.Errorf("public ip %s route: %w", addr, err)
		}
	}
	return h.removeProxyARP(addr)
}

func (h *Host) removeProxyARP(addr netip.Addr) error {
	if h.cfg.Uplink == "" {
		return nil
	}
	up, err := linkOrNil(h.nl, h.cfg.Uplink)
	if err != nil || up == nil {
		return err
	}
	have, err := h.nl.NeighProxyList(up.Attrs().Index, unix.AF_INET)
	if err != nil {
		return fmt.Errorf("proxy arp entries: %w", err)
	}
	for _, n := range have {
		if n.IP.Equal(addr.AsSlice()) {
			if err := h.nl.NeighDel(&netlink.Neigh{LinkIndex: up.Attrs().Index, Family: unix.AF_INET,
				Flags: netlink.NTF_PROXY, IP: addr.AsSlice()}); err != nil {
				return fmt.Errorf("public ip %s proxy arp: %w", addr, err)
			}
		}
	}
	return nil
}

// routedPublicIPs lists the /32 routes through link index (the public
// addresses routed into one network).
func (h *Host) routedPublicIPs(index int) ([]netip.Addr, error) {
	routes, err := h.nl.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{LinkIndex: index}, netlink.RT_FILTER_OIF)
	if err != nil {
		return nil, fmt.Errorf("routes: %w", err)
	}
	var out []netip.Addr
	for _, r := range routes {
		if r.Dst == nil {
			continue
		}
		if ones, _ := r.Dst.Mask.Size(); ones != 32 {
			continue
		}
		if a, ok := netip.AddrFromSlice(r.Dst.IP); ok {
			out = append(out, a.Unmap())
		}
	}
	return out, nil
}

// uplinkTable is the routing table holding a pool's default route, derived
// from the pool so that several pools each get their own.
func uplinkTable(prefix netip.Prefix) int {
	return 10000 + int(crc32.ChecksumIEEE([]byte(prefix.Masked().String()))%50000)
}

// uplinkRulePriority orders the pool rules before the main table.
const uplinkRulePriority = 10000

// EnsureUplink makes traffic from the public pool prefix leave through the
// uplink to gateway, whatever the host's own default route is: a rule
// "from prefix" to a table whose default route is the pool's gateway.
func (h *Host) EnsureUplink(ctx context.Context, prefix netip.Prefix, gateway netip.Addr) error {
	if !prefix.Addr().Is4() || !gateway.Is4() {
		return fmt.Errorf("uplink %s via %s: need IPv4", prefix, gateway)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return err
	}
	up, err := h.uplink()
	if err != nil {
		return err
	}
	if err := writeSysctl(h.cfg.NetNS, "net/ipv4/ip_forward", "1"); err != nil {
		return err
	}
	// Answer ARP for public addresses at once instead of after a random
	// delay of up to 0.8 s.
	if err := writeSysctl(h.cfg.NetNS, "net/ipv4/neigh/"+h.cfg.Uplink+"/proxy_delay", "0"); err != nil {
		return err
	}
	table := uplinkTable(prefix)
	def := &netlink.Route{Table: table, LinkIndex: up.Attrs().Index, Gw: gateway.AsSlice(),
		Dst: &net.IPNet{IP: net.IPv4zero.To4(), Mask: net.CIDRMask(0, 32)}}
	if err := h.nl.RouteReplace(def); err != nil {
		return fmt.Errorf("uplink route: %w", err)
	}
	rules, err := h.nl.RuleList(netlink.FAMILY_V4)
	if err != nil {
		return fmt.Errorf("rules: %w", err)
	}
	src := &net.IPNet{IP: prefix.Masked().Addr().AsSlice(), Mask: net.CIDRMask(prefix.Bits(), 32)}
	// First the main table for anything but its default route: replies to
	// the pool's own subnet (its gateway, the internet beyond) and traffic
	// to transit addresses must not be sent back out the uplink. Then the
	// pool's default route.
	for _, want := range []struct {
		prio, table, suppress int
	}{
		{uplinkRulePriority - 1, unix.RT_TABLE_MAIN, 0},
		{uplinkRulePriority, table, -1},
	} {
		if slices.ContainsFunc(rules, func(r netlink.Rule) bool {
			return r.Priority == want.prio && r.Table == want.table && r.Src != nil && r.Src.String() == src.String()
		}) {
			continue
		}
		r := netlink.NewRule()
		r.Family = netlink.FAMILY_V4
		r.Src = src
		r.Table = want.table
		r.Priority = want.prio
		r.SuppressPrefixlen = want.suppress
		if err := h.nl.RuleAdd(r); err != nil {
			return fmt.Errorf("uplink rule: %w", err)
		}
	}
	return nil
}
