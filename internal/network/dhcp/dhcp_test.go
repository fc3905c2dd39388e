package dhcp_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/dhcpv4/nclient4"
	"github.com/vishvananda/netns"

	"github.com/sirocco-cloud/sirocco/internal/network/dhcp"
)

var (
	gateway = netip.MustParseAddr("10.77.0.1")
	subnet  = netip.MustParsePrefix("10.77.0.0/24")
	macA    = mustMAC("52:54:00:aa:00:01")
	macB    = mustMAC("52:54:00:aa:00:02")
)

func mustMAC(s string) net.HardwareAddr {
	m, err := net.ParseMAC(s)
	if err != nil {
		panic(err)
	}
	return m
}

// link is a "router" namespace with gw0 (the gateway, 10.77.0.1/24) wired
// by a veth to eth0 in a "client" namespace, standing in for a guest NIC.
type link struct {
	router, client string         // namespace names
	routerNS       netns.NsHandle // handle on router
}

var nsSeq atomic.Int64

func newLink(t *testing.T, clientMAC net.HardwareAddr) *link {
	t.Helper()
	// make test runs as root and installs busybox (make deps): a machine
	// without them cannot test DHCP, and says so rather than skip.
	if os.Geteuid() != 0 {
		t.Fatal("needs root for network namespaces (run make test as root)")
	}
	if _, err := exec.LookPath("busybox"); err != nil {
		t.Fatal("needs busybox for its udhcpc client: make deps installs it")
	}
	n := nsSeq.Add(1)
	l := &link{
		router: fmt.Sprintf("sdhcp-%d-%d-r", os.Getpid(), n),
		client: fmt.Sprintf("sdhcp-%d-%d-c", os.Getpid(), n),
	}
	for _, ns := range []string{l.router, l.client} {
		run(t, "ip", "netns", "add", ns)
		t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	}
	run(t, "ip", "-n", l.router, "link", "add", "gw0", "type", "veth", "peer", "name", "eth0", "netns", l.client)
	run(t, "ip", "-n", l.client, "link", "set", "eth0", "address", clientMAC.String())
	run(t, "ip", "-n", l.router, "addr", "add", gateway.String()+"/24", "dev", "gw0")
	for _, ns := range []string{l.router, l.client} {
		run(t, "ip", "-n", ns, "link", "set", "lo", "up")
	}
	run(t, "ip", "-n", l.router, "link", "set", "gw0", "up")
	run(t, "ip", "-n", l.client, "link", "set", "eth0", "up")
	h, err := netns.GetFromName(l.router)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	l.routerNS = h
	return l
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

func (l *link) config(leases ...dhcp.Lease) dhcp.Config {
	return dhcp.Config{
		NetNS:     l.routerNS,
		Interface: "gw0",
		ServerIP:  gateway,
		Prefix:    subnet,
		Router:    gateway,
		DNS:       []netip.Addr{gateway, netip.MustParseAddr("10.77.0.2")},
		MTU:       1450,
		LeaseTime: 10 * time.Minute,
		Leases:    leases,
	}
}

func serve(t *testing.T, cfg dhcp.Config) *dhcp.Server {
	t.Helper()
	s, err := dhcp.Serve(t.Context(), cfg)
	if err != nil {
		t.Fatalf("Serve: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// udhcpc runs busybox's DHCP client, what guests run, in the client
// namespace and returns the variables its script saw on "bound", or nil if
// it got no lease.
func (l *link) udhcpc(t *testing.T, tries int) map[string]string {
	t.Helper()
	script := filepath.Join(t.TempDir(), "script")
	// udhcpc passes the lease as environment variables to its script.
	body := "#!/bin/sh\necho \"EVENT $1\"\n[ \"$1\" = bound ] && env | sed 's/^/VAR /'\nexit 0\n"
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", l.client,
		"busybox", "udhcpc", "-f", "-q", "-n", "-i", "eth0",
		"-t", fmt.Sprint(tries), "-T", "1", "-s", script)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	out, err := cmd.CombinedOutput()
	vars := map[string]string{}
	bound := false
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		line := sc.Text()
		if line == "EVENT bound" {
			bound = true
		}
		if kv, ok := strings.CutPrefix(line, "VAR "); ok {
			k, v, _ := strings.Cut(kv, "=")
			vars[k] = v
		}
	}
	if !bound {
		if err == nil {
			t.Fatalf("udhcpc succeeded without a bound event:\n%s", out)
		}
		return nil
	}
	if err != nil {
		t.Fatalf("udhcpc bound but failed: %v\n%s", err, out)
	}
	return vars
}

func TestGuestGetsItsStaticLease(t *testing.T) {
	l := newLink(t, macA)
	serve(t, l.config(
		dhcp.Lease{MAC: macB, IP: netip.MustParseAddr("10.77.0.11"), Hostname: "other"},
		dhcp.Lease{MAC: macA, IP: netip.MustParseAddr("10.77.0.10"), Hostname: "web-1"},
	))
	got := l.udhcpc(t, 3)
	if got == nil {
		t.Fatal("no lease")
	}
	want := map[string]string{
		"ip":       "10.77.0.10",
		"subnet":   "255.255.255.0",
		"mask":     "24",
		"router":   "10.77.0.1",
		"dns":      "10.77.0.1 10.77.0.2",
		"mtu":      "1450",
		"hostname": "web-1",
		"lease":    "600",
		"serverid": "10.77.0.1",
	}
	for k, v := range want {
		if strings.TrimSpace(got[k]) != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
}

func TestUnknownMACGetsNothing(t *testing.T) {
	l := newLink(t, macB)
	serve(t, l.config(dhcp.Lease{MAC: macA, IP: netip.MustParseAddr("10.77.0.10")}))
	if got := l.udhcpc(t, 2); got != nil {
		t.Fatalf("unknown MAC got a lease: %v", got)
	}
}

func TestSetLeasesChangesTheAnswer(t *testing.T) {
	l := newLink(t, macA)
	s := serve(t, l.config(dhcp.Lease{MAC: macA, IP: netip.MustParseAddr("10.77.0.10"), Hostname: "a"}))
	if got := l.udhcpc(t, 3); got["ip"] != "10.77.0.10" {
		t.Fatalf("before: ip = %q, want 10.77.0.10", got["ip"])
	}

	s.SetLeases([]dhcp.Lease{{MAC: macA, IP: netip.MustParseAddr("10.77.0.20"), Hostname: "b"}})
	got := l.udhcpc(t, 3)
	if got["ip"] != "10.77.0.20" || got["hostname"] != "b" {
		t.Fatalf("after swap: ip = %q hostname = %q, want 10.77.0.20 b", got["ip"], got["hostname"])
	}

	s.SetLeases(nil)
	if got := l.udhcpc(t, 2); got != nil {
		t.Fatalf("lease removed but the client still got %v", got)
	}
}

// inNS runs fn on a thread switched into the named namespace.
func inNS(t *testing.T, name string, fn func()) {
	t.Helper()
	h, err := netns.GetFromName(name)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		t.Fatal(err)
	}
	defer orig.Close()
	if err := netns.Set(h); err != nil {
		t.Fatal(err)
	}
	fn()
	if err := netns.Set(orig); err != nil {
		t.Fatalf("restore namespace: %v", err) // thread stays locked and dies
	}
	runtime.UnlockOSThread()
}

// client opens insomniacslk's raw-socket client on eth0 of the client
// namespace, for requests udhcpc will not send on demand.
func (l *link) dhcpClient(t *testing.T) *nclient4.Client {
	t.Helper()
	var c *nclient4.Client
	var err error
	inNS(t, l.client, func() {
		c, err = nclient4.New("eth0", nclient4.WithTimeout(time.Second), nclient4.WithRetry(3))
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestRequestForAnotherAddressIsNAKed(t *testing.T) {
	l := newLink(t, macA)
	serve(t, l.config(dhcp.Lease{MAC: macA, IP: netip.MustParseAddr("10.77.0.10")}))
	c := l.dhcpClient(t)
	ctx := t.Context()

	offer, err := c.DiscoverOffer(ctx)
	if err != nil {
		t.Fatalf("discover: %v", err)
	}
	if !offer.YourIPAddr.Equal(net.ParseIP("10.77.0.10")) {
		t.Fatalf("offered %v, want 10.77.0.10", offer.YourIPAddr)
	}
	offer.YourIPAddr = net.ParseIP("10.77.0.99") // ask for something else
	_, err = c.RequestFromOffer(ctx, offer)
	var nak *nclient4.ErrNak
	if !errors.As(err, &nak) {
		t.Fatalf("request for 10.77.0.99: err = %v, want a NAK", err)
	}
}

// A guest renewing an address that is no longer its own is told so, which
// makes it start over and pick up the new one.
func TestRenewal(t *testing.T) {
	l := newLink(t, macA)
	s := serve(t, l.config(dhcp.Lease{MAC: macA, IP: netip.MustParseAddr("10.77.0.10")}))
	c := l.dhcpClient(t)
	ctx := t.Context()

	lease, err := c.Request(ctx)
	if err != nil {
		t.Fatalf("request: %v", err)
	}
	// A renewing client has its address and gets the ACK unicast to it.
	run(t, "ip", "-n", l.client, "addr", "add", "10.77.0.10/24", "dev", "eth0")
	renewed, err := c.Renew(ctx, lease)
	if err != nil {
		t.Fatalf("renew: %v", err)
	}
	if !renewed.ACK.YourIPAddr.Equal(net.ParseIP("10.77.0.10")) {
		t.Fatalf("renewed %v, want 10.77.0.10", renewed.ACK.YourIPAddr)
	}

	s.SetLeases([]dhcp.Lease{{MAC: macA, IP: netip.MustParseAddr("10.77.0.30")}})
	_, err = c.Renew(ctx, lease)
	var nak *nclient4.ErrNak
	if !errors.As(err, &nak) {
		t.Fatalf("renew of a moved address: err = %v, want a NAK", err)
	}
}

func TestCloseFreesTheSocket(t *testing.T) {
	l := newLink(t, macA)
	cfg := l.config(dhcp.Lease{MAC: macA, IP: netip.MustParseAddr("10.77.0.10")})
	s, err := dhcp.Serve(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	// Two servers on one interface would split the clients: refused.
	if s2, err := dhcp.Serve(t.Context(), cfg); err == nil {
		s2.Close()
		s.Close()
		t.Fatal("second server on the same interface started")
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if got := l.udhcpc(t, 2); got != nil {
		t.Fatalf("closed server still answered: %v", got)
	}

	// Cancelling the context stops a server just as well.
	ctx, cancel := context.WithCancel(t.Context())
	s, err = dhcp.Serve(ctx, cfg)
	if err != nil {
		t.Fatalf("Serve after Close: %v", err)
	}
	if got := l.udhcpc(t, 3); got["ip"] != "10.77.0.10" {
		t.Fatalf("restarted server: ip = %q, want 10.77.0.10", got["ip"])
	}
	cancel()
	s.Close()
	s, err = dhcp.Serve(t.Context(), cfg)
	if err != nil {
		t.Fatalf("Serve after cancel: %v", err)
	}
	s.Close()
}

func TestServeRejectsBadConfig(t *testing.T) {
	good := dhcp.Config{Interface: "lo", ServerIP: gateway, Prefix: subnet}
	tests := []struct {
		name string
		edit func(*dhcp.Config)
	}{
		{"no interface", func(c *dhcp.Config) { c.Interface = "" }},
		{"IPv6 server", func(c *dhcp.Config) { c.ServerIP = netip.MustParseAddr("fd00::1") }},
		{"no prefix", func(c *dhcp.Config) { c.Prefix = netip.Prefix{} }},
		{"tiny MTU", func(c *dhcp.Config) { c.MTU = 40 }},
		{"lease outside the network", func(c *dhcp.Config) {
			c.Leases = []dhcp.Lease{{MAC: macA, IP: netip.MustParseAddr("10.78.0.5")}}
		}},
		{"lease without MAC", func(c *dhcp.Config) {
			c.Leases = []dhcp.Lease{{IP: netip.MustParseAddr("10.77.0.5")}}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := good
			tt.edit(&cfg)
			s, err := dhcp.Serve(t.Context(), cfg)
			if err == nil {
				s.Close()
				t.Fatal("Serve accepted it")
			}
		})
	}
}

// RFC 2131 4.3.2: a rebooting client is ACKed only for its own address, and
// a client selecting another server's offer gets no answer from us.
func TestRequestStates(t *testing.T) {
	l := newLink(t, macA)
	serve(t, l.config(dhcp.Lease{MAC: macA, IP: netip.MustParseAddr("10.77.0.10")}))
	c := l.dhcpClient(t)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()

	tests := []struct {
		name string
		mods []dhcpv4.Modifier
		want dhcpv4.MessageType // 0: no answer
	}{
		{"init-reboot right address", []dhcpv4.Modifier{
			dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(net.ParseIP("10.77.0.10")))}, dhcpv4.MessageTypeAck},
		{"init-reboot wrong address", []dhcpv4.Modifier{
			dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(net.ParseIP("10.77.0.12")))}, dhcpv4.MessageTypeNak},
		{"selecting another server", []dhcpv4.Modifier{
			dhcpv4.WithOption(dhcpv4.OptServerIdentifier(net.ParseIP("10.77.0.254"))),
			dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(net.ParseIP("10.77.0.12")))}, 0},
		{"selecting us", []dhcpv4.Modifier{
			dhcpv4.WithOption(dhcpv4.OptServerIdentifier(net.ParseIP("10.77.0.1"))),
			dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(net.ParseIP("10.77.0.10")))}, dhcpv4.MessageTypeAck},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := dhcpv4.New(append([]dhcpv4.Modifier{
				dhcpv4.WithHwAddr(macA),
				dhcpv4.WithMessageType(dhcpv4.MessageTypeRequest),
			}, tt.mods...)...)
			if err != nil {
				t.Fatal(err)
			}
			rctx := ctx
			if tt.want == 0 {
				var cancel context.CancelFunc
				rctx, cancel = context.WithTimeout(ctx, 3*time.Second)
				defer cancel()
			}
			resp, err := c.SendAndRead(rctx, nclient4.DefaultServers, req, nil)
			switch {
			case tt.want == 0 && err == nil:
				t.Fatalf("got %v, want silence", resp.MessageType())
			case tt.want == 0:
			case err != nil:
				t.Fatalf("no answer: %v", err)
			case resp.MessageType() != tt.want:
				t.Fatalf("got %v, want %v", resp.MessageType(), tt.want)
			}
		})
	}
}
