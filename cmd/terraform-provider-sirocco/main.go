// Command terraform-provider-sirocco is Sirocco's Terraform provider. Terraform
// starts it as a plugin; it is not meant to be run by hand, except with
// -debug to attach a debugger (it then prints TF_REATTACH_PROVIDERS to set).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"

	"github.com/sirocco-cloud/sirocco/terraform/provider"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	debug := flag.Bool("debug", false, "run with support for debuggers such as delve")
	flag.Parse()
	err := providerserver.Serve(context.Background(), provider.New(version), providerserver.ServeOpts{
		Address: provider.Address,
		Debug:   *debug,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "terraform-provider-sirocco:", err)
		os.Exit(1)
	}
}
