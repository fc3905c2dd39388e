package provider

import (
	"context"
	"errors"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/sirocco-cloud/sirocco/api"
)

// sirocco_disk: a data disk of a VDC, attached to a VM or not. Growing it
// and changing its VM apply in place, so its data survives; a change of
// organisation, VDC or name replaces it (and loses the data).

type diskResource struct{ c *configured }

func newDiskResource() resource.Resource { return &diskResource{} }

type diskModel struct {
	ID      types.String `tfsdk:"id"`
	Org     types.String `tfsdk:"org"`
	VDC     types.String `tfsdk:"vdc"`
	Name    types.String `tfsdk:"name"`
	SizeGiB types.Int64  `tfsdk:"size_gib"`
	VMID    types.String `tfsdk:"vm_id"`
	Host    types.String `tfsdk:"host"`
	Region  types.String `tfsdk:"region"`
}

// stopFirst is added to the errors of attachment changes, which the API
// takes only while the VM is stopped.
const stopFirst = "Disks attach and detach only while the VM is stopped: set the VM's power_state to \"stopped\" " +
	"(or run `sirocco vm stop`), apply, then apply this change."

func (r *diskResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_disk"
}

func (r *diskResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	replace := []planmodifier.String{stringplanmodifier.RequiresReplace()}
	keep := []planmodifier.String{stringplanmodifier.UseStateForUnknown()}
	resp.Schema = schema.Schema{
		Description: "A data disk of a VDC: an empty block volume attached to at most one VM, where the guest sees it as " +
			"/dev/vdb (then vdc...). It counts against the VDC's disk quota and is charged per GiB-hour until destroyed, attached or not.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{Computed: true, Description: "Disk ID.", PlanModifiers: keep},
			"org": schema.StringAttribute{
				Optional: true, Computed: true,
				Description: "Organisation name or ID. Default: the provider's org.",
				PlanModifiers: []planmodifier.String{
					stringplanmodifier.UseStateForUnknown(), stringplanmodifier.RequiresReplace(),
				},
			},
			"vdc":  schema.StringAttribute{Required: true, Description: "VDC name or ID.", PlanModifiers: replace},
			"name": schema.StringAttribute{Required: true, Description: "Name, unique among the organisation's disks.", PlanModifiers: replace},
			"size_gib": schema.Int64Attribute{
				Required:    true,
				Description: "Size in GiB (1 to 16384). Growing it applies in place (an attached disk's VM must be stopped); it never shrinks.",
			},
			"vm_id": schema.StringAttribute{
				Optional: true,
				Description: "ID of the VM (sirocco_vm.x.id) of the same VDC to attach the disk to. Changes in place: clearing it " +
					"detaches the disk, which keeps its data. Attaching and detaching need the VM stopped. Once attached, the disk " +
					"lives on that VM's host and attaches only to VMs there.",
			},
			"host":   schema.StringAttribute{Computed: true, Description: "Host holding the disk, from its first attachment on."},
			"region": schema.StringAttribute{Computed: true, Description: "Region of the disk.", PlanModifiers: keep},
		},
	}
}

func (r *diskResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.c = configuredFrom(req.ProviderData, &resp.Diagnostics)
}

func (r *diskResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan diskModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() || !requireClient(r.c, &resp.Diagnostics) {
		return
	}
	org := r.c.orgOf(plan.Org, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	k, err := r.c.client.CreateDisk(ctx, org, api.DiskCreate{Name: plan.Name.ValueString(), VDC: plan.VDC.ValueString(),
		SizeGiB: plan.SizeGiB.ValueInt64()})
	if err != nil {
		resp.Diagnostics.AddError("Cannot create disk "+plan.Name.ValueString(), err.Error())
		return
	}
	// Record the disk before attaching: it is charged from now on, and a
	// failed attach must not lose it (Terraform keeps it as tainted).
	want := plan.VMID
	plan.Org = types.StringValue(org)
	plan.VMID = types.StringNull()
	setDisk(&plan, k)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
	if want.ValueString() == "" {
		plan.VMID = want
		resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
		return
	}
	if k, err = r.c.client.AttachDisk(ctx, org, k.ID, api.DiskAttach{VM: want.ValueString()}); err != nil {
		addAttachError(&resp.Diagnostics, "Cannot attach disk "+plan.Name.ValueString()+" to VM "+want.ValueString(), err)
		return
	}
	plan.VMID = want
	setDisk(&plan, k)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *diskResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state diskModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() || !requireClient(r.c, &resp.Diagnostics) {
		return
	}
	k, err := r.c.client.GetDisk(ctx, state.Org.ValueString(), state.ID.ValueString())
	if isNotFound(err) || err == nil && k.State == api.DiskDeleting {
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		resp.Diagnostics.AddError("Cannot read disk "+state.ID.ValueString(), err.Error())
		return
	}
	// The VDC is kept as configured (name or ID); only an import, which
	// knows none, takes the server's (the VDC's name).
	if state.VDC.IsNull() {
		state.VDC = types.StringValue(k.VDC)
	}
	state.Name = types.StringValue(k.Name)
	state.SizeGiB = types.Int64Value(k.SizeGiB)
	if k.VM == "" {
		state.VMID = types.StringNull()
	} else {
		state.VMID = types.StringValue(k.VM)
	}
	setDisk(&state, k)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

// Update grows the disk and moves it between VMs: detach from the old one,
// attach to the new one, each needing its VM stopped.
func (r *diskResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, state diskModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() || !requireClient(r.c, &resp.Diagnostics) {
		return
	}
	plan.ID, plan.Org = state.ID, state.Org
	org, id, name := state.Org.ValueString(), state.ID.ValueString(), state.Name.ValueString()
	k, err := r.c.client.GetDisk(ctx, org, id)
	if err != nil {
		resp.Diagnostics.AddError("Cannot read disk "+name, err.Error())
		return
	}
	if size := plan.SizeGiB.ValueInt64(); size != k.SizeGiB {
		if k, err = r.c.client.UpdateDisk(ctx, org, id, api.DiskUpdate{SizeGiB: &size}); err != nil {
			addAttachError(&resp.Diagnostics, "Cannot grow disk "+name, err)
			return
		}
		state.SizeGiB = types.Int64Value(k.SizeGiB)
		resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
	}
	want := plan.VMID.ValueString()
	if k.VM != want && k.VM != "" {
		if k, err = r.c.client.DetachDisk(ctx, org, id); err != nil {
			addAttachError(&resp.Diagnostics, "Cannot detach disk "+name, err)
			return
		}
		// Detached now: say so, so a failed attach below is retried by the next plan.
		state.VMID = types.StringNull()
		setDisk(&state, k)
		resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
	}
	if want != "" && k.VM != want {
		if k, err = r.c.client.AttachDisk(ctx, org, id, api.DiskAttach{VM: want}); err != nil {
			addAttachError(&resp.Diagnostics, "Cannot attach disk "+name+" to VM "+want, err)
			return
		}
	}
	setDisk(&plan, k)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *diskResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state diskModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() || !requireClient(r.c, &resp.Diagnostics) {
		return
	}
	org, id, name := state.Org.ValueString(), state.ID.ValueString(), state.Name.ValueString()
	k, err := r.c.client.GetDisk(ctx, org, id)
	if isNotFound(err) {
		return
	}
	if err != nil {
		resp.Diagnostics.AddError("Cannot read disk "+name, err.Error())
		return
	}
	if k.VM != "" {
		if _, err := r.c.client.DetachDisk(ctx, org, id); err != nil && !isNotFound(err) {
			addAttachError(&resp.Diagnostics, "Cannot detach disk "+name+" before deleting it", err)
			return
		}
	}
	if err := r.c.client.DeleteDisk(ctx, org, id); err != nil && !isNotFound(err) {
		resp.Diagnostics.AddError("Cannot delete disk "+name, err.Error())
	}
}

// ImportState takes "org/disk" (the disk's ID or name).
func (r *diskResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	org, disk, ok := strings.Cut(req.ID, "/")
	if !ok || org == "" || disk == "" {
		resp.Diagnostics.AddError("Invalid import ID", "Want org/disk (the disk's ID or name), got "+req.ID+".")
		return
	}
	// Read looks the disk up and replaces a name with the ID.
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("org"), org)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), disk)...)
}

// addAttachError reports err, saying how to stop the VM when that is what
// the API asks for.
func addAttachError(diags *diag.Diagnostics, summary string, err error) {
	detail := err.Error()
	if e, ok := errors.AsType[*api.Error](err); ok && e.Code == api.CodeVMNotStopped {
		detail += "\n\n" + stopFirst
	}
	diags.AddError(summary, detail)
}

// setDisk copies what the server says into m, except the organisation,
// VDC and VM, which the configuration names its own way.
func setDisk(m *diskModel, k *api.Disk) {
	m.ID = types.StringValue(k.ID)
	m.Host = types.StringValue(k.Host)
	m.Region = types.StringValue(k.Region)
}
