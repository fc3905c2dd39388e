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
)

// BenchmarkAgentIdleRSS measures the resident memory of a real `siroccod
// agent` process joined to a real control plane and heartbeating once a
// second, with no VM (DESIGN goal: idle <= 20 MiB RSS).
func BenchmarkAgentIdleRSS(b *testing.B) {
	dir := b.TempDir()
	bin := filepath.Join(dir, "siroccod")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/sirocco-cloud/sirocco/cmd/siroccod").CombinedOutput(); err != nil {
		b.Fatalf("build: %v\n%s", err, out)
	}
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close()
	var log bytes.Buffer
	server := exec.Command(bin, "serve", "--data-dir", filepath.Join(dir, "cp"), "--listen", addr, "--seed-demo",
		"--heartbeat-interval", "1s", "--log-level", "warn")
	server.Stdout, server.Stderr = &log, &log
	if err := server.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { server.Process.Kill(); server.Wait() }()
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
		"--accel", "tcg", "--log-level", "warn")
	agent.Stderr = os.Stderr
	if err := agent.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { agent.Process.Kill(); agent.Wait() }()

	b.ResetTimer()
	var rss float64
	for range b.N {
		time.Sleep(time.Second) // one heartbeat
		kib, err := vmRSS(agent.Process.Pid)
		if err != nil {
			b.Fatal(err)
		}
		rss = max(rss, float64(kib)/1024)
	}
	b.ReportMetric(rss, "rss-MiB")
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
