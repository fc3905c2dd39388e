package e2e

import (
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sirocco-cloud/sirocco/internal/compute/testguest"
)

// TestSpoofedSourceDropped is anti-spoofing seen from a real guest: a
// Debian VM whose user is root in it pings its neighbour b, then pings
// again from an address it gave itself and then from a MAC it gave its
// NIC. Both spoofed pings get no answer, and b never sees them (its count
// of echo requests received does not move): the host drops them at a's
// tap. Afterwards, with its own address and MAC back, a reaches b again.
func TestSpoofedSourceDropped(t *testing.T) {
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
	key := filepath.Join(keys, "id")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "dev@acme.test", "-f", key).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v\n%s", err, out)
	}
	vm := []string{"--image", "debian", "--size", "s1.small", "--network", "lan", "--ssh-key", key + ".pub", "--no-wait"}
	acme.ok("", append([]string{"vm", "create", "a", "--public-ip"}, vm...)...)
	acme.ok("", append([]string{"vm", "create", "b"}, vm...)...)
	acme.ok("", "firewall", "create", "a", "--protocol", "tcp", "--port", "22")
	a, b := getNSVM(t, acme, "a"), getNSVM(t, acme, "b")
	if len(a.NICs) != 1 || a.NICs[0].PublicIP == "" || len(b.NICs) != 1 {
		t.Fatalf("NICs: a %+v, b %+v", a.NICs, b.NICs)
	}
	pub, ipA, ipB := a.NICs[0].PublicIP, a.NICs[0].IP, b.NICs[0].IP

	// a from the internet; b through a (it has no public address).
	opts := []string{"-i", key, "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
		"-o", "ConnectTimeout=5", "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-o", "LogLevel=ERROR"}
	onA := func(cmd string) (string, error) {
		return l.in("inet", append(append([]string{"ssh"}, opts...), "debian@"+pub, cmd)...)
	}
	jump := "ProxyCommand=ssh " + strings.Join(opts, " ") + " -W %h:%p debian@" + pub
	onB := func(cmd string) (string, error) {
		return l.in("inet", append(append([]string{"ssh"}, opts...), "-o", jump, "debian@"+ipB, cmd)...)
	}
	waitSSH := func(name string, on func(string) (string, error)) {
		t.Helper()
		var out string
		var err error
		for deadline := time.Now().Add(4 * time.Minute); ; time.Sleep(3 * time.Second) {
			if out, err = on("hostname"); err == nil && strings.TrimSpace(out) == name {
				return
			}
			if time.Now().After(deadline) {
				console := acme.ok("", "vm", "console", name, "--duration", "2s")
				t.Fatalf("no SSH login to %s after 4 min; last: %v\n%s\nconsole:\n%s", name, err, out, console)
			}
		}
	}
	start := time.Now()
	waitSSH("a", onA)
	waitSSH("b", onB)
	t.Logf("a and b answer SSH %v after create", time.Since(start).Round(time.Second))

	// echoes is how many ICMP echo requests b's kernel has received.
	echoes := func() int {
		t.Helper()
		out, err := onB("cat /proc/net/snmp")
		if err != nil {
			t.Fatalf("b's /proc/net/snmp: %v\n%s", err, out)
		}
		var names []string
		for _, line := range strings.Split(out, "\n") {
			f := strings.Fields(line)
			if len(f) == 0 || f[0] != "Icmp:" {
				continue
			}
			if names == nil {
				names = f
				continue
			}
			for i, n := range names {
				if n == "InEchos" && i < len(f) {
					v, err := strconv.Atoi(f[i])
					if err != nil {
						t.Fatalf("InEchos %q: %v", f[i], err)
					}
					return v
				}
			}
		}
		t.Fatalf("no Icmp InEchos in b's /proc/net/snmp:\n%s", out)
		return 0
	}
	received := regexp.MustCompile(`(\d+) received`)
	// ping runs script as root on a (the spoofing needs it), and returns
	// how many replies ping got and how many requests reached b.
	var last int // b's count after the previous ping
	ping := func(what, script string) (replies, seen int) {
		t.Helper()
		out, err := onA("sudo sh -c '" + script + "'")
		if err != nil || strings.Contains(out, "SETUP FAILED") {
			t.Fatalf("%s on a: %v\n%s", what, err, out)
		}
		m := received.FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("%s: no ping summary:\n%s", what, out)
		}
		replies, _ = strconv.Atoi(m[1])
		now := echoes()
		seen, last = now-last, now
		t.Logf("%s: %d replies, b saw %d requests", what, replies, seen)
		return replies, seen
	}

	addrs, err := onA("ip -4 -o addr show")
	nic := regexp.MustCompile(`(?m)^\d+: (\S+)\s+inet ` + regexp.QuoteMeta(ipA) + `/`).FindStringSubmatch(addrs)
	if err != nil || nic == nil {
		t.Fatalf("no NIC with a's %s (%v):\n%s", ipA, err, addrs)
	}
	mac, err := onA("cat /sys/class/net/" + nic[1] + "/address")
	if err != nil {
		t.Fatalf("a's MAC: %v\n%s", err, mac)
	}
	mac = strings.TrimSpace(mac)
	if !strings.EqualFold(mac, a.NICs[0].MAC) {
		t.Fatalf("a's %s has MAC %s, the API says %s", nic[1], mac, a.NICs[0].MAC)
	}

	last = echoes()
	if r, seen := ping("ping from a's own address", "ping -c 2 -W 2 "+ipB); r != 2 || seen < 2 {
		t.Fatalf("a's ping of b: %d replies, b saw %d requests; want 2 and 2", r, seen)
	}
	// Each spoof is undone in the same command: while a's MAC is foreign
	// the SSH session's own packets are dropped too.
	spoofIP := "ip addr add 10.0.0.99/24 dev " + nic[1] + " || { echo SETUP FAILED; exit 0; }; " +
		"ping -c 2 -W 2 -I 10.0.0.99 " + ipB + "; ip addr del 10.0.0.99/24 dev " + nic[1]
	if r, seen := ping("ping from 10.0.0.99", spoofIP); r != 0 || seen != 0 {
		t.Errorf("a's ping from a spoofed 10.0.0.99: %d replies, b saw %d requests; want none", r, seen)
	}
	spoofMAC := "ip link set " + nic[1] + " address 02:00:00:00:00:99 || { echo SETUP FAILED; exit 0; }; " +
		"ping -c 2 -W 2 " + ipB + "; ip link set " + nic[1] + " address " + mac
	if r, seen := ping("ping from MAC 02:00:00:00:00:99", spoofMAC); r != 0 || seen != 0 {
		t.Errorf("a's ping from a spoofed MAC: %d replies, b saw %d requests; want none", r, seen)
	}
	if r, seen := ping("ping from a's own address and MAC again", "ping -c 2 -W 2 "+ipB); r != 2 || seen < 2 {
		t.Errorf("a's ping of b after the spoofing: %d replies, b saw %d requests; want 2 and 2", r, seen)
	}

	acme.ok("", "vm", "delete", "a")
	acme.ok("", "vm", "delete", "b")
	acme.ok("", "network", "delete", "lan")
	p.hostClean(t, "hostA")
}
