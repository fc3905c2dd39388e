package client_test

import (
	"context"

	"github.com/sirocco-cloud/sirocco/client"
)

// sdkConsole maps this feature's operations to their SDK calls; see sdk.
var sdkConsole = map[string]func(context.Context, *client.Client) error{
	"get-forecast": func(ctx context.Context, c *client.Client) error { _, err := c.Forecast(ctx, "o1"); return err },
	"get-revenue": func(ctx context.Context, c *client.Client) error {
		_, err := c.Revenue(ctx, client.RevenueOptions{From: "2026-01", To: "2026-12"})
		return err
	},
}
