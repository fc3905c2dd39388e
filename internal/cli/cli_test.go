package cli_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/internal/cli"
	"github.com/sirocco-cloud/sirocco/internal/store"
)

// result is what one run of the command line left behind.
type result struct {
	stdout, stderr string
	code           int
}

// isolate points the CLI at an empty configuration directory and clears the
// environment variables that would override it; it returns the config file.
func isolate(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", dir)
	for _, v := range []string{cli.EnvToken, cli.EnvServer, cli.EnvOrg, cli.EnvContext} {
		t.Setenv(v, "")
	}
	return filepath.Join(dir, "sirocco", "config.yaml")
}

// sirocco runs the command line with args and stdin.
func sirocco(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	code := cli.Main(t.Context(), args, strings.NewReader(stdin), &out, &errb)
	return result{out.String(), errb.String(), code}
}

// ok runs the command line and fails the test unless it exits 0.
func ok(t *testing.T, args ...string) result {
	t.Helper()
	r := sirocco(t, "", args...)
	if r.code != 0 {
		t.Fatalf("sirocco %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r
}

// login logs the seeded user email in through the CLI.
func login(t *testing.T, server, email string, extra ...string) result {
	t.Helper()
	args := append([]string{"login", server, "--email", email, "--password-stdin"}, extra...)
	r := sirocco(t, password+"\n", args...)
	if r.code != 0 {
		t.Fatalf("login: exit %d: %s", r.code, r.stderr)
	}
	return r
}

// decode parses JSON output.
func decode[T any](t *testing.T, r result) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil {
		t.Fatalf("parse JSON output: %v\n%s", err, r.stdout)
	}
	return v
}

func TestProviderWorkflow(t *testing.T) {
	e := newEnv(t, false)
	cfgPath := isolate(t)
	e.ProviderAdmin()

	r := login(t, e.URL, "admin@provider.test")
	if !strings.Contains(r.stderr, "Logged in") || r.stdout != "" {
		t.Fatalf("login said %q / %q", r.stdout, r.stderr)
	}
	fi, err := os.Stat(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("config mode %v, want 0600", fi.Mode().Perm())
	}
	cfg, err := cli.LoadConfig(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	cur := cfg.Find(cfg.CurrentContext)
	if cur == nil || cur.Name != "127.0.0.1" || cur.Server != e.URL || cur.Token == "" {
		t.Fatalf("saved config %+v", cfg)
	}

	// The minted token is a provider token named after this machine.
	me := decode[api.Me](t, ok(t, "me", "-o", "json"))
	host, _ := os.Hostname()
	if me.Token == nil || me.Token.Name != "cli@"+host || me.Token.Role != api.RoleProviderAdmin || me.Token.Org != "" {
		t.Fatalf("me %+v", me)
	}

	ok(t, "region", "create", "au-syd", "--jurisdiction", "AU", "--display-name", "Sydney", "--label", "tier=gold")
	regions := decode[api.List[api.Region]](t, ok(t, "region", "list", "-o", "json"))
	if len(regions.Items) != 1 || regions.Items[0].Name != "au-syd" || regions.Items[0].Labels["tier"] != "gold" {
		t.Fatalf("regions %+v", regions)
	}
	table := ok(t, "region", "list").stdout
	if !strings.Contains(table, "NAME") || !strings.Contains(table, "au-syd") || !strings.Contains(table, "Sydney") {
		t.Fatalf("table:\n%s", table)
	}

	ok(t, "zone", "create", "au-syd-1a", "--region", "au-syd")
	ok(t, "org", "create", "acme", "--jurisdiction", "AU")
	v := decode[api.VDC](t, ok(t, "vdc", "create", "prod", "--org", "acme", "--zone", "au-syd-1a", "--vcpu", "8", "--label", "env=prod", "-o", "json"))
	want := api.DefaultQuotas
	want.VCPU = 8
	if v.Quotas != want || v.Labels["env"] != "prod" || v.Zone != "au-syd-1a" {
		t.Fatalf("vdc %+v", v)
	}

	// YAML output parses back into the wire type.
	var got api.VDC
	if err := yaml.Unmarshal([]byte(ok(t, "vdc", "get", "prod", "--org", "acme", "-o", "yaml").stdout), &got); err != nil {
		t.Fatal(err)
	}
	if got.ID != v.ID || got.Quotas != want || got.AllocationModel != api.AllocationPAYG {
		t.Fatalf("yaml vdc %+v", got)
	}

	r = ok(t, "vdc", "update", "prod", "--org", "acme", "--vms", "20", "-o", "json")
	if up := decode[api.VDC](t, r); up.Quotas.VMs != 20 || up.Quotas.VCPU != 8 {
		t.Fatalf("updated quotas %+v", up.Quotas)
	}

	r = ok(t, "vdc", "delete", "prod", "--org", "acme", "--wait")
	if !strings.Contains(r.stdout, "succeeded") || !strings.Contains(r.stderr, "vdc.delete") {
		t.Fatalf("delete --wait: stdout %q stderr %q", r.stdout, r.stderr)
	}
	ops := decode[api.List[api.Operation]](t, ok(t, "operation", "list", "--org", "acme", "--kind", "vdc.delete", "-o", "json"))
	if len(ops.Items) != 1 || ops.Items[0].State != api.OpSucceeded || ops.Items[0].Target.ID != v.ID {
		t.Fatalf("operations %+v", ops)
	}
	// Waiting on a finished operation returns at once, successfully.
	ok(t, "operation", "wait", ops.Items[0].ID)

	events := decode[api.List[api.AuditEvent]](t, ok(t, "audit", "list", "--org", "acme", "--action", "vdc.create", "--since", "1h", "-o", "json"))
	if len(events.Items) != 1 || events.Items[0].Resource.ID != v.ID {
		t.Fatalf("audit %+v", events)
	}

	// Without --wait, a long action prints the operation and how to follow it.
	ok(t, "vdc", "create", "tmp", "--org", "acme", "--zone", "au-syd-1a")
	r = ok(t, "vdc", "delete", "tmp", "--org", "acme", "-o", "json")
	op := decode[api.Operation](t, r)
	if op.Kind != "vdc.delete" {
		t.Fatalf("operation %+v", op)
	}
	ok(t, "operation", "wait", op.ID)

	// Logging out revokes the token and forgets it.
	ok(t, "logout")
	r = sirocco(t, "", "region", "list")
	if r.code != cli.ExitUnauthenticated {
		t.Fatalf("after logout: exit %d, %s", r.code, r.stderr)
	}
	r = sirocco(t, "", "--token", cur.Token, "--server", e.URL, "region", "list")
	if r.code != cli.ExitUnauthenticated || !strings.Contains(r.stderr, "sirocco login") {
		t.Fatalf("revoked token: exit %d, %s", r.code, r.stderr)
	}
}

func TestErrorsAndExitCodes(t *testing.T) {
	e := newEnv(t, false)
	isolate(t)
	e.ProviderAdmin()
	login(t, e.URL, "admin@provider.test")
	ok(t, "region", "create", "au-syd", "--jurisdiction", "AU")

	tests := []struct {
		name  string
		args  []string
		code  int
		match string // the error line must contain this
		usage bool   // a usage hint may follow
	}{
		{"not found", []string{"region", "get", "nowhere"}, cli.ExitNotFound, `region "nowhere" not found (not_found)`, false},
		{"conflict", []string{"region", "create", "au-syd", "--jurisdiction", "AU"}, cli.ExitConflict, "(already_exists)", false},
		{"validation", []string{"region", "create", "Bad", "--jurisdiction", "AU"}, cli.ExitError, "(validation_failed)", false},
		{"foreign org", []string{"vdc", "list", "--org", "nobody"}, cli.ExitNotFound, "(not_found)", false},
		{"bad token", []string{"--token", "sk_nope", "region", "list"}, cli.ExitUnauthenticated, "(unauthenticated)", false},
		{"bad flag", []string{"region", "list", "--colour"}, cli.ExitUsage, "unknown flag: --colour", true},
		{"missing arg", []string{"region", "get"}, cli.ExitUsage, "missing NAME", true},
		{"extra arg", []string{"me", "extra"}, cli.ExitUsage, `unexpected argument "extra"`, true},
		{"unknown command", []string{"regoin", "list"}, cli.ExitUsage, `unknown command "regoin"`, true},
		{"unknown subcommand", []string{"region", "frobnicate"}, cli.ExitUsage, `unknown command "frobnicate"`, true},
		{"missing flag", []string{"zone", "create", "z-1"}, cli.ExitUsage, "--region is required", true},
		{"bad output", []string{"region", "list", "-o", "xml"}, cli.ExitUsage, "unknown output format", true},
		{"no org", []string{"vdc", "list"}, cli.ExitUsage, "no organisation", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := sirocco(t, "", tt.args...)
			if r.code != tt.code {
				t.Fatalf("exit %d, want %d; stderr %q", r.code, tt.code, r.stderr)
			}
			lines := strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n")
			if !strings.HasPrefix(lines[0], "error: ") || !strings.Contains(lines[0], tt.match) {
				t.Fatalf("error line %q, want it to contain %q", lines[0], tt.match)
			}
			if !tt.usage && len(lines) != 1 {
				t.Fatalf("stderr has %d lines, want 1:\n%s", len(lines), r.stderr)
			}
			if strings.Contains(r.stderr, "Usage:") || strings.Contains(r.stderr, "goroutine") || r.stdout != "" {
				t.Fatalf("noise in output:\nstdout: %s\nstderr: %s", r.stdout, r.stderr)
			}
		})
	}

	t.Run("no credentials", func(t *testing.T) {
		isolate(t)
		r := sirocco(t, "", "region", "list")
		if r.code != cli.ExitUnauthenticated || r.stderr != "error: not logged in: run 'sirocco login SERVER' or set SIROCCO_TOKEN (unauthenticated)\n" {
			t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
		}
	})
}

func TestEnvironmentOverridesContext(t *testing.T) {
	e := newEnv(t, false)
	isolate(t)
	token := e.ProviderAdmin()
	t.Setenv(cli.EnvServer, e.URL)
	t.Setenv(cli.EnvToken, token)
	ok(t, "size", "create", "s1.small", "--vcpu", "1", "--memory-mib", "2048", "--disk-gib", "20")
	sizes := decode[api.List[api.Size]](t, ok(t, "size", "list", "-o", "json"))
	if len(sizes.Items) != 1 || sizes.Items[0].MemoryMiB != 2048 {
		t.Fatalf("sizes %+v", sizes)
	}
}

func TestSignupVerifyAndTenantLogin(t *testing.T) {
	e := newEnv(t, false)
	isolate(t)
	admin := e.ProviderAdmin()
	// The provider's catalog, made with an explicit server and token.
	ok(t, "--server", e.URL, "--token", admin, "region", "create", "au-syd", "--jurisdiction", "AU")
	ok(t, "--server", e.URL, "--token", admin, "zone", "create", "au-syd-1a", "--region", "au-syd")

	r := sirocco(t, "a long enough password\n", "--server", e.URL, "signup", "--email", "dev@acme.test", "--org-name", "acme", "--name", "Dev", "--password-stdin")
	if r.code != 0 || !strings.Contains(r.stdout, `organisation "acme"`) {
		t.Fatalf("signup: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	m := e.Mail.WaitFor(t, "dev@acme.test", 10*time.Second)
	link := regexp.MustCompile(`\?token=(\S+)`).FindStringSubmatch(m.Body)
	if link == nil {
		t.Fatalf("no token in mail:\n%s", m.Body)
	}
	token, err := url.QueryUnescape(link[1])
	if err != nil {
		t.Fatal(err)
	}
	ok(t, "--server", e.URL, "verify-email", token)
	r = sirocco(t, "", "--server", e.URL, "verify-email", token)
	if r.code != cli.ExitError || !strings.Contains(r.stderr, "("+api.CodeInvalidToken+")") {
		t.Fatalf("second verify: exit %d, %s", r.code, r.stderr)
	}

	// A tenant's login mints an org token and makes acme the default org.
	r = sirocco(t, "a long enough password\n", "login", e.URL, "--email", "dev@acme.test", "--password-stdin", "--name", "acme")
	if r.code != 0 {
		t.Fatalf("login: %s", r.stderr)
	}
	me := decode[api.Me](t, ok(t, "me", "-o", "json"))
	if me.Token == nil || me.Token.Role != api.RoleOrgAdmin || me.Provider != "" {
		t.Fatalf("me %+v", me)
	}
	// Sign-up gave the organisation a pay-as-you-go VDC in an allowed zone.
	vdcs := decode[api.List[api.VDC]](t, ok(t, "vdc", "list", "-o", "json"))
	if len(vdcs.Items) != 1 || vdcs.Items[0].Name != "default" || vdcs.Items[0].Zone != "au-syd-1a" || vdcs.Items[0].AllocationModel != api.AllocationPAYG {
		t.Fatalf("vdcs after sign-up %+v", vdcs)
	}
	ok(t, "vdc", "create", "web", "--zone", "au-syd-1a")
	vdcs = decode[api.List[api.VDC]](t, ok(t, "vdc", "list", "-o", "json"))
	if len(vdcs.Items) != 2 {
		t.Fatalf("vdcs %+v", vdcs)
	}
	members := decode[api.List[api.RoleBinding]](t, ok(t, "org", "member", "list", "-o", "json"))
	if len(members.Items) != 1 || members.Items[0].Email != "dev@acme.test" {
		t.Fatalf("members %+v", members)
	}
	// A tenant may not touch the catalog.
	r = sirocco(t, "", "region", "delete", "au-syd")
	if r.code != cli.ExitError || !strings.Contains(r.stderr, "(forbidden)") {
		t.Fatalf("tenant region delete: exit %d, %s", r.code, r.stderr)
	}

	// Tokens: create one, see it, revoke it.
	r = ok(t, "token", "create", "ci", "--role", "org-member", "-o", "json")
	tok := decode[api.TokenCreated](t, r)
	if tok.Secret == "" || tok.Role != api.RoleOrgMember {
		t.Fatalf("token %+v", tok)
	}
	list := decode[api.List[api.Token]](t, ok(t, "token", "list", "-o", "json"))
	if len(list.Items) != 2 {
		t.Fatalf("tokens %+v", list)
	}
	ok(t, "token", "revoke", tok.ID)
	r = sirocco(t, "", "--token", tok.Secret, "vdc", "list")
	if r.code != cli.ExitUnauthenticated {
		t.Fatalf("revoked token: exit %d, %s", r.code, r.stderr)
	}
}

func TestContexts(t *testing.T) {
	e := newEnv(t, false)
	cfgPath := isolate(t)
	e.ProviderAdmin()
	e.User("viewer@provider.test", store.RoleBinding{Role: api.RoleProviderViewer})
	login(t, e.URL, "admin@provider.test", "--name", "admin")
	login(t, e.URL, "viewer@provider.test", "--name", "viewer")

	type row struct {
		Name    string `json:"name"`
		Current bool   `json:"current"`
	}
	rows := decode[[]row](t, ok(t, "context", "list", "-o", "json"))
	if len(rows) != 2 || rows[0].Name != "admin" || rows[0].Current || !rows[1].Current {
		t.Fatalf("contexts %+v", rows)
	}
	cfg, err := cli.LoadConfig(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	listed := ok(t, "context", "list", "-o", "yaml").stdout + ok(t, "context", "list").stdout
	for _, c := range cfg.Contexts {
		if c.Token == "" || strings.Contains(listed, c.Token) {
			t.Fatalf("context %s: token %q missing from the config or shown by context list", c.Name, c.Token)
		}
	}

	me := decode[api.Me](t, ok(t, "me", "-o", "json"))
	if me.Provider != api.RoleProviderViewer {
		t.Fatalf("current context acts as %+v", me)
	}
	if me := decode[api.Me](t, ok(t, "--context", "admin", "me", "-o", "json")); me.Provider != api.RoleProviderAdmin {
		t.Fatalf("--context admin acts as %+v", me)
	}
	ok(t, "context", "use", "admin")
	if me := decode[api.Me](t, ok(t, "me", "-o", "json")); me.Provider != api.RoleProviderAdmin {
		t.Fatalf("after use: %+v", me)
	}
	// Logging in again to the same context replaces its token and revokes the old one.
	old := cfg.Find("admin").Token
	login(t, e.URL, "admin@provider.test", "--name", "admin")
	if r := sirocco(t, "", "--token", old, "me"); r.code != cli.ExitUnauthenticated {
		t.Fatalf("replaced token still works: exit %d", r.code)
	}
	ok(t, "me")

	ok(t, "context", "delete", "viewer")
	if r := sirocco(t, "", "context", "use", "viewer"); r.code != cli.ExitError {
		t.Fatalf("use deleted context: exit %d", r.code)
	}
	// A token from a context never goes to another server.
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" {
			t.Errorf("the context's token was sent to another server")
		}
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"status":401,"code":"unauthenticated","detail":"who are you?"}`)
	}))
	defer other.Close()
	if r := sirocco(t, "", "--server", other.URL, "region", "list"); r.code != cli.ExitUnauthenticated {
		t.Fatalf("other server: exit %d, %s", r.code, r.stderr)
	}
}

func TestFailedOperationExitsSix(t *testing.T) {
	// The real server has no operation that fails on demand; a fake one
	// answers the operation endpoints with a failure.
	failed := `{"id":"op1","kind":"vdc.delete","state":"failed","progress":30,"target":{"kind":"vdc","id":"v1"},
		"message":"the VDC still has VMs","error":{"status":409,"code":"not_empty","detail":"the VDC still has VMs"}}`
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/api/v1/orgs/acme/vdcs/v1":
			w.WriteHeader(http.StatusAccepted)
			fmt.Fprint(w, `{"id":"op1","kind":"vdc.delete","state":"queued","target":{"kind":"vdc","id":"v1"}}`)
		case "/api/v1/operations/op1/wait", "/api/v1/operations/op1":
			fmt.Fprint(w, failed)
		default:
			http.NotFound(w, r)
		}
	}))
	defer fake.Close()
	isolate(t)
	for _, args := range [][]string{
		{"vdc", "delete", "v1", "--org", "acme", "--wait"},
		{"operation", "wait", "op1"},
	} {
		r := sirocco(t, "", append([]string{"--server", fake.URL, "--token", "sk_x"}, args...)...)
		if r.code != cli.ExitOperationFailed {
			t.Fatalf("%v: exit %d, stderr %q", args, r.code, r.stderr)
		}
		lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
		last := lines[len(lines)-1]
		if want := "error: operation op1 (vdc.delete) failed: the VDC still has VMs (not_empty)"; last != want {
			t.Fatalf("%v: last stderr line %q, want %q", args, last, want)
		}
	}
}
