package bench

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/internal/compute/testguest"
)

// BenchmarkCreateToReachable measures what a tenant waits for between
// asking for a VM with a public address and reaching it from the internet:
// from `sirocco vm create --public-ip --no-wait` (and, at once, a firewall
// rule for port 8080) to the first successful HTTP GET of the busybox
// guest's page on the public address, from a namespace beyond the host's
// uplink. Real binaries in network namespaces, as in e2e's network test: a
// control plane, one host whose agent runs the dataplane and QEMU under
// TCG, and the internet. The image is in the host's cache after the first
// VM; with -benchtime 1x the figure includes fetching it.
func BenchmarkCreateToReachable(b *testing.B) {
	nl := newNetLab(b)
	nl.cli(b, "org", "create", "bench")
	nl.cli(b, "vdc", "create", "main", "--zone", "au-syd-1a", "--org", "bench")
	nl.cli(b, "network", "create", "lan", "--cidr", "10.0.0.0/24", "--org", "bench")
	b.ResetTimer()
	for i := range b.N {
		name := "r" + strconv.Itoa(i+1)
		start := time.Now()
		nl.cli(b, "vm", "create", name, "--image", "sirocco-testguest", "--size", "s1.small", "--public-ip", "--no-wait", "--org", "bench")
		var vm api.VM
		if err := json.Unmarshal([]byte(nl.cli(b, "vm", "get", name, "-o", "json", "--org", "bench")), &vm); err != nil {
			b.Fatal(err)
		}
		if len(vm.NICs) != 1 || vm.NICs[0].PublicIP == "" {
			b.Fatalf("%s's NICs %+v: want one with a public address", name, vm.NICs)
		}
		pub := vm.NICs[0].PublicIP
		nl.cli(b, "firewall", "create", name, "--protocol", "tcp", "--port", "8080", "--org", "bench")
		page, err := nl.firstGet(b, "inet", fmt.Sprintf("%s:%d", pub, testguest.Port), 3*time.Minute)
		if err != nil {
			b.Fatalf("%s never reachable at %s: %v", name, pub, err)
		}
		elapsed := time.Since(start)
		b.StopTimer()
		if !strings.Contains(page, "hostname="+name+" ") {
			b.Fatalf("the page at %s is not %s's:\n%s", pub, name, page)
		}
		b.Logf("%s reachable at %s after %v", name, pub, elapsed.Round(time.Millisecond))
		nl.cli(b, "vm", "delete", name, "--org", "bench")
		nl.cli(b, "public-ip", "release", pub, "--org", "bench")
		b.StartTimer()
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/op")
}

// netLab is a control plane (namespace cp), one host (hostA) whose uplink
// up0 leads to the internet (inet, 203.0.113.1/28), and the provider
// admin's CLI; every namespace is created and removed by the benchmark.
type netLab struct {
	prefix   string
	cliBin   string
	env      []string
	vms      string
	serveLog *lockedBuffer
}

func (nl *netLab) ns(name string) string { return nl.prefix + "-" + name }

func (nl *netLab) ip(b *testing.B, args ...string) {
	b.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		b.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// cli runs the sirocco CLI as the provider admin inside cp.
func (nl *netLab) cli(b *testing.B, args ...string) string {
	b.Helper()
	cmd := exec.Command("ip", append([]string{"netns", "exec", nl.ns("cp"), nl.cliBin}, args...)...)
	cmd.Env = nl.env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		b.Fatalf("sirocco %s: %v\n%s%s", strings.Join(args, " "), err, out.String(), errb.String())
	}
	return out.String()
}

// lockedBuffer is a process's output read while it writes.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// startIn runs a long-lived command in namespace name, interrupted (then
// killed) at the end of the benchmark; its output is shown if b failed.
func (nl *netLab) startIn(b *testing.B, name string, args ...string) *lockedBuffer {
	b.Helper()
	cmd := exec.Command("ip", append([]string{"netns", "exec", nl.ns(name)}, args...)...)
	log := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	b.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		if b.Failed() {
			b.Logf("%s %s:\n%s", name, args[1], log.String())
		}
	})
	return log
}

func newNetLab(b *testing.B) *netLab {
	b.Helper()
	if os.Geteuid() != 0 {
		b.Skip("needs root for network namespaces")
	}
	kernel, _ := testguest.Path(b)
	dir := b.TempDir()
	nl := &netLab{prefix: fmt.Sprintf("snb%d", os.Getpid()%100000)}
	bin := filepath.Join(dir, "siroccod")
	nl.cliBin = filepath.Join(dir, "sirocco")
	if out, err := exec.Command("go", "build", "-o", dir, "github.com/sirocco-cloud/sirocco/cmd/siroccod", "github.com/sirocco-cloud/sirocco/cmd/sirocco").CombinedOutput(); err != nil {
		b.Fatalf("build: %v\n%s", err, out)
	}
	nl.env = append(os.Environ(), "XDG_CONFIG_HOME="+filepath.Join(dir, "cfg"), "HOME="+dir)

	b.Cleanup(func() {
		// The agent's router namespaces too, should a failure leave any.
		entries, _ := os.ReadDir("/var/run/netns")
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), nl.prefix) {
				exec.Command("ip", "netns", "del", e.Name()).Run()
			}
		}
	})
	for _, n := range []string{"cp", "hostA", "inet"} {
		nl.ip(b, "netns", "add", nl.ns(n))
		// Registered before the processes start, so run after they stop.
		b.Cleanup(func() { exec.Command("ip", "netns", "del", nl.ns(n)).Run() })
		nl.ip(b, "-n", nl.ns(n), "link", "set", "lo", "up")
	}
	cp, host, inet := nl.ns("cp"), nl.ns("hostA"), nl.ns("inet")
	nl.ip(b, "-n", cp, "link", "add", "tohost", "type", "veth", "peer", "name", "cp0", "netns", host)
	nl.ip(b, "-n", cp, "addr", "add", "10.98.0.1/24", "dev", "tohost")
	nl.ip(b, "-n", cp, "link", "set", "tohost", "up")
	nl.ip(b, "-n", host, "addr", "add", "10.98.0.2/24", "dev", "cp0")
	nl.ip(b, "-n", host, "link", "set", "cp0", "up")
	// The underlay: no peer host, but the agent wants an address to send
	// from (a veth to nowhere: containers may lack the dummy module).
	nl.ip(b, "-n", host, "link", "add", "ul0", "type", "veth", "peer", "name", "nowhere")
	nl.ip(b, "-n", host, "addr", "add", "10.99.0.1/24", "dev", "ul0")
	nl.ip(b, "-n", host, "link", "set", "ul0", "up")
	nl.ip(b, "-n", host, "link", "add", "up0", "type", "veth", "peer", "name", "eth0", "netns", inet)
	nl.ip(b, "-n", host, "addr", "add", "203.0.113.2/28", "dev", "up0")
	nl.ip(b, "-n", host, "link", "set", "up0", "up")
	nl.ip(b, "-n", inet, "addr", "add", "203.0.113.1/28", "dev", "eth0")
	nl.ip(b, "-n", inet, "link", "set", "eth0", "up")

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
	login.Env, login.Stdin = nl.env, bytes.NewReader(pw)
	if out, err := login.CombinedOutput(); err != nil {
		b.Fatalf("login: %v\n%s", err, out)
	}
	out := nl.cli(b, "host", "add", "hosta", "--zone", "au-syd-1a")
	token := regexp.MustCompile(`--token (\S+)`).FindStringSubmatch(out)
	if token == nil {
		b.Fatalf("host add printed no token:\n%s", out)
	}
	// QEMU runs as nobody where /dev/net/tun is world-writable (udev),
	// otherwise as root.
	qemuUser := "nobody"
	if st, err := os.Stat("/dev/net/tun"); err != nil || st.Mode().Perm()&0o006 != 0o006 {
		qemuUser = ""
	}
	nl.vms, err = os.MkdirTemp("", "sirocco-bench-vms-")
	if err != nil {
		b.Fatal(err)
	}
	os.Chmod(nl.vms, 0o755)
	b.Cleanup(func() { os.RemoveAll(nl.vms) })
	b.Cleanup(func() { killQEMUsUnder(nl.vms) })
	nl.startIn(b, "hostA", bin, "agent", "--join", url, "--token", token[1], "--state-dir", filepath.Join(dir, "agent"),
		"--vm-dir", nl.vms, "--qemu-user", qemuUser, "--accel", "tcg", "--underlay", "10.99.0.1", "--uplink", "up0",
		"--router-prefix", nl.prefix+"a-", "--log-level", "warn")
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(nl.cli(b, "host", "get", "hosta"), "ready"); time.Sleep(500 * time.Millisecond) {
		if time.Now().After(deadline) {
			b.Fatal("host hosta did not become ready")
		}
	}
	nl.cli(b, "public-ip-pool", "create", "syd-public", "--region", "au-syd", "--cidr", "203.0.113.0/28",
		"--gateway", "203.0.113.1", "--first", "203.0.113.4", "--uplink", "up0")
	return nl
}

// firstGet GETs http://addr/ from namespace name until it answers 200, for
// up to timeout, and returns the page. Each attempt dials from a thread
// that has entered the namespace (and is discarded after), so that the
// polling costs no process start.
func (nl *netLab) firstGet(b *testing.B, name, addr string, timeout time.Duration) (string, error) {
	b.Helper()
	f, err := os.Open("/var/run/netns/" + nl.ns(name))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	type result struct {
		page string
		err  error
	}
	done := make(chan result, 1)
	go func() {
		// Never unlocked: the thread, in another namespace, exits with the
		// goroutine instead of going back to the scheduler.
		runtime.LockOSThread()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			done <- result{err: fmt.Errorf("setns %s: %w", name, err)}
			return
		}
		var last error
		for deadline := time.Now().Add(timeout); time.Now().Before(deadline); {
			page, err := getOnce(addr)
			if err == nil {
				done <- result{page: page}
				return
			}
			last = err
			time.Sleep(50 * time.Millisecond)
		}
		done <- result{err: last}
	}()
	r := <-done
	return r.page, r.err
}

// getOnce makes one HTTP GET / over a connection dialled by the calling
// goroutine (http.Transport would dial from another, outside the
// namespace). The short dial timeout bounds the measurement's resolution
// while the address does not answer ARP yet; in the lab a connect that
// succeeds takes well under a millisecond.
func getOnce(addr string) (string, error) {
	conn, err := net.DialTimeout("tcp", addr, 250*time.Millisecond)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := fmt.Fprintf(conn, "GET / HTTP/1.0\r\nHost: %s\r\n\r\n", addr); err != nil {
		return "", err
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	var body bytes.Buffer
	if _, err := body.ReadFrom(res.Body); err != nil {
		return "", err
	}
	if res.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET http://%s/: %s", addr, res.Status)
	}
	return body.String(), nil
}

// killQEMUsUnder kills the QEMUs of VMs under dir, which a failed run
// leaves behind (an agent that stops leaves its VMs running).
func killQEMUsUnder(dir string) {
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if bytes.Contains(cmdline, []byte("qemu-system")) && bytes.Contains(cmdline, []byte(dir)) {
			unix.Kill(pid, unix.SIGKILL)
		}
	}
}
