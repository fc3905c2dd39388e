package network

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// lab is two hosts joined by an underlay veth (10.99.0.1 - 10.99.0.2), an
// "internet" namespace on hostA's uplink (203.0.113.1, hostA 203.0.113.2)
// and VMs: namespaces whose veth's host end plays the tap.
type lab struct {
	prefix       string
	hostA, hostB netns.NsHandle
	inet         netns.NsHandle
	a, b         *Host
	vms          map[string]netns.NsHandle
}

func addr(s string) netip.Addr     { return netip.MustParseAddr(s) }
func prefix(s string) netip.Prefix { return netip.MustParsePrefix(s) }

// newNS creates a named namespace removed at the end of the test.
func newNS(t testing.TB, name string) netns.NsHandle {
	t.Helper()
	h, err := namedNS(name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		h.Close()
		if err := deleteNamedNS(name); err != nil {
			t.Error(err)
		}
	})
	nl := nlAt(t, h)
	lo, err := nl.LinkByName("lo")
	if err != nil {
		t.Fatal(err)
	}
	if err := nl.LinkSetUp(lo); err != nil {
		t.Fatal(err)
	}
	return h
}

func nlAt(t testing.TB, ns netns.NsHandle) *netlink.Handle {
	t.Helper()
	nl, err := netlink.NewHandleAt(ns)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nl.Close)
	return nl
}

// wire joins nsA and nsB with a veth (nameA in nsA, nameB in nsB), each end
// given its address.
func wire(t testing.TB, nsA netns.NsHandle, nameA, addrA string, mac net.HardwareAddr, nsB netns.NsHandle, nameB, addrB string) {
	t.Helper()
	nlA, nlB := nlAt(t, nsA), nlAt(t, nsB)
	v := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: nameA}, PeerName: nameB,
		PeerNamespace: netlink.NsFd(int(nsB)), PeerHardwareAddr: mac}
	if err := nlA.LinkAdd(v); err != nil {
		t.Fatalf("veth %s-%s: %v", nameA, nameB, err)
	}
	for _, e := range []struct {
		nl   *netlink.Handle
		name string
		addr string
	}{{nlA, nameA, addrA}, {nlB, nameB, addrB}} {
		l, err := e.nl.LinkByName(e.name)
		if err != nil {
			t.Fatal(err)
		}
		if e.addr != "" {
			a, err := netlink.ParseAddr(e.addr)
			if err != nil {
				t.Fatal(err)
			}
			if err := e.nl.AddrAdd(l, a); err != nil {
				t.Fatal(err)
			}
		}
		if err := e.nl.LinkSetUp(l); err != nil {
			t.Fatal(err)
		}
	}
}

func defaultRoute(t testing.TB, ns netns.NsHandle, gw string) {
	t.Helper()
	if err := nlAt(t, ns).RouteAdd(&netlink.Route{Gw: net.ParseIP(gw)}); err != nil {
		t.Fatalf("default route via %s: %v", gw, err)
	}
}

func newLab(t testing.TB) *lab {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("needs root for network namespaces (run make test as root)")
	}
	l := &lab{prefix: fmt.Sprintf("sn%d", os.Getpid()%100000), vms: map[string]netns.NsHandle{}}
	l.hostA = newNS(t, l.prefix+"-hostA")
	l.hostB = newNS(t, l.prefix+"-hostB")
	l.inet = newNS(t, l.prefix+"-inet")
	wire(t, l.hostA, "ul0", "10.99.0.1/24", nil, l.hostB, "ul0", "10.99.0.2/24")
	wire(t, l.hostA, "up0", "203.0.113.2/24", nil, l.inet, "eth0", "203.0.113.1/24")
	defaultRoute(t, l.hostA, "203.0.113.1")
	var err error
	if l.a, err = New(Config{NetNS: l.hostA, Underlay: addr("10.99.0.1"), Uplink: "up0", RouterPrefix: l.prefix + "a-"}); err != nil {
		t.Fatal(err)
	}
	if l.b, err = New(Config{NetNS: l.hostB, Underlay: addr("10.99.0.2"), RouterPrefix: l.prefix + "b-"}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Router namespaces are named globally: never leave them behind,
		// even when a test failed half way.
		for _, h := range []*Host{l.a, l.b} {
			vnis, _ := h.Networks(context.Background())
			for _, v := range vnis {
				_ = h.DeleteNetwork(context.Background(), v)
			}
			h.Close()
		}
	})
	return l
}

// network puts n on both hosts, each peering with the other.
func (l *lab) network(t testing.TB, vni int) {
	t.Helper()
	n := Network{ID: fmt.Sprint(vni), VNI: vni, CIDR: prefix("10.10.0.0/24"), Gateway: addr("10.10.0.1")}
	na, nb := n, n
	na.Peers = []netip.Addr{addr("10.99.0.2")}
	nb.Peers = []netip.Addr{addr("10.99.0.1")}
	if err := l.a.EnsureNetwork(context.Background(), na); err != nil {
		t.Fatal(err)
	}
	// Twice: idempotent.
	if err := l.a.EnsureNetwork(context.Background(), na); err != nil {
		t.Fatalf("second EnsureNetwork: %v", err)
	}
	if err := l.b.EnsureNetwork(context.Background(), nb); err != nil {
		t.Fatal(err)
	}
}

// vm creates a VM namespace on host with eth0 at ip on network vni, and a
// TCP service on port 7 answering its name and the caller's address.
func (l *lab) vm(t testing.TB, name string, h *Host, hostNS netns.NsHandle, vni int, ip string, mac net.HardwareAddr) Port {
	t.Helper()
	ns := newNS(t, l.prefix+"-"+name)
	l.vms[name] = ns
	wire(t, hostNS, TapName(mac), "", mac, ns, "eth0", ip+"/24")
	defaultRoute(t, ns, "10.10.0.1")
	p := Port{VNI: vni, Tap: TapName(mac), MAC: mac, IP: addr(ip)}
	if err := h.EnsurePort(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	serve(t, ns, ":7", name)
	return p
}

// serve answers every connection with "<name> <remote address>".
func serve(t testing.TB, ns netns.NsHandle, at, name string) {
	t.Helper()
	var ln net.Listener
	if err := InNamespace(ns, func() (err error) { ln, err = net.Listen("tcp4", at); return err }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			host, _, _ := net.SplitHostPort(c.RemoteAddr().String())
			fmt.Fprintf(c, "%s %s\n", name, host)
			c.Close()
		}
	}()
}

// ask connects from ns to addr and returns the answer; "" when the
// connection fails (dropped traffic times out).
func ask(t testing.TB, ns netns.NsHandle, local, to string) string {
	t.Helper()
	d := net.Dialer{Timeout: 1500 * time.Millisecond}
	if local != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(local)}
	}
	var c net.Conn
	if err := InNamespace(ns, func() (err error) { c, err = d.Dial("tcp4", to); return err }); err != nil {
		return ""
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	s, _ := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSpace(s)
}

// dump logs a namespace's rules and routes, to see why traffic failed.
func dump(t testing.TB, nsName string) {
	out, _ := exec.Command("ip", "netns", "exec", nsName, "sh", "-c",
		"nft list ruleset; ip -br addr; ip route; ip rule; ip neigh show proxy; conntrack -L 2>/dev/null").CombinedOutput()
	t.Logf("%s:\n%s", nsName, out)
}

func mac(last byte) net.HardwareAddr { return net.HardwareAddr{0x52, 0x54, 0x00, 0x12, 0x34, last} }

func TestDataplane(t *testing.T) {
	l := newLab(t)
	ctx := context.Background()
	l.network(t, 100)
	l.network(t, 200) // another tenant, same CIDR
	vmA := l.vm(t, "vmA", l.a, l.hostA, 100, "10.10.0.2", mac(0xa))
	l.vm(t, "vmB", l.b, l.hostB, 100, "10.10.0.3", mac(0xb))
	// Tenant 2 uses the same addresses the other way round.
	l.vm(t, "vmC", l.a, l.hostA, 200, "10.10.0.3", mac(0xc))
	l.vm(t, "vmD", l.b, l.hostB, 200, "10.10.0.2", mac(0xd))
	serve(t, l.inet, "203.0.113.1:8", "internet")

	t.Run("VMs of one network on two hosts reach each other", func(t *testing.T) {
		if got := ask(t, l.vms["vmA"], "", "10.10.0.3:7"); got != "vmB 10.10.0.2" {
			t.Errorf("vmA -> 10.10.0.3: %q, want vmB", got)
		}
		if got := ask(t, l.vms["vmB"], "", "10.10.0.2:7"); got != "vmA 10.10.0.3" {
			t.Errorf("vmB -> 10.10.0.2: %q, want vmA", got)
		}
	})

	t.Run("a tenant with the same CIDR reaches only its own VMs", func(t *testing.T) {
		if got := ask(t, l.vms["vmC"], "", "10.10.0.2:7"); got != "vmD 10.10.0.3" {
			t.Errorf("vmC -> 10.10.0.2: %q, want vmD", got)
		}
		if got := ask(t, l.vms["vmD"], "", "10.10.0.3:7"); got != "vmC 10.10.0.2" {
			t.Errorf("vmD -> 10.10.0.3: %q, want vmC", got)
		}
	})

	t.Run("egress is NATed to the host's uplink address", func(t *testing.T) {
		for _, vm := range []string{"vmA", "vmB", "vmC"} {
			if vm == "vmB" {
				continue // hostB has no uplink in this lab
			}
			if got := ask(t, l.vms[vm], "", "203.0.113.1:8"); got != "internet 203.0.113.2" {
				t.Errorf("%s -> internet: %q, want it seen as 203.0.113.2", vm, got)
			}
		}
	})

	pub := PublicIP{Address: addr("203.0.113.10"), Private: addr("10.10.0.2"), VNI: 100}
	t.Run("a public IP answers only what an ingress rule allows", func(t *testing.T) {
		if err := l.a.EnsureUplink(ctx, prefix("203.0.113.0/24"), addr("203.0.113.1")); err != nil {
			t.Fatal(err)
		}
		if err := l.a.EnsurePublicIP(ctx, pub); err != nil {
			t.Fatal(err)
		}
		if err := l.a.EnsurePublicIP(ctx, pub); err != nil {
			t.Fatalf("second EnsurePublicIP: %v", err)
		}
		if got := ask(t, l.inet, "", "203.0.113.10:7"); got != "" {
			t.Errorf("without a rule the internet got %q", got)
		}
		vmA.Ingress = []Rule{{Protocol: "tcp", PortFrom: 7, PortTo: 7, CIDR: prefix("198.51.100.0/24")}}
		if err := l.a.EnsurePort(ctx, vmA); err != nil {
			t.Fatal(err)
		}
		if got := ask(t, l.inet, "", "203.0.113.10:7"); got != "" {
			t.Errorf("with a rule for another source the internet got %q", got)
		}
		vmA.Ingress = []Rule{{Protocol: "tcp", PortFrom: 7, PortTo: 7, CIDR: prefix("0.0.0.0/0")}}
		if err := l.a.EnsurePort(ctx, vmA); err != nil {
			t.Fatal(err)
		}
		if got := ask(t, l.inet, "", "203.0.113.10:7"); got != "vmA 203.0.113.1" {
			t.Errorf("with a rule the internet got %q, want vmA seeing 203.0.113.1", got)
			dump(t, l.prefix+"-hostA")
			dump(t, l.prefix+"a-100")
		}
		if got := ask(t, l.vms["vmA"], "", "203.0.113.1:8"); got != "internet 203.0.113.10" {
			t.Errorf("vmA -> internet: %q, want it seen as its public IP", got)
		}
		// The other tenant's VM with the same private address is untouched.
		if got := ask(t, l.vms["vmC"], "", "203.0.113.1:8"); got != "internet 203.0.113.2" {
			t.Errorf("vmC -> internet: %q, want 203.0.113.2", got)
		}
	})

	t.Run("egress rules limit what a VM opens outside", func(t *testing.T) {
		vmA.Egress = []Rule{{Protocol: "tcp", PortFrom: 9, PortTo: 9}}
		if err := l.a.EnsurePort(ctx, vmA); err != nil {
			t.Fatal(err)
		}
		if got := ask(t, l.vms["vmA"], "", "203.0.113.1:8"); got != "" {
			t.Errorf("egress to port 8 not allowed, got %q", got)
		}
		// Inbound connections still get their replies.
		if got := ask(t, l.inet, "", "203.0.113.10:7"); got != "vmA 203.0.113.1" {
			t.Errorf("ingress with egress rules: %q", got)
		}
		vmA.Egress = nil
		if err := l.a.EnsurePort(ctx, vmA); err != nil {
			t.Fatal(err)
		}
		if got := ask(t, l.vms["vmA"], "", "203.0.113.1:8"); got != "internet 203.0.113.10" {
			t.Errorf("egress without rules: %q", got)
		}
	})

	t.Run("spoofed source IP or MAC is dropped", func(t *testing.T) {
		nl := nlAt(t, l.vms["vmA"])
		eth0, err := nl.LinkByName("eth0")
		if err != nil {
			t.Fatal(err)
		}
		spoof, _ := netlink.ParseAddr("10.10.0.50/24")
		if err := nl.AddrAdd(eth0, spoof); err != nil {
			t.Fatal(err)
		}
		if got := ask(t, l.vms["vmA"], "10.10.0.50", "10.10.0.3:7"); got != "" {
			t.Errorf("from a spoofed IP vmB answered %q", got)
		}
		if err := nl.AddrDel(eth0, spoof); err != nil {
			t.Fatal(err)
		}
		if err := nl.LinkSetHardwareAddr(eth0, mac(0xee)); err != nil {
			t.Fatal(err)
		}
		if got := ask(t, l.vms["vmA"], "", "10.10.0.3:7"); got != "" {
			t.Errorf("from a spoofed MAC vmB answered %q", got)
		}
		if err := nl.LinkSetHardwareAddr(eth0, mac(0xa)); err != nil {
			t.Fatal(err)
		}
		if got := ask(t, l.vms["vmA"], "", "10.10.0.3:7"); got != "vmB 10.10.0.2" {
			t.Errorf("back to its own MAC: %q", got)
		}
	})

	t.Run("deleting the public IP removes its route, proxy ARP and NAT", func(t *testing.T) {
		if err := l.a.DeletePublicIP(ctx, pub.Address); err != nil {
			t.Fatal(err)
		}
		nl := nlAt(t, l.hostA)
		routes, err := nl.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Dst: host32(pub.Address)}, netlink.RT_FILTER_DST)
		if err != nil || len(routes) > 0 {
			t.Errorf("routes to %s: %v %v", pub.Address, routes, err)
		}
		up, _ := nl.LinkByName("up0")
		proxies, err := nl.NeighProxyList(up.Attrs().Index, unix.AF_INET)
		if err != nil || len(proxies) > 0 {
			t.Errorf("proxy ARP entries left: %v %v", proxies, err)
		}
		nc, done, err := l.a.routerConn(100)
		if err != nil {
			t.Fatal(err)
		}
		defer done()
		for _, m := range []string{mapPipDNAT, mapPipSNAT} {
			s, err := nc.GetSetByName(routerTable(), m)
			if err != nil {
				t.Fatal(err)
			}
			if elems, err := nc.GetSetElements(s); err != nil || len(elems) > 0 {
				t.Errorf("%s left with %d elements (%v)", m, len(elems), err)
			}
		}
		if got := ask(t, l.inet, "", "203.0.113.10:7"); got != "" {
			t.Errorf("released public IP still answers %q", got)
		}
		if got := ask(t, l.vms["vmA"], "", "203.0.113.1:8"); got != "internet 203.0.113.2" {
			t.Errorf("vmA egress after release: %q", got)
		}
	})

	t.Run("deleting networks leaves nothing behind", func(t *testing.T) {
		if err := l.a.EnsurePublicIP(ctx, pub); err != nil {
			t.Fatal(err)
		}
		for _, p := range []struct {
			h   *Host
			tap string
		}{{l.a, TapName(mac(0xa))}, {l.a, TapName(mac(0xc))}, {l.b, TapName(mac(0xb))}, {l.b, TapName(mac(0xd))}} {
			if err := p.h.DeletePort(ctx, p.tap); err != nil {
				t.Fatal(err)
			}
		}
		for _, h := range []*Host{l.a, l.b} {
			for _, v := range []int{100, 200} {
				if err := h.DeleteNetwork(ctx, v); err != nil {
					t.Fatal(err)
				}
				if err := h.DeleteNetwork(ctx, v); err != nil {
					t.Fatalf("second DeleteNetwork: %v", err)
				}
			}
			if vnis, err := h.Networks(ctx); err != nil || len(vnis) > 0 {
				t.Errorf("networks left: %v %v", vnis, err)
			}
		}
		for _, ns := range []netns.NsHandle{l.hostA, l.hostB} {
			links, err := nlAt(t, ns).LinkList()
			if err != nil {
				t.Fatal(err)
			}
			for _, lk := range links {
				switch n := lk.Attrs().Name; n {
				case "lo", "ul0", "up0":
				default:
					t.Errorf("link %s (%s) left behind", n, lk.Type())
				}
			}
			nc, err := nftAt(ns)
			if err != nil {
				t.Fatal(err)
			}
			tables, err := nc.ListTablesOfFamily(nftables.TableFamilyUnspecified)
			if err != nil {
				t.Fatal(err)
			}
			for _, tb := range tables {
				t.Errorf("nft table %s left behind", tb.Name)
			}
		}
		nl := nlAt(t, l.hostA)
		up, _ := nl.LinkByName("up0")
		if proxies, _ := nl.NeighProxyList(up.Attrs().Index, unix.AF_INET); len(proxies) > 0 {
			t.Errorf("proxy ARP entries left: %v", proxies)
		}
		left, _ := filepath.Glob(filepath.Join(netnsDir, l.prefix+"[ab]-*"))
		if len(left) > 0 {
			t.Errorf("router namespaces left: %v", left)
		}
	})
}
