package e2e

import (
	"encoding/json"

	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/sirocco-cloud/sirocco/api"
)

// cli runs the sirocco binary with its own configuration directory.
type cli struct {
	t      *testing.T
	config string
}

type result struct {
	code           int
	stdout, stderr string
}

func (c *cli) run(stdin string, args ...string) result {
	c.t.Helper()
	cmd := exec.Command(sirocco, args...)
	cmd.Env = append(os.Environ(), "XDG_CONFIG_HOME="+c.config, "HOME="+c.config)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		c.t.Fatalf("run sirocco %v: %v", args, err)
	}
	return result{code, out.String(), errb.String()}
}

// ok runs a command that must succeed.
func (c *cli) ok(stdin string, args ...string) string {
	c.t.Helper()
	r := c.run(stdin, args...)
	if r.code != 0 {
		c.t.Fatalf("sirocco %s: exit %d\n%s%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

var mailToken = regexp.MustCompile(`mt_[A-Za-z0-9_-]{20,}`)

// lastMailToken is the token of the newest mail siroccod wrote to its log
// (no SMTP server is configured, as with make run).
func lastMailToken(t *testing.T, d *daemon) string {
	t.Helper()
	all := mailToken.FindAllString(d.log.String(), -1)
	if len(all) == 0 {
		t.Fatalf("no mail token in the log:\n%s", d.log.String())
	}
	return all[len(all)-1]
}

// TestAcceptance walks the foundation issue's acceptance as a new user
// would, with the real binaries: siroccod with a self-signed certificate,
// the CLI pinning it; the admin adds a region and zone; a tenant signs up,
// verifies, creates a VDC and a token and cannot see another tenant; a tenant
// whose policy allows only NZ cannot create a VDC in an AU zone.
func TestAcceptance(t *testing.T) {
	dataDir := t.TempDir()
	d := launch(t, dataDir, "https", "--seed-demo", "--local-host")
	fp := regexp.MustCompile(`sha256:[0-9a-f]{64}`).FindString(d.log.String())
	if fp == "" {
		t.Fatalf("siroccod printed no certificate fingerprint:\n%s", d.log.String())
	}
	pw, err := os.ReadFile(dataDir + "/initial-admin-password")
	if err != nil {
		t.Fatal(err)
	}
	c := &cli{t: t, config: t.TempDir()}

	// The provider admin logs in, pinning the self-signed certificate.
	if r := c.run(string(pw), "login", d.url, "--email", "admin@sirocco.local", "--password-stdin", "--name", "admin"); r.code == 0 {
		t.Fatal("login without the fingerprint trusted a self-signed certificate")
	}
	c.ok(string(pw), "login", d.url, "--email", "admin@sirocco.local", "--password-stdin", "--fingerprint", fp, "--name", "admin")
	c.ok("", "region", "create", "nz-akl", "--jurisdiction", "NZ", "--display-name", "Auckland")
	c.ok("", "zone", "create", "nz-akl-1a", "--region", "nz-akl")
	if zones := c.ok("", "zone", "list"); !strings.Contains(zones, "au-syd-1a") || !strings.Contains(zones, "nz-akl-1a") {
		t.Fatalf("zones:\n%s", zones)
	}
	// --local-host made this machine a host of au-syd-1a through its agent.
	var hosts struct{ Items []api.Host }
	if err := json.Unmarshal([]byte(c.ok("", "host", "list", "-o", "json")), &hosts); err != nil || len(hosts.Items) != 1 ||
		hosts.Items[0].Zone != "au-syd-1a" || hosts.Items[0].State != api.HostReady || hosts.Items[0].Capacity.VCPU < 1 {
		t.Fatalf("local host: %v %+v", err, hosts.Items)
	}

	// A tenant signs up, verifies its address and logs in.
	signup := func(email, org string, extra ...string) {
		args := append([]string{"signup", "--server", d.url, "--fingerprint", fp, "--email", email, "--org-name", org, "--password-stdin"}, extra...)
		c.ok("tenant-password-1\n", args...)
		c.ok("", "verify-email", lastMailToken(t, d), "--server", d.url, "--fingerprint", fp)
		c.ok("tenant-password-1\n", "login", d.url, "--email", email, "--password-stdin", "--fingerprint", fp, "--name", org)
		// Sign-up made a default VDC in the first allowed zone; this
		// story makes its own.
		var vdcs struct{ Items []api.VDC }
		if err := json.Unmarshal([]byte(c.ok("", "vdc", "list", "-o", "json")), &vdcs); err != nil || len(vdcs.Items) != 1 || vdcs.Items[0].Name != "default" {
			t.Fatalf("VDCs after sign-up: %v %+v", err, vdcs.Items)
		}
		c.ok("", "vdc", "delete", "default", "--wait")
	}
	signup("dev@acme.test", "acme")
	c.ok("", "vdc", "create", "prod", "--zone", "au-syd-1a")
	var tok struct{ Secret string }
	if err := json.Unmarshal([]byte(c.ok("", "token", "create", "ci", "--role", "org-member", "-o", "json")), &tok); err != nil || !strings.HasPrefix(tok.Secret, "sirocco_") {
		t.Fatalf("token create: %v %+v", err, tok)
	}
	if vdcs := c.ok("", "vdc", "list", "-o", "json"); !strings.Contains(vdcs, `"prod"`) {
		t.Fatalf("vdc list:\n%s", vdcs)
	}

	// A second tenant, allowed only NZ, cannot use the AU zone, can use NZ,
	// and cannot see or touch the first tenant.
	signup("dev@kiwi.test", "kiwi", "--jurisdiction", "NZ")
	r := c.run("", "vdc", "create", "prod", "--zone", "au-syd-1a")
	if r.code == 0 || !strings.Contains(r.stderr, "residency_violation") || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
		t.Fatalf("AU VDC for an NZ-only tenant: exit %d, stderr %q", r.code, r.stderr)
	}
	c.ok("", "vdc", "create", "prod", "--zone", "nz-akl-1a")
	for _, args := range [][]string{
		{"vdc", "get", "prod", "--org", "acme"},
		{"org", "get", "acme"},
		{"vdc", "delete", "prod", "--org", "acme"},
	} {
		if r := c.run("", args...); r.code != 4 || !strings.Contains(r.stderr, "not_found") {
			t.Errorf("kiwi: sirocco %s: exit %d, stderr %q; want 4 and not_found", strings.Join(args, " "), r.code, r.stderr)
		}
	}
	if orgs := c.ok("", "org", "list", "-o", "json"); strings.Contains(orgs, "acme") {
		t.Errorf("kiwi sees acme in its organisation list:\n%s", orgs)
	}
	// The first tenant's VDC is untouched, and its token works for it only.
	if vdcs := c.ok("", "--context", "acme", "vdc", "list", "-o", "json"); !strings.Contains(vdcs, `"prod"`) || !strings.Contains(vdcs, "au-syd-1a") {
		t.Fatalf("acme's VDC after kiwi's attempts:\n%s", vdcs)
	}
	if r := c.run("", "--context", "acme", "--token", tok.Secret, "vdc", "list", "--org", "kiwi"); r.code != 4 {
		t.Errorf("acme's token listing kiwi's VDCs: exit %d %s", r.code, r.stderr)
	}
}
