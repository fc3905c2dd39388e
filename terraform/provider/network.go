package provider

import (
	"context"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/listplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/sirocco-cloud/sirocco/api"
)

// sirocco_network: an isolated network of a VDC. The API cannot change a
// network, so any change replaces it; a network is deleted only once no VM
// has an interface on it, which Terraform's ordering gives when the VMs name
// it (sirocco_vm.networks).

type networkResource struct{ c *configured }

func newNetworkResource() resource.Resource { return &networkResource{} }

type networkModel struct {
	ID      types.String `tfsdk:"id"`
	Org     types.String `tfsdk:"org"`
	VDC     types.String `tfsdk:"vdc"`
	Name    types.String `tfsdk:"name"`
	CIDR    types.String `tfsdk:"cidr"`
	Gateway types.String `tfsdk:"gateway"`
	DNS     types.List   `tfsdk:"dns"`
	Region  types.String `tfsdk:"region"`
	MTU     types.Int64  `tfsdk:"mtu"`
}

func (r *networkResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_network"
}

func (r *networkResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	replace := []planmodifier.String{stringplanmodifier.RequiresReplace()}
	keep := []planmodifier.String{stringplanmodifier.UseStateForUnknown()}
	keepOrReplace := []planmodifier.String{stringplanmodifier.UseStateForUnknown(), stringplanmodifier.RequiresReplace()}
	resp.Schema = schema.Schema{
		Description: "An isolated network of a VDC, with a subnet, a gateway and DHCP. Any change replaces it.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{Computed: true, Description: "Network ID.", PlanModifiers: keep},
			"org": schema.StringAttribute{
				Optional: true, Computed: true, PlanModifiers: keepOrReplace,
				Description: "Organisation name or ID. Default: the provider's org.",
			},
			"vdc":  schema.StringAttribute{Required: true, Description: "VDC name or ID.", PlanModifiers: replace},
			"name": schema.StringAttribute{Required: true, Description: "Name, unique in the organisation.", PlanModifiers: replace},
			"cidr": schema.StringAttribute{
				Required: true, PlanModifiers: replace,
				Description: "IPv4 subnet, /16 to /29, e.g. 10.0.0.0/24; must not overlap another network of the VDC.",
			},
			"gateway": schema.StringAttribute{
				Optional: true, Computed: true, PlanModifiers: keepOrReplace,
				Description: "Gateway address, in the subnet. Default: the first host address.",
			},
			"dns": schema.ListAttribute{
				ElementType: types.StringType, Optional: true,
				Description:   "IPv4 DNS servers handed out by DHCP (at most 4).",
				PlanModifiers: []planmodifier.List{listplanmodifier.RequiresReplace()},
			},
			"region": schema.StringAttribute{Computed: true, Description: "The VDC's region.", PlanModifiers: keep},
			"mtu": schema.Int64Attribute{
				Computed: true, Description: "Interface MTU inside the VMs.",
				PlanModifiers: []planmodifier.Int64{int64planmodifier.UseStateForUnknown()},
			},
		},
	}
}

func (r *networkResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.c = configuredFrom(req.ProviderData, &resp.Diagnostics)
}

func (r *networkResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan networkModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() || !requireClient(r.c, &resp.Diagnostics) {
		return
	}
	org := r.c.orgOf(plan.Org, &resp.Diagnostics)
	in := api.NetworkCreate{
		Name:    plan.Name.ValueString(),
		VDC:     plan.VDC.ValueString(),
		CIDR:    plan.CIDR.ValueString(),
		Gateway: plan.Gateway.ValueString(), // "" when unknown: the server's default
	}
	if !plan.DNS.IsNull() && !plan.DNS.IsUnknown() {
		resp.Diagnostics.Append(plan.DNS.ElementsAs(ctx, &in.DNS, false)...)
	}
	if resp.Diagnostics.HasError() {
		return
	}
	n, err := r.c.client.CreateNetwork(ctx, org, in)
	if err != nil {
		resp.Diagnostics.AddError("Cannot create network "+in.Name, err.Error())
		return
	}
	plan.Org = types.StringValue(org)
	setNetwork(ctx, &plan, n, &resp.Diagnostics)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *networkResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state networkModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() || !requireClient(r.c, &resp.Diagnostics) {
		return
	}
	n, err := r.c.client.GetNetwork(ctx, state.Org.ValueString(), state.ID.ValueString())
	if isNotFound(err) {
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		resp.Diagnostics.AddError("Cannot read network "+state.ID.ValueString(), err.Error())
		return
	}
	// The VDC is kept as configured (name or ID); only an import, which
	// knows none, takes the server's, which is the VDC's name.
	if state.VDC.IsNull() {
		state.VDC = types.StringValue(n.VDC)
	}
	setNetwork(ctx, &state, n, &resp.Diagnostics)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

// Update is never called with a change (every attribute replaces the
// network), but Terraform still asks for it; it keeps the plan.
func (r *networkResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan networkModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *networkResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state networkModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() || !requireClient(r.c, &resp.Diagnostics) {
		return
	}
	err := r.c.client.DeleteNetwork(ctx, state.Org.ValueString(), state.ID.ValueString())
	if err != nil && !isNotFound(err) {
		resp.Diagnostics.AddError("Cannot delete network "+state.Name.ValueString(), err.Error())
	}
}

// ImportState takes "org/name" (or "org/id").
func (r *networkResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	org, name, ok := strings.Cut(req.ID, "/")
	if !ok || org == "" || name == "" {
		resp.Diagnostics.AddError("Invalid import ID", "Want org/name, got "+req.ID+".")
		return
	}
	// Read looks the network up by name and replaces the ID with the real one.
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("org"), org)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), name)...)
}

// setNetwork copies what the server says into m, except the organisation and
// VDC, which the configuration names its own way.
func setNetwork(ctx context.Context, m *networkModel, n *api.Network, diags *diag.Diagnostics) {
	m.ID = types.StringValue(n.ID)
	m.Name = types.StringValue(n.Name)
	m.CIDR = types.StringValue(n.CIDR)
	m.Gateway = types.StringValue(n.Gateway)
	m.Region = types.StringValue(n.Region)
	m.MTU = types.Int64Value(int64(n.MTU))
	// The server drops an empty list; keep null and [] apart as the
	// configuration had them.
	switch {
	case len(n.DNS) > 0:
		dns, d := types.ListValueFrom(ctx, types.StringType, n.DNS)
		diags.Append(d...)
		m.DNS = dns
	case m.DNS.IsNull() || m.DNS.IsUnknown():
		m.DNS = types.ListNull(types.StringType)
	default:
		m.DNS = types.ListValueMust(types.StringType, []attr.Value{})
	}
}
