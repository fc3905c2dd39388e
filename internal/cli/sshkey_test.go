package cli_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/internal/cli"
)

// newPublicKey makes a fresh ed25519 public key line with comment.
func newPublicKey(t *testing.T, comment string) (string, string) {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k))) + " " + comment, ssh.FingerprintSHA256(k)
}

func TestSSHKeyCommands(t *testing.T) {
	n := newNetCloud(t)
	home := t.TempDir()
	t.Setenv("HOME", home)
	if err := os.Mkdir(filepath.Join(home, ".ssh"), 0o700); err != nil {
		t.Fatal(err)
	}
	write := func(name, content string) string {
		p := filepath.Join(home, ".ssh", name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}

	// Without --file: the default key of ~/.ssh, and where it came from.
	wantFail(t, n.run(t, "ssh-key", "add", "laptop"), cli.ExitUsage, "no public key in ~/.ssh/id_ed25519.pub")
	laptop, laptopFP := newPublicKey(t, "ana@laptop")
	write("id_ed25519.pub", laptop+"\n")
	r := n.as(t, "ssh-key", "add", "laptop")
	wantIn(t, r.stdout, "laptop", "ssh-ed25519", laptopFP, "ana@laptop")
	wantIn(t, r.stderr, "Registered ~/.ssh/id_ed25519.pub as laptop.")

	// A private key never leaves the machine; a bad key is the server's 422.
	private := write("id_ci", "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjE=\n-----END OPENSSH PRIVATE KEY-----\n")
	wantFail(t, n.run(t, "ssh-key", "add", "ci", "--file", private), cli.ExitUsage, "is a private key: give the public one ("+private+".pub)")
	wantFail(t, sirocco(t, "ssh-dss AAAAB3NzaC1kc3MAAACBAP", "--server", n.URL, "--token", n.tenant, "--org", "acme",
		"ssh-key", "add", "ci", "--file", "-"), cli.ExitError, "invalid_ssh_key")
	wantFail(t, n.run(t, "ssh-key", "add", "laptop", "--file", filepath.Join(home, ".ssh", "id_ed25519.pub")), cli.ExitConflict, "already_exists")

	// From standard input.
	ci, ciFP := newPublicKey(t, "ci@build")
	r = sirocco(t, ci+"\n", "--server", n.URL, "--token", n.tenant, "--org", "acme", "ssh-key", "add", "ci", "--file", "-", "-o", "json")
	if r.code != 0 {
		t.Fatalf("add from stdin: %+v", r)
	}
	if k := decode[api.SSHKey](t, r); k.Fingerprint != ciFP || k.PublicKey != ci {
		t.Fatalf("ci key %+v", k)
	}

	list := n.as(t, "ssh-key", "list").stdout
	wantIn(t, list, "NAME", "FINGERPRINT", "laptop", laptopFP, "ci", ciFP)
	wantIn(t, n.as(t, "ssh-key", "show", "laptop").stdout, laptopFP, "\n"+laptop+"\n")

	// VMs name registered keys, next to files and keys as before; @ forces
	// a file.
	extra, _ := newPublicKey(t, "extra@host")
	write("extra.pub", extra+"\n")
	created := decode[api.VMCreated](t, n.as(t, "vm", "create", "web", "--image", "tiny", "--size", "s1.small",
		"--ssh-key", "laptop", "--ssh-key", "@"+filepath.Join(home, ".ssh", "extra.pub"), "--ssh-key", ci, "--no-wait", "-o", "json"))
	if got := created.VMs[0].SSHKeys; len(got) != 3 || got[0] != laptop || got[1] != extra || got[2] != ci {
		t.Fatalf("VM's keys %q", got)
	}
	// (After the price warning: this cloud has no price plan.)
	if r := n.run(t, "vm", "create", "db", "--image", "tiny", "--size", "s1.small", "--ssh-key", "desktop", "--no-wait"); r.code != cli.ExitError ||
		!strings.Contains(r.stderr, `error: ssh_keys[0]: organisation "acme" has no SSH key named "desktop"`) {
		t.Fatalf("VM naming an unknown key: %+v", r)
	}
	wantFail(t, n.run(t, "vm", "create", "db", "--image", "tiny", "--size", "s1.small", "--ssh-key", "missing.pub", "--no-wait"),
		cli.ExitUsage, "--ssh-key missing.pub")

	r = n.as(t, "ssh-key", "delete", "laptop")
	wantIn(t, r.stdout, "Deleted SSH key laptop.")
	wantFail(t, n.run(t, "ssh-key", "show", "laptop"), cli.ExitNotFound, "not_found")
	if ls := decode[api.List[api.SSHKey]](t, n.as(t, "ssh-key", "list", "-o", "json")); len(ls.Items) != 1 || ls.Items[0].Name != "ci" {
		t.Fatalf("keys after delete: %+v", ls.Items)
	}
}
