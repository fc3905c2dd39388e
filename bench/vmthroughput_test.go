package bench

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/internal/compute/testguest"
)

// BenchmarkVMThroughput measures TCP throughput between real guests on a
// tenant network, as a tenant would with iperf3: the Debian guest as VMs
// a and b on hostA (through the bridge) and c on hostB (over VXLAN across
// the underlay). b and c run `iperf3 -s` from their cloud-init user-data;
// a, logged into over SSH from the internet through its public address,
// runs `iperf3 -c` for 5 s to each. Guests run under TCG here, so the
// figures are bound by emulated CPUs, not by the dataplane: compare with
// internal/network's BenchmarkThroughput (the same path between namespaces)
// for the dataplane's own cost. Run with -benchtime 1x: each iteration
// takes 10 s of measurement after a few minutes of setup.
func BenchmarkVMThroughput(b *testing.B) {
	if _, err := exec.LookPath("ssh"); err != nil {
		b.Fatal("needs the OpenSSH client (apt-get install openssh-client)")
	}
	kernel, initrd, disk := testguest.DebianPath(b)
	nl := newTwoHostLab(b)
	nl.cli(b, "image", "upload", "debian", "--public", "--os", "debian-12", "--kernel", kernel, "--initrd", initrd,
		"--file", disk, "--cmdline", testguest.DebianCmdline)
	nl.cli(b, "org", "create", "bench")
	nl.cli(b, "vdc", "create", "main", "--zone", "au-syd-1a", "--org", "bench")
	nl.cli(b, "network", "create", "lan", "--cidr", "10.0.0.0/24", "--org", "bench")

	dir := b.TempDir()
	key := filepath.Join(dir, "id")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key).CombinedOutput(); err != nil {
		b.Fatalf("ssh-keygen: %v\n%s", err, out)
	}
	server := filepath.Join(dir, "iperf3-server.yaml")
	if err := os.WriteFile(server, []byte("#cloud-config\nruncmd:\n  - [iperf3, -s, -D]\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	vm := []string{"--image", "debian", "--size", "s1.small", "--network", "lan", "--ssh-key", key + ".pub", "--no-wait", "--org", "bench"}
	// Placement by draining the other host.
	on := func(host string, args ...string) {
		other := map[string]string{"hosta": "hostb", "hostb": "hosta"}[host]
		nl.cli(b, "host", "drain", other)
		for _, a := range args {
			nl.cli(b, append(append([]string{"vm", "create"}, strings.Fields(a)...), vm...)...)
		}
		nl.cli(b, "host", "ready", other)
	}
	on("hosta", "a --public-ip", "b --user-data "+server)
	on("hostb", "c --user-data "+server)
	nl.cli(b, "firewall", "create", "a", "--protocol", "tcp", "--port", "22", "--org", "bench")
	ip := map[string]string{}
	var pub string
	for _, name := range []string{"a", "b", "c"} {
		var v api.VM
		if err := json.Unmarshal([]byte(nl.cli(b, "vm", "get", name, "-o", "json", "--org", "bench")), &v); err != nil {
			b.Fatal(err)
		}
		if len(v.NICs) != 1 {
			b.Fatalf("%s's NICs %+v: want one", name, v.NICs)
		}
		ip[name] = v.NICs[0].IP
		if name == "a" {
			pub = v.NICs[0].PublicIP
		}
	}
	if pub == "" {
		b.Fatal("a has no public address")
	}
	ssh := func(cmd string) (string, error) {
		out, err := exec.Command("ip", "netns", "exec", nl.ns("inet"), "ssh", "-i", key, "-o", "StrictHostKeyChecking=no",
			"-o", "UserKnownHostsFile=/dev/null", "-o", "ConnectTimeout=5", "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes",
			"-o", "LogLevel=ERROR", "debian@"+pub, cmd).CombinedOutput()
		return string(out), err
	}
	// iperf3 runs on a to server's address; until both guests have booted
	// (SSH on a, the server on the other) it fails and is retried.
	iperf := func(to string, seconds int) float64 {
		b.Helper()
		var res struct {
			End struct {
				SumReceived struct {
					BitsPerSecond float64 `json:"bits_per_second"`
				} `json:"sum_received"`
			} `json:"end"`
			Error string `json:"error"`
		}
		for deadline := time.Now().Add(5 * time.Minute); ; time.Sleep(3 * time.Second) {
			// With -J, iperf3 may exit 0 on failure: its JSON has an error.
			out, err := ssh(fmt.Sprintf("iperf3 -c %s -t %d -J", ip[to], seconds))
			if err == nil {
				res.Error = ""
				err = json.Unmarshal([]byte(out), &res)
			}
			if err == nil && res.Error == "" && res.End.SumReceived.BitsPerSecond > 0 {
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("iperf3 from a to %s (%s) never ran: %v\n%s", to, ip[to], err, out)
			}
		}
		return res.End.SumReceived.BitsPerSecond / 1e9
	}
	start := time.Now()
	iperf("b", 1)
	iperf("c", 1)
	b.Logf("a, b and c ready %v after create", time.Since(start).Round(time.Second))

	b.ResetTimer()
	var same, cross float64
	for range b.N {
		same, cross = iperf("b", 5), iperf("c", 5)
	}
	b.StopTimer()
	b.Logf("a to b (same host): %.3f Gbit/s; a to c (across hosts): %.3f Gbit/s", same, cross)
	b.ReportMetric(same, "same-host-Gbit/s")
	b.ReportMetric(cross, "cross-host-Gbit/s")
}

// newTwoHostLab is newNetLab's lab with a second host: hostA and hostB
// share the underlay 10.99.0.0/24 (a veth between them) and the control
// plane's network 10.98.0.0/24 (a bridge in cp); only hostA's uplink leads
// to the internet.
func newTwoHostLab(b *testing.B) *netLab {
	b.Helper()
	if os.Geteuid() != 0 {
		b.Skip("needs root for network namespaces")
	}
	kernel, _ := testguest.Path(b)
	dir := b.TempDir()
	nl := &netLab{prefix: fmt.Sprintf("snt%d", os.Getpid()%100000)}
	bin := filepath.Join(dir, "siroccod")
	nl.cliBin = filepath.Join(dir, "sirocco")
	if out, err := exec.Command("go", "build", "-o", dir, "github.com/sirocco-cloud/sirocco/cmd/siroccod", "github.com/sirocco-cloud/sirocco/cmd/sirocco").CombinedOutput(); err != nil {
		b.Fatalf("build: %v\n%s", err, out)
	}
	nl.env = append(os.Environ(), "XDG_CONFIG_HOME="+filepath.Join(dir, "cfg"), "HOME="+dir)

	b.Cleanup(func() {
		entries, _ := os.ReadDir("/var/run/netns")
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), nl.prefix) {
				exec.Command("ip", "netns", "del", e.Name()).Run()
			}
		}
	})
	for _, n := range []string{"cp", "hostA", "hostB", "inet"} {
		nl.ip(b, "netns", "add", nl.ns(n))
		b.Cleanup(func() { exec.Command("ip", "netns", "del", nl.ns(n)).Run() })
		nl.ip(b, "-n", nl.ns(n), "link", "set", "lo", "up")
	}
	cp, inet := nl.ns("cp"), nl.ns("inet")
	nl.ip(b, "-n", cp, "link", "add", "br0", "type", "bridge")
	nl.ip(b, "-n", cp, "addr", "add", "10.98.0.1/24", "dev", "br0")
	nl.ip(b, "-n", cp, "link", "set", "br0", "up")
	for i, h := range []string{"hostA", "hostB"} {
		port := "to" + h
		nl.ip(b, "-n", cp, "link", "add", port, "type", "veth", "peer", "name", "cp0", "netns", nl.ns(h))
		nl.ip(b, "-n", cp, "link", "set", port, "master", "br0", "up")
		nl.ip(b, "-n", nl.ns(h), "addr", "add", fmt.Sprintf("10.98.0.%d/24", i+2), "dev", "cp0")
		nl.ip(b, "-n", nl.ns(h), "link", "set", "cp0", "up")
	}
	nl.ip(b, "-n", nl.ns("hostA"), "link", "add", "ul0", "type", "veth", "peer", "name", "ul0", "netns", nl.ns("hostB"))
	for i, h := range []string{"hostA", "hostB"} {
		nl.ip(b, "-n", nl.ns(h), "addr", "add", fmt.Sprintf("10.99.0.%d/24", i+1), "dev", "ul0")
		nl.ip(b, "-n", nl.ns(h), "link", "set", "ul0", "up")
	}
	nl.ip(b, "-n", nl.ns("hostA"), "link", "add", "up0", "type", "veth", "peer", "name", "eth0", "netns", inet)
	nl.ip(b, "-n", nl.ns("hostA"), "addr", "add", "203.0.113.2/28", "dev", "up0")
	nl.ip(b, "-n", nl.ns("hostA"), "link", "set", "up0", "up")
	nl.ip(b, "-n", inet, "addr", "add", "203.0.113.1/28", "dev", "eth0")
	nl.ip(b, "-n", inet, "link", "set", "eth0", "up")
	nl.ip(b, "-n", nl.ns("hostB"), "link", "add", "up0", "type", "veth", "peer", "name", "nowhere")
	nl.ip(b, "-n", nl.ns("hostB"), "addr", "add", "203.0.113.3/28", "dev", "up0")
	nl.ip(b, "-n", nl.ns("hostB"), "link", "set", "up0", "up")

	url := "https://10.98.0.1:8443"
	nl.serveLog = nl.startIn(b, "cp", bin, "serve", "--data-dir", filepath.Join(dir, "cp"), "--listen", "10.98.0.1:8443",
		"--public-url", url, "--seed-demo", "--demo-image", filepath.Dir(kernel), "--heartbeat-interval", "2s",
		"--rate-limit", "100000", "--rate-burst", "100000", "--log-level", "warn")
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(nl.serveLog.String(), "Sirocco is running."); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			b.Fatalf("control plane did not start:\n%s", nl.serveLog.String())
		}
	}
	fp := regexp.MustCompile(`sha256:[0-9a-f]{64}`).FindString(nl.serveLog.String())
	pw, err := os.ReadFile(filepath.Join(dir, "cp", "initial-admin-password"))
	if err != nil {
		b.Fatal(err)
	}
	login := exec.Command("ip", "netns", "exec", cp, nl.cliBin, "login", url, "--email", "admin@sirocco.local", "--password-stdin", "--fingerprint", fp)
	login.Env, login.Stdin = nl.env, strings.NewReader(string(pw))
	if out, err := login.CombinedOutput(); err != nil {
		b.Fatalf("login: %v\n%s", err, out)
	}
	// QEMU runs as nobody where /dev/net/tun is world-writable (udev),
	// otherwise as root.
	qemuUser := "nobody"
	if st, err := os.Stat("/dev/net/tun"); err != nil || st.Mode().Perm()&0o006 != 0o006 {
		qemuUser = ""
	}
	for i, h := range []string{"hostA", "hostB"} {
		name := strings.ToLower(h)
		out := nl.cli(b, "host", "add", name, "--zone", "au-syd-1a")
		token := regexp.MustCompile(`--token (\S+)`).FindStringSubmatch(out)
		if token == nil {
			b.Fatalf("host add printed no token:\n%s", out)
		}
		vms, err := os.MkdirTemp("", "sirocco-bench-vms-")
		if err != nil {
			b.Fatal(err)
		}
		os.Chmod(vms, 0o755)
		b.Cleanup(func() { os.RemoveAll(vms) })
		b.Cleanup(func() { killQEMUsUnder(vms) })
		nl.startIn(b, h, bin, "agent", "--join", url, "--token", token[1], "--state-dir", filepath.Join(dir, "agent-"+name),
			"--vm-dir", vms, "--qemu-user", qemuUser, "--accel", "tcg", "--underlay", fmt.Sprintf("10.99.0.%d", i+1), "--uplink", "up0",
			"--router-prefix", nl.prefix+name[4:]+"-", "--log-level", "warn")
	}
	for _, h := range []string{"hosta", "hostb"} {
		for deadline := time.Now().Add(30 * time.Second); !strings.Contains(nl.cli(b, "host", "get", h), "ready"); time.Sleep(500 * time.Millisecond) {
			if time.Now().After(deadline) {
				b.Fatalf("host %s did not become ready", h)
			}
		}
	}
	nl.cli(b, "public-ip-pool", "create", "syd-public", "--region", "au-syd", "--cidr", "203.0.113.0/28",
		"--gateway", "203.0.113.1", "--first", "203.0.113.4", "--uplink", "up0")
	return nl
}
