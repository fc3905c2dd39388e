package client

import (
	"context"
	"iter"
	"net/http"

	"github.com/sirocco-cloud/sirocco/api"
)

// SSH keys an organisation registers once and names in api.VMCreate.SSHKeys.

// ListSSHKeys returns one page of an organisation's SSH keys. Keys carry no
// labels: opts.Labels is ignored.
func (c *Client) ListSSHKeys(ctx context.Context, org string, opts ListOptions) (*api.List[api.SSHKey], error) {
	opts.Labels = nil
	return list[api.SSHKey](ctx, c, path("orgs", org, "ssh-keys"), opts.values())
}

// AllSSHKeys walks every SSH key of an organisation.
func (c *Client) AllSSHKeys(ctx context.Context, org string, opts ListOptions) iter.Seq2[api.SSHKey, error] {
	return all(ctx, opts, func(ctx context.Context, lo ListOptions) (*api.List[api.SSHKey], error) {
		return c.ListSSHKeys(ctx, org, lo)
	})
}

// GetSSHKey returns an SSH key, by ID or name.
func (c *Client) GetSSHKey(ctx context.Context, org, key string) (*api.SSHKey, error) {
	return get[api.SSHKey](ctx, c, path("orgs", org, "ssh-keys", key), nil)
}

// CreateSSHKey registers a public key under a name. A key that is not one
// OpenSSH public key of a supported type is refused with
// api.CodeInvalidSSHKey; a name in use with api.CodeAlreadyExists.
func (c *Client) CreateSSHKey(ctx context.Context, org string, in api.SSHKeyCreate, opts ...CallOption) (*api.SSHKey, error) {
	return send[api.SSHKey](ctx, c, http.MethodPost, path("orgs", org, "ssh-keys"), in, opts)
}

// DeleteSSHKey deletes a registered key. VMs created with it keep it.
func (c *Client) DeleteSSHKey(ctx context.Context, org, key string, opts ...CallOption) error {
	return c.del(ctx, path("orgs", org, "ssh-keys", key), opts)
}
