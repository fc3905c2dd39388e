package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/danielgtaylor/huma/v2"
	"golang.org/x/crypto/ssh"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/internal/store"
)

func sshKeyOf(k *store.SSHKey) api.SSHKey {
	// The stored key is normalised ("type base64 [comment]"), so its type
	// and comment are its fields.
	f := strings.SplitN(k.PublicKey, " ", 3)
	out := api.SSHKey{ID: k.ID, Org: k.OrgID, Name: k.Name, PublicKey: k.PublicKey, Fingerprint: k.Fingerprint, Type: f[0],
		CreatedAt: k.CreatedAt}
	if len(f) == 3 {
		out.Comment = f[2]
	}
	return out
}

type (
	sshKeyPath struct {
		Org string `path:"org" maxLength:"200" doc:"Organisation ID or name"`
		Key string `path:"key" maxLength:"200" doc:"SSH key ID or name"`
	}
	// Keys carry no labels, so their list takes no label filter.
	sshKeyListIn struct {
		Org    string `path:"org" maxLength:"200" doc:"Organisation ID or name"`
		Limit  int    `query:"limit" minimum:"0" maximum:"1000" doc:"Page size (default 100, at most 1000)"`
		Cursor string `query:"cursor" doc:"next_cursor from the previous page"`
	}
	sshKeyCreateIn struct {
		Org  string `path:"org" maxLength:"200" doc:"Organisation ID or name"`
		Body api.SSHKeyCreate
	}
	sshKeyOut struct {
		Body api.SSHKey
	}
	sshKeyCreatedOut struct {
		Location string `header:"Location"`
		Body     api.SSHKey
	}
)

// sshKeyRoutes registers the endpoints of this file.
func (s *Server) sshKeyRoutes() {
	tags := []string{"SSH keys"}
	const base = "/api/v1/orgs/{org}/ssh-keys"

	register(s, huma.Operation{OperationID: "list-ssh-keys", Method: http.MethodGet, Path: base, Summary: "List SSH keys",
		Description: "The organisation's registered SSH public keys, oldest first.", Tags: tags},
		func(ctx context.Context, in *sshKeyListIn) (*listOut[api.SSHKey], error) {
			lp := ListParams{Limit: in.Limit, Cursor: in.Cursor}
			return listInOrg(ctx, s, in.Org, lp, canRead, func(tx *store.Tx, o *store.Org, pg store.Page) ([]store.SSHKey, string, error) {
				return tx.ListSSHKeys(ctx, o.ID, pg)
			}, sshKeyOf)
		})

	register(s, huma.Operation{OperationID: "get-ssh-key", Method: http.MethodGet, Path: base + "/{key}", Summary: "Get an SSH key", Tags: tags},
		func(ctx context.Context, in *sshKeyPath) (*sshKeyOut, error) {
			k, err := readInOrg(ctx, s, in.Org, "SSH key", in.Key, (*store.Tx).GetSSHKey)
			if err != nil {
				return nil, err
			}
			return &sshKeyOut{Body: sshKeyOf(k)}, nil
		})

	register(s, huma.Operation{OperationID: "create-ssh-key", Method: http.MethodPost, Path: base, Summary: "Register an SSH key",
		Description: "Needs the org-member role or higher. The public key is one line of an OpenSSH .pub file; a private key, " +
			"a key with authorized_keys options, several keys, ssh-dss, certificates and RSA keys under 2048 bits are refused " +
			"with 422 invalid_ssh_key. The key is stored normalised, with its SHA-256 fingerprint. VMs then name it in ssh_keys.",
		Tags: tags, DefaultStatus: http.StatusCreated},
		func(ctx context.Context, in *sshKeyCreateIn) (*sshKeyCreatedOut, error) {
			p, err := principal(ctx)
			if err != nil {
				return nil, err
			}
			b := in.Body
			if store.IsID(b.Name) {
				return nil, fieldError("body.name", b.Name, "SSH key name %q has the shape of an ID: choose another", b.Name)
			}
			key, fp, err := parseSSHKey(b.PublicKey)
			if err != nil {
				e := api.Errorf(http.StatusUnprocessableEntity, api.CodeInvalidSSHKey, "%v", err)
				e.Errors = []api.ErrorDetail{{Location: "body.public_key", Message: err.Error()}}
				return nil, e
			}
			var k *store.SSHKey
			err = s.store.Tx(ctx, func(tx *store.Tx) error {
				o, err := s.orgFor(ctx, tx, p, in.Org, canWrite)
				if err != nil {
					return err
				}
				if err := requireVerified(p); err != nil {
					return err
				}
				k = &store.SSHKey{OrgID: o.ID, Name: b.Name, PublicKey: key, Fingerprint: fp, CreatedBy: p.UserID}
				if err := tx.CreateSSHKey(ctx, k); err != nil {
					return conflictOr(err, api.CodeAlreadyExists, "organisation %q already has an SSH key named %q", o.Name, b.Name)
				}
				return s.audit(ctx, tx, "ssh-key.create", "ssh-key", k.ID, o.ID, fmt.Sprintf("%s %s", k.Name, k.Fingerprint))
			})
			if err != nil {
				return nil, err
			}
			return &sshKeyCreatedOut{Location: "/api/v1/orgs/" + k.OrgID + "/ssh-keys/" + k.ID, Body: sshKeyOf(k)}, nil
		})

	register(s, huma.Operation{OperationID: "delete-ssh-key", Method: http.MethodDelete, Path: base + "/{key}", Summary: "Delete an SSH key",
		Description: "Needs the org-member role or higher. VMs created with the key keep it; new VMs can no longer name it.",
		Tags:        tags, DefaultStatus: http.StatusNoContent},
		func(ctx context.Context, in *sshKeyPath) (*emptyOut, error) {
			p, err := principal(ctx)
			if err != nil {
				return nil, err
			}
			err = s.store.Tx(ctx, func(tx *store.Tx) error {
				o, err := s.orgFor(ctx, tx, p, in.Org, canWrite)
				if err != nil {
					return err
				}
				k, err := tx.GetSSHKey(ctx, o.ID, in.Key)
				if err != nil {
					return notFoundOr(err, "SSH key", in.Key)
				}
				if err := tx.DeleteSSHKey(ctx, k.ID); err != nil {
					return err
				}
				return s.audit(ctx, tx, "ssh-key.delete", "ssh-key", k.ID, o.ID, fmt.Sprintf("%s %s", k.Name, k.Fingerprint))
			})
			return nil, err
		})
}

// minRSABits is the smallest RSA key accepted: what OpenSSH itself has
// required since 8.8.
const minRSABits = 2048

// parseSSHKey checks that s is exactly one OpenSSH public key of a type a
// guest's sshd accepts, and returns it normalised ("type base64 [comment]")
// with its SHA-256 fingerprint. Its errors are for the user to read.
func parseSSHKey(s string) (key, fingerprint string, err error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return "", "", errors.New("the public key is empty")
	case strings.Contains(s, "PRIVATE KEY"):
		// The easy slip: id_ed25519 for id_ed25519.pub. Say so, and
		// never echo it.
		return "", "", errors.New("this is a private key: give the public one (the .pub file next to it)")
	case strings.HasPrefix(s, "---- BEGIN SSH2 PUBLIC KEY"):
		return "", "", errors.New("this is an RFC 4716 (SSH2) key: convert it with ssh-keygen -i -f FILE")
	}
	pub, comment, options, rest, err := ssh.ParseAuthorizedKey([]byte(s))
	if err != nil {
		return "", "", fmt.Errorf("not an OpenSSH public key (want one line: type base64 [comment]): %w", err)
	}
	if len(strings.TrimSpace(string(rest))) > 0 {
		return "", "", errors.New("several keys: register one key at a time")
	}
	if len(options) > 0 {
		return "", "", fmt.Errorf("authorized_keys options (%s) are not part of a public key: leave them out", strings.Join(options, ","))
	}
	switch t := pub.Type(); t {
	case ssh.KeyAlgoED25519, ssh.KeyAlgoECDSA256, ssh.KeyAlgoECDSA384, ssh.KeyAlgoECDSA521, ssh.KeyAlgoSKED25519, ssh.KeyAlgoSKECDSA256:
	case ssh.KeyAlgoRSA:
		if ck, ok := pub.(ssh.CryptoPublicKey); ok {
			if rk, ok := ck.CryptoPublicKey().(interface{ Size() int }); ok && rk.Size()*8 < minRSABits {
				return "", "", fmt.Errorf("an RSA key of %d bits is too weak: use %d bits or more, or better ssh-ed25519", rk.Size()*8, minRSABits)
			}
		}
	default:
		return "", "", fmt.Errorf("key type %s is not supported: use ssh-ed25519, ecdsa-sha2-nistp256/384/521, ssh-rsa or a security key (sk-)", t)
	}
	key = strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pub)))
	if comment = strings.Join(strings.Fields(comment), " "); comment != "" {
		key += " " + comment
	}
	return key, ssh.FingerprintSHA256(pub), nil
}

// isSSHKeyRef tells an entry of VMCreate.SSHKeys that names a registered
// key from one that is a key: a key is "type base64 [comment]", a name or
// an ID is one word.
func isSSHKeyRef(entry string) bool {
	return len(strings.Fields(entry)) == 1
}

// validateSSHKeyEntries checks the shape of VMCreate.SSHKeys before the
// transaction: keys as create-vms always took them, references as names.
func validateSSHKeyEntries(entries []string) error {
	for i, k := range entries {
		var err error
		if isSSHKeyRef(k) {
			if len(k) > 200 {
				err = errors.New("not a key, and too long for the name or ID of one")
			}
		} else {
			err = validateSSHKey(k)
		}
		if err != nil {
			return api.Errorf(http.StatusUnprocessableEntity, api.CodeValidation, "ssh_keys[%d]: %v", i, err)
		}
	}
	return nil
}

// resolveSSHKeys replaces the entries of VMCreate.SSHKeys that name a key of
// organisation o with that key's text, which is what the VM keeps. An
// unknown name is the request's mistake (422), named in the error.
func resolveSSHKeys(ctx context.Context, tx *store.Tx, o *store.Org, entries []string) ([]string, error) {
	if len(entries) == 0 {
		return nil, nil
	}
	out := make([]string, 0, len(entries))
	for i, entry := range entries {
		if !isSSHKeyRef(entry) {
			out = append(out, entry)
			continue
		}
		ref := strings.TrimSpace(entry)
		k, err := tx.GetSSHKey(ctx, o.ID, ref)
		if errors.Is(err, store.ErrNotFound) {
			e := api.Errorf(http.StatusUnprocessableEntity, api.CodeInvalidRequest,
				"ssh_keys[%d]: organisation %q has no SSH key named %q (register it with POST /api/v1/orgs/{org}/ssh-keys, "+
					"or give the public key itself)", i, o.Name, ref)
			e.Errors = []api.ErrorDetail{{Location: fmt.Sprintf("body.ssh_keys[%d]", i), Message: "no such SSH key", Value: ref}}
			return nil, e
		}
		if err != nil {
			return nil, err
		}
		out = append(out, k.PublicKey)
	}
	return out, nil
}
