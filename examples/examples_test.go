// Package examples_test runs every example against a real siroccod, the way
// a partner would after following docs/: the curl script with bash, the SDK
// program with go run, unmodified, configured only through their documented
// environment variables, and the stack file with the sirocco CLI (plan,
// apply, apply again, destroy). It also walks the backup and restore
// procedures of docs/operators/operations.md.
package examples_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/client"
	"github.com/sirocco-cloud/sirocco/internal/certs"
	"github.com/sirocco-cloud/sirocco/internal/compute/testguest"
	"github.com/sirocco-cloud/sirocco/internal/store/storetest"
)

// siroccod and sirocco are the binaries built for the tests.
var siroccod, sirocco string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sirocco-examples-")
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

// TestExamples runs examples/curl/first-vm.sh, examples/sdk and
// examples/stack against a siroccod that runs real VMs of the test guest,
// with a self-signed certificate the examples pin.
func TestExamples(t *testing.T) {
	if testing.Short() {
		t.Skip("runs real VMs")
	}
	needTools(t, "bash", "curl", "jq", "openssl")
	kernel, _ := testguest.Path(t)
	d := launch(t, t.TempDir(), "--seed-demo", "--local-host", "--vm-dir", vmDir(t), "--accel", "tcg",
		"--demo-image", filepath.Dir(kernel))
	token := adminToken(t, d)
	env := append(os.Environ(), "SIROCCO_URL="+d.url, "SIROCCO_TOKEN="+token, "SIROCCO_FINGERPRINT="+d.fingerprint)

	out := run(t, env, "bash", "curl/first-vm.sh")
	t.Logf("curl/first-vm.sh:\n%s", out)
	for _, want := range []string{"created organisation example", "created VDC main", `"state": "running"`, `"jurisdiction": "AU"`, "VM first-vm deleted"} {
		if !strings.Contains(out, want) {
			t.Errorf("curl example: no %q in its output:\n%s", want, out)
		}
	}
	// A second run reuses the organisation and the VDC.
	if again := run(t, env, "bash", "curl/first-vm.sh"); strings.Contains(again, "created organisation") || !strings.Contains(again, "VM first-vm deleted") {
		t.Errorf("curl example, second run:\n%s", again)
	}

	// The SDK program runs in the VDC the curl script left.
	out = run(t, env, "go", "run", "./examples/sdk")
	t.Logf("go run ./examples/sdk:\n%s", out)
	for _, want := range []string{"s1.small", "sirocco-testguest", `"name": "sdk-example"`, `"state": "running"`, "Deleted VM sdk-example"} {
		if !strings.Contains(out, want) {
			t.Errorf("SDK example: no %q in its output:\n%s", want, out)
		}
	}

	// The stack, in the VDC the curl script left, with the sirocco CLI as
	// docs/tenants/stacks.md runs it.
	c := sdk(t, d, token)
	runStack(t, d, c, token)

	// All cleaned up after themselves: the organisation has no VM left.
	vms, err := c.ListVMs(context.Background(), "example", client.VMListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(vms.Items) != 0 {
		t.Errorf("VMs left after the examples: %+v", vms.Items)
	}
}

// runStack plans, applies, re-applies and destroys examples/stack/app.yaml
// in organisation example: the plan prices the stack per month, the first
// apply makes two running VMs, a network and a public address, the second
// changes nothing, and destroy leaves none of them.
func runStack(t *testing.T, d *daemon, c *client.Client, token string) {
	t.Helper()
	ctx := context.Background()
	// shop-web asks for a public address: the provider offers some.
	if _, err := c.CreatePublicIPPool(ctx, api.PublicIPPoolCreate{Name: "syd", Region: "au-syd", CIDR: "203.0.113.0/28",
		Gateway: "203.0.113.1", Uplink: "up0"}); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "SIROCCO_TOKEN="+token, "XDG_CONFIG_HOME="+t.TempDir())
	stack := func(args ...string) string {
		t.Helper()
		out := run(t, env, sirocco, append([]string{"--server", d.url, "--fingerprint", d.fingerprint, "--org", "example", "stack"}, args...)...)
		t.Logf("sirocco stack %s:\n%s", strings.Join(args, " "), out)
		return out
	}
	wantIn := func(what, out string, words ...string) {
		t.Helper()
		for _, w := range words {
			if !strings.Contains(out, w) {
				t.Errorf("stack %s: no %q in its output:\n%s", what, w, out)
			}
		}
	}
	wantIn("plan", stack("plan", "stack/app.yaml"), "+ network shop-lan", "+ vm shop-db", "+ vm shop-web",
		"Plan: 3 to create, 0 to update, 0 to replace, 0 to delete.", "Monthly cost after apply: A$")
	wantIn("apply", stack("apply", "stack/app.yaml"), "Applied stack shop: 3 to create")
	vms, err := c.ListVMs(ctx, "example", client.VMListOptions{ListOptions: client.ListOptions{Labels: []string{"stack=shop"}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(vms.Items) != 2 {
		t.Fatalf("stack VMs after apply: %+v", vms.Items)
	}
	for _, v := range vms.Items {
		if v.State != api.VMRunning {
			t.Errorf("stack VM after apply: %+v", v)
		}
	}
	wantIn("second apply", stack("apply", "stack/app.yaml"), "No changes: stack shop matches its file.")
	wantIn("destroy", stack("destroy", "stack/app.yaml"), "Destroyed stack shop")
	if _, err := c.GetNetwork(ctx, "example", "shop-lan"); !isNotFound(err) {
		t.Errorf("network shop-lan after destroy: %v", err)
	}
	if ips, err := c.ListPublicIPs(ctx, "example", client.PublicIPListOptions{}); err != nil || len(ips.Items) != 0 {
		t.Errorf("public IPs after destroy: %v %+v", err, ips)
	}
}

// TestSQLiteBackupRestore follows the SQLite backup and restore of
// docs/operators/operations.md: an online backup of a running siroccod with
// sqlite3 VACUUM INTO, restored with the TLS material into a new data
// directory, serves what was there at the backup, to the same token and
// the same pinned certificate, and nothing written after it.
func TestSQLiteBackupRestore(t *testing.T) {
	needTools(t, "sqlite3", "curl")
	ctx := context.Background()
	live := launch(t, t.TempDir(), "--seed-demo")
	token := adminToken(t, live)
	c := sdk(t, live, token)
	makeOrg(t, c, "before")

	backup := t.TempDir()
	// The documented commands, run while siroccod serves.
	sh(t, "sqlite3 "+filepath.Join(live.dataDir, "sirocco.db")+" \"VACUUM INTO '"+filepath.Join(backup, "sirocco.db")+"'\"")
	sh(t, "cp -a "+filepath.Join(live.dataDir, "tls")+" "+backup+"/")
	if out := run(t, nil, "sqlite3", filepath.Join(backup, "sirocco.db"), "PRAGMA integrity_check"); strings.TrimSpace(out) != "ok" {
		t.Fatalf("integrity check of the backup: %s", out)
	}
	makeOrg(t, c, "after")

	// Restore: the copy becomes the store of a new data directory.
	restored := t.TempDir()
	sh(t, "cp "+filepath.Join(backup, "sirocco.db")+" "+restored+"/ && cp -a "+filepath.Join(backup, "tls")+" "+restored+"/")
	d := launch(t, restored)
	if d.fingerprint != live.fingerprint {
		t.Fatalf("restored certificate %s, want the original %s", d.fingerprint, live.fingerprint)
	}
	rc := sdk(t, d, token)
	if _, err := rc.GetVDC(ctx, "before", "main"); err != nil {
		t.Errorf("VDC made before the backup, after the restore: %v", err)
	}
	if _, err := rc.GetOrg(ctx, "after"); !isNotFound(err) {
		t.Errorf("organisation made after the backup: got %v, want not found", err)
	}
	// curl trusts the restored server through the PEM in <data-dir>/tls.
	out := run(t, nil, "curl", "-sS", "--fail", "--cacert", filepath.Join(restored, "tls", certs.CertFile),
		"-H", "Authorization: Bearer "+token, d.url+"/api/v1/orgs/before")
	if !strings.Contains(out, `"name":"before"`) {
		t.Errorf("curl through the restored certificate: %s", out)
	}
}

// TestPostgresBackupRestore follows the PostgreSQL backup and restore of
// docs/operators/operations.md with pg_dump and pg_restore.
func TestPostgresBackupRestore(t *testing.T) {
	needTools(t, "pg_dump", "pg_restore")
	ctx := context.Background()
	src, dst := storetest.PostgresURL(t), storetest.PostgresURL(t)
	tlsDir := t.TempDir()
	live := launch(t, tlsDir, "--db", src, "--seed-demo")
	token := adminToken(t, live)
	makeOrg(t, sdk(t, live, token), "before")

	dump := filepath.Join(t.TempDir(), "sirocco.dump")
	run(t, nil, "pg_dump", "--format=custom", "--file="+dump, src)
	live.stop()
	run(t, nil, "pg_restore", "--no-owner", "--dbname="+dst, dump)

	d := launch(t, tlsDir, "--db", dst)
	if _, err := sdk(t, d, token).GetVDC(ctx, "before", "main"); err != nil {
		t.Errorf("VDC made before the dump, after the restore: %v", err)
	}
}

// TestMigrateToPostgres follows "Moving from SQLite to PostgreSQL" of
// docs/operators/operations.md with a VM running: siroccod stops, the store
// is copied (what siroccod migrate-store does), and siroccod started on
// PostgreSQL with the same data directory knows the VM, adopts it running,
// and accepts the same token.
func TestMigrateToPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a real VM")
	}
	ctx := context.Background()
	kernel, _ := testguest.Path(t)
	dataDir, vms := t.TempDir(), vmDir(t)
	args := []string{"--seed-demo", "--local-host", "--vm-dir", vms, "--accel", "tcg", "--demo-image", filepath.Dir(kernel)}
	live := launch(t, dataDir, args...)
	token := adminToken(t, live)
	c := sdk(t, live, token)
	makeOrg(t, c, "acme")
	created, err := c.CreateVMs(ctx, "acme", api.VMCreate{Name: "web", Image: "sirocco-testguest", Size: "s1.small"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.WaitOperation(ctx, created.Operations[0].ID, nil); err != nil {
		t.Fatal(err)
	}
	pid := qemuPID(t, created.VMs[0].ID)
	live.stop()

	pgURL := storetest.PostgresURL(t)
	migrateStore(t, filepath.Join(dataDir, "sirocco.db"), pgURL)

	d := launch(t, dataDir, append(args, "--db", pgURL)...)
	if d.fingerprint != live.fingerprint {
		t.Errorf("fingerprint %s after the move, was %s", d.fingerprint, live.fingerprint)
	}
	c = sdk(t, d, token)
	deadline := time.Now().Add(time.Minute)
	for {
		vm, err := c.GetVM(ctx, "acme", "web")
		if err != nil {
			t.Fatal(err)
		}
		if vm.State == api.VMRunning {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("VM after the move: %+v", vm)
		}
		time.Sleep(500 * time.Millisecond)
	}
	if now := qemuPID(t, created.VMs[0].ID); now != pid {
		t.Errorf("QEMU %s replaced by %s: the VM was restarted, not adopted", pid, now)
	}
	op, err := c.DeleteVM(ctx, "acme", "web")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.WaitOperation(ctx, op.ID, nil); err != nil {
		t.Fatalf("delete the moved VM: %v", err)
	}
	if left, _ := os.ReadDir(filepath.Join(vms, "machines")); len(left) != 0 {
		t.Errorf("%d VM directories left on the host", len(left))
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

// migrateStore copies an SQLite store into an empty PostgreSQL database
// with the documented command, siroccod migrate-store --from --to.
func migrateStore(t *testing.T, from, to string) {
	t.Helper()
	out, err := exec.Command(siroccod, "migrate-store", "--from", from, "--to", to).CombinedOutput()
	if err != nil {
		t.Fatalf("siroccod migrate-store: %v\n%s", err, out)
	}
}

func makeOrg(t *testing.T, c *client.Client, name string) {
	t.Helper()
	ctx := context.Background()
	if _, err := c.CreateOrg(ctx, api.OrganisationCreate{Name: name}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateVDC(ctx, name, api.VDCCreate{Name: "main", Zone: "au-syd-1a"}); err != nil {
		t.Fatal(err)
	}
}

func isNotFound(err error) bool {
	e, ok := errors.AsType[*api.Error](err)
	return ok && e.Code == api.CodeNotFound
}

func needTools(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is needed to run the examples as documented (apt-get install %s)", tool, tool)
		}
	}
}

// run runs a command from the examples directory (go run from the module
// root, as the README says) and returns its output; it fails the test
// when the command fails.
func run(t *testing.T, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = env
	if name == "go" {
		cmd.Dir = ".."
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out.String())
	}
	return out.String()
}

func sh(t *testing.T, script string) { t.Helper(); run(t, nil, "bash", "-c", script) }

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

// daemon is one running siroccod serving HTTPS with its self-signed
// certificate.
type daemon struct {
	cmd         *exec.Cmd
	url         string
	fingerprint string
	dataDir     string
	log         *syncBuffer
	exited      chan struct{}
}

var fingerprintRE = regexp.MustCompile(`sha256:[0-9a-f]{64}`)

// launch starts siroccod serve on a free loopback port and waits until it
// printed its banner and answers /readyz through its pinned certificate.
func launch(t *testing.T, dataDir string, extra ...string) *daemon {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	args := append([]string{"serve", "--data-dir", dataDir, "--listen", addr, "--log-level", "warn",
		"--rate-limit", "100000", "--rate-burst", "100000"}, extra...)
	cmd := exec.Command(siroccod, args...)
	log := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	d := &daemon{cmd: cmd, url: "https://" + addr, dataDir: dataDir, log: log, exited: make(chan struct{})}
	go func() { cmd.Wait(); close(d.exited) }()
	t.Cleanup(d.stop)
	deadline := time.Now().Add(60 * time.Second)
	for {
		if banner := log.String(); strings.Contains(banner, "Sirocco is running.") {
			d.fingerprint = fingerprintRE.FindString(banner)
			hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: certs.PinnedTLSConfig(d.fingerprint)}}
			if res, err := hc.Get(d.url + "/readyz"); err == nil {
				res.Body.Close()
				if res.StatusCode == http.StatusOK {
					return d
				}
			}
		}
		select {
		case <-d.exited:
			t.Fatalf("siroccod exited before it was ready:\n%s", log.String())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("siroccod not ready after 60s:\n%s", log.String())
		}
	}
}

// stop shuts siroccod down as an operator would (SIGTERM), and kills it if
// it has not exited after 20 s.
func (d *daemon) stop() {
	select {
	case <-d.exited:
		return
	default:
	}
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.exited:
	case <-time.After(20 * time.Second):
		d.cmd.Process.Kill()
		<-d.exited
	}
}

// adminToken logs in as the bootstrap provider admin and mints a
// provider-admin API token, as docs/operators/operations.md shows with the
// CLI.
func adminToken(t *testing.T, d *daemon) string {
	t.Helper()
	ctx := context.Background()
	pw, err := os.ReadFile(filepath.Join(d.dataDir, "initial-admin-password"))
	if err != nil {
		t.Fatalf("initial admin password: %v", err)
	}
	c, err := client.New(d.url, client.WithFingerprint(d.fingerprint))
	if err != nil {
		t.Fatal(err)
	}
	session, _, err := c.Login(ctx, "admin@sirocco.local", strings.TrimSpace(string(pw)))
	if err != nil {
		t.Fatal(err)
	}
	if c, err = c.With(client.WithSession(session)); err != nil {
		t.Fatal(err)
	}
	tok, err := c.CreateToken(ctx, api.TokenCreate{Name: "examples", Role: "provider-admin"})
	if err != nil {
		t.Fatal(err)
	}
	return tok.Secret
}

func sdk(t *testing.T, d *daemon, token string) *client.Client {
	t.Helper()
	c, err := client.New(d.url, client.WithToken(token), client.WithFingerprint(d.fingerprint))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

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
