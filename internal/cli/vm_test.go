package cli_test

import (
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/internal/agent"
	"github.com/sirocco-cloud/sirocco/internal/certs"
	"github.com/sirocco-cloud/sirocco/internal/cli"
	"github.com/sirocco-cloud/sirocco/internal/compute/qemu"
	"github.com/sirocco-cloud/sirocco/internal/compute/testguest"
	"github.com/sirocco-cloud/sirocco/internal/store"
)

// cloud is a provider with two hosts, each run by a real agent over the
// real protocol with the QEMU driver (TCG), the busybox test guest as a
// public image already in the hosts' caches, and tenant acme (residency AU) logged in through the CLI
// with VDC main.
type cloud struct {
	*env
	admin       string // provider-admin token
	fingerprint string
}

// provider runs the CLI as the provider admin.
func (c *cloud) provider(t *testing.T, args ...string) result {
	t.Helper()
	return ok(t, append([]string{"--server", c.URL, "--token", c.admin, "--fingerprint", c.fingerprint}, args...)...)
}

func newCloud(t *testing.T) *cloud {
	t.Helper()
	e := newEnv(t, true)
	isolate(t)
	c := &cloud{env: e, admin: e.ProviderAdmin(), fingerprint: certs.Fingerprint(e.HTTP.Certificate())}
	c.provider(t, "region", "create", "au-syd", "--jurisdiction", "AU")
	c.provider(t, "zone", "create", "au-syd-1a", "--region", "au-syd")
	c.provider(t, "size", "create", "s1.small", "--vcpu", "1", "--memory-mib", "1024", "--disk-gib", "10")
	c.provider(t, "size", "create", "s1.large", "--vcpu", "2", "--memory-mib", "2048", "--disk-gib", "20")
	c.provider(t, "size", "create", "x1.huge", "--vcpu", "64", "--memory-mib", "262144", "--disk-gib", "100")
	c.provider(t, "org", "create", "acme", "--jurisdiction", "AU")
	org := decode[api.Organisation](t, c.provider(t, "org", "get", "acme", "-o", "json"))

	// The test guest, as an import would have left it, and in each host's
	// cache as the agent would have fetched it.
	kernelPath, initrdPath := testguest.Path(t)
	files := map[string][]byte{}
	img := &store.Image{Name: "tiny", Kind: api.ImageKindKernel, State: api.ImageAvailable, Cmdline: testguest.Cmdline}
	for name, path := range map[string]string{api.ImageFileKernel: kernelPath, api.ImageFileInitrd: initrdPath} {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(b)
		files[name] = b
		img.Files = append(img.Files, store.ImageFile{Name: name, Size: int64(len(b)), SHA256: hex.EncodeToString(sum[:])})
	}
	ctx := context.Background()
	if err := e.Store.Tx(ctx, func(tx *store.Tx) error { return tx.CreateImage(ctx, img) }); err != nil {
		t.Fatal(err)
	}

	runCtx, stop := context.WithCancel(context.Background())
	var done []chan struct{}
	t.Cleanup(func() {
		stop()
		for _, d := range done {
			<-d
		}
	})
	for _, id := range []string{"hv1", "hv2"} {
		dir := filepath.Join(t.TempDir(), id)
		cached := filepath.Join(dir, "images", img.ID)
		if err := os.MkdirAll(cached, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, b := range files {
			if err := os.WriteFile(filepath.Join(cached, name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		drv, err := qemu.New(qemu.Config{Root: filepath.Join(dir, "machines"), Accel: "tcg"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			// No QEMU outlives the test, whatever it left.
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			vms, _ := drv.List(ctx)
			for _, vm := range vms {
				drv.Delete(ctx, vm.Spec.ID)
			}
			drv.Close()
		})
		token, err := agent.Enrol(ctx, e.Store, id, "au-syd-1a", c.fingerprint)
		if err != nil {
			t.Fatal(err)
		}
		ag, err := agent.Join(ctx, e.URL, token, agent.Options{StateDir: dir, Accel: "tcg",
			Capacity: &api.Capacity{VCPU: 8, MemoryMiB: 16384, DiskGiB: 200},
			Driver:   drv, Log: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		d := make(chan struct{})
		done = append(done, d)
		go func() { defer close(d); ag.Run(runCtx) }()
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		hosts := decode[api.List[api.Host]](t, c.provider(t, "host", "list", "--state", "ready", "-o", "json"))
		if len(hosts.Items) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("hosts not ready: %+v", hosts.Items)
		}
		time.Sleep(50 * time.Millisecond)
	}

	e.User("dev@acme.test", store.RoleBinding{OrgID: org.ID, Role: api.RoleOrgAdmin})
	login(t, e.URL, "dev@acme.test", "--fingerprint", c.fingerprint)
	ok(t, "vdc", "create", "main", "--zone", "au-syd-1a", "--vcpu", "128", "--memory-mib", "1048576", "--disk-gib", "2000")
	return c
}

const pubKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGz8cKh7C1qSTaKxYz3X0f2b2d6W7V1pB6hF1Kx3nq9E dev@acme"

func TestVMLifecycle(t *testing.T) {
	c := newCloud(t)
	keyFile := filepath.Join(t.TempDir(), "id_ed25519.pub")
	if err := os.WriteFile(keyFile, []byte("# mine\n"+pubKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	// Create waits until the VM runs and prints it running.
	created := decode[api.VMCreated](t, ok(t, "vm", "create", "web", "--image", "tiny", "--size", "s1.small",
		"--ssh-key", keyFile, "--label", "app=web", "-o", "json"))
	if len(created.VMs) != 1 || len(created.Operations) != 1 || created.Operations[0].State != api.OpSucceeded {
		t.Fatalf("created %+v", created)
	}
	web := created.VMs[0]
	if web.Name != "web" || web.State != api.VMRunning || web.Zone != "au-syd-1a" || web.Jurisdiction != "AU" ||
		web.Labels["app"] != "web" || len(web.SSHKeys) != 1 || web.SSHKeys[0] != pubKey {
		t.Fatalf("VM %+v", web)
	}

	// --count with anti-affinity: one VM per host, all waited for together.
	r := ok(t, "vm", "create", "batch", "--image", "tiny", "--size", "s1.small", "--count", "2", "--anti-affinity", "batch")
	if !strings.Contains(r.stdout, "batch-1") || !strings.Contains(r.stdout, "batch-2") || strings.Count(r.stdout, "running") != 2 {
		t.Fatalf("create --count 2:\nstdout %s\nstderr %s", r.stdout, r.stderr)
	}
	vms := decode[api.List[api.VM]](t, ok(t, "vm", "list", "--vdc", "main", "-o", "json"))
	hosts := map[string]string{}
	for _, v := range vms.Items {
		hosts[v.Name] = v.Host
	}
	if len(vms.Items) != 3 || hosts["batch-1"] == hosts["batch-2"] {
		t.Fatalf("listed %+v", vms.Items)
	}
	if only := decode[api.List[api.VM]](t, ok(t, "vm", "list", "-l", "app=web", "-o", "json")); len(only.Items) != 1 || only.Items[0].ID != web.ID {
		t.Fatalf("label filter: %+v", only.Items)
	}

	// Host-side changes need a stopped VM: a one-line refusal, exit 5.
	r = sirocco(t, "", "vm", "snapshot", "create", "web", "before")
	if r.code != cli.ExitConflict || !strings.Contains(r.stderr, "("+api.CodeVMRunning+")") || strings.Count(r.stderr, "\n") != 1 {
		t.Fatalf("snapshot of a running VM: exit %d, stderr %q", r.code, r.stderr)
	}
	// No host has 64 vCPUs.
	r = sirocco(t, "", "vm", "create", "big", "--image", "tiny", "--size", "x1.huge")
	if r.code != cli.ExitConflict || !strings.Contains(r.stderr, "("+api.CodeNoCapacity+")") {
		t.Fatalf("no capacity: exit %d, stderr %q", r.code, r.stderr)
	}

	ok(t, "vm", "stop", "web", "--timeout", "5s")
	if v := decode[api.VM](t, ok(t, "vm", "get", "web", "-o", "json")); v.State != api.VMStopped {
		t.Fatalf("after stop: %+v", v)
	}
	ok(t, "vm", "snapshot", "create", "web", "before")
	snaps := decode[api.List[api.Snapshot]](t, ok(t, "vm", "snapshot", "list", "web", "-o", "json"))
	if len(snaps.Items) != 1 || snaps.Items[0].Name != "before" || snaps.Items[0].State != "ready" {
		t.Fatalf("snapshots %+v", snaps.Items)
	}
	ok(t, "vm", "resize", "web", "--size", "s1.large")
	if v := decode[api.VM](t, ok(t, "vm", "get", "web", "-o", "json")); v.VCPU != 2 || v.DiskGiB != 20 {
		t.Fatalf("after resize: %+v", v)
	}
	ok(t, "vm", "snapshot", "revert", "web", "before")
	ok(t, "vm", "snapshot", "delete", "web", "before")
	if l := ok(t, "vm", "snapshot", "list", "web"); !strings.Contains(l.stderr, "No items.") {
		t.Fatalf("snapshots after delete: %q %q", l.stdout, l.stderr)
	}
	r = ok(t, "vm", "start", "web")
	if !strings.Contains(r.stdout, "vm.start") || !strings.Contains(r.stdout, "succeeded") {
		t.Fatalf("start: %q", r.stdout)
	}
	ok(t, "vm", "reboot", "web")
	ok(t, "vm", "force-off", "web")

	// Without waiting, an action prints the operation and how to follow it.
	r = ok(t, "vm", "start", "web", "--no-wait")
	if !strings.Contains(r.stderr, "sirocco operation wait") {
		t.Fatalf("--no-wait: %q", r.stderr)
	}

	// Provider roles list every organisation's VMs, by host.
	onHost := decode[api.List[api.VM]](t, c.provider(t, "vm", "list", "--host", hosts["batch-2"], "-o", "json"))
	if len(onHost.Items) == 0 {
		t.Fatalf("no VMs on %s", hosts["batch-2"])
	}
	for _, v := range onHost.Items {
		if v.Host != hosts["batch-2"] {
			t.Fatalf("vm list --host %s listed %+v", hosts["batch-2"], v)
		}
	}

	// The residency report places every VM and disk in AU.
	rep := decode[api.ResidencyReport](t, ok(t, "residency-report", "-o", "json"))
	kinds := map[string]int{}
	for _, it := range rep.Items {
		kinds[it.Kind]++
		if it.Jurisdiction != "AU" || it.Zone != "au-syd-1a" || it.Host == "" {
			t.Fatalf("residency item %+v", it)
		}
	}
	if rep.Org != "acme" || len(rep.Policy.Jurisdictions) != 1 || kinds["vm"] != 3 {
		t.Fatalf("report %+v", rep)
	}
	table := ok(t, "residency-report")
	if !strings.Contains(table.stdout, "JURISDICTION") || !strings.Contains(table.stderr, "jurisdictions AU") {
		t.Fatalf("report table:\n%s%s", table.stdout, table.stderr)
	}
	rows, err := csv.NewReader(strings.NewReader(ok(t, "residency-report", "--format", "csv").stdout)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(rows[0], ",") != "kind,id,name,vm,host,zone,region,jurisdiction" || len(rows) != len(rep.Items)+1 {
		t.Fatalf("csv %v", rows)
	}

	r = ok(t, "vm", "delete", "batch-1")
	if !strings.Contains(r.stdout, "vm.delete") {
		t.Fatalf("delete: %q", r.stdout)
	}
	if r := sirocco(t, "", "vm", "get", "batch-1"); r.code != cli.ExitNotFound {
		t.Fatalf("get deleted VM: exit %d, %s", r.code, r.stderr)
	}
}

func TestVMConsole(t *testing.T) {
	newCloud(t)
	ok(t, "vm", "create", "web", "--image", "tiny", "--size", "s1.small")

	// The history shows the guest's ready line with the hostname from its
	// seed, once it has booted.
	deadline := time.Now().Add(90 * time.Second)
	for {
		r := sirocco(t, "", "vm", "console", "web", "--duration", "1s")
		if r.code != 0 {
			t.Fatalf("console: exit %d, stderr %q", r.code, r.stderr)
		}
		if strings.Contains(r.stdout, testguest.ReadyPrefix+"hostname=web ") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no ready line on the console after 90s:\n%s", r.stdout)
		}
	}
	// Piped keystrokes reach the guest's shell and its answer comes back.
	start := time.Now()
	r := sirocco(t, "echo sum-$((6*7))\n", "vm", "console", "web", "--duration", "3s")
	if r.code != 0 || !strings.Contains(r.stdout, "sum-42") || time.Since(start) < 3*time.Second {
		t.Fatalf("console: exit %d after %s\nstdout %q\nstderr %q", r.code, time.Since(start), r.stdout, r.stderr)
	}
	r = sirocco(t, "", "vm", "console", "nowhere", "--duration", "1s")
	if r.code != cli.ExitNotFound || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, "(not_found)") {
		t.Fatalf("console of a missing VM: exit %d, stderr %q", r.code, r.stderr)
	}
}

// TestVMImageResidencyUsageErrors checks mistakes caught before anything is
// sent: one line, exit 2, nothing on stdout.
func TestVMImageResidencyUsageErrors(t *testing.T) {
	isolate(t)
	dir := t.TempDir()
	private := filepath.Join(dir, "id_ed25519")
	if err := os.WriteFile(private, []byte("-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbn...\n-----END OPENSSH PRIVATE KEY-----\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty.img")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	org := []string{"--server", "https://cloud.invalid", "--token", "sk_x", "--org", "acme"}
	tests := []struct {
		name  string
		args  []string
		match string
	}{
		{"create without image", []string{"vm", "create", "web", "--size", "s1.small"}, "--image and --size are required"},
		{"create without name", []string{"vm", "create", "--image", "i", "--size", "s"}, "missing NAME"},
		{"count zero", []string{"vm", "create", "web", "--image", "i", "--size", "s", "--count", "0"}, "--count must be at least 1"},
		{"private key", []string{"vm", "create", "web", "--image", "i", "--size", "s", "--ssh-key", private}, "is a private key: give the public one"},
		{"missing key file", []string{"vm", "create", "web", "--image", "i", "--size", "s", "--ssh-key", filepath.Join(dir, "nope.pub")}, "neither a public key nor a file"},
		{"missing user-data", []string{"vm", "create", "web", "--image", "i", "--size", "s", "--user-data", filepath.Join(dir, "nope.yaml")}, "--user-data: no such file"},
		{"bad label", []string{"vm", "create", "web", "--image", "i", "--size", "s", "--label", "novalue"}, "want key=value"},
		{"stop timeout zero", []string{"vm", "stop", "web", "--timeout", "0s"}, "use 'sirocco vm force-off'"},
		{"resize without size", []string{"vm", "resize", "web"}, "--size is required"},
		{"revert without snapshot", []string{"vm", "snapshot", "revert", "web"}, "missing NAME"},
		{"snapshot create extra", []string{"vm", "snapshot", "create", "web", "a", "b"}, `unexpected argument "b"`},
		{"console duration", []string{"vm", "console", "web", "--duration", "-1s"}, "--duration must be positive"},
		{"import without url", []string{"image", "import", "img"}, "--url or --kernel-url is required"},
		{"initrd without kernel", []string{"image", "import", "img", "--url", "https://x/d.qcow2", "--initrd-url", "https://x/i"}, "--initrd-url needs --kernel-url"},
		{"cmdline on a disk", []string{"image", "import", "img", "--url", "https://x/d.qcow2", "--cmdline", "quiet"}, "--cmdline is for kernel images only"},
		{"bad sha256", []string{"image", "import", "img", "--url", "https://x/d.qcow2", "--sha256", "abc"}, "want 64 hexadecimal digits"},
		{"upload without file", []string{"image", "upload", "img"}, "--file or --kernel is required"},
		{"upload missing file", []string{"image", "upload", "img", "--file", filepath.Join(dir, "nope.qcow2")}, "no such file"},
		{"upload empty file", []string{"image", "upload", "img", "--file", empty}, "the file is empty"},
		{"upload directory", []string{"image", "upload", "img", "--kernel", dir}, "not a regular file"},
		{"residency format", []string{"residency-report", "--format", "xml"}, `unknown --format "xml"`},
		{"residency csv as json", []string{"residency-report", "--format", "csv", "-o", "json"}, "cannot be combined with -o json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := sirocco(t, "", append(org, tt.args...)...)
			if r.code != cli.ExitUsage {
				t.Fatalf("exit %d, want %d; stderr %q", r.code, cli.ExitUsage, r.stderr)
			}
			lines := strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n")
			if !strings.HasPrefix(lines[0], "error: ") || !strings.Contains(lines[0], tt.match) {
				t.Fatalf("error line %q, want it to contain %q", lines[0], tt.match)
			}
			if len(lines) > 2 || r.stdout != "" {
				t.Fatalf("noise:\nstdout %q\nstderr %q", r.stdout, r.stderr)
			}
		})
	}
}
