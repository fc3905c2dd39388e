package client_test

import (
	"context"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/client"
)

// sdkSSHKeys maps this feature's operations to their SDK calls; see sdk.
var sdkSSHKeys = map[string]func(context.Context, *client.Client) error{
	"list-ssh-keys": func(ctx context.Context, c *client.Client) error {
		_, err := c.ListSSHKeys(ctx, "o1", client.ListOptions{})
		return err
	},
	"get-ssh-key": func(ctx context.Context, c *client.Client) error { _, err := c.GetSSHKey(ctx, "o1", "k1"); return err },
	"create-ssh-key": func(ctx context.Context, c *client.Client) error {
		_, err := c.CreateSSHKey(ctx, "o1", api.SSHKeyCreate{Name: "laptop", PublicKey: "ssh-ed25519 AAAA"})
		return err
	},
	"delete-ssh-key": func(ctx context.Context, c *client.Client) error { return c.DeleteSSHKey(ctx, "o1", "k1") },
}
