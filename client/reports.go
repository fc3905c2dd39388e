package client

import (
	"context"
	"net/url"

	"github.com/sirocco-cloud/sirocco/api"
)

// Forecast returns what an organisation's calendar month has cost so far,
// what runs now costs per hour, and the month-end forecast.
func (c *Client) Forecast(ctx context.Context, org string) (*api.Forecast, error) {
	return get[api.Forecast](ctx, c, path("orgs", org, "forecast"), nil)
}

// RevenueOptions choose the months of a revenue report, as YYYY-MM; empty
// fields default to the twelve months up to the current one.
type RevenueOptions struct {
	From string
	To   string
}

// Revenue returns the provider's revenue by month (provider roles).
func (c *Client) Revenue(ctx context.Context, opts RevenueOptions) (*api.Revenue, error) {
	q := url.Values{}
	if opts.From != "" {
		q.Set("from", opts.From)
	}
	if opts.To != "" {
		q.Set("to", opts.To)
	}
	return get[api.Revenue](ctx, c, path("provider", "revenue"), q)
}
