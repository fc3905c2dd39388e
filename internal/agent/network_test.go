package agent_test

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

	"github.com/vishvananda/netns"

	"github.com/sirocco-cloud/sirocco/api/agentapi"
	"github.com/sirocco-cloud/sirocco/internal/agent"
	"github.com/sirocco-cloud/sirocco/internal/network"
)

func ipCmd(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// dhcpLease runs busybox's udhcpc, what the test guest runs, in namespace
// ns on iface and returns the variables of its "bound" event, or nil.
func dhcpLease(t *testing.T, ns, iface string) map[string]string {
	t.Helper()
	script := filepath.Join(t.TempDir(), "script")
	body := "#!/bin/sh\necho \"EVENT $1\"\n[ \"$1\" = bound ] && env | sed 's/^/VAR /'\nexit 0\n"
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", ns, "busybox", "udhcpc", "-f", "-q", "-n", "-i", iface,
		"-t", "3", "-T", "1", "-s", script)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	out, _ := cmd.CombinedOutput()
	vars, bound := map[string]string{}, false
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		bound = bound || sc.Text() == "EVENT bound"
		if kv, ok := strings.CutPrefix(sc.Text(), "VAR "); ok {
			k, v, _ := strings.Cut(kv, "=")
			vars[k] = v
		}
	}
	if !bound {
		return nil
	}
	return vars
}

// TestNetworkingFollowsDesiredState drives a host namespace's dataplane
// from sync answers: the desired networks appear with DHCP servers that
// give each of the VM's two NICs (veths standing in for its taps) its lease
// on its network, a changed lease is handed out at once, and when nothing
// is desired any more the networks, their router namespaces, the ports and
// DHCP are gone.
func TestNetworkingFollowsDesiredState(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("needs root for network namespaces (run make test as root)")
	}
	if _, err := exec.LookPath("busybox"); err != nil {
		t.Fatal("needs busybox for its udhcpc client: make deps installs it")
	}
	prefix := fmt.Sprintf("sag%d", os.Getpid()%100000)
	hostNS, vmNS := prefix+"-host", prefix+"-vm"
	for _, ns := range []string{hostNS, vmNS} {
		ipCmd(t, "netns", "add", ns)
		t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
		ipCmd(t, "-n", ns, "link", "set", "lo", "up")
	}
	ipCmd(t, "-n", hostNS, "link", "add", "ul0", "type", "veth", "peer", "name", "ul1")
	ipCmd(t, "-n", hostNS, "addr", "add", "10.99.0.1/24", "dev", "ul0")
	ipCmd(t, "-n", hostNS, "link", "set", "ul0", "up")
	mac, _ := net.ParseMAC("52:54:00:ab:cd:01")
	tap := network.TapName(mac)
	ipCmd(t, "-n", hostNS, "link", "add", tap, "type", "veth", "peer", "name", "eth0", "netns", vmNS)
	ipCmd(t, "-n", vmNS, "link", "set", "eth0", "address", mac.String(), "up")
	// The VM's second NIC, on a second network.
	mac2, _ := net.ParseMAC("52:54:00:ab:cd:02")
	tap2 := network.TapName(mac2)
	ipCmd(t, "-n", hostNS, "link", "add", tap2, "type", "veth", "peer", "name", "eth1", "netns", vmNS)
	ipCmd(t, "-n", vmNS, "link", "set", "eth1", "address", mac2.String(), "up")

	h, err := netns.GetFromName(hostNS)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	host, err := network.New(network.Config{NetNS: h, Underlay: netip.MustParseAddr("10.99.0.1"), RouterPrefix: prefix + "-r-"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		vnis, _ := host.Networks(context.Background())
		for _, v := range vnis {
			host.DeleteNetwork(context.Background(), v)
		}
		host.Close()
	})
	n := agent.NewNetworking(host, 0, nil, nil)
	n.DNSUpstreams = []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:5300")}
	defer n.Close()

	desired := func(ip string) *agentapi.SyncResponse {
		return &agentapi.SyncResponse{
			Networks: []agentapi.DesiredNetwork{{ID: "net-1", VNI: 4242, CIDR: "10.0.0.0/24", Gateway: "10.0.0.1", MTU: 1450,
				DNS: []string{"10.0.0.53"}, Peers: []string{"10.99.0.2"}, Leases: []agentapi.Lease{{MAC: mac.String(), IP: ip, Hostname: "web"}}},
				{ID: "net-2", VNI: 4243, CIDR: "10.0.1.0/24", Gateway: "10.0.1.1", MTU: 1450,
					Leases: []agentapi.Lease{{MAC: mac2.String(), IP: "10.0.1.5", Hostname: "web"}}}},
			VMs: []agentapi.DesiredVM{{ID: "vm-1", Power: "running",
				NICs: []agentapi.DesiredNIC{{Network: "net-1", MAC: mac.String(), IP: ip}, {Network: "net-2", MAC: mac2.String(), IP: "10.0.1.5"}}}},
		}
	}
	ctx := t.Context()
	if err := n.Apply(ctx, desired("10.0.0.5")); err != nil {
		t.Fatal(err)
	}
	// Level-triggered: applying the same state again changes nothing.
	if err := n.Apply(ctx, desired("10.0.0.5")); err != nil {
		t.Fatalf("second Apply: %v", err)
	}
	got := dhcpLease(t, vmNS, "eth0")
	if got == nil || got["ip"] != "10.0.0.5" || got["router"] != "10.0.0.1" || got["dns"] != "10.0.0.53" || got["mtu"] != "1450" {
		t.Fatalf("DHCP lease: %v", got)
	}
	// What the VM sent (its DHCP exchange) counts as its egress.
	sent := n.TxBytes([]string{mac.String()})
	if sent <= 0 {
		t.Fatalf("the VM's tap counted %d bytes sent after a DHCP exchange", sent)
	}
	// The second NIC is plugged into its own network, whose DHCP leases it
	// its address there; the VM's egress counts both taps.
	if got := dhcpLease(t, vmNS, "eth1"); got == nil || got["ip"] != "10.0.1.5" || got["router"] != "10.0.1.1" {
		t.Fatalf("DHCP lease of the second NIC: %v", got)
	}
	if both := n.TxBytes([]string{mac.String(), mac2.String()}); both <= sent {
		t.Fatalf("egress over both taps %d, over the first alone %d", both, sent)
	}
	// The router forwards the VM's DNS queries from its gateway to the
	// upstream resolver (here a stand-in answering inside the router's
	// namespace, echoing the query marked as an answer).
	rns, err := netns.GetFromName(host.RouterNamespace(4242))
	if err != nil {
		t.Fatal(err)
	}
	defer rns.Close()
	upstream := listenUDPIn(t, rns, "127.0.0.1:5300")
	go func() {
		buf := make([]byte, 512)
		for {
			m, from, err := upstream.ReadFromUDP(buf)
			if err != nil {
				return
			}
			buf[2] |= 0x80
			upstream.WriteToUDP(buf[:m], from)
		}
	}()
	ipCmd(t, "-n", vmNS, "addr", "add", "10.0.0.5/24", "dev", "eth0")
	vns, err := netns.GetFromName(vmNS)
	if err != nil {
		t.Fatal(err)
	}
	defer vns.Close()
	q := listenUDPIn(t, vns, "10.0.0.5:0")
	query := append([]byte{0xab, 0xcd, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0}, "sirocco.test"...)
	if _, err := q.WriteToUDPAddrPort(query, netip.MustParseAddrPort("10.0.0.1:53")); err != nil {
		t.Fatal(err)
	}
	q.SetReadDeadline(time.Now().Add(3 * time.Second))
	answer := make([]byte, 512)
	m, err := q.Read(answer)
	if err != nil || answer[0] != 0xab || answer[1] != 0xcd || answer[2]&0x80 == 0 || !strings.HasSuffix(string(answer[:m]), "sirocco.test") {
		t.Fatalf("DNS through the gateway: %v % x", err, answer[:m])
	}
	if err := n.Apply(ctx, desired("10.0.0.9")); err != nil {
		t.Fatal(err)
	}
	if got := dhcpLease(t, vmNS, "eth0"); got == nil || got["ip"] != "10.0.0.9" {
		t.Fatalf("DHCP lease after the address changed: %v", got)
	}

	if err := n.Apply(ctx, &agentapi.SyncResponse{}); err != nil {
		t.Fatal(err)
	}
	if vnis, err := host.Networks(ctx); err != nil || len(vnis) != 0 {
		t.Fatalf("networks left: %v %v", vnis, err)
	}
	out, _ := exec.Command("ip", "-n", hostNS, "-o", "link", "show").CombinedOutput()
	for _, name := range []string{"sbr4242", "svx4242", tap, "sbr4243", tap2} {
		if strings.Contains(string(out), name) {
			t.Errorf("%s left on the host:\n%s", name, out)
		}
	}
	if _, err := os.Stat(filepath.Join("/var/run/netns", host.RouterNamespace(4242))); err == nil {
		t.Errorf("router namespace %s left", host.RouterNamespace(4242))
	}
}

// listenUDPIn opens a UDP socket in namespace ns.
func listenUDPIn(t *testing.T, ns netns.NsHandle, addr string) *net.UDPConn {
	t.Helper()
	var conn *net.UDPConn
	err := network.InNamespace(ns, func() (err error) {
		conn, err = net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort(addr)))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}
