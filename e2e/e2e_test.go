// Package e2e runs real siroccod processes, as an operator would, and checks
// what only whole processes can show: crash safety under kill -9 and
// singleton loops moving between replicas.
package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Paths of the binaries built for the tests.
var siroccod, sirocco string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sirocco-e2e-")
	if err != nil {
		panic(err)
	}
	siroccod, sirocco = filepath.Join(dir, "siroccod"), filepath.Join(dir, "sirocco")
	build := exec.Command("go", "build", "-o", dir, "github.com/sirocco-cloud/sirocco/cmd/siroccod", "github.com/sirocco-cloud/sirocco/cmd/sirocco")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// daemon is one running siroccod.
type daemon struct {
	t       *testing.T
	cmd     *exec.Cmd
	url     string
	dataDir string
	log     *syncBuffer
	exited  chan struct{}
}

// start runs siroccod serve over plain HTTP on a free loopback port and
// waits until it is ready.
func start(t *testing.T, dataDir string, extra ...string) *daemon {
	t.Helper()
	return launch(t, dataDir, "http", append([]string{"--insecure-http", "--log-level", "warn"}, extra...)...)
}

// launch runs siroccod serve with scheme http or https (self-signed).
func launch(t *testing.T, dataDir, scheme string, extra ...string) *daemon {
	t.Helper()
	port := freePort(t)
	args := append([]string{"serve", "--data-dir", dataDir, "--listen", fmt.Sprintf("127.0.0.1:%d", port),
		"--rate-limit", "100000", "--rate-burst", "100000"}, extra...)
	cmd := exec.Command(siroccod, args...)
	log := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	d := &daemon{t: t, cmd: cmd, url: fmt.Sprintf("%s://127.0.0.1:%d", scheme, port), dataDir: dataDir, log: log, exited: make(chan struct{})}
	go func() { cmd.Wait(); close(d.exited) }()
	t.Cleanup(func() { d.kill() })
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, err := insecureClient.Get(d.url + "/readyz")
		if err == nil {
			res.Body.Close()
			// Ready, and done starting (the banner comes after the local host joined).
			if res.StatusCode == http.StatusOK && strings.Contains(log.String(), "Sirocco is running.") {
				return d
			}
		}
		select {
		case <-d.exited:
			t.Fatalf("siroccod exited before it was ready:\n%s", log.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("siroccod not ready after 30s:\n%s", log.String())
		}
	}
}

// insecureClient only asks "are you up?"; the tests that matter pin the
// certificate through the CLI.
var insecureClient = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}

// syncBuffer is a log the daemon writes while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// kill sends SIGKILL: no shutdown code runs, as in a power cut of the process.
func (d *daemon) kill() {
	if d.cmd.Process != nil {
		d.cmd.Process.Signal(syscall.SIGKILL)
		<-d.exited
	}
}

// adminToken logs in as the bootstrap provider admin and mints an API token.
func (d *daemon) adminToken(pwDir string) string {
	d.t.Helper()
	pw, err := os.ReadFile(filepath.Join(pwDir, "initial-admin-password"))
	if err != nil {
		d.t.Fatalf("initial admin password: %v", err)
	}
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	body, _ := json.Marshal(map[string]string{"email": "admin@sirocco.local", "password": strings.TrimSpace(string(pw))})
	res, err := c.Post(d.url+"/api/v1/login", "application/json", bytes.NewReader(body))
	if err != nil {
		d.t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		d.t.Fatalf("login: status %d", res.StatusCode)
	}
	body, _ = json.Marshal(map[string]string{"name": "e2e", "role": "provider-admin"})
	res, err = c.Post(d.url+"/api/v1/tokens", "application/json", bytes.NewReader(body))
	if err != nil {
		d.t.Fatal(err)
	}
	defer res.Body.Close()
	var tok struct{ Secret string }
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusCreated || json.Unmarshal(b, &tok) != nil || tok.Secret == "" {
		d.t.Fatalf("create token: %d %s", res.StatusCode, b)
	}
	return tok.Secret
}

func call(ctx context.Context, method, url, token string, body any) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res.StatusCode, b, err
}
