package server

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"net/http"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/internal/store"
)

// newEd25519Key makes a fresh public key in authorized_keys form, without a
// comment.
func newEd25519Key(t testing.TB) (string, ssh.PublicKey) {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k))), k
}

func TestParseSSHKey(t *testing.T) {
	line, pub := newEd25519Key(t)
	weak, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	weakPub, err := ssh.NewPublicKey(&weak.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	_, caPriv, _ := ed25519.GenerateKey(rand.Reader)
	ca, err := ssh.NewSignerFromKey(caPriv)
	if err != nil {
		t.Fatal(err)
	}
	cert := &ssh.Certificate{Key: pub, CertType: ssh.UserCert, ValidPrincipals: []string{"ana"}, ValidBefore: ssh.CertTimeInfinity}
	if err := cert.SignCert(rand.Reader, ca); err != nil {
		t.Fatal(err)
	}
	other, _ := newEd25519Key(t)

	for _, c := range []struct {
		name, in string
		want     string // the normalised key, or "" for a refusal
		err      string // in the refusal
	}{
		{name: "as in a .pub file", in: line + " ana@laptop\n", want: line + " ana@laptop"},
		{name: "spaces around and in the comment", in: "  " + line + "   ana   at work  ", want: line + " ana at work"},
		{name: "no comment", in: line, want: line},
		{name: "private key", in: "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n",
			err: "private key"},
		{name: "garbage", in: "hello world", err: "not an OpenSSH public key"},
		{name: "truncated", in: line[:len(line)-10], err: "not an OpenSSH public key"},
		{name: "empty", in: " ", err: "empty"},
		{name: "two keys", in: line + " a\n" + other + " b\n", err: "several keys"},
		{name: "options", in: `command="/bin/true" ` + line, err: "options"},
		{name: "certificate", in: string(ssh.MarshalAuthorizedKey(cert)), err: "not supported"},
		{name: "short RSA", in: string(ssh.MarshalAuthorizedKey(weakPub)), err: "1024 bits is too weak"},
		{name: "RFC 4716", in: "---- BEGIN SSH2 PUBLIC KEY ----\nAAAAC3Nza\n---- END SSH2 PUBLIC KEY ----", err: "ssh-keygen -i"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, fp, err := parseSSHKey(c.in)
			if c.want != "" {
				if err != nil || got != c.want || fp != ssh.FingerprintSHA256(pub) {
					t.Fatalf("parse %q: %q %q %v, want %q %q", c.in, got, fp, err, c.want, ssh.FingerprintSHA256(pub))
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Fatalf("parse %q: %q, %v; want an error saying %q", c.in, got, err, c.err)
			}
			if strings.Contains(err.Error(), "b3BlbnNzaC1rZXktdjEAAAAA") {
				t.Fatalf("the error echoes the private key: %v", err)
			}
		})
	}
}

func TestSSHKeys(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		f := newVMFixture(t, e, 1, store.Residency{}, roomyQuotas)
		line, pub := newEd25519Key(t)
		const base = "/api/v1/orgs/acme/ssh-keys"

		var k api.SSHKey
		e.do("POST", base, f.tenant, api.SSHKeyCreate{Name: "laptop", PublicKey: line + " ana@laptop\n"}).
			must(t, http.StatusCreated).decode(t, &k)
		if k.PublicKey != line+" ana@laptop" || k.Fingerprint != ssh.FingerprintSHA256(pub) || k.Type != "ssh-ed25519" ||
			k.Comment != "ana@laptop" || k.Name != "laptop" || k.Org != f.org.ID || k.CreatedAt.IsZero() {
			t.Fatalf("created %+v", k)
		}
		if !strings.HasPrefix(k.Fingerprint, "SHA256:") {
			t.Fatalf("fingerprint %q is not as ssh-keygen prints it", k.Fingerprint)
		}

		// Refusals say what is wrong, with a code to match.
		p := e.do("POST", base, f.tenant, api.SSHKeyCreate{Name: "oops", PublicKey: "-----BEGIN OPENSSH PRIVATE KEY-----\nxyz\n"}).
			must(t, http.StatusUnprocessableEntity).problem(t)
		if p.Code != api.CodeInvalidSSHKey || !strings.Contains(p.Detail, "private key") {
			t.Fatalf("private key: %+v", p)
		}
		p = e.do("POST", base, f.tenant, api.SSHKeyCreate{Name: "laptop", PublicKey: line}).must(t, http.StatusConflict).problem(t)
		if p.Code != api.CodeAlreadyExists {
			t.Fatalf("second laptop: %+v", p)
		}

		// A viewer reads but cannot register.
		viewer := e.token(e.user("val@acme.test", store.RoleBinding{OrgID: f.org.ID, Role: api.RoleOrgViewer}), f.org.ID, api.RoleOrgViewer)
		var list api.List[api.SSHKey]
		e.do("GET", base, viewer, nil).must(t, http.StatusOK).decode(t, &list)
		if len(list.Items) != 1 || list.Items[0].ID != k.ID {
			t.Fatalf("list %+v", list)
		}
		for _, ref := range []string{"laptop", k.ID} {
			var got api.SSHKey
			e.do("GET", base+"/"+ref, viewer, nil).must(t, http.StatusOK).decode(t, &got)
			if got != k {
				t.Fatalf("get %s: %+v, want %+v", ref, got, k)
			}
		}
		other, _ := newEd25519Key(t)
		e.do("POST", base, viewer, api.SSHKeyCreate{Name: "val", PublicKey: other}).must(t, http.StatusForbidden)
		e.do("DELETE", base+"/laptop", viewer, nil).must(t, http.StatusForbidden)

		// A VM names the key, next to a key given as is; it keeps the text.
		var created api.VMCreated
		f.create(t, api.VMCreate{Name: "web", SSHKeys: []string{"laptop", other + " ci"}}).must(t, http.StatusAccepted).decode(t, &created)
		want := []string{line + " ana@laptop", other + " ci"}
		if got := created.VMs[0].SSHKeys; len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
			t.Fatalf("VM's keys %q, want %q", got, want)
		}
		p = f.create(t, api.VMCreate{Name: "db", SSHKeys: []string{"desktop"}}).must(t, http.StatusUnprocessableEntity).problem(t)
		if p.Code != api.CodeInvalidRequest || !strings.Contains(p.Detail, `no SSH key named "desktop"`) {
			t.Fatalf("unknown key name: %+v", p)
		}

		// Deleting the key leaves the VM's copy, and VMs can no longer name it.
		e.do("DELETE", base+"/"+k.ID, f.tenant, nil).must(t, http.StatusNoContent)
		e.do("GET", base+"/laptop", f.tenant, nil).must(t, http.StatusNotFound)
		e.do("DELETE", base+"/laptop", f.tenant, nil).must(t, http.StatusNotFound)
		var vm api.VM
		e.do("GET", "/api/v1/orgs/acme/vms/web", f.tenant, nil).must(t, http.StatusOK).decode(t, &vm)
		if len(vm.SSHKeys) != 2 || vm.SSHKeys[0] != want[0] {
			t.Fatalf("VM's keys after the key's deletion: %q", vm.SSHKeys)
		}
		f.create(t, api.VMCreate{Name: "db", SSHKeys: []string{k.ID}}).must(t, http.StatusUnprocessableEntity)

		var audit api.List[api.AuditEvent]
		e.do("GET", "/api/v1/orgs/acme/audit-events", f.tenant, nil).must(t, http.StatusOK).decode(t, &audit)
		seen := map[string]bool{}
		for _, ev := range audit.Items {
			if ev.Resource.ID == k.ID {
				seen[ev.Action] = true
			}
		}
		if !seen["ssh-key.create"] || !seen["ssh-key.delete"] {
			t.Fatalf("audit of key %s: %v", k.ID, seen)
		}
	})
}
