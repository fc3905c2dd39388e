package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/internal/cli"
	"github.com/sirocco-cloud/sirocco/internal/stack"
)

const shopStack = `name: shop
vdc: main
networks:
  - name: lan
    cidr: 10.20.0.0/24
vms:
  - name: db
    image: tiny
    size: s1.small
    networks: [lan]
    boot_order: 1
  - name: web
    image: tiny
    size: s1.small
    networks: [lan]
    public_ip: true
    firewall:
      - {protocol: tcp, port: 443}
    boot_order: 2
`

// TestStackLifecycle applies a two-VM stack with a network and a public IP
// to real guests, applies it again (nothing to do), resizes one VM through
// the file and destroys it all.
func TestStackLifecycle(t *testing.T) {
	c := newCloud(t)
	c.provider(t, "public-ip-pool", "create", "syd-public", "--region", "au-syd", "--cidr", "203.0.113.0/29",
		"--gateway", "203.0.113.1", "--uplink", "eth1")
	c.provider(t, "price-plan", "create", "--region", "au-syd", "--vcpu-hour", "0.02", "--memory-gib-hour", "0.005",
		"--public-ip-hour", "0.005")
	file := filepath.Join(t.TempDir(), "shop.yaml")
	write := func(s string) {
		if err := os.WriteFile(file, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(shopStack)

	// Plan: everything to create, and the price: two s1.small at 0.025/h
	// and an address at 0.005/h, for 730 hours.
	r := ok(t, "stack", "plan", file)
	wantIn(t, r.stdout, "+ network lan: 10.20.0.0/24", "+ vm db:", "+ vm web:", "public IP", "firewall +tcp/443 from 0.0.0.0/0",
		"Plan: 3 to create, 0 to update, 0 to replace, 0 to delete.", "Monthly cost after apply: ", "40.15", "now ", "0.00")
	if strings.Index(r.stdout, "vm db") > strings.Index(r.stdout, "vm web") {
		t.Fatalf("db (boot order 1) should come before web:\n%s", r.stdout)
	}
	if ls := decode[api.List[api.VM]](t, ok(t, "vm", "list", "-o", "json")); len(ls.Items) != 0 {
		t.Fatalf("plan created VMs: %+v", ls.Items)
	}

	r = ok(t, "stack", "apply", file)
	wantIn(t, r.stdout, "Applied stack shop: 3 to create")
	wantIn(t, r.stderr, "network lan: created", "vm db: created", "vm web: created")
	if strings.Index(r.stderr, "vm db: created") > strings.Index(r.stderr, "vm web: created") {
		t.Fatalf("web was up before db:\n%s", r.stderr)
	}
	vms := decode[api.List[api.VM]](t, ok(t, "vm", "list", "-l", "stack=shop", "-o", "json"))
	if len(vms.Items) != 2 {
		t.Fatalf("stack VMs %+v", vms.Items)
	}
	for _, v := range vms.Items {
		if v.State != api.VMRunning || v.Size != "s1.small" {
			t.Fatalf("VM %+v", v)
		}
	}
	web := decode[api.VM](t, ok(t, "vm", "get", "web", "-o", "json"))
	if len(web.NICs) != 1 || web.NICs[0].Network != "lan" || web.NICs[0].PublicIP == "" {
		t.Fatalf("web NICs %+v", web.NICs)
	}
	if db := decode[api.VM](t, ok(t, "vm", "get", "db", "-o", "json")); len(db.NICs) != 1 || db.NICs[0].PublicIP != "" {
		t.Fatalf("db NICs %+v", db.NICs)
	}
	rules := decode[api.List[api.FirewallRule]](t, ok(t, "firewall", "list", "web", "-o", "json"))
	if len(rules.Items) != 1 || rules.Items[0].PortFrom != 443 || rules.Items[0].Protocol != "tcp" {
		t.Fatalf("web rules %+v", rules.Items)
	}
	if n := decode[api.Network](t, ok(t, "network", "get", "lan", "-o", "json")); n.Labels[stack.LabelStack] != "shop" {
		t.Fatalf("network %+v", n)
	}

	// Idempotent: the second apply has nothing to do.
	r = ok(t, "stack", "apply", file)
	wantIn(t, r.stdout, "No changes: stack shop matches its file.", "40.15")
	if strings.Contains(r.stdout, "Applied") || r.stderr != "" {
		t.Fatalf("second apply did something:\nstdout %s\nstderr %s", r.stdout, r.stderr)
	}

	// A bigger web: one in-place update, priced.
	write(strings.Replace(shopStack, "size: s1.small\n    networks: [lan]\n    public_ip", "size: s1.large\n    networks: [lan]\n    public_ip", 1))
	plan := decode[stack.Plan](t, ok(t, "stack", "plan", file, "-o", "json"))
	if len(plan.Changes) != 1 || plan.Changes[0].Action != stack.Update || plan.Changes[0].Name != "web" ||
		plan.Cost == nil || plan.CostNow == nil || plan.CostNow.PerMonth != "40.15" || plan.Cost.PerMonth != "58.4" {
		t.Fatalf("plan %+v", plan)
	}
	r = ok(t, "stack", "plan", file)
	wantIn(t, r.stdout, "~ vm web: size s1.small -> s1.large (stop, resize, start)", "Plan: 0 to create, 1 to update, 0 to replace, 0 to delete.", "58.40")
	ok(t, "stack", "apply", file)
	if v := decode[api.VM](t, ok(t, "vm", "get", "web", "-o", "json")); v.Size != "s1.large" || v.VCPU != 2 || v.State != api.VMRunning {
		t.Fatalf("after resize: %+v", v)
	}
	wantIn(t, ok(t, "stack", "plan", file).stdout, "No changes")

	// Destroy leaves no VM, no network and no address.
	r = ok(t, "stack", "destroy", file)
	wantIn(t, r.stdout, "- vm db", "- vm web", "- network lan", "Destroyed stack shop: 0 to create, 0 to update, 0 to replace, 3 to delete.")
	if ls := decode[api.List[api.VM]](t, ok(t, "vm", "list", "-o", "json")); len(ls.Items) != 0 {
		t.Fatalf("VMs left: %+v", ls.Items)
	}
	if ls := decode[api.List[api.Network]](t, ok(t, "network", "list", "-o", "json")); len(ls.Items) != 0 {
		t.Fatalf("networks left: %+v", ls.Items)
	}
	if ls := decode[api.List[api.PublicIP]](t, ok(t, "public-ip", "list", "-o", "json")); len(ls.Items) != 0 {
		t.Fatalf("public IPs left: %+v", ls.Items)
	}
	wantIn(t, ok(t, "stack", "destroy", "shop").stdout, "No changes: nothing is labelled stack=shop.")
}

// TestStackUsageErrors checks mistakes caught before anything is sent: one
// line, exit 2, nothing on stdout.
func TestStackUsageErrors(t *testing.T) {
	isolate(t)
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("name: shop\nvms:\n  - {name: web, image: tiny}\n  - {name: web, image: tiny, size: s, publicip: true}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	invalid := filepath.Join(dir, "invalid.yaml")
	if err := os.WriteFile(invalid, []byte("name: shop\nvms:\n  - {name: web, image: tiny}\n  - {name: web, image: tiny, size: s}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	org := []string{"--server", "https://cloud.invalid", "--token", "sk_x", "--org", "acme"}
	tests := []struct {
		name  string
		args  []string
		match string
	}{
		{"plan without file", []string{"stack", "plan"}, "missing FILE"},
		{"apply two files", []string{"stack", "apply", "a.yaml", "b.yaml"}, `unexpected argument "b.yaml"`},
		{"missing file", []string{"stack", "apply", filepath.Join(dir, "nope.yaml")}, "nope.yaml: no such file"},
		{"unknown field", []string{"stack", "plan", bad}, `unknown field "publicip"`},
		{"invalid stack", []string{"stack", "plan", invalid}, "vm web: image and size are required; vm web: named twice"},
		{"destroy a missing file", []string{"stack", "destroy", "./gone.yaml"}, "gone.yaml: no such file"},
		{"unknown subcommand", []string{"stack", "show"}, `unknown command "show"`},
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
