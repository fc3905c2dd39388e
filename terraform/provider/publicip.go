package provider

import (
	"context"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/sirocco-cloud/sirocco/api"
)

// sirocco_public_ip: a public address allocated to a VDC, attached to a VM
// or not. Attaching, detaching and moving it to another VM change it in
// place, so the address survives; a change of organisation or VDC releases
// it and allocates another.

type publicIPResource struct{ c *configured }

func newPublicIPResource() resource.Resource { return &publicIPResource{} }

type publicIPModel struct {
	ID        types.String `tfsdk:"id"`
	Org       types.String `tfsdk:"org"`
	VDC       types.String `tfsdk:"vdc"`
	VM        types.String `tfsdk:"vm"`
	Address   types.String `tfsdk:"address"`
	Region    types.String `tfsdk:"region"`
	PrivateIP types.String `tfsdk:"private_ip"`
}

func (r *publicIPResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_public_ip"
}

func (r *publicIPResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	keep := []planmodifier.String{stringplanmodifier.UseStateForUnknown()}
	resp.Schema = schema.Schema{
		Description: "A public IPv4 address of the VDC's region, NATed 1:1 to a VM's first NIC when attached. " +
			"It counts against the VDC's public_ips quota and is charged until destroyed, attached or not.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{Computed: true, Description: "Public IP ID.", PlanModifiers: keep},
			"org": schema.StringAttribute{
				Optional: true, Computed: true,
				Description: "Organisation name or ID. Default: the provider's org.",
				PlanModifiers: []planmodifier.String{
					stringplanmodifier.UseStateForUnknown(), stringplanmodifier.RequiresReplace(),
				},
			},
			"vdc": schema.StringAttribute{
				Required: true, Description: "VDC name or ID; the address comes from its region.",
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"vm": schema.StringAttribute{
				Optional: true,
				Description: "VM (ID or name) of the same VDC to attach the address to; it needs a network. " +
					"Changes in place: clearing it detaches the address, which stays allocated. " +
					"Prefer the ID (sirocco_vm.x.id), so that a replaced VM gets the address back.",
			},
			"address":    schema.StringAttribute{Computed: true, Description: "The public address.", PlanModifiers: keep},
			"region":     schema.StringAttribute{Computed: true, Description: "Region of the address.", PlanModifiers: keep},
			"private_ip": schema.StringAttribute{Computed: true, Description: "Address of the VM's NIC the public one is translated to; empty when detached."},
		},
	}
}

func (r *publicIPResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.c = configuredFrom(req.ProviderData, &resp.Diagnostics)
}

func (r *publicIPResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan publicIPModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() || !requireClient(r.c, &resp.Diagnostics) {
		return
	}
	org := r.c.orgOf(plan.Org, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	ip, err := r.c.client.AllocatePublicIP(ctx, org, api.PublicIPAllocate{VDC: plan.VDC.ValueString()})
	if err != nil {
		resp.Diagnostics.AddError("Cannot allocate a public IP in VDC "+plan.VDC.ValueString(), err.Error())
		return
	}
	// Record the address before attaching: it is charged from now on, and
	// a failed attach must not lose it (Terraform keeps it as tainted).
	want := plan.VM
	plan.Org = types.StringValue(org)
	plan.VM = types.StringNull()
	setPublicIP(&plan, ip)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
	if want.ValueString() == "" {
		plan.VM = want // null, or "" as configured
		resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
		return
	}
	if ip, err = r.c.client.AttachPublicIP(ctx, org, ip.ID, api.PublicIPAttach{VM: want.ValueString()}); err != nil {
		resp.Diagnostics.AddError("Cannot attach public IP "+plan.Address.ValueString()+" to VM "+want.ValueString(), err.Error())
		return
	}
	plan.VM = want
	setPublicIP(&plan, ip)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *publicIPResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state publicIPModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() || !requireClient(r.c, &resp.Diagnostics) {
		return
	}
	org := state.Org.ValueString()
	ip, err := r.c.client.GetPublicIP(ctx, org, state.ID.ValueString())
	if isNotFound(err) {
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		resp.Diagnostics.AddError("Cannot read public IP "+state.ID.ValueString(), err.Error())
		return
	}
	// The VDC is kept as configured (name or ID); only an import, which
	// knows none, takes the server's, which is the VDC's name.
	if state.VDC.IsNull() {
		state.VDC = types.StringValue(ip.VDC)
	}
	// The server names the VM by ID; the configuration may name it either
	// way, so a name is kept while it is still the attached VM's.
	switch cur := state.VM.ValueString(); {
	case ip.VM == "":
		if cur != "" {
			state.VM = types.StringNull()
		}
	case cur == ip.VM:
	case cur != "" && r.sameVM(ctx, org, cur, ip.VM):
	default:
		state.VM = types.StringValue(ip.VM)
	}
	setPublicIP(&state, ip)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

// sameVM reports whether the VM named ref (ID or name) is the one with ID id.
func (r *publicIPResource) sameVM(ctx context.Context, org, ref, id string) bool {
	vm, err := r.c.client.GetVM(ctx, org, ref)
	return err == nil && vm.ID == id
}

// Update attaches, detaches or moves the address: the only change that is
// not a replacement.
func (r *publicIPResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, state publicIPModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() || !requireClient(r.c, &resp.Diagnostics) {
		return
	}
	plan.ID, plan.Org = state.ID, state.Org
	org, id, addr := state.Org.ValueString(), state.ID.ValueString(), state.Address.ValueString()
	ip, err := r.c.client.GetPublicIP(ctx, org, id)
	if err != nil {
		resp.Diagnostics.AddError("Cannot read public IP "+addr, err.Error())
		return
	}
	// An address attached elsewhere must be detached before it moves.
	if ip.VM != "" {
		if ip, err = r.c.client.DetachPublicIP(ctx, org, id); err != nil {
			resp.Diagnostics.AddError("Cannot detach public IP "+addr, err.Error())
			return
		}
	}
	if vm := plan.VM.ValueString(); vm != "" {
		if ip, err = r.c.client.AttachPublicIP(ctx, org, id, api.PublicIPAttach{VM: vm}); err != nil {
			resp.Diagnostics.AddError("Cannot attach public IP "+addr+" to VM "+vm, err.Error())
			// It is detached now: say so, so the next plan attaches it again.
			state.VM = types.StringNull()
			state.PrivateIP = types.StringValue("")
			resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
			return
		}
	}
	setPublicIP(&plan, ip)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *publicIPResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state publicIPModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() || !requireClient(r.c, &resp.Diagnostics) {
		return
	}
	// Release detaches an attached address first.
	err := r.c.client.ReleasePublicIP(ctx, state.Org.ValueString(), state.ID.ValueString())
	if err != nil && !isNotFound(err) {
		resp.Diagnostics.AddError("Cannot release public IP "+state.Address.ValueString(), err.Error())
	}
}

// ImportState takes "org/address" (or "org/id").
func (r *publicIPResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	org, addr, ok := strings.Cut(req.ID, "/")
	if !ok || org == "" || addr == "" {
		resp.Diagnostics.AddError("Invalid import ID", "Want org/address, got "+req.ID+".")
		return
	}
	// Read looks the address up and replaces the ID with the real one.
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("org"), org)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), addr)...)
}

// setPublicIP copies what the server says into m, except the organisation,
// VDC and VM, which the configuration names its own way.
func setPublicIP(m *publicIPModel, ip *api.PublicIP) {
	m.ID = types.StringValue(ip.ID)
	m.Address = types.StringValue(ip.Address)
	m.Region = types.StringValue(ip.Region)
	m.PrivateIP = types.StringValue(ip.PrivateIP)
}
