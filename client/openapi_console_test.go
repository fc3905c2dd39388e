package client_test

import (
	"context"

	"github.com/sirocco-cloud/sirocco/client"
)

// sdkConsole maps this feature's operations to their SDK calls; see sdk.
var sdkConsole = map[string]func(context.Context, *client.Client) error{}
