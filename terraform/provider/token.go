package provider

import (
	"context"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/sirocco-cloud/sirocco/api"
)

// sirocco_token: an API token of the provider's caller, e.g. for a CI job.
// Tokens cannot change, so every change replaces the token (a new secret).
// The secret is shown by the server once, at creation: Terraform keeps it in
// its state, marked sensitive, and an imported token could never have it,
// so tokens are not importable.

type tokenResource struct{ c *configured }

func newTokenResource() resource.Resource { return &tokenResource{} }

type tokenModel struct {
	ID        types.String `tfsdk:"id"`
	Name      types.String `tfsdk:"name"`
	Org       types.String `tfsdk:"org"`
	Role      types.String `tfsdk:"role"`
	ExpiresIn types.String `tfsdk:"expires_in"`
	ExpiresAt types.String `tfsdk:"expires_at"`
	Prefix    types.String `tfsdk:"prefix"`
	Secret    types.String `tfsdk:"secret"`
}

func (r *tokenResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_token"
}

func (r *tokenResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	replace := []planmodifier.String{stringplanmodifier.RequiresReplace()}
	keepOrReplace := []planmodifier.String{stringplanmodifier.UseStateForUnknown(), stringplanmodifier.RequiresReplace()}
	resp.Schema = schema.Schema{
		Description: "An API token for the caller. Its secret is known only from creation on; any change makes a new token.",
		Attributes: map[string]schema.Attribute{
			"id":   schema.StringAttribute{Computed: true, Description: "Token ID.", PlanModifiers: keepOrReplace},
			"name": schema.StringAttribute{Required: true, Description: "Name, to recognise it.", PlanModifiers: replace},
			"org": schema.StringAttribute{
				Optional: true, Computed: true, PlanModifiers: keepOrReplace,
				Description: "Organisation the token acts in. Default: the provider's org for an org-* role, none for a provider-* role.",
			},
			"role": schema.StringAttribute{
				Required: true, PlanModifiers: replace,
				Description: "provider-admin, provider-viewer, org-admin, org-member or org-viewer; at most the caller's own.",
				Validators: []validator.String{oneOf{api.RoleProviderAdmin, api.RoleProviderViewer,
					api.RoleOrgAdmin, api.RoleOrgMember, api.RoleOrgViewer}},
			},
			"expires_in": schema.StringAttribute{
				Optional: true, PlanModifiers: replace,
				Description: "Lifetime as a Go duration, e.g. 720h. Default: the server's (90 days).",
			},
			"expires_at": schema.StringAttribute{
				Optional: true, Computed: true, PlanModifiers: keepOrReplace,
				Description: "Expiry (RFC 3339); when set, overrides expires_in.",
			},
			"prefix": schema.StringAttribute{
				Computed: true, Description: "First characters of the secret, to recognise it.",
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"secret": schema.StringAttribute{
				Computed: true, Sensitive: true, Description: "The bearer token.",
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
		},
	}
}

func (r *tokenResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.c = configuredFrom(req.ProviderData, &resp.Diagnostics)
}

func (r *tokenResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan tokenModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() || !requireClient(r.c, &resp.Diagnostics) {
		return
	}
	in := api.TokenCreate{
		Name:      plan.Name.ValueString(),
		Role:      plan.Role.ValueString(),
		ExpiresIn: plan.ExpiresIn.ValueString(),
	}
	if !strings.HasPrefix(in.Role, "provider-") {
		in.Org = r.c.orgOf(plan.Org, &resp.Diagnostics)
	} else if !plan.Org.IsUnknown() {
		in.Org = plan.Org.ValueString() // the server refuses a provider role in an org
	}
	if s := plan.ExpiresAt.ValueString(); s != "" {
		at, err := time.Parse(time.RFC3339, s)
		if err != nil {
			resp.Diagnostics.AddAttributeError(path.Root("expires_at"), "Invalid expiry", "Want RFC 3339, e.g. 2030-01-31T00:00:00Z: "+err.Error())
		}
		in.ExpiresAt = &at
	}
	if resp.Diagnostics.HasError() {
		return
	}
	tok, err := r.c.client.CreateToken(ctx, in)
	if err != nil {
		resp.Diagnostics.AddError("Cannot create token "+in.Name, err.Error())
		return
	}
	plan.ID = types.StringValue(tok.ID)
	plan.Prefix = types.StringValue(tok.Prefix)
	plan.Secret = types.StringValue(tok.Secret)
	plan.Org = types.StringNull()
	if in.Org != "" {
		plan.Org = types.StringValue(in.Org)
	}
	// A configured expiry stays as written (the server may spell the same
	// instant differently).
	if plan.ExpiresAt.IsUnknown() {
		plan.ExpiresAt = types.StringNull()
		if tok.ExpiresAt != nil {
			plan.ExpiresAt = types.StringValue(tok.ExpiresAt.UTC().Format(time.RFC3339))
		}
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

// Read only checks that the token still exists: nothing about it changes.
func (r *tokenResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state tokenModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() || !requireClient(r.c, &resp.Diagnostics) {
		return
	}
	_, err := r.c.client.GetToken(ctx, state.ID.ValueString())
	if isNotFound(err) {
		resp.State.RemoveResource(ctx) // revoked: plan a new one
		return
	}
	if err != nil {
		resp.Diagnostics.AddError("Cannot read token "+state.Name.ValueString(), err.Error())
	}
}

// Update is never called with a change (every attribute replaces the
// token), but the framework wants one.
func (r *tokenResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan tokenModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *tokenResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state tokenModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() || !requireClient(r.c, &resp.Diagnostics) {
		return
	}
	if err := r.c.client.RevokeToken(ctx, state.ID.ValueString()); err != nil && !isNotFound(err) {
		resp.Diagnostics.AddError("Cannot revoke token "+state.Name.ValueString(), err.Error())
	}
}
