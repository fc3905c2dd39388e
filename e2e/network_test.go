package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/internal/compute/testguest"
)

// lab is the test's machines, each a network namespace created and removed
// by the test: the control plane (cp), two hypervisor hosts and the
// internet beyond hostA's uplink. Nothing leaves loopback in the main
// namespace.
type lab struct {
	t      *testing.T
	prefix string // of every namespace the test creates, agents' router namespaces included
}

func (l *lab) ns(name string) string { return l.prefix + "-" + name }

// ip runs ip(8) and fails the test if it fails.
func (l *lab) ip(args ...string) string {
	l.t.Helper()
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		l.t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// in runs a command inside namespace name and returns its output and error.
func (l *lab) in(name string, args ...string) (string, error) {
	out, err := exec.Command("ip", append([]string{"netns", "exec", l.ns(name)}, args...)...).CombinedOutput()
	return string(out), err
}

// newLab wires the namespaces: cp on a bridge 10.98.0.0/24 with hostA
// (.2) and hostB (.3); the underlay hostA 10.99.0.1 - hostB 10.99.0.2;
// hostA's uplink up0 (203.0.113.2/28) to inet (203.0.113.1/28); hostB's
// up0 (203.0.113.3/28) is a veth that leads nowhere.
func newLab(t *testing.T) *lab {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("needs root for network namespaces (run make test as root)")
	}
	l := &lab{t: t, prefix: fmt.Sprintf("sne%d", os.Getpid()%100000)}
	t.Cleanup(func() {
		// The agents' router namespaces, should a failed test leave any.
		entries, _ := os.ReadDir("/var/run/netns")
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), l.prefix) {
				exec.Command("ip", "netns", "del", e.Name()).Run()
			}
		}
	})
	for _, n := range []string{"cp", "hostA", "hostB", "inet"} {
		l.ip("netns", "add", l.ns(n))
		t.Cleanup(func() { exec.Command("ip", "netns", "del", l.ns(n)).Run() })
		l.ip("-n", l.ns(n), "link", "set", "lo", "up")
	}
	cp := l.ns("cp")
	l.ip("-n", cp, "link", "add", "br0", "type", "bridge")
	l.ip("-n", cp, "addr", "add", "10.98.0.1/24", "dev", "br0")
	l.ip("-n", cp, "link", "set", "br0", "up")
	for i, h := range []string{"hostA", "hostB"} {
		port := "to" + h
		l.ip("-n", cp, "link", "add", port, "type", "veth", "peer", "name", "cp0", "netns", l.ns(h))
		l.ip("-n", cp, "link", "set", port, "master", "br0", "up")
		l.ip("-n", l.ns(h), "addr", "add", fmt.Sprintf("10.98.0.%d/24", i+2), "dev", "cp0")
		l.ip("-n", l.ns(h), "link", "set", "cp0", "up")
	}
	l.ip("-n", l.ns("hostA"), "link", "add", "ul0", "type", "veth", "peer", "name", "ul0", "netns", l.ns("hostB"))
	for i, h := range []string{"hostA", "hostB"} {
		l.ip("-n", l.ns(h), "addr", "add", fmt.Sprintf("10.99.0.%d/24", i+1), "dev", "ul0")
		l.ip("-n", l.ns(h), "link", "set", "ul0", "up")
	}
	l.ip("-n", l.ns("hostA"), "link", "add", "up0", "type", "veth", "peer", "name", "eth0", "netns", l.ns("inet"))
	l.ip("-n", l.ns("hostA"), "addr", "add", "203.0.113.2/28", "dev", "up0")
	l.ip("-n", l.ns("hostA"), "link", "set", "up0", "up")
	l.ip("-n", l.ns("inet"), "addr", "add", "203.0.113.1/28", "dev", "eth0")
	l.ip("-n", l.ns("inet"), "link", "set", "eth0", "up")
	l.ip("-n", l.ns("hostB"), "link", "add", "up0", "type", "veth", "peer", "name", "nowhere")
	l.ip("-n", l.ns("hostB"), "addr", "add", "203.0.113.3/28", "dev", "up0")
	l.ip("-n", l.ns("hostB"), "link", "set", "up0", "up")
	return l
}

// start runs a long-lived command inside namespace name, killed at the end
// of the test; its output goes to the returned log.
func (l *lab) start(name string, args ...string) (*exec.Cmd, *syncBuffer, chan struct{}) {
	l.t.Helper()
	cmd := exec.Command("ip", append([]string{"netns", "exec", l.ns(name)}, args...)...)
	log := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		l.t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	l.t.Cleanup(func() {
		// SIGTERM: the agents shut down cleanly (their VMs stay, and are
		// deleted by the test before this).
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		if l.t.Failed() {
			l.t.Logf("%s %s:\n%s", name, args[1], log.String())
		}
	})
	return cmd, log, exited
}

// nsCLI runs the sirocco CLI inside the control plane's namespace with its
// own configuration (one identity each).
type nsCLI struct {
	l      *lab
	config string
}

func (c *nsCLI) run(stdin string, args ...string) result {
	c.l.t.Helper()
	cmd := exec.Command("ip", append([]string{"netns", "exec", c.l.ns("cp"), sirocco}, args...)...)
	cmd.Env = append(os.Environ(), "XDG_CONFIG_HOME="+c.config, "HOME="+c.config)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		c.l.t.Fatalf("run sirocco %v: %v", args, err)
	}
	return result{code, out.String(), errb.String()}
}

func (c *nsCLI) ok(stdin string, args ...string) string {
	c.l.t.Helper()
	r := c.run(stdin, args...)
	if r.code != 0 {
		c.l.t.Fatalf("sirocco %s: exit %d\n%s%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

var readyIP = regexp.MustCompile(testguest.ReadyPrefix + `hostname=(\S+) ip=(\S+)`)

// ready waits for VM name's ready line and returns the address it got.
func (c *nsCLI) ready(name string) string {
	c.l.t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		// Until the host has made the VM (created with --no-wait), its
		// console cannot open yet: try again.
		r := c.run("", "vm", "console", name, "--duration", "2s")
		if m := readyIP.FindStringSubmatch(r.stdout); r.code == 0 && m != nil && m[1] == name {
			return m[2]
		}
		if time.Now().After(deadline) {
			c.l.t.Fatalf("no ready line from %s on its console (exit %d):\n%s%s", name, r.code, r.stdout, r.stderr)
		}
		if r.code != 0 {
			time.Sleep(500 * time.Millisecond)
		}
	}
}

// typeIn types line on VM name's console and returns what the console
// shows over the next few seconds. (The guest's static busybox wget
// crashes with -T: bound commands with timeout instead.)
func (c *nsCLI) typeIn(name, line string) string {
	c.l.t.Helper()
	return c.ok(line+"\n", "vm", "console", name, "--duration", "6s")
}

// eventually retries check for up to 30 s.
func eventually(t *testing.T, what string, check func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ok, got := check()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: never true; last:\n%s", what, got)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// TestNetworkAcceptance walks the networking issue's acceptance with the
// real binaries in namespaces: a control plane, two hosts whose agents
// carry tenant networks over VXLAN, an internet beyond hostA's uplink.
// VMs get their addresses by DHCP, reach each other across hosts (a VM
// with NICs on two networks at each of its addresses), are
// reachable from the internet through a public address only once a
// firewall rule allows it; another tenant's network with the same CIDR is
// isolated; releasing the address and deleting everything leaves nothing
// of the dataplane on the hosts.
func TestNetworkAcceptance(t *testing.T) {
	kernel, _ := testguest.Path(t)
	l := newLab(t)

	dataDir := t.TempDir()
	url := "https://10.98.0.1:8443"
	_, cpLog, cpExited := l.start("cp", siroccod, "serve", "--data-dir", dataDir, "--listen", "10.98.0.1:8443",
		"--public-url", url, "--seed-demo", "--demo-image", filepath.Dir(kernel), "--heartbeat-interval", "2s",
		"--rate-limit", "100000", "--rate-burst", "100000")
	d := &daemon{t: t, url: url, dataDir: dataDir, log: cpLog, exited: cpExited}
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(cpLog.String(), "Sirocco is running."); {
		select {
		case <-cpExited:
			t.Fatalf("siroccod exited before it was ready:\n%s", cpLog.String())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("siroccod not ready after 30s:\n%s", cpLog.String())
		}
	}
	fp := regexp.MustCompile(`sha256:[0-9a-f]{64}`).FindString(cpLog.String())
	pw, err := os.ReadFile(filepath.Join(dataDir, "initial-admin-password"))
	if err != nil {
		t.Fatal(err)
	}
	admin := &nsCLI{l: l, config: t.TempDir()}
	admin.ok(string(pw), "login", url, "--email", "admin@sirocco.local", "--password-stdin", "--fingerprint", fp)

	// QEMU runs as nobody and opens its tap through /dev/net/tun, which
	// udev makes world-writable; where it is not (containers without
	// udev), QEMU runs as root instead.
	qemuUser := "nobody"
	if st, err := os.Stat("/dev/net/tun"); err != nil || st.Mode().Perm()&0o006 != 0o006 {
		t.Logf("/dev/net/tun is not world-writable: QEMU runs as root")
		qemuUser = ""
	}
	// The hosts join with the printed token; both name their uplink up0.
	for i, h := range []string{"hostA", "hostB"} {
		out := admin.ok("", "host", "add", strings.ToLower(h), "--zone", "au-syd-1a")
		token := regexp.MustCompile(`--token (\S+)`).FindStringSubmatch(out)
		if token == nil {
			t.Fatalf("host add printed no token:\n%s", out)
		}
		vms := vmDir(t)
		t.Cleanup(func() { killQEMUs(t, vms) })
		l.start(h, siroccod, "agent", "--join", url, "--token", token[1], "--state-dir", t.TempDir(),
			"--vm-dir", vms, "--qemu-user", qemuUser, "--accel", "tcg", "--underlay", fmt.Sprintf("10.99.0.%d", i+1), "--uplink", "up0",
			"--router-prefix", l.prefix+strings.ToLower(h[4:])+"-", "--log-level", "info")
	}
	for _, h := range []string{"hostA", "hostB"} {
		eventually(t, h+" ready", func() (bool, string) {
			out := admin.ok("", "host", "get", strings.ToLower(h))
			return strings.Contains(out, "ready"), out
		})
	}
	admin.ok("", "public-ip-pool", "create", "syd-public", "--region", "au-syd", "--cidr", "203.0.113.0/28",
		"--gateway", "203.0.113.1", "--first", "203.0.113.4", "--uplink", "up0")

	tenant := func(email, org string) *nsCLI {
		c := &nsCLI{l: l, config: t.TempDir()}
		c.ok("tenant-password-1\n", "signup", "--server", url, "--fingerprint", fp, "--email", email, "--org-name", org, "--password-stdin")
		c.ok("", "verify-email", lastMailToken(t, d), "--server", url, "--fingerprint", fp)
		c.ok("tenant-password-1\n", "login", url, "--email", email, "--password-stdin", "--fingerprint", fp)
		c.ok("", "network", "create", "lan", "--cidr", "10.0.0.0/24")
		return c
	}
	acme := tenant("dev@acme.test", "acme")
	// Placement by draining: a and then c on hostA, b on hostB.
	on := func(host string, c *nsCLI, args ...string) {
		other := map[string]string{"hostA": "hostB", "hostB": "hostA"}[host]
		admin.ok("", "host", "drain", strings.ToLower(other))
		c.ok("", append([]string{"vm", "create"}, args...)...)
		admin.ok("", "host", "ready", strings.ToLower(other))
	}
	vm := []string{"--image", "sirocco-testguest", "--size", "s1.small", "--network", "lan", "--no-wait"}
	on("hostA", acme, append([]string{"a", "--public-ip"}, vm...)...)
	on("hostB", acme, append([]string{"b"}, vm...)...)

	// DHCP: both guests report an address of the network.
	ipA, ipB := acme.ready("a"), acme.ready("b")
	for _, ip := range []string{ipA, ipB} {
		if !strings.HasPrefix(ip, "10.0.0.") {
			t.Fatalf("DHCP addresses: a %s, b %s", ipA, ipB)
		}
	}
	a := getNSVM(t, acme, "a")
	if len(a.NICs) != 1 || a.NICs[0].IP != ipA || a.NICs[0].PublicIP == "" {
		t.Fatalf("a's NICs %+v, DHCP gave %s", a.NICs, ipA)
	}
	pub := a.NICs[0].PublicIP

	// a reaches b across the hosts, over VXLAN.
	if out := acme.typeIn("a", "timeout 5 wget -qO- http://"+ipB+":8080/"); !strings.Contains(out, "hostname=b instance-id") {
		t.Fatalf("a does not reach b's page at %s:\n%s", ipB, out)
	}

	// Several NICs: m (hostA) is on lan and on a second network, db; n
	// (hostB) is on db only. m takes both addresses by DHCP, n reaches m
	// at its db address and a at its lan address, and m's default route
	// is its first NIC's.
	acme.ok("", "network", "create", "db", "--cidr", "10.1.0.0/24")
	on("hostA", acme, "m", "--image", "sirocco-testguest", "--size", "s1.small", "--network", "lan", "--network", "db", "--no-wait")
	on("hostB", acme, "n", "--image", "sirocco-testguest", "--size", "s1.small", "--network", "db", "--no-wait")
	ipM, ipN := acme.ready("m"), acme.ready("n")
	m := getNSVM(t, acme, "m")
	if len(m.NICs) != 2 || m.NICs[0].IP != ipM || !strings.HasPrefix(ipM, "10.0.0.") || !strings.HasPrefix(m.NICs[1].IP, "10.1.0.") ||
		!strings.HasPrefix(ipN, "10.1.0.") {
		t.Fatalf("m's NICs %+v, DHCP gave m %s and n %s", m.NICs, ipM, ipN)
	}
	ipMdb := m.NICs[1].IP
	if out := acme.typeIn("m", "cat /run/ip.eth1; ip route | grep default"); !strings.Contains(out, ipMdb) ||
		!strings.Contains(out, "default via 10.0.0.1 dev eth0") || strings.Contains(out, "default via 10.1.0.1") {
		t.Fatalf("m's second NIC has no lease %s, or its default route is not via lan's gateway on eth0:\n%s", ipMdb, out)
	}
	if out := acme.typeIn("n", "timeout 5 wget -qO- http://"+ipMdb+":8080/"); !strings.Contains(out, "hostname=m instance-id") {
		t.Fatalf("n (on db) does not reach m at its db address %s:\n%s", ipMdb, out)
	}
	if out := acme.typeIn("a", "timeout 5 wget -qO- http://"+ipM+":8080/"); !strings.Contains(out, "hostname=m instance-id") {
		t.Fatalf("a (on lan) does not reach m at its lan address %s:\n%s", ipM, out)
	}

	// From the internet: nothing gets in without a rule.
	fromInet := func() (string, error) {
		return l.in("inet", "wget", "--no-proxy", "-qO-", "-T", "3", "-t", "1", "http://"+pub+":8080/")
	}
	if out, err := fromInet(); err == nil {
		t.Fatalf("a's public address %s answers without a firewall rule:\n%s", pub, out)
	}
	acme.ok("", "firewall", "create", "a", "--protocol", "tcp", "--port", "8080")
	eventually(t, "a reachable at "+pub+" with the rule", func() (bool, string) {
		out, err := fromInet()
		return err == nil && strings.Contains(out, "hostname=a "), out
	})

	// Another tenant, the same CIDR, a VM on the same host: isolated.
	beta := tenant("ops@beta.test", "beta")
	on("hostA", beta, slices.Concat([]string{"c"}, vm[:4], []string{"--network", "lan=10.0.0.200", "--no-wait"})...)
	if ip := beta.ready("c"); ip != "10.0.0.200" {
		t.Fatalf("c got %s by DHCP, want its fixed 10.0.0.200", ip)
	}
	// c reaches its own page (the command works), not a's at the same address
	// on the other tenant's segment.
	out := beta.typeIn("c", "timeout 5 wget -qO- http://10.0.0.200:8080/; timeout 5 wget -qO- http://"+ipA+":8080/")
	if !strings.Contains(out, "hostname=c instance-id") || strings.Contains(out, "hostname=a ") {
		t.Fatalf("c, on another tenant's network, reaches a at %s (or its own page fails):\n%s", ipA, out)
	}

	// Releasing the address: unreachable, and nothing of it left on hostA.
	acme.ok("", "public-ip", "release", pub)
	eventually(t, "a unreachable at "+pub+" after release", func() (bool, string) {
		out, err := fromInet()
		return err != nil, out
	})
	eventually(t, "no route or proxy ARP for "+pub+" on hostA", func() (bool, string) {
		routes, _ := l.in("hostA", "ip", "route", "show", "table", "all", pub)
		proxies, _ := l.in("hostA", "ip", "neigh", "show", "proxy")
		return !strings.Contains(routes+proxies, pub), routes + proxies
	})

	// Deleting everything leaves no dataplane on either host.
	acme.ok("", "vm", "delete", "a")
	acme.ok("", "vm", "delete", "b")
	acme.ok("", "vm", "delete", "m")
	acme.ok("", "vm", "delete", "n")
	beta.ok("", "vm", "delete", "c")
	acme.ok("", "network", "delete", "lan")
	acme.ok("", "network", "delete", "db")
	beta.ok("", "network", "delete", "lan")
	for _, h := range []string{"hostA", "hostB"} {
		eventually(t, h+" clean", func() (bool, string) {
			links, _ := l.in(h, "ip", "-o", "link", "show")
			tables, _ := l.in(h, "nft", "list", "tables")
			var left []string
			for _, f := range strings.Fields(links) {
				if strings.HasPrefix(f, "sbr") || strings.HasPrefix(f, "svx") || strings.HasPrefix(f, "st") && strings.HasSuffix(f, ":") {
					left = append(left, f)
				}
			}
			if strings.Contains(tables, "sirocco") {
				left = append(left, tables)
			}
			entries, _ := os.ReadDir("/var/run/netns")
			for _, e := range entries {
				if strings.HasPrefix(e.Name(), l.prefix+strings.ToLower(h[4:])+"-") {
					left = append(left, "namespace "+e.Name())
				}
			}
			return len(left) == 0, strings.Join(left, "\n")
		})
	}
}

func getNSVM(t *testing.T, c *nsCLI, name string) api.VM {
	t.Helper()
	var vm api.VM
	if err := json.Unmarshal([]byte(c.ok("", "vm", "get", name, "-o", "json")), &vm); err != nil {
		t.Fatal(err)
	}
	return vm
}

// killQEMUs kills the QEMUs of VMs under dir, which a failed test leaves
// running (an agent that stops leaves its VMs as they are).
func killQEMUs(t *testing.T, dir string) {
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if strings.Contains(string(cmdline), "qemu-system") && strings.Contains(string(cmdline), dir) {
			t.Logf("killing QEMU %d left under %s", pid, dir)
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}
