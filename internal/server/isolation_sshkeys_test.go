package server

import (
	"context"
	"testing"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/internal/store"
)

// sshKeyIsolationRules classifies this feature's operations for the isolation matrix.
func sshKeyIsolationRules() []isoRule {
	return []isoRule{
		{op: "list-ssh-keys", kind: isoOrg},
		{op: "get-ssh-key", kind: isoOrg, refs: map[string][]string{"key": {"ssh-key"}}},
		{op: "create-ssh-key", kind: isoOrg, body: func(f *isoFixture, _ map[string]string) any {
			line, _ := newEd25519Key(f.e.t)
			return api.SSHKeyCreate{Name: "implant", PublicKey: line + " spy@bravo"}
		}},
		{op: "delete-ssh-key", kind: isoOrg, refs: map[string][]string{"key": {"ssh-key-del"}}},
	}
}

// isoSSHKeys gives the isolation matrix two registered keys of alpha: one
// to read, one to delete.
func isoSSHKeys(t *testing.T, e *env, org string) isoComputeObjects {
	t.Helper()
	ctx := context.Background()
	out := isoComputeObjects{refs: map[string][]isoRef{}, secrets: map[string]string{}}
	err := e.store.Tx(ctx, func(tx *store.Tx) error {
		for _, c := range []struct{ kind, name string }{{"ssh-key", "alpha-laptop"}, {"ssh-key-del", "alpha-old"}} {
			line, _ := newEd25519Key(t)
			k, fp, err := parseSSHKey(line + " " + c.name)
			if err != nil {
				return err
			}
			key := &store.SSHKey{OrgID: org, Name: c.name, PublicKey: k, Fingerprint: fp}
			if err := tx.CreateSSHKey(ctx, key); err != nil {
				return err
			}
			out.refs[c.kind] = []isoRef{
				{label: "alpha's SSH key by ID", value: key.ID, ghost: store.NewID()},
				{label: "alpha's SSH key by name", value: c.name, ghost: "nxkey"},
			}
			out.secrets[key.ID] = "alpha's SSH key ID"
			out.secrets[fp] = "alpha's SSH key fingerprint"
		}
		return nil
	})
	if err != nil {
		t.Fatalf("SSH key fixture: %v", err)
	}
	return out
}
