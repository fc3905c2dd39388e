package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sirocco-cloud/sirocco/api"
)

// TestHostJoinsAndGoesDownWhenSilent runs a real agent process: the admin
// adds a host, the agent joins with the printed command (pinning the
// self-signed certificate from the token), the host turns ready; when the
// agent is killed, the host goes down after three missed heartbeats, and a
// restarted agent brings it back without joining again.
func TestHostJoinsAndGoesDownWhenSilent(t *testing.T) {
	dataDir := t.TempDir()
	d := launch(t, dataDir, "https", "--seed-demo", "--heartbeat-interval", "1s")
	fp := regexp.MustCompile(`sha256:[0-9a-f]{64}`).FindString(d.log.String())
	pw, _ := os.ReadFile(dataDir + "/initial-admin-password")
	c := &cli{t: t, config: t.TempDir()}
	c.ok(string(pw), "login", d.url, "--email", "admin@sirocco.local", "--password-stdin", "--fingerprint", fp)

	out := c.ok("", "host", "add", "hv1", "--zone", "au-syd-1a")
	cmdline := regexp.MustCompile(`siroccod agent --join \S+ --token \S+`).FindString(out)
	if cmdline == "" {
		t.Fatalf("host add printed no join command:\n%s", out)
	}
	stateDir := t.TempDir()
	startAgent := func(args ...string) *exec.Cmd {
		cmd := exec.Command(siroccod, append(append(args, "--state-dir", stateDir, "--accel", "tcg"), "--log-level", "warn")...)
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		return cmd
	}
	state := func() string {
		var h api.Host
		if err := json.Unmarshal([]byte(c.ok("", "host", "get", "hv1", "-o", "json")), &h); err != nil {
			t.Fatal(err)
		}
		return h.State
	}
	waitState := func(want string) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for state() != want {
			if time.Now().After(deadline) {
				t.Fatalf("host never became %s (is %s)", want, state())
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	agent := startAgent(strings.Fields(cmdline)[1:]...)
	waitState(api.HostReady)

	agent.Process.Signal(syscall.SIGKILL)
	agent.Wait()
	waitState(api.HostDown)

	startAgent("agent") // no token: it comes back with the identity it saved
	waitState(api.HostReady)
}
