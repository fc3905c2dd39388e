package provider

import (
	"context"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/objectplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-framework/types/basetypes"

	"github.com/sirocco-cloud/sirocco/api"
)

// sirocco_vdc: a virtual data centre. Name, zone, organisation and
// allocation model are fixed once made (the API cannot change them), so a
// change replaces the VDC; description, quotas and labels change in place.

type vdcResource struct{ c *configured }

func newVDCResource() resource.Resource { return &vdcResource{} }

type vdcModel struct {
	ID              types.String `tfsdk:"id"`
	Org             types.String `tfsdk:"org"`
	Name            types.String `tfsdk:"name"`
	Description     types.String `tfsdk:"description"`
	Zone            types.String `tfsdk:"zone"`
	AllocationModel types.String `tfsdk:"allocation_model"`
	Quotas          types.Object `tfsdk:"quotas"`
	Labels          types.Map    `tfsdk:"labels"`
	Region          types.String `tfsdk:"region"`
	Jurisdiction    types.String `tfsdk:"jurisdiction"`
}

// quotasModel is the quotas object, as ObjectAs reads it.
type quotasModel struct {
	VCPU      types.Int64 `tfsdk:"vcpu"`
	MemoryMiB types.Int64 `tfsdk:"memory_mib"`
	DiskGiB   types.Int64 `tfsdk:"disk_gib"`
	VMs       types.Int64 `tfsdk:"vms"`
	PublicIPs types.Int64 `tfsdk:"public_ips"`
}

var quotasTypes = map[string]attr.Type{
	"vcpu": types.Int64Type, "memory_mib": types.Int64Type, "disk_gib": types.Int64Type,
	"vms": types.Int64Type, "public_ips": types.Int64Type,
}

func (r *vdcResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_vdc"
}

func (r *vdcResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	replace := []planmodifier.String{stringplanmodifier.RequiresReplace()}
	quota := func(desc string) schema.Int64Attribute {
		return schema.Int64Attribute{Required: true, Description: desc}
	}
	resp.Schema = schema.Schema{
		Description: "A virtual data centre: an organisation's slice of one zone, with quotas.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				Computed:      true,
				Description:   "VDC ID.",
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"org": schema.StringAttribute{
				Optional: true, Computed: true,
				Description: "Organisation name or ID. Default: the provider's org.",
				PlanModifiers: []planmodifier.String{
					stringplanmodifier.UseStateForUnknown(), stringplanmodifier.RequiresReplace(),
				},
			},
			"name": schema.StringAttribute{
				Required: true, Description: "Name, unique in the organisation.", PlanModifiers: replace,
			},
			"description": schema.StringAttribute{Optional: true, Description: "Free text."},
			"zone": schema.StringAttribute{
				Required: true, Description: "Zone the VDC lives in, e.g. au-syd-1a.", PlanModifiers: replace,
			},
			"allocation_model": schema.StringAttribute{
				Optional: true, Computed: true,
				Default:       stringdefault.StaticString(api.AllocationPAYG),
				Description:   "payg, allocation or reservation. Default: payg.",
				PlanModifiers: replace,
				Validators: []validator.String{
					oneOf{api.AllocationPAYG, api.AllocationAllocation, api.AllocationReservation},
				},
			},
			"quotas": schema.SingleNestedAttribute{
				Optional: true, Computed: true,
				Description: "What the VDC may hold; zero means none. Default: the server's " +
					"(16 vCPU, 32768 MiB, 500 GiB disk, 10 VMs, 2 public IPs).",
				PlanModifiers: []planmodifier.Object{objectplanmodifier.UseStateForUnknown()},
				Attributes: map[string]schema.Attribute{
					"vcpu":       quota("Virtual CPUs."),
					"memory_mib": quota("Memory in MiB."),
					"disk_gib":   quota("Disk in GiB."),
					"vms":        quota("Number of VMs."),
					"public_ips": quota("Number of public IP addresses."),
				},
			},
			"labels": schema.MapAttribute{
				ElementType: types.StringType, Optional: true, Description: "Free-form key/value pairs.",
			},
			"region": schema.StringAttribute{
				Computed: true, Description: "The zone's region.",
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"jurisdiction": schema.StringAttribute{
				Computed: true, Description: "Country code whose law governs the VDC's data.",
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
		},
	}
}

func (r *vdcResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.c = configuredFrom(req.ProviderData, &resp.Diagnostics)
}

func (r *vdcResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan vdcModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() || !requireClient(r.c, &resp.Diagnostics) {
		return
	}
	org := r.c.orgOf(plan.Org, &resp.Diagnostics)
	in := api.VDCCreate{
		Name:            plan.Name.ValueString(),
		Description:     plan.Description.ValueString(),
		Zone:            plan.Zone.ValueString(),
		AllocationModel: plan.AllocationModel.ValueString(),
		Quotas:          quotasFrom(ctx, plan.Quotas, &resp.Diagnostics),
		Labels:          labelsFrom(ctx, plan.Labels, &resp.Diagnostics),
	}
	if resp.Diagnostics.HasError() {
		return
	}
	vdc, err := r.c.client.CreateVDC(ctx, org, in)
	if err != nil {
		resp.Diagnostics.AddError("Cannot create VDC "+in.Name, err.Error())
		return
	}
	plan.Org = types.StringValue(org)
	setVDC(ctx, &plan, vdc, &resp.Diagnostics)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *vdcResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state vdcModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() || !requireClient(r.c, &resp.Diagnostics) {
		return
	}
	vdc, err := r.c.client.GetVDC(ctx, state.Org.ValueString(), state.ID.ValueString())
	if isNotFound(err) || (err == nil && vdc.State == "deleting") {
		// Gone outside Terraform: plan to make it again.
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		resp.Diagnostics.AddError("Cannot read VDC "+state.ID.ValueString(), err.Error())
		return
	}
	setVDC(ctx, &state, vdc, &resp.Diagnostics)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

func (r *vdcResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, state vdcModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() || !requireClient(r.c, &resp.Diagnostics) {
		return
	}
	desc := plan.Description.ValueString()
	labels := labelsFrom(ctx, plan.Labels, &resp.Diagnostics)
	if labels == nil {
		labels = api.Labels{} // an empty set clears them; nil would leave them
	}
	u := api.VDCUpdate{Description: &desc, Labels: &labels}
	if !plan.Quotas.Equal(state.Quotas) {
		u.Quotas = quotasFrom(ctx, plan.Quotas, &resp.Diagnostics)
	}
	if resp.Diagnostics.HasError() {
		return
	}
	vdc, err := r.c.client.UpdateVDC(ctx, state.Org.ValueString(), state.ID.ValueString(), u)
	if err != nil {
		resp.Diagnostics.AddError("Cannot update VDC "+state.Name.ValueString(), err.Error())
		return
	}
	plan.ID, plan.Org = state.ID, state.Org
	setVDC(ctx, &plan, vdc, &resp.Diagnostics)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *vdcResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state vdcModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() || !requireClient(r.c, &resp.Diagnostics) {
		return
	}
	op, err := r.c.client.DeleteVDC(ctx, state.Org.ValueString(), state.ID.ValueString())
	if isNotFound(err) {
		return
	}
	if err == nil {
		err = r.c.wait(ctx, op)
	}
	if err != nil {
		resp.Diagnostics.AddError("Cannot delete VDC "+state.Name.ValueString(), err.Error())
	}
}

// ImportState takes "org/name" (or "org/id").
func (r *vdcResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	org, name, ok := strings.Cut(req.ID, "/")
	if !ok || org == "" || name == "" {
		resp.Diagnostics.AddError("Invalid import ID", "Want org/name, got "+req.ID+".")
		return
	}
	// Read looks the VDC up by name and replaces the ID with the real one.
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("org"), org)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), name)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("labels"), types.MapNull(types.StringType))...)
}

// setVDC copies what the server says into m, keeping the organisation as
// the configuration named it (the server answers with its ID).
func setVDC(ctx context.Context, m *vdcModel, v *api.VDC, diags *diag.Diagnostics) {
	m.ID = types.StringValue(v.ID)
	m.Name = types.StringValue(v.Name)
	m.Zone = types.StringValue(v.Zone)
	m.Region = types.StringValue(v.Region)
	m.Jurisdiction = types.StringValue(v.Jurisdiction)
	m.AllocationModel = types.StringValue(v.AllocationModel)
	// The server drops an empty description; keep null and "" apart as the
	// configuration had them.
	if v.Description != "" || (!m.Description.IsNull() && !m.Description.IsUnknown()) {
		m.Description = types.StringValue(v.Description)
	} else {
		m.Description = types.StringNull()
	}
	q, d := types.ObjectValue(quotasTypes, map[string]attr.Value{
		"vcpu":       types.Int64Value(int64(v.Quotas.VCPU)),
		"memory_mib": types.Int64Value(v.Quotas.MemoryMiB),
		"disk_gib":   types.Int64Value(v.Quotas.DiskGiB),
		"vms":        types.Int64Value(int64(v.Quotas.VMs)),
		"public_ips": types.Int64Value(int64(v.Quotas.PublicIPs)),
	})
	diags.Append(d...)
	m.Quotas = q
	m.Labels = labelsValue(ctx, v.Labels, m.Labels, diags)
}

// quotasFrom is the quotas object as the API's, nil when not configured.
func quotasFrom(ctx context.Context, o types.Object, diags *diag.Diagnostics) *api.Quotas {
	if o.IsNull() || o.IsUnknown() {
		return nil
	}
	var q quotasModel
	diags.Append(o.As(ctx, &q, basetypes.ObjectAsOptions{})...)
	return &api.Quotas{
		VCPU:      int(q.VCPU.ValueInt64()),
		MemoryMiB: q.MemoryMiB.ValueInt64(),
		DiskGiB:   q.DiskGiB.ValueInt64(),
		VMs:       int(q.VMs.ValueInt64()),
		PublicIPs: int(q.PublicIPs.ValueInt64()),
	}
}
