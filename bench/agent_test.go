package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sirocco-cloud/sirocco/internal/compute/testguest"
)

// BenchmarkAgentIdleRSS measures the resident memory of a real `siroccod
// agent` process joined to a real control plane and heartbeating once a
// second, with no VM (DESIGN goal: idle <= 20 MiB RSS).
func BenchmarkAgentIdleRSS(b *testing.B) {
	a := startAgentHost(b)
	b.ResetTimer()
	var rss float64
	for range b.N {
		time.Sleep(time.Second) // one heartbeat
		rss = max(rss, a.rssMiB(b))
	}
	b.ReportMetric(rss, "rss-MiB")
}

// BenchmarkAgentRSSPerVM measures what each running VM adds to the agent's
// resident memory (not QEMU's): the agent idle, then with perVM busybox
// guests running under it.
func BenchmarkAgentRSSPerVM(b *testing.B) {
	const vms = 4
	a := startAgentHost(b)
	a.cli(b, "org", "create", "bench")
	a.cli(b, "vdc", "create", "main", "--zone", "au-syd-1a", "--org", "bench")
	time.Sleep(2 * time.Second)
	idle := a.rssMiB(b)
	a.cli(b, "vm", "create", "vm", "--count", strconv.Itoa(vms), "--image", "sirocco-testguest", "--size", "s1.tiny", "--org", "bench")
	defer func() {
		for i := 1; i <= vms; i++ {
			a.cli(b, "vm", "delete", fmt.Sprintf("vm-%d", i), "--org", "bench")
		}
	}()
	b.ResetTimer()
	var busy float64
	for range b.N {
		time.Sleep(2 * time.Second)
		busy = max(busy, a.rssMiB(b))
	}
	b.ReportMetric(idle, "idle-rss-MiB")
	b.ReportMetric(busy, "rss-MiB-with-4-VMs")
	b.ReportMetric((busy-idle)/vms, "MiB/VM")
}

// agentHost is a control plane with the test guest in its catalog and one
// host, hv1, run by a real `siroccod agent` process.
type agentHost struct {
	dir, bin, cliBin string
	env              []string
	agent            *exec.Cmd
}

func (a *agentHost) cli(b *testing.B, args ...string) string {
	b.Helper()
	cmd := exec.Command(a.cliBin, args...)
	cmd.Env = a.env
	out, err := cmd.CombinedOutput()
	if err != nil {
		b.Fatalf("sirocco %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func (a *agentHost) rssMiB(b *testing.B) float64 {
	kib, err := vmRSS(a.agent.Process.Pid)
	if err != nil {
		b.Fatal(err)
	}
	return float64(kib) / 1024
}

func startAgentHost(b *testing.B) *agentHost {
	kernel, _ := testguest.Path(b)
	dir := b.TempDir()
	vmDir, err := os.MkdirTemp("", "sirocco-bench-vms-")
	if err != nil {
		b.Fatal(err)
	}
	os.Chmod(vmDir, 0o755)
	b.Cleanup(func() { os.RemoveAll(vmDir) })
	bin := filepath.Join(dir, "siroccod")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/sirocco-cloud/sirocco/cmd/siroccod").CombinedOutput(); err != nil {
		b.Fatalf("build: %v\n%s", err, out)
	}
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close()
	var log bytes.Buffer
	server := exec.Command(bin, "serve", "--data-dir", filepath.Join(dir, "cp"), "--listen", addr, "--seed-demo",
		"--demo-image", filepath.Dir(kernel), "--heartbeat-interval", "1s", "--log-level", "warn")
	server.Stdout, server.Stderr = &log, &log
	if err := server.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { server.Process.Kill(); server.Wait() })
	var fp string
	for deadline := time.Now().Add(20 * time.Second); fp == ""; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			b.Fatalf("control plane did not start:\n%s", log.String())
		}
		fp = regexp.MustCompile(`sha256:[0-9a-f]{64}`).FindString(log.String())
	}
	// Register a host and join its agent with the CLI-equivalent API calls,
	// through the admin's password (as an operator would).
	pw, err := os.ReadFile(filepath.Join(dir, "cp", "initial-admin-password"))
	if err != nil {
		b.Fatal(err)
	}
	cli := filepath.Join(dir, "sirocco")
	if out, err := exec.Command("go", "build", "-o", cli, "github.com/sirocco-cloud/sirocco/cmd/sirocco").CombinedOutput(); err != nil {
		b.Fatalf("build: %v\n%s", err, out)
	}
	env := append(os.Environ(), "XDG_CONFIG_HOME="+filepath.Join(dir, "cfg"), "HOME="+dir)
	login := exec.Command(cli, "login", "https://"+addr, "--email", "admin@sirocco.local", "--password-stdin", "--fingerprint", fp)
	login.Env, login.Stdin = env, bytes.NewReader(pw)
	if out, err := login.CombinedOutput(); err != nil {
		b.Fatalf("login: %v\n%s", err, out)
	}
	add := exec.Command(cli, "host", "add", "hv1", "--zone", "au-syd-1a")
	add.Env = env
	out, err := add.CombinedOutput()
	if err != nil {
		b.Fatalf("host add: %v\n%s", err, out)
	}
	token := regexp.MustCompile(`--token (\S+)`).FindStringSubmatch(string(out))
	if token == nil {
		b.Fatalf("no token in:\n%s", out)
	}
	agent := exec.Command(bin, "agent", "--join", "https://"+addr, "--token", token[1], "--state-dir", filepath.Join(dir, "agent"),
		"--vm-dir", vmDir, "--accel", "tcg", "--log-level", "warn")
	agent.Stderr = os.Stderr
	if err := agent.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { agent.Process.Kill(); agent.Wait() })
	a := &agentHost{dir: dir, bin: bin, cliBin: cli, env: env, agent: agent}
	for deadline := time.Now().Add(20 * time.Second); !strings.Contains(a.cli(b, "host", "get", "hv1"), "ready"); time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			b.Fatal("host hv1 did not become ready")
		}
	}
	return a
}

func vmRSS(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			return strconv.ParseInt(strings.Fields(rest)[0], 10, 64)
		}
	}
	return 0, fmt.Errorf("no VmRSS for pid %d", pid)
}
