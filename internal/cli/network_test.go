package cli_test

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/internal/cli"
	"github.com/sirocco-cloud/sirocco/internal/store"
)

// netCloud is region au-syd with a ready host that no agent runs (VMs stay
// creating, which is all networks, addresses and rules need), image tiny,
// size s1.small and tenant acme with VDC main; the CLI runs with explicit
// --server and --token.
type netCloud struct {
	*env
	admin, tenant string
}

func newNetCloud(t *testing.T) *netCloud {
	t.Helper()
	e := newEnv(t, false)
	isolate(t)
	n := &netCloud{env: e, admin: e.ProviderAdmin()}
	n.provider(t, "region", "create", "au-syd", "--jurisdiction", "AU")
	n.provider(t, "zone", "create", "au-syd-1a", "--region", "au-syd")
	n.provider(t, "size", "create", "s1.small", "--vcpu", "1", "--memory-mib", "1024", "--disk-gib", "10")
	n.provider(t, "org", "create", "acme")
	org := decode[api.Organisation](t, n.provider(t, "org", "get", "acme", "-o", "json"))
	ctx := context.Background()
	err := e.Store.Tx(ctx, func(tx *store.Tx) error {
		h := &store.Host{Meta: store.Meta{ID: "hv1"}, ZoneID: "au-syd-1a", State: api.HostReady, VCPU: 8, MemoryMiB: 16384, DiskGiB: 200,
			CPUOvercommit: 1, MemoryOvercommit: 1}
		if err := tx.CreateHost(ctx, h); err != nil {
			return err
		}
		return tx.CreateImage(ctx, &store.Image{Name: "tiny", Kind: api.ImageKindKernel, State: api.ImageAvailable,
			Files: []store.ImageFile{{Name: api.ImageFileKernel, Size: 1, SHA256: "00"}}})
	})
	if err != nil {
		t.Fatal(err)
	}
	u := e.User("ana@acme.test", store.RoleBinding{OrgID: org.ID, Role: api.RoleOrgAdmin})
	n.tenant = e.Token(u, org.ID, api.RoleOrgAdmin)
	n.as(t, "vdc", "create", "main", "--zone", "au-syd-1a")
	return n
}

func (n *netCloud) provider(t *testing.T, args ...string) result {
	t.Helper()
	return ok(t, append([]string{"--server", n.URL, "--token", n.admin}, args...)...)
}

func (n *netCloud) as(t *testing.T, args ...string) result {
	t.Helper()
	return ok(t, append([]string{"--server", n.URL, "--token", n.tenant, "--org", "acme"}, args...)...)
}

func (n *netCloud) run(t *testing.T, args ...string) result {
	t.Helper()
	return sirocco(t, "", append([]string{"--server", n.URL, "--token", n.tenant, "--org", "acme"}, args...)...)
}

// wantIn checks that every one of words shows in s.
func wantIn(t *testing.T, s string, words ...string) {
	t.Helper()
	for _, w := range words {
		if !strings.Contains(s, w) {
			t.Fatalf("output lacks %q:\n%s", w, s)
		}
	}
}

func TestNetworkPublicIPAndFirewall(t *testing.T) {
	n := newNetCloud(t)

	// The provider defines the public range; tenants cannot see pools.
	pool := decode[api.PublicIPPool](t, n.provider(t, "public-ip-pool", "create", "syd-public", "--region", "au-syd",
		"--cidr", "203.0.113.0/29", "--gateway", "203.0.113.1", "--uplink", "eth1", "--first", "203.0.113.2", "-o", "json"))
	if pool.FirstIP != "203.0.113.2" || pool.LastIP != "203.0.113.6" || pool.Uplink != "eth1" {
		t.Fatalf("pool %+v", pool)
	}
	wantIn(t, n.provider(t, "public-ip-pool", "list").stdout, "syd-public", "203.0.113.2-203.0.113.6", "eth1")
	wantFail(t, n.run(t, "public-ip-pool", "list"), cli.ExitError, "forbidden")
	wantFail(t, sirocco(t, "", "--server", n.URL, "--token", n.admin, "public-ip-pool", "create", "p2", "--region", "au-syd"),
		cli.ExitUsage, "--region, --cidr, --gateway and --uplink are required")

	// Networks.
	lan := decode[api.Network](t, n.as(t, "network", "create", "lan", "--cidr", "10.0.0.0/24", "--dns", "1.1.1.1", "-o", "json"))
	if lan.Gateway != "10.0.0.1" || lan.MTU != 1450 || len(lan.DNS) != 1 {
		t.Fatalf("network %+v", lan)
	}
	n.as(t, "network", "create", "db", "--vdc", "main", "--cidr", "10.1.0.0/24", "--gateway", "10.1.0.254")
	wantIn(t, n.as(t, "network", "list").stdout, "lan", "10.0.0.0/24", "db", "10.1.0.254", "1450")
	wantFail(t, n.run(t, "network", "create", "other"), cli.ExitUsage, "--cidr is required")
	wantFail(t, n.run(t, "network", "create", "other", "--cidr", "10.0.0.0/16"), cli.ExitConflict, "network_overlap")

	// A VM on both, with a fixed address on db and a public address.
	for _, bad := range []string{"=10.0.0.5", "lan=", "lan=10.0.0.300"} {
		wantFail(t, n.run(t, "vm", "create", "x", "--image", "tiny", "--size", "s1.small", "--network", bad), cli.ExitUsage, "--network")
	}
	created := decode[api.VMCreated](t, n.as(t, "vm", "create", "web", "--image", "tiny", "--size", "s1.small",
		"--network", "lan", "--network", "db=10.1.0.20", "--public-ip", "--no-wait", "-o", "json"))
	nics := created.VMs[0].NICs
	if len(nics) != 2 || nics[0].IP != "10.0.0.2" || nics[0].PublicIP != "203.0.113.2" || nics[1].IP != "10.1.0.20" {
		t.Fatalf("NICs %+v", nics)
	}
	wantIn(t, n.as(t, "vm", "get", "web").stdout, "NETWORK", "PUBLIC IP", "lan", "10.0.0.2", "203.0.113.2", "db", "10.1.0.20", nics[1].MAC)
	// The address list names the VM, not its ID.
	ips := n.as(t, "public-ip", "list").stdout
	wantIn(t, ips, "203.0.113.2", "web", "10.0.0.2")
	if strings.Contains(ips, created.VMs[0].ID) {
		t.Fatalf("public-ip list shows the VM's ID:\n%s", ips)
	}

	// Move the address to the db NIC.
	ip := decode[api.PublicIP](t, n.as(t, "public-ip", "detach", "203.0.113.2", "-o", "json"))
	if ip.VM != "" || ip.Address != "203.0.113.2" {
		t.Fatalf("detached %+v", ip)
	}
	wantFail(t, n.run(t, "public-ip", "attach", "203.0.113.2"), cli.ExitUsage, "--vm is required")
	wantIn(t, n.as(t, "public-ip", "attach", "203.0.113.2", "--vm", "web", "--nic", "db").stdout, "web", "10.1.0.20")
	second := decode[api.PublicIP](t, n.as(t, "public-ip", "allocate", "-o", "json"))
	if second.Address != "203.0.113.3" {
		t.Fatalf("allocated %+v", second)
	}
	wantFail(t, n.run(t, "public-ip", "allocate"), cli.ExitError, "quota_exceeded")
	wantIn(t, n.as(t, "public-ip", "release", "203.0.113.3").stdout, "Released public IP 203.0.113.3")
	wantFail(t, n.run(t, "public-ip", "get", "203.0.113.3"), cli.ExitNotFound, "not_found")

	// Firewall rules.
	ssh := decode[api.FirewallRule](t, n.as(t, "firewall", "create", "web", "--protocol", "tcp", "--port", "22",
		"--cidr", "198.51.100.0/24", "--description", "ssh", "-o", "json"))
	if ssh.Direction != "ingress" || ssh.PortFrom != 22 || ssh.PortTo != 22 || ssh.CIDR != "198.51.100.0/24" {
		t.Fatalf("rule %+v", ssh)
	}
	n.as(t, "firewall", "create", "web", "--direction", "egress", "--protocol", "udp", "--port", "5000-5010")
	n.as(t, "firewall", "create", "web", "--protocol", "icmp")
	rules := n.as(t, "firewall", "list", "web").stdout
	wantIn(t, rules, ssh.ID, "198.51.100.0/24", "ssh", "egress", "5000-5010", "icmp", "all")
	for _, bad := range [][]string{
		{"--port", "22"},
		{"--protocol", "icmp", "--port", "1"},
		{"--protocol", "tcp", "--port", "70000"},
		{"--protocol", "tcp", "--port", "30-20"},
		{"--protocol", "sctp"},
		{"--protocol", "tcp", "--direction", "inbound"},
	} {
		wantFail(t, n.run(t, append([]string{"firewall", "create", "web"}, bad...)...), cli.ExitUsage, "--")
	}
	wantFail(t, n.run(t, "firewall", "create", "web", "--protocol", "tcp", "--cidr", "10.0.0.1/8"), cli.ExitError, "host bits")
	wantIn(t, n.as(t, "firewall", "get", "web", ssh.ID).stdout, "ssh")
	wantIn(t, n.as(t, "firewall", "delete", "web", ssh.ID).stdout, "Deleted firewall rule")
	wantFail(t, n.run(t, "firewall", "get", "web", ssh.ID), cli.ExitNotFound, "not_found")

	// A network in use stays; an empty one goes.
	wantFail(t, n.run(t, "network", "delete", "lan"), cli.ExitConflict, "in_use")
	n.as(t, "network", "create", "spare", "--cidr", "10.2.0.0/24")
	wantIn(t, n.as(t, "network", "delete", "spare").stdout, "Deleted network spare")
	wantFail(t, n.run(t, "network", "get", "spare"), cli.ExitNotFound, "not_found")

	// The changes are on the events stream, one line (or JSON object) each.
	lines := strings.Split(strings.TrimSpace(n.as(t, "events", "--types", "network.create,network.delete", "-o", "json").stdout), "\n")
	var got []string
	for _, l := range lines {
		got = append(got, decode[api.ResourceEvent](t, result{stdout: l}).Action)
	}
	if strings.Join(got, " ") != "network.create network.create network.create network.delete" {
		t.Fatalf("events %v", got)
	}
	wantIn(t, n.as(t, "events", "--since", "1h").stdout, "public-ip.attach", "firewall-rule.create", "ana@acme.test", "vm.create")
	wantFail(t, n.run(t, "events", "--since", "yesterday"), cli.ExitUsage, "--since")
	wantFail(t, n.run(t, "events", "--types", "VM Create"), cli.ExitUsage, "--types")
	wantFail(t, n.run(t, "events", "--after", "nope"), cli.ExitError, "not an event ID")
}

// syncBuffer is a bytes.Buffer safe to read while the CLI writes it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestEventsFollow(t *testing.T) {
	n := newNetCloud(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var out, errb syncBuffer
	code := make(chan int, 1)
	go func() {
		code <- cli.Main(ctx, []string{"--server", n.URL, "--token", n.tenant, "--org", "acme", "events", "--follow", "--since", "1s",
			"--types", "network.create"}, strings.NewReader(""), &out, &errb)
	}()
	n.as(t, "network", "create", "lan", "--cidr", "10.0.0.0/24")
	deadline := time.Now().Add(15 * time.Second)
	for !strings.Contains(out.String(), "network.create") {
		select {
		case c := <-code:
			t.Fatalf("events ended (exit %d) before the change: %s %s", c, out.String(), errb.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no event within 15s: %q %q", out.String(), errb.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	wantIn(t, out.String(), "lan 10.0.0.0/24", "ana@acme.test")
	// Interrupting a follow is how it ends: exit 0, nothing on stderr.
	cancel()
	if c := <-code; c != cli.ExitOK || errb.String() != "" {
		t.Fatalf("exit %d, stderr %q", c, errb.String())
	}
}
