package client_test

import (
	"context"

	"github.com/sirocco-cloud/sirocco/client"
)

// sdkDisks maps this feature's operations to their SDK calls; see sdk.
var sdkDisks = map[string]func(context.Context, *client.Client) error{}
