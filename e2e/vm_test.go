package e2e

import (
	"encoding/json"
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

// vmDir is a VM directory QEMU can reach when it runs as nobody (as
// siroccod makes it when started as root): not under a 0700 test directory.
func vmDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "sirocco-vms-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// TestVMAcceptance walks the compute issue's acceptance with the real
// binaries and a real guest: siroccod serve --local-host publishes the test
// guest; a tenant creates a VM from the catalog, sees it running, reads the
// guest's ready line with its hostname on the console; stop, start, reboot,
// resize, snapshot and revert work; siroccod is killed with -9 while the VM
// runs and the VM neither stops nor is duplicated, and is re-adopted; delete
// leaves nothing of the VM on the host.
func TestVMAcceptance(t *testing.T) {
	kernel, _ := testguest.Path(t)
	dataDir, vms := t.TempDir(), vmDir(t)
	args := []string{"--seed-demo", "--local-host", "--vm-dir", vms, "--accel", "tcg", "--demo-image", filepath.Dir(kernel)}
	d := launch(t, dataDir, "https", args...)
	fp := regexp.MustCompile(`sha256:[0-9a-f]{64}`).FindString(d.log.String())
	pw, err := os.ReadFile(dataDir + "/initial-admin-password")
	if err != nil {
		t.Fatal(err)
	}
	c := &cli{t: t, config: t.TempDir()}
	c.ok(string(pw), "login", d.url, "--email", "admin@sirocco.local", "--password-stdin", "--fingerprint", fp, "--name", "admin")
	if images := c.ok("", "image", "list", "--public"); !strings.Contains(images, "sirocco-testguest") || !strings.Contains(images, "available") {
		t.Fatalf("the test guest is not in the public catalog:\n%s", images)
	}
	c.ok("tenant-password-1\n", "signup", "--server", d.url, "--fingerprint", fp, "--email", "dev@acme.test", "--org-name", "acme", "--password-stdin")
	c.ok("", "verify-email", lastMailToken(t, d), "--server", d.url, "--fingerprint", fp)
	c.ok("tenant-password-1\n", "login", d.url, "--email", "dev@acme.test", "--password-stdin", "--fingerprint", fp, "--name", "acme")

	key := "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGz8cKh7C1qSTaKxYz3X0f2b2d6W7V1pB6hF1Kx3nq9E dev@acme"
	created := c.run("", "vm", "create", "web1", "--image", "sirocco-testguest", "--size", "s1.small", "--ssh-key", key)
	// The price comes first: s1.small on the demo plan is A$0.027 an hour.
	if created.code != 0 || !strings.Contains(created.stderr, "Price: A$0.03 per hour") {
		t.Fatalf("vm create: exit %d\n%s%s", created.code, created.stdout, created.stderr)
	}
	vm := getVM(t, c, "web1")
	if vm.State != api.VMRunning || vm.PowerState != api.PowerRunning || vm.Jurisdiction != "AU" {
		t.Fatalf("after create: %+v", vm)
	}
	waitReady(t, c, "web1")

	// The trial credit (A$50 on the demo cloud) falls while the VM runs.
	var bal api.Balance
	if err := json.Unmarshal([]byte(c.ok("", "balance", "-o", "json")), &bal); err != nil {
		t.Fatal(err)
	}
	if bal.Currency != "AUD" || bal.CreditDisplay != "50.00" || bal.Accrued == "0" || !strings.HasPrefix(bal.Available, "49.99") {
		t.Fatalf("balance while the VM runs: %+v", bal)
	}

	for _, step := range [][]string{
		{"vm", "stop", "web1"}, {"vm", "start", "web1"}, {"vm", "reboot", "web1"}, {"vm", "force-off", "web1"},
		{"vm", "resize", "web1", "--size", "s1.medium"},
		{"vm", "snapshot", "create", "web1", "before"},
		{"vm", "snapshot", "revert", "web1", "before"},
		{"vm", "start", "web1"},
	} {
		c.ok("", step...)
	}
	vm = getVM(t, c, "web1")
	if vm.State != api.VMRunning || vm.Size != "s1.medium" || vm.VCPU != 2 || vm.DiskGiB != 20 {
		t.Fatalf("after resize and revert: %+v", vm)
	}
	if snaps := c.ok("", "vm", "snapshot", "list", "web1"); !strings.Contains(snaps, "before") || !strings.Contains(snaps, "ready") {
		t.Fatalf("snapshots:\n%s", snaps)
	}
	if report := c.ok("", "residency-report", "--format", "csv"); !strings.Contains(report, "vm,"+vm.ID+",web1,,") ||
		!strings.Contains(report, ",au-syd-1a,au-syd,AU") {
		t.Fatalf("residency report:\n%s", report)
	}

	// kill -9 the control plane and its in-process agent: QEMU goes on.
	pid := qemuPID(t, vm.ID)
	d.kill()
	time.Sleep(500 * time.Millisecond)
	if !alive(pid) {
		t.Fatal("the VM's QEMU died with siroccod")
	}
	d = launch(t, dataDir, "https", args...)
	fp2 := regexp.MustCompile(`sha256:[0-9a-f]{64}`).FindString(d.log.String())
	if fp2 != fp {
		t.Fatalf("certificate changed across a restart: %s, was %s", fp2, fp)
	}
	c.ok("tenant-password-1\n", "login", d.url, "--email", "dev@acme.test", "--password-stdin", "--fingerprint", fp, "--name", "acme")
	vm = getVM(t, c, "web1")
	if vm.State != api.VMRunning {
		t.Fatalf("after the restart: %+v", vm)
	}
	if now := qemuPID(t, vm.ID); now != pid {
		t.Fatalf("QEMU %s replaced by %s: the VM was restarted, not adopted", pid, now)
	}
	c.ok("", "vm", "stop", "web1") // the adopted VM answers its monitor

	c.ok("", "vm", "delete", "web1")
	if r := c.run("", "vm", "get", "web1"); r.code != 4 {
		t.Fatalf("vm get after delete: exit %d", r.code)
	}
	left, _ := os.ReadDir(filepath.Join(vms, "machines"))
	if len(left) != 0 || alive(pid) {
		t.Fatalf("after delete: %d VM directories left, QEMU alive %v", len(left), alive(pid))
	}
	if out, _ := exec.Command("pgrep", "-f", vm.ID).Output(); len(out) > 0 {
		t.Fatalf("processes naming the VM after delete: %s", out)
	}
}

func getVM(t *testing.T, c *cli, name string) api.VM {
	t.Helper()
	var vm api.VM
	if err := json.Unmarshal([]byte(c.ok("", "vm", "get", name, "-o", "json")), &vm); err != nil {
		t.Fatal(err)
	}
	return vm
}

// waitReady reads the console until the guest's ready line, with the
// hostname from its seed, is there.
func waitReady(t *testing.T, c *cli, name string) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		out := c.ok("", "vm", "console", name, "--duration", "2s")
		if strings.Contains(out, testguest.ReadyPrefix+"hostname="+name+" ") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no ready line from %s on its console:\n%s", name, out)
		}
	}
}

// qemuPID finds the QEMU running VM id (its -name is the VM ID).
func qemuPID(t *testing.T, id string) string {
	t.Helper()
	out, err := exec.Command("pgrep", "-f", "qemu-system-x86_64 -name "+id).Output()
	if err != nil {
		t.Fatalf("no QEMU runs VM %s: %v", id, err)
	}
	return strings.TrimSpace(string(out))
}

// alive reports whether process pid runs. A QEMU whose parent (a killed
// siroccod) is gone may linger as a zombie until init reaps it: that is
// dead.
func alive(pid string) bool {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return false
	}
	// pid (comm) state ...; comm may hold spaces, so look after the last ')'.
	rest := string(b[strings.LastIndexByte(string(b), ')')+1:])
	return !strings.HasPrefix(strings.TrimSpace(rest), "Z")
}
