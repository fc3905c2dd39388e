// Package terraform_test runs real Terraform with the Sirocco provider
// against a real siroccod with real VMs, on the example a partner's users
// start from (examples/terraform/main.tf).
package terraform_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
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
	"github.com/sirocco-cloud/sirocco/internal/compute/testguest"
)

// TestTerraformAcceptance walks the provider's acceptance: terraform apply of
// the example makes a VDC, a network, a running VM on it, a public IP
// attached to the VM, a firewall rule for port 8080, a registered SSH key
// the VM names and a token; a second
// plan shows no change; changing power state, size and a label and
// detaching the public IP apply in place (the VM keeps its ID, the address
// stays allocated); everything but the token, imported, plans no
// replacement; terraform destroy leaves nothing, as the SDK sees it.
//
// The local host has no tenant networking (no --underlay): the VM's NIC is a
// control-plane object the agent leaves out, which is all Terraform sees.
func TestTerraformAcceptance(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()
	root := repoRoot(t)
	tf := terraformBinary(t, root)
	bin := buildBinaries(t)
	kernel, _ := testguest.Path(t)

	dataDir, vms := t.TempDir(), vmDir(t)
	d := launch(t, filepath.Join(bin, "siroccod"), dataDir,
		"--seed-demo", "--local-host", "--vm-dir", vms, "--accel", "tcg", "--demo-image", filepath.Dir(kernel))
	fp := regexp.MustCompile(`sha256:[0-9a-f]{64}`).FindString(d.log.String())
	if fp == "" {
		t.Fatalf("siroccod printed no certificate fingerprint:\n%s", d.log.String())
	}

	// The provider admin makes an organisation and an org-admin token acting
	// in it, as a tenant would hand Terraform.
	admin := adminClient(ctx, t, d.url, fp, dataDir)
	const org = "tf-acc"
	if _, err := admin.CreateOrg(ctx, api.OrganisationCreate{Name: org}); err != nil {
		t.Fatal(err)
	}
	tok, err := admin.CreateToken(ctx, api.TokenCreate{Name: "terraform", Org: org, Role: api.RoleOrgAdmin})
	if err != nil {
		t.Fatal(err)
	}
	tenant, err := client.New(d.url, client.WithToken(tok.Secret), client.WithFingerprint(fp))
	if err != nil {
		t.Fatal(err)
	}
	// The provider's public addresses in the example's region.
	if _, err := admin.CreatePublicIPPool(ctx, api.PublicIPPoolCreate{
		Name: "syd", Region: "au-syd", CIDR: "203.0.113.0/28", Gateway: "203.0.113.1", Uplink: "up0",
	}); err != nil {
		t.Fatal(err)
	}
	// A test failing half-way must not leave its guest running on the machine.
	t.Cleanup(func() {
		if op, err := tenant.DeleteVM(context.Background(), org, "web1"); err == nil {
			tenant.WaitOperation(context.Background(), op.ID, nil)
		}
	})

	// The example runs unmodified, from a copy so its state stays out of the tree.
	work := t.TempDir()
	example, err := os.ReadFile(filepath.Join(root, "examples", "terraform", "main.tf"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(work, "main.tf"), example, 0o644); err != nil {
		t.Fatal(err)
	}
	cliConfig := filepath.Join(t.TempDir(), "terraformrc")
	rc := fmt.Sprintf("provider_installation {\n  dev_overrides {\n    %q = %q\n  }\n  direct {}\n}\n", "sirocco-cloud/sirocco", bin)
	if err := os.WriteFile(cliConfig, []byte(rc), 0o644); err != nil {
		t.Fatal(err)
	}
	run := &terraform{t: t, ctx: ctx, bin: tf, dir: work, env: append(os.Environ(),
		"TF_CLI_CONFIG_FILE="+cliConfig, "CHECKPOINT_DISABLE=1", "TF_IN_AUTOMATION=1",
		"TF_DATA_DIR="+filepath.Join(work, ".terraform"),
		"SIROCCO_URL="+d.url, "SIROCCO_TOKEN="+tok.Secret, "SIROCCO_FINGERPRINT="+fp, "SIROCCO_ORG="+org,
	)}

	// Mistakes are caught at plan time, in words a user can act on.
	noURL := &terraform{t: t, ctx: ctx, bin: tf, dir: work}
	for _, e := range run.env {
		if !strings.HasPrefix(e, "SIROCCO_URL=") {
			noURL.env = append(noURL.env, e)
		}
	}
	if code, out := noURL.run("plan"); code != 1 || !strings.Contains(out, "No Sirocco server URL") {
		t.Fatalf("plan without a server URL: exit %d\n%s", code, out)
	}
	if code, out := run.run("plan", "-var", "power_state=paused"); code != 1 || !strings.Contains(out, "want one of: running stopped") {
		t.Fatalf("plan with power_state paused: exit %d\n%s", code, out)
	}

	// apply makes everything; the VM runs.
	run.ok("apply", "-auto-approve")
	vm, err := tenant.GetVM(ctx, org, "web1")
	if err != nil {
		t.Fatal(err)
	}
	if vm.State != api.VMRunning || vm.Size != "s1.small" || vm.Labels["env"] != "demo" || len(vm.SSHKeys) != 1 {
		t.Fatalf("VM after apply: %+v", vm)
	}
	vdc, err := tenant.GetVDC(ctx, org, "tf-example")
	if err != nil {
		t.Fatal(err)
	}
	if vdc.Zone != "au-syd-1a" || vdc.Quotas.VCPU != 8 || vdc.Labels["env"] != "demo" || vdc.Name != vm.VDC {
		t.Fatalf("VDC after apply: %+v\nVM: %+v", vdc, vm)
	}
	out := run.outputs()
	if out["vm_id"] != vm.ID || out["vm_state"] != api.VMRunning || out["vdc_jurisdiction"] != "AU" || out["ci_token_prefix"] == "" {
		t.Fatalf("outputs: %v", out)
	}
	if !hasToken(ctx, t, tenant, org, "tf-example-ci") {
		t.Fatal("token tf-example-ci not made")
	}
	// The VM named the registered key; it holds the key's text.
	key, err := tenant.GetSSHKey(ctx, org, "tf-example-key")
	if err != nil {
		t.Fatal(err)
	}
	if key.Fingerprint != out["ssh_key_fingerprint"] || !strings.HasPrefix(key.Fingerprint, "SHA256:") || vm.SSHKeys[0] != key.PublicKey {
		t.Fatalf("SSH key after apply: %+v\nVM's keys: %q\noutputs: %v", key, vm.SSHKeys, out)
	}
	network, err := tenant.GetNetwork(ctx, org, "tf-net")
	if err != nil {
		t.Fatal(err)
	}
	if network.CIDR != "10.10.0.0/24" || network.Gateway != "10.10.0.1" || len(network.DNS) != 1 || network.VDC != vdc.Name {
		t.Fatalf("network after apply: %+v", network)
	}
	if len(vm.NICs) != 1 || vm.NICs[0].Network != "tf-net" || vm.NICs[0].PublicIP != out["public_ip"] {
		t.Fatalf("VM's NICs after apply (public IP %q): %+v", out["public_ip"], vm.NICs)
	}
	pip, err := tenant.GetPublicIP(ctx, org, out["public_ip"])
	if err != nil {
		t.Fatal(err)
	}
	if pip.VM != vm.ID || pip.PrivateIP != vm.NICs[0].IP || out["private_ip"] != vm.NICs[0].IP || pip.Region != "au-syd" {
		t.Fatalf("public IP after apply: %+v\nVM NICs: %+v\noutputs: %v", pip, vm.NICs, out)
	}
	rules, err := tenant.ListFirewallRules(ctx, org, vm.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(rules.Items) != 1 || rules.Items[0].Protocol != "tcp" || rules.Items[0].PortFrom != 8080 ||
		rules.Items[0].PortTo != 8080 || rules.Items[0].Direction != api.DirectionIngress || rules.Items[0].CIDR != "0.0.0.0/0" {
		t.Fatalf("firewall rules after apply: %+v", rules.Items)
	}

	disk, err := tenant.GetDisk(ctx, org, "web1-data")
	if err != nil {
		t.Fatal(err)
	}
	if disk.SizeGiB != 2 || disk.VM != "" || disk.VDC != vdc.Name {
		t.Fatalf("data disk after apply: %+v", disk)
	}

	// A second plan shows nothing to do.
	run.noChanges()

	// Stopping, resizing, relabelling and detaching the public IP apply in place.
	// The data disk grows and attaches to the stopped VM.
	vars := []string{"-var", "power_state=stopped", "-var", "size=s1.medium", "-var", "environment=staging",
		"-var", "attach_public_ip=false", "-var", "data_disk_gib=3"}
	if plan := run.ok(append([]string{"plan"}, vars...)...); !strings.Contains(plan, "0 to add, 4 to change, 0 to destroy") {
		t.Fatalf("plan of the in-place change:\n%s", plan)
	}
	run.ok(append([]string{"apply", "-auto-approve"}, vars...)...)
	after, err := tenant.GetVM(ctx, org, "web1")
	if err != nil {
		t.Fatal(err)
	}
	if after.ID != vm.ID || after.State != api.VMStopped || after.PowerState != api.PowerStopped ||
		after.Size != "s1.medium" || after.VCPU != 2 || after.Labels["env"] != "staging" {
		t.Fatalf("VM after the in-place change (was %s): %+v", vm.ID, after)
	}
	if vdc, err := tenant.GetVDC(ctx, org, "tf-example"); err != nil || vdc.Labels["env"] != "staging" {
		t.Fatalf("VDC after the label change: %v %+v", err, vdc)
	}
	if d, err := tenant.GetDisk(ctx, org, disk.ID); err != nil || d.SizeGiB != 3 || d.VM != vm.ID {
		t.Fatalf("data disk after the in-place change: %v %+v", err, d)
	}
	detached, err := tenant.GetPublicIP(ctx, org, pip.ID)
	if err != nil {
		t.Fatal(err)
	}
	if detached.Address != pip.Address || detached.VM != "" || detached.PrivateIP != "" {
		t.Fatalf("public IP after detaching (was %+v): %+v", pip, detached)
	}
	if out := run.outputs(); out["public_ip"] != pip.Address || out["private_ip"] != "" {
		t.Fatalf("outputs after detaching: %v", out)
	}
	run.noChanges(vars...)

	// Import by org/name (org/address for the public IP): everything comes
	// back with nothing to replace. The VM's user-data cannot be read back,
	// so the next apply records it.
	run.ok("state", "rm", "sirocco_vm.web", "sirocco_vdc.main", "sirocco_network.main", "sirocco_public_ip.web",
		"sirocco_firewall_rule.http", "sirocco_ssh_key.deploy", "sirocco_disk.data")
	run.ok(append([]string{"import"}, append(vars, "sirocco_ssh_key.deploy", key.ID)...)...)
	run.ok(append([]string{"import"}, append(vars, "sirocco_vdc.main", org+"/tf-example")...)...)
	run.ok(append([]string{"import"}, append(vars, "sirocco_network.main", org+"/tf-net")...)...)
	run.ok(append([]string{"import"}, append(vars, "sirocco_vm.web", org+"/web1")...)...)
	run.ok(append([]string{"import"}, append(vars, "sirocco_public_ip.web", org+"/"+pip.Address)...)...)
	run.ok(append([]string{"import"}, append(vars, "sirocco_firewall_rule.http", org+"/web1/"+rules.Items[0].ID)...)...)
	run.ok(append([]string{"import"}, append(vars, "sirocco_disk.data", org+"/web1-data")...)...)
	if plan := run.ok(append([]string{"plan"}, vars...)...); !strings.Contains(plan, "0 to add, 1 to change, 0 to destroy") ||
		!strings.Contains(plan, "user_data") {
		t.Fatalf("plan after import:\n%s", plan)
	}
	run.ok(append([]string{"apply", "-auto-approve"}, vars...)...)
	run.noChanges(vars...)

	// destroy leaves nothing.
	run.ok(append([]string{"destroy", "-auto-approve"}, vars...)...)
	if _, err := tenant.GetVM(ctx, org, "web1"); !isNotFound(err) {
		t.Fatalf("VM after destroy: %v", err)
	}
	if _, err := tenant.GetVDC(ctx, org, "tf-example"); !isNotFound(err) {
		t.Fatalf("VDC after destroy: %v", err)
	}
	if hasToken(ctx, t, tenant, org, "tf-example-ci") {
		t.Fatal("token tf-example-ci left after destroy")
	}
	if _, err := tenant.GetNetwork(ctx, org, "tf-net"); !isNotFound(err) {
		t.Fatalf("network after destroy: %v", err)
	}
	if _, err := tenant.GetSSHKey(ctx, org, "tf-example-key"); !isNotFound(err) {
		t.Fatalf("SSH key after destroy: %v", err)
	}
	// The host removes the disk's file, then the disk is gone.
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(200 * time.Millisecond) {
		d, err := tenant.GetDisk(ctx, org, disk.ID)
		if isNotFound(err) {
			break
		}
		if err != nil || d.State != api.DiskDeleting || time.Now().After(deadline) {
			t.Fatalf("data disk after destroy: %v %+v", err, d)
		}
	}
	if ips, err := tenant.ListPublicIPs(ctx, org, client.PublicIPListOptions{}); err != nil || len(ips.Items) != 0 {
		t.Fatalf("public IPs after destroy: %v %+v", err, ips)
	}
	if left, _ := os.ReadDir(filepath.Join(vms, "machines")); len(left) != 0 {
		t.Fatalf("%d VM directories left on the host after destroy", len(left))
	}
}

// terraform runs the Terraform CLI in one working directory.
type terraform struct {
	t   *testing.T
	ctx context.Context
	bin string
	dir string
	env []string
}

// run runs terraform and returns its exit code and combined output.
func (tf *terraform) run(args ...string) (int, string) {
	tf.t.Helper()
	argv := args
	switch args[0] {
	case "plan", "apply", "destroy", "import":
		argv = append([]string{args[0], "-no-color", "-input=false"}, args[1:]...)
	}
	cmd := exec.CommandContext(tf.ctx, tf.bin, argv...)
	cmd.Dir, cmd.Env = tf.dir, tf.env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ee, ok := errors.AsType[*exec.ExitError](err); ok {
		return ee.ExitCode(), out.String()
	}
	if err != nil {
		tf.t.Fatalf("terraform %s: %v\n%s", strings.Join(args, " "), err, out.String())
	}
	return 0, out.String()
}

// ok runs terraform and fails the test unless it succeeds.
func (tf *terraform) ok(args ...string) string {
	tf.t.Helper()
	code, out := tf.run(args...)
	if code != 0 {
		tf.t.Fatalf("terraform %s: exit %d\n%s", strings.Join(args, " "), code, out)
	}
	return out
}

// noChanges fails the test unless a plan finds nothing to do (exit 0 with
// -detailed-exitcode; 2 means changes).
func (tf *terraform) noChanges(vars ...string) {
	tf.t.Helper()
	if code, out := tf.run(append([]string{"plan", "-detailed-exitcode"}, vars...)...); code != 0 {
		tf.t.Fatalf("plan: exit %d, want 0 (no changes)\n%s", code, out)
	}
}

// outputs returns the configuration's non-sensitive outputs as strings.
func (tf *terraform) outputs() map[string]string {
	tf.t.Helper()
	var raw map[string]struct {
		Sensitive bool
		Value     any
	}
	if err := json.Unmarshal([]byte(tf.ok("output", "-json")), &raw); err != nil {
		tf.t.Fatal(err)
	}
	out := map[string]string{}
	for k, v := range raw {
		if !v.Sensitive {
			out[k] = fmt.Sprint(v.Value)
		}
	}
	return out
}

func repoRoot(t *testing.T) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Dir(wd) // this package is <root>/terraform
}

// terraformBinary builds or finds Terraform through scripts/terraform.sh. A
// Terraform that cannot be built fails the test: skipping would let the
// provider go untested in CI without anyone noticing.
func terraformBinary(t *testing.T, root string) string {
	t.Helper()
	cmd := exec.Command("bash", filepath.Join(root, "scripts", "terraform.sh"))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("scripts/terraform.sh: %v\n%s", err, stderr.String())
	}
	return strings.TrimSpace(string(out))
}

// buildBinaries builds siroccod and the provider into a directory, which is
// also the one dev_overrides points Terraform at.
func buildBinaries(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	build := exec.Command("go", "build", "-o", dir,
		"github.com/sirocco-cloud/sirocco/cmd/siroccod", "github.com/sirocco-cloud/sirocco/cmd/terraform-provider-sirocco")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return dir
}

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

// daemon is one running siroccod.
type daemon struct {
	url string
	log *syncBuffer
}

// launch runs siroccod serve over HTTPS (self-signed) on a free loopback
// port and waits until it is ready; the test's end kills it.
func launch(t *testing.T, siroccod, dataDir string, extra ...string) *daemon {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	args := append([]string{"serve", "--data-dir", dataDir, "--listen", fmt.Sprintf("127.0.0.1:%d", port),
		"--rate-limit", "100000", "--rate-burst", "100000", "--log-level", "warn"}, extra...)
	cmd := exec.Command(siroccod, args...)
	log := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	})
	d := &daemon{url: fmt.Sprintf("https://127.0.0.1:%d", port), log: log}
	// Only "are you up?" goes unverified; everything else pins the certificate.
	probe := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if res, err := probe.Get(d.url + "/readyz"); err == nil {
			res.Body.Close()
			// Ready, and done starting (the banner comes after the local host joined).
			if res.StatusCode == http.StatusOK && strings.Contains(log.String(), "Sirocco is running.") {
				return d
			}
		}
		select {
		case <-exited:
			t.Fatalf("siroccod exited before it was ready:\n%s", log.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("siroccod not ready after 30s:\n%s", log.String())
		}
	}
}

// adminClient logs in as the bootstrap provider admin and returns a client
// with a provider-admin token.
func adminClient(ctx context.Context, t *testing.T, url, fp, dataDir string) *client.Client {
	t.Helper()
	pw, err := os.ReadFile(filepath.Join(dataDir, "initial-admin-password"))
	if err != nil {
		t.Fatalf("initial admin password: %v", err)
	}
	anon, err := client.New(url, client.WithFingerprint(fp))
	if err != nil {
		t.Fatal(err)
	}
	session, _, err := anon.Login(ctx, "admin@sirocco.local", strings.TrimSpace(string(pw)))
	if err != nil {
		t.Fatal(err)
	}
	sc, err := anon.With(client.WithSession(session))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := sc.CreateToken(ctx, api.TokenCreate{Name: "acceptance", Role: api.RoleProviderAdmin})
	if err != nil {
		t.Fatal(err)
	}
	c, err := anon.With(client.WithToken(tok.Secret))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// hasToken reports whether a live token of that name acts in org.
func hasToken(ctx context.Context, t *testing.T, c *client.Client, org, name string) bool {
	t.Helper()
	for tok, err := range c.AllOrgTokens(ctx, org, client.ListOptions{}) {
		if err != nil {
			t.Fatal(err)
		}
		if tok.Name == name {
			return true
		}
	}
	return false
}

func isNotFound(err error) bool {
	e, ok := errors.AsType[*api.Error](err)
	return ok && e.Code == api.CodeNotFound
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
