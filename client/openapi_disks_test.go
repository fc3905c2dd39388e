package client_test

import (
	"context"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/client"
)

// sdkDisks maps this feature's operations to their SDK calls; see sdk.
var sdkDisks = map[string]func(context.Context, *client.Client) error{
	"list-disks": func(ctx context.Context, c *client.Client) error {
		_, err := c.ListDisks(ctx, "o1", client.DiskListOptions{VDC: "v1"})
		return err
	},
	"get-disk": func(ctx context.Context, c *client.Client) error { _, err := c.GetDisk(ctx, "o1", "d1"); return err },
	"create-disk": func(ctx context.Context, c *client.Client) error {
		_, err := c.CreateDisk(ctx, "o1", api.DiskCreate{Name: "data", SizeGiB: 20})
		return err
	},
	"update-disk": func(ctx context.Context, c *client.Client) error {
		size := int64(30)
		_, err := c.UpdateDisk(ctx, "o1", "d1", api.DiskUpdate{SizeGiB: &size})
		return err
	},
	"delete-disk": func(ctx context.Context, c *client.Client) error { return c.DeleteDisk(ctx, "o1", "d1") },
	"attach-disk": func(ctx context.Context, c *client.Client) error {
		_, err := c.AttachDisk(ctx, "o1", "d1", api.DiskAttach{VM: "web"})
		return err
	},
	"detach-disk": func(ctx context.Context, c *client.Client) error { _, err := c.DetachDisk(ctx, "o1", "d1"); return err },
}
