package client_test

import (
	"context"

	"github.com/sirocco-cloud/sirocco/client"
)

// sdkSSHKeys maps this feature's operations to their SDK calls; see sdk.
var sdkSSHKeys = map[string]func(context.Context, *client.Client) error{}
