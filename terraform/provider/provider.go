// Package provider is Sirocco's Terraform provider, built on
// terraform-plugin-framework and the Go SDK (package client). It manages
// VDCs, VMs, networks, public IPs, firewall rules and API tokens, and reads
// the catalog (images, sizes, zones).
//
// The provider is configured with the server's URL, an API token, the
// certificate fingerprint of a self-signed server and a default
// organisation, each also from the environment (SIROCCO_URL, SIROCCO_TOKEN,
// SIROCCO_FINGERPRINT, SIROCCO_ORG) so a configuration need not hold secrets.
package provider

import (
	"context"
	"errors"
	"os"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/provider/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/client"
)

// Address is where Terraform finds the provider: source = "sirocco-cloud/sirocco".
const Address = "registry.terraform.io/sirocco-cloud/sirocco"

// Environment variables the provider falls back on.
const (
	EnvURL         = "SIROCCO_URL"
	EnvToken       = "SIROCCO_TOKEN"
	EnvFingerprint = "SIROCCO_FINGERPRINT"
	EnvOrg         = "SIROCCO_ORG"
)

// operationTimeout bounds how long one resource action waits for the
// server's operations: a VM on a busy host can take minutes to create.
const operationTimeout = 20 * time.Minute

// New returns a constructor of the provider, as providerserver.Serve wants
// it. version is shown by `terraform version`.
func New(version string) func() provider.Provider {
	return func() provider.Provider { return &siroccoProvider{version: version} }
}

type siroccoProvider struct {
	version string
}

// providerModel is the provider block.
type providerModel struct {
	URL         types.String `tfsdk:"url"`
	Token       types.String `tfsdk:"token"`
	Fingerprint types.String `tfsdk:"fingerprint"`
	Org         types.String `tfsdk:"org"`
}

// configured is what Configure hands every resource and data source.
type configured struct {
	client *client.Client
	// org is the default organisation of resources that name none.
	org string
}

func (p *siroccoProvider) Metadata(_ context.Context, _ provider.MetadataRequest, resp *provider.MetadataResponse) {
	resp.TypeName = "sirocco"
	resp.Version = p.version
}

func (p *siroccoProvider) Schema(_ context.Context, _ provider.SchemaRequest, resp *provider.SchemaResponse) {
	resp.Schema = schema.Schema{
		Description: "Manages a Sirocco cloud: VDCs, VMs, networks, public IPs, firewall rules and API tokens.",
		Attributes: map[string]schema.Attribute{
			"url": schema.StringAttribute{
				Optional:    true,
				Description: "Server URL, e.g. https://cloud.example.com. Default: $" + EnvURL + ".",
			},
			"token": schema.StringAttribute{
				Optional:    true,
				Sensitive:   true,
				Description: "API token. Default: $" + EnvToken + ".",
			},
			"fingerprint": schema.StringAttribute{
				Optional: true,
				Description: "SHA-256 fingerprint (sha256:<hex>) of a self-signed server certificate to trust. " +
					"Default: $" + EnvFingerprint + "; without one the system's certificate authorities are trusted.",
			},
			"org": schema.StringAttribute{
				Optional:    true,
				Description: "Organisation (name or ID) of resources that name none. Default: $" + EnvOrg + ".",
			},
		},
	}
}

func (p *siroccoProvider) Configure(ctx context.Context, req provider.ConfigureRequest, resp *provider.ConfigureResponse) {
	var m providerModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	// A value known only after another resource is applied cannot configure
	// the client yet; Terraform configures the provider again before apply.
	if m.URL.IsUnknown() || m.Token.IsUnknown() || m.Fingerprint.IsUnknown() || m.Org.IsUnknown() {
		return
	}
	url := orEnv(m.URL, EnvURL)
	token := orEnv(m.Token, EnvToken)
	if url == "" {
		resp.Diagnostics.AddAttributeError(path.Root("url"), "No Sirocco server URL",
			"Set url in the provider block or "+EnvURL+" in the environment.")
	}
	if token == "" {
		resp.Diagnostics.AddAttributeError(path.Root("token"), "No Sirocco API token",
			"Set token in the provider block or "+EnvToken+" in the environment (create one with `sirocco token create`).")
	}
	if resp.Diagnostics.HasError() {
		return
	}
	opts := []client.Option{client.WithToken(token), client.WithUserAgent("terraform-provider-sirocco/" + p.version)}
	if fp := orEnv(m.Fingerprint, EnvFingerprint); fp != "" {
		opts = append(opts, client.WithFingerprint(fp))
	}
	c, err := client.New(url, opts...)
	if err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("url"), "Invalid Sirocco server URL", err.Error())
		return
	}
	cfg := &configured{client: c, org: orEnv(m.Org, EnvOrg)}
	resp.ResourceData = cfg
	resp.DataSourceData = cfg
}

func (p *siroccoProvider) Resources(context.Context) []func() resource.Resource {
	return []func() resource.Resource{newVDCResource, newVMResource, newTokenResource,
		newNetworkResource, newPublicIPResource, newFirewallRuleResource, newSSHKeyResource, newDiskResource}
}

func (p *siroccoProvider) DataSources(context.Context) []func() datasource.DataSource {
	return []func() datasource.DataSource{newImagesDataSource, newSizesDataSource, newZonesDataSource}
}

// orEnv is a configured string, or the environment variable when unset.
func orEnv(v types.String, env string) string {
	if !v.IsNull() && v.ValueString() != "" {
		return v.ValueString()
	}
	return os.Getenv(env)
}

// configuredFrom takes the provider's data in a resource's or data source's
// Configure. It is nil before the provider is configured (validation runs
// earlier), which is not an error.
func configuredFrom(data any, diags *diag.Diagnostics) *configured {
	if data == nil {
		return nil
	}
	c, ok := data.(*configured)
	if !ok {
		diags.AddError("Unexpected provider data", "The Sirocco provider handed a resource something it does not know; this is a bug.")
		return nil
	}
	return c
}

// requireClient reports a usable error when an action runs on an unconfigured
// provider, e.g. with a URL known only after apply.
func requireClient(c *configured, diags *diag.Diagnostics) bool {
	if c == nil {
		diags.AddError("Provider not configured", "The Sirocco provider has no server URL and token yet.")
		return false
	}
	return true
}

// orgOf is a resource's organisation: its own, else the provider's.
func (c *configured) orgOf(v types.String, diags *diag.Diagnostics) string {
	if !v.IsNull() && !v.IsUnknown() && v.ValueString() != "" {
		return v.ValueString()
	}
	if c.org == "" {
		diags.AddAttributeError(path.Root("org"), "No organisation",
			"Set org on the resource, in the provider block, or "+EnvOrg+" in the environment.")
	}
	return c.org
}

// isNotFound reports whether the server said the object does not exist.
func isNotFound(err error) bool {
	e, ok := errors.AsType[*api.Error](err)
	return ok && e.Code == api.CodeNotFound
}

// wait follows an operation to its end; a failed or cancelled one is an
// error. A nil operation (the action was done at once) is no wait.
func (c *configured) wait(ctx context.Context, op *api.Operation) error {
	if op == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, operationTimeout)
	defer cancel()
	done, err := c.client.WaitOperation(ctx, op.ID, nil)
	if err != nil {
		return err
	}
	if done.State == api.OpCancelled {
		return errors.New("operation " + op.ID + " (" + op.Kind + ") was cancelled")
	}
	return nil
}

// labelsValue is the server's labels as a Terraform map. The server drops an
// empty set, so an empty map in the configuration (prior) stays empty rather
// than turning null, which Terraform would reject as an inconsistent result.
func labelsValue(ctx context.Context, labels api.Labels, prior types.Map, diags *diag.Diagnostics) types.Map {
	if len(labels) == 0 {
		if !prior.IsNull() && !prior.IsUnknown() {
			return types.MapValueMust(types.StringType, map[string]attr.Value{})
		}
		return types.MapNull(types.StringType)
	}
	m, d := types.MapValueFrom(ctx, types.StringType, map[string]string(labels))
	diags.Append(d...)
	return m
}

// labelsFrom is a Terraform map as the API's labels; null is none.
func labelsFrom(ctx context.Context, m types.Map, diags *diag.Diagnostics) api.Labels {
	if m.IsNull() || m.IsUnknown() {
		return nil
	}
	out := map[string]string{}
	diags.Append(m.ElementsAs(ctx, &out, false)...)
	return out
}

// oneOf is a validator that a string is one of a few values. It is here and
// not taken from terraform-plugin-framework-validators, to keep to one module.
type oneOf []string

func (o oneOf) Description(context.Context) string {
	s := "one of:"
	for _, v := range o {
		s += " " + v
	}
	return s
}

func (o oneOf) MarkdownDescription(ctx context.Context) string { return o.Description(ctx) }

func (o oneOf) ValidateString(ctx context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	for _, v := range o {
		if req.ConfigValue.ValueString() == v {
			return
		}
	}
	resp.Diagnostics.AddAttributeError(req.Path, "Invalid value",
		"Got "+req.ConfigValue.String()+", want "+o.Description(ctx)+".")
}
