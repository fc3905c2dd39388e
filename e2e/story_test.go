package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sirocco-cloud/sirocco/internal/compute/testguest"
)

// netPlane is a control plane running in the lab's cp namespace with
// agents on some of its hosts, and the provider admin logged in.
type netPlane struct {
	l     *lab
	d     *daemon
	url   string
	fp    string // the server certificate's fingerprint
	admin *nsCLI
}

// startNetPlane starts siroccod serve in cp, joins an agent on each of
// hosts (uplink up0, underlay 10.99.0.N as newLab wires them), waits until
// they are ready and creates the public address pool of hostA's uplink.
func startNetPlane(t *testing.T, l *lab, hosts ...string) *netPlane {
	t.Helper()
	kernel, _ := testguest.Path(t)
	dataDir := t.TempDir()
	url := "https://10.98.0.1:8443"
	_, cpLog, cpExited := l.start("cp", siroccod, "serve", "--data-dir", dataDir, "--listen", "10.98.0.1:8443",
		"--public-url", url, "--seed-demo", "--demo-image", filepath.Dir(kernel), "--heartbeat-interval", "2s",
		"--rate-limit", "100000", "--rate-burst", "100000")
	p := &netPlane{l: l, url: url, d: &daemon{t: t, url: url, dataDir: dataDir, log: cpLog, exited: cpExited}}
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
	p.fp = regexp.MustCompile(`sha256:[0-9a-f]{64}`).FindString(cpLog.String())
	pw, err := os.ReadFile(filepath.Join(dataDir, "initial-admin-password"))
	if err != nil {
		t.Fatal(err)
	}
	p.admin = &nsCLI{l: l, config: t.TempDir()}
	p.admin.ok(string(pw), "login", url, "--email", "admin@sirocco.local", "--password-stdin", "--fingerprint", p.fp)

	// As in TestNetworkAcceptance: QEMU runs as root where /dev/net/tun is
	// not world-writable (containers without udev).
	qemuUser := "nobody"
	if st, err := os.Stat("/dev/net/tun"); err != nil || st.Mode().Perm()&0o006 != 0o006 {
		qemuUser = ""
	}
	for _, h := range hosts {
		n := map[string]int{"hostA": 1, "hostB": 2}[h]
		out := p.admin.ok("", "host", "add", strings.ToLower(h), "--zone", "au-syd-1a")
		token := regexp.MustCompile(`--token (\S+)`).FindStringSubmatch(out)
		if token == nil {
			t.Fatalf("host add printed no token:\n%s", out)
		}
		vms := vmDir(t)
		t.Cleanup(func() { killQEMUs(t, vms) })
		l.start(h, siroccod, "agent", "--join", url, "--token", token[1], "--state-dir", t.TempDir(),
			"--vm-dir", vms, "--qemu-user", qemuUser, "--accel", "tcg", "--underlay", fmt.Sprintf("10.99.0.%d", n), "--uplink", "up0",
			"--router-prefix", l.prefix+strings.ToLower(h[4:])+"-", "--log-level", "info")
	}
	for _, h := range hosts {
		eventually(t, h+" ready", func() (bool, string) {
			out := p.admin.ok("", "host", "get", strings.ToLower(h))
			return strings.Contains(out, "ready"), out
		})
	}
	p.admin.ok("", "public-ip-pool", "create", "syd-public", "--region", "au-syd", "--cidr", "203.0.113.0/28",
		"--gateway", "203.0.113.1", "--first", "203.0.113.4", "--uplink", "up0")
	return p
}

// tenant signs up a verified organisation (which comes with its default
// VDC) with a network lan 10.0.0.0/24, and returns its CLI.
func (p *netPlane) tenant(t *testing.T, email, org string) *nsCLI {
	t.Helper()
	c := &nsCLI{l: p.l, config: t.TempDir()}
	c.ok("tenant-password-1\n", "signup", "--server", p.url, "--fingerprint", p.fp, "--email", email, "--org-name", org, "--password-stdin")
	c.ok("", "verify-email", lastMailToken(t, p.d), "--server", p.url, "--fingerprint", p.fp)
	c.ok("tenant-password-1\n", "login", p.url, "--email", email, "--password-stdin", "--fingerprint", p.fp)
	c.ok("", "network", "create", "lan", "--cidr", "10.0.0.0/24")
	return c
}

// hostClean waits until host has none of the dataplane left: no bridge,
// VXLAN or tap, no sirocco nft table, no router namespace.
func (p *netPlane) hostClean(t *testing.T, host string) {
	t.Helper()
	l := p.l
	eventually(t, host+" clean", func() (bool, string) {
		links, _ := l.in(host, "ip", "-o", "link", "show")
		tables, _ := l.in(host, "nft", "list", "tables")
		pubs := p.publicRoutes(host)
		var left []string
		for _, f := range strings.Fields(links) {
			if strings.HasPrefix(f, "sbr") || strings.HasPrefix(f, "svx") || strings.HasPrefix(f, "st") && strings.HasSuffix(f, ":") {
				left = append(left, f)
			}
		}
		if strings.Contains(tables, "sirocco") {
			left = append(left, tables)
		}
		if pubs != "" {
			left = append(left, pubs)
		}
		entries, _ := os.ReadDir("/var/run/netns")
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), l.prefix+strings.ToLower(host[4:])+"-") {
				left = append(left, "namespace "+e.Name())
			}
		}
		return len(left) == 0, strings.Join(left, "\n")
	})
}

// publicRoutes is what host has of the pool's public addresses (.4 to
// .14): routes and proxy ARP entries, one per line.
func (p *netPlane) publicRoutes(host string) string {
	routes, _ := p.l.in(host, "ip", "route", "show", "table", "all", "root", "203.0.113.0/28")
	proxies, _ := p.l.in(host, "ip", "neigh", "show", "proxy")
	return strings.Join(regexp.MustCompile(`(?m)^203\.0\.113\.([4-9]|1[0-4]) .*$`).FindAllString(routes+proxies, -1), "\n")
}

// TestStoryStep3SSH is step 3 of DESIGN's story with a real guest: a
// tenant creates a Debian VM (real cloud-init, openssh-server) with its SSH
// key and a public address, opens port 22, and logs in from the internet
// with OpenSSH. Deleting the VM and the network leaves the host clean.
func TestStoryStep3SSH(t *testing.T) {
	kernel, initrd, disk := testguest.DebianPath(t)
	if _, err := exec.LookPath("ssh"); err != nil {
		t.Fatal("needs the OpenSSH client (apt-get install openssh-client)")
	}
	l := newLab(t)
	p := startNetPlane(t, l, "hostA")
	p.admin.ok("", "image", "upload", "debian", "--public", "--os", "debian-12", "--kernel", kernel, "--initrd", initrd,
		"--file", disk, "--cmdline", testguest.DebianCmdline)

	acme := p.tenant(t, "dev@acme.test", "acme")
	keys := t.TempDir()
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "dev@acme.test", "-f", filepath.Join(keys, "id")).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v\n%s", err, out)
	}
	r := acme.run("", "vm", "create", "web1", "--image", "debian", "--size", "s1.small",
		"--ssh-key", filepath.Join(keys, "id.pub"), "--public-ip")
	if r.code != 0 {
		t.Fatalf("vm create: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// The price comes first, before anything is created.
	if !strings.HasPrefix(r.stderr, "Price: ") {
		t.Errorf("vm create did not tell the price:\n%s%s", r.stdout, r.stderr)
	}
	vm := getNSVM(t, acme, "web1")
	if len(vm.NICs) != 1 || vm.NICs[0].PublicIP == "" {
		t.Fatalf("web1's NICs %+v: want one with a public address", vm.NICs)
	}
	pub := vm.NICs[0].PublicIP
	acme.ok("", "firewall", "create", "web1", "--protocol", "tcp", "--port", "22")

	// cloud-init under TCG takes a minute or more: the hostname and the key
	// are both cloud-init's work, so one successful login shows both.
	sshArgs := []string{"ssh", "-i", filepath.Join(keys, "id"), "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
		"-o", "ConnectTimeout=5", "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-o", "LogLevel=ERROR", "debian@" + pub}
	start := time.Now()
	var out string
	for deadline := start.Add(4 * time.Minute); ; {
		var err error
		out, err = l.in("inet", append(sshArgs, "hostname")...)
		if err == nil && strings.TrimSpace(out) == "web1" {
			break
		}
		if time.Now().After(deadline) {
			console := acme.ok("", "vm", "console", "web1", "--duration", "2s")
			t.Fatalf("no SSH login to debian@%s after 4 min; last: %v\n%s\nconsole:\n%s", pub, err, out, console)
		}
		time.Sleep(3 * time.Second)
	}
	t.Logf("ssh debian@%s hostname: web1, %v after create", pub, time.Since(start).Round(time.Second))
	// The guest took its address by DHCP (a lease: "dynamic") on its NIC:
	// the one the API shows.
	out, err := l.in("inet", append(sshArgs, "ip", "-4", "-o", "addr", "show")...)
	if m := regexp.MustCompile(` inet ` + regexp.QuoteMeta(vm.NICs[0].IP) + `/24 .* dynamic `).FindString(out); err != nil || m == "" {
		t.Errorf("web1 has no DHCP lease of its NIC's %s (%v):\n%s", vm.NICs[0].IP, err, out)
	}

	// What the clean check below looks for is there while web1 has the address.
	if pubs := p.publicRoutes("hostA"); !regexp.MustCompile(`(?m)^`+regexp.QuoteMeta(pub)+` .*dev srh`).MatchString(pubs) || !strings.Contains(pubs, pub+" dev up0 proxy") {
		t.Errorf("hostA routes %s: want a route via the router's transit and proxy ARP on up0; has:\n%s", pub, pubs)
	}
	acme.ok("", "vm", "delete", "web1")
	acme.ok("", "network", "delete", "lan")
	p.hostClean(t, "hostA")
}
