// Package e2e runs real siroccod processes, as an operator would, and checks
// what only whole processes can show: crash safety under kill -9 and
// singleton loops moving between replicas.
package e2e

import (
	"bytes"
	"context"
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
	"syscall"
	"testing"
	"time"
)

var siroccod string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sirocco-e2e-")
	if err != nil {
		panic(err)
	}
	siroccod = filepath.Join(dir, "siroccod")
	build := exec.Command("go", "build", "-o", siroccod, "github.com/sirocco-cloud/sirocco/cmd/siroccod")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build siroccod:", err)
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
	log     *bytes.Buffer
	exited  chan struct{}
}

// start runs siroccod serve on a free loopback port and waits until it is ready.
func start(t *testing.T, dataDir string, extra ...string) *daemon {
	t.Helper()
	port := freePort(t)
	args := append([]string{"serve", "--data-dir", dataDir, "--listen", fmt.Sprintf("127.0.0.1:%d", port),
		"--insecure-http", "--rate-limit", "100000", "--rate-burst", "100000", "--log-level", "warn"}, extra...)
	cmd := exec.Command(siroccod, args...)
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	d := &daemon{t: t, cmd: cmd, url: fmt.Sprintf("http://127.0.0.1:%d", port), dataDir: dataDir, log: &log, exited: make(chan struct{})}
	go func() { cmd.Wait(); close(d.exited) }()
	t.Cleanup(func() { d.kill() })
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, err := http.Get(d.url + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
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
