package provider

import (
	"context"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/listplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/sirocco-cloud/sirocco/api"
)

// sirocco_vm: a virtual machine. Power state and size change in place (a
// resize of a running VM stops it, resizes and starts it again, as the API
// resizes only stopped VMs); labels change in place; anything else replaces
// the VM, since the API cannot change it.

type vmResource struct{ c *configured }

func newVMResource() resource.Resource { return &vmResource{} }

type vmModel struct {
	ID         types.String `tfsdk:"id"`
	Org        types.String `tfsdk:"org"`
	VDC        types.String `tfsdk:"vdc"`
	Name       types.String `tfsdk:"name"`
	Hostname   types.String `tfsdk:"hostname"`
	Image      types.String `tfsdk:"image"`
	Size       types.String `tfsdk:"size"`
	SSHKeys    types.List   `tfsdk:"ssh_keys"`
	UserData   types.String `tfsdk:"user_data"`
	PowerState types.String `tfsdk:"power_state"`
	Labels     types.Map    `tfsdk:"labels"`
	State      types.String `tfsdk:"state"`
	VCPU       types.Int64  `tfsdk:"vcpu"`
	MemoryMiB  types.Int64  `tfsdk:"memory_mib"`
	DiskGiB    types.Int64  `tfsdk:"disk_gib"`
	Zone       types.String `tfsdk:"zone"`
	Host       types.String `tfsdk:"host"`
	Networks   types.List   `tfsdk:"networks"`
}

func (r *vmResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_vm"
}

func (r *vmResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	replace := []planmodifier.String{stringplanmodifier.RequiresReplace()}
	keep := []planmodifier.String{stringplanmodifier.UseStateForUnknown()}
	resp.Schema = schema.Schema{
		Description: "A virtual machine in a VDC, from an image of the catalog.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{Computed: true, Description: "VM ID.", PlanModifiers: keep},
			"org": schema.StringAttribute{
				Optional: true, Computed: true,
				Description: "Organisation name or ID. Default: the provider's org.",
				PlanModifiers: []planmodifier.String{
					stringplanmodifier.UseStateForUnknown(), stringplanmodifier.RequiresReplace(),
				},
			},
			"vdc":  schema.StringAttribute{Required: true, Description: "VDC name or ID.", PlanModifiers: replace},
			"name": schema.StringAttribute{Required: true, Description: "Name, unique in the organisation.", PlanModifiers: replace},
			"hostname": schema.StringAttribute{
				Optional: true, Computed: true, Description: "Guest hostname. Default: the name.",
				PlanModifiers: []planmodifier.String{
					stringplanmodifier.UseStateForUnknown(), stringplanmodifier.RequiresReplace(),
				},
			},
			"image": schema.StringAttribute{
				Required: true, PlanModifiers: replace,
				Description: "Image name or ID: the organisation's private images first, then the public catalog.",
			},
			"size": schema.StringAttribute{
				Required: true,
				Description: "Size (e.g. s1.small). A change resizes the VM in place: a running VM is stopped, " +
					"resized and started again. The root disk only grows.",
			},
			"ssh_keys": schema.ListAttribute{
				ElementType: types.StringType, Optional: true,
				Description: "Keys for the default user: OpenSSH public keys, or names of sirocco_ssh_key keys. A change replaces " +
					"the VM, unless it names the same keys another way (a key by its name, say).",
				// ModifyPlan (sshkey.go) decides the replacement: it needs
				// the configured client to look names up.
			},
			"user_data": schema.StringAttribute{
				Optional: true, Sensitive: true,
				Description: "cloud-init user-data, read at first boot: a change replaces the VM. The server " +
					"does not show it back, so after an import the configured value is taken as it is.",
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplaceIf(userDataReplaces,
					"A change replaces the VM, except the first one after an import.", "")},
			},
			"power_state": schema.StringAttribute{
				Optional: true, Computed: true,
				Default:     stringdefault.StaticString(api.PowerRunning),
				Description: "running or stopped; changes in place. Default: running.",
				Validators:  []validator.String{oneOf{api.PowerRunning, api.PowerStopped}},
			},
			"labels": schema.MapAttribute{
				ElementType: types.StringType, Optional: true, Description: "Free-form key/value pairs.",
			},
			"state": schema.StringAttribute{
				Computed: true, Description: "What the host reports: creating, running, stopped, error...",
			},
			"vcpu":       schema.Int64Attribute{Computed: true, Description: "Virtual CPUs of the size."},
			"memory_mib": schema.Int64Attribute{Computed: true, Description: "Memory of the size, in MiB."},
			"disk_gib":   schema.Int64Attribute{Computed: true, Description: "Root disk, in GiB; grows with a resize."},
			"zone":       schema.StringAttribute{Computed: true, Description: "Zone the VM runs in.", PlanModifiers: keep},
			"host":       schema.StringAttribute{Computed: true, Description: "Host the VM is placed on."},
			"networks": schema.ListAttribute{
				ElementType: types.StringType, Optional: true, Computed: true,
				Description: "Networks (names or IDs) the VM has an interface on, in order; the first is its " +
					"primary one, which a public IP attaches to. A change replaces the VM. Default: the VDC's " +
					"only network if it has exactly one, else none.",
				PlanModifiers: []planmodifier.List{listplanmodifier.UseStateForUnknown(), listplanmodifier.RequiresReplace()},
			},
		},
	}
}

func (r *vmResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.c = configuredFrom(req.ProviderData, &resp.Diagnostics)
}

func (r *vmResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan vmModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() || !requireClient(r.c, &resp.Diagnostics) {
		return
	}
	org := r.c.orgOf(plan.Org, &resp.Diagnostics)
	powerOn := plan.PowerState.ValueString() == api.PowerRunning
	in := api.VMCreate{
		Name:     plan.Name.ValueString(),
		VDC:      plan.VDC.ValueString(),
		Image:    plan.Image.ValueString(),
		Size:     plan.Size.ValueString(),
		Hostname: plan.Hostname.ValueString(), // "" when unknown: the server's default
		UserData: plan.UserData.ValueString(),
		PowerOn:  &powerOn,
		Labels:   labelsFrom(ctx, plan.Labels, &resp.Diagnostics),
	}
	if !plan.SSHKeys.IsNull() && !plan.SSHKeys.IsUnknown() {
		resp.Diagnostics.Append(plan.SSHKeys.ElementsAs(ctx, &in.SSHKeys, false)...)
	}
	if !plan.Networks.IsNull() && !plan.Networks.IsUnknown() {
		var nets []string
		resp.Diagnostics.Append(plan.Networks.ElementsAs(ctx, &nets, false)...)
		for _, n := range nets {
			in.Networks = append(in.Networks, api.VMNetwork{Network: n})
		}
	}
	if resp.Diagnostics.HasError() {
		return
	}
	created, err := r.c.client.CreateVMs(ctx, org, in)
	if err == nil && len(created.VMs) != 1 {
		err = fmt.Errorf("the server made %d VMs, want 1", len(created.VMs))
	}
	if err != nil {
		resp.Diagnostics.AddError("Cannot create VM "+in.Name, err.Error())
		return
	}
	// Record the VM before waiting: if it never comes up, Terraform keeps it
	// as tainted and replaces it on the next apply instead of losing it.
	plan.Org = types.StringValue(org)
	if plan.Networks.IsUnknown() {
		// None configured: the server's choice, by name.
		plan.Networks = networksValue(ctx, created.VMs[0].NICs, &resp.Diagnostics)
	}
	setVM(ctx, &plan, &created.VMs[0], &resp.Diagnostics)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
	if len(created.Operations) > 0 {
		if err := r.c.wait(ctx, &created.Operations[0]); err != nil {
			resp.Diagnostics.AddError("VM "+in.Name+" did not come up", err.Error())
			return
		}
	}
	r.refresh(ctx, &plan, &resp.State, &resp.Diagnostics)
}

func (r *vmResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state vmModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() || !requireClient(r.c, &resp.Diagnostics) {
		return
	}
	org := state.Org.ValueString()
	vm, err := r.c.client.GetVM(ctx, org, state.ID.ValueString())
	if isNotFound(err) || (err == nil && vm.State == api.VMDeleting) {
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		resp.Diagnostics.AddError("Cannot read VM "+state.ID.ValueString(), err.Error())
		return
	}
	// The configuration names the VDC and image however it likes (name or
	// ID) and the server answers with IDs, so those are kept as configured.
	// Only an import, which knows neither, fills them in, by name, so the
	// configuration that follows an import plans no replacement.
	if state.VDC.IsNull() {
		state.VDC = types.StringValue(vm.VDC)
		if v, err := r.c.client.GetVDC(ctx, org, vm.VDC); err == nil {
			state.VDC = types.StringValue(v.Name)
		}
	}
	if state.Image.IsNull() {
		state.Image = types.StringValue(vm.Image)
		if img, err := r.c.client.GetImage(ctx, org, vm.Image); err == nil {
			state.Image = types.StringValue(img.Name)
		} else if img, err := r.c.client.GetPublicImage(ctx, vm.Image); err == nil {
			state.Image = types.StringValue(img.Name)
		}
	}
	// Networks too are kept as configured (name or ID); an import takes
	// the server's names.
	if state.Networks.IsNull() {
		state.Networks = networksValue(ctx, vm.NICs, &resp.Diagnostics)
	}
	if state.SSHKeys.IsNull() && len(vm.SSHKeys) > 0 {
		keys, d := types.ListValueFrom(ctx, types.StringType, vm.SSHKeys)
		resp.Diagnostics.Append(d...)
		state.SSHKeys = keys
	}
	setVM(ctx, &state, vm, &resp.Diagnostics)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

func (r *vmResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, state vmModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() || !requireClient(r.c, &resp.Diagnostics) {
		return
	}
	plan.ID, plan.Org = state.ID, state.Org
	org, id, name := state.Org.ValueString(), state.ID.ValueString(), state.Name.ValueString()
	// Whatever user-data is configured now is recorded as the VM's.
	resp.Diagnostics.Append(resp.Private.SetKey(ctx, privUserDataUnknown, nil)...)
	fail := func(what string, err error) {
		resp.Diagnostics.AddError("Cannot "+what+" VM "+name, err.Error())
	}

	if !plan.Labels.Equal(state.Labels) {
		labels := labelsFrom(ctx, plan.Labels, &resp.Diagnostics)
		if labels == nil {
			labels = api.Labels{} // an empty set clears them; nil would leave them
		}
		if _, err := r.c.client.UpdateVM(ctx, org, id, api.VMUpdate{Labels: &labels}); err != nil {
			fail("relabel", err)
			return
		}
	}

	vm, err := r.c.client.GetVM(ctx, org, id)
	if err != nil {
		fail("read", err)
		return
	}
	if size := plan.Size.ValueString(); size != vm.Size {
		// The API resizes only stopped VMs.
		if vm.State != api.VMStopped {
			if err := r.stop(ctx, org, id); err != nil {
				fail("stop (to resize)", err)
				return
			}
		}
		op, err := r.c.client.ResizeVM(ctx, org, id, api.VMResize{Size: size})
		if err == nil {
			err = r.c.wait(ctx, op)
		}
		if err != nil {
			fail("resize", err)
			return
		}
		if vm, err = r.c.client.GetVM(ctx, org, id); err != nil {
			fail("read", err)
			return
		}
	}
	switch want := plan.PowerState.ValueString(); {
	case want == api.PowerRunning && vm.State != api.VMRunning:
		op, err := r.c.client.StartVM(ctx, org, id)
		if err == nil {
			err = r.c.wait(ctx, op)
		}
		if err != nil {
			fail("start", err)
			return
		}
	case want == api.PowerStopped && vm.State != api.VMStopped:
		if err := r.stop(ctx, org, id); err != nil {
			fail("stop", err)
			return
		}
	}
	r.refresh(ctx, &plan, &resp.State, &resp.Diagnostics)
}

func (r *vmResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state vmModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() || !requireClient(r.c, &resp.Diagnostics) {
		return
	}
	op, err := r.c.client.DeleteVM(ctx, state.Org.ValueString(), state.ID.ValueString())
	if isNotFound(err) {
		return
	}
	if err == nil {
		err = r.c.wait(ctx, op)
	}
	if err != nil {
		resp.Diagnostics.AddError("Cannot delete VM "+state.Name.ValueString(), err.Error())
	}
}

// ImportState takes "org/name" (or "org/id").
func (r *vmResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	org, name, ok := strings.Cut(req.ID, "/")
	if !ok || org == "" || name == "" {
		resp.Diagnostics.AddError("Invalid import ID", "Want org/name, got "+req.ID+".")
		return
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("org"), org)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), name)...)
	resp.Diagnostics.Append(resp.Private.SetKey(ctx, privUserDataUnknown, []byte("true"))...)
}

// privUserDataUnknown is the private state key marking an imported VM whose
// user-data nobody knows: the next apply records the configured value
// instead of replacing the VM for it.
const privUserDataUnknown = "user_data_unknown"

// userDataReplaces decides whether a user-data change replaces the VM: always,
// except from the unknown user-data of an import.
func userDataReplaces(ctx context.Context, req planmodifier.StringRequest, resp *stringplanmodifier.RequiresReplaceIfFuncResponse) {
	unknown, d := req.Private.GetKey(ctx, privUserDataUnknown)
	resp.Diagnostics.Append(d...)
	resp.RequiresReplace = !(req.StateValue.IsNull() && len(unknown) > 0)
}

// stop stops a VM and waits until it is off.
func (r *vmResource) stop(ctx context.Context, org, id string) error {
	op, err := r.c.client.StopVM(ctx, org, id, nil)
	if err != nil {
		return err
	}
	return r.c.wait(ctx, op)
}

// refresh reads the VM after an action and stores it.
func (r *vmResource) refresh(ctx context.Context, m *vmModel, state *tfsdk.State, diags *diag.Diagnostics) {
	vm, err := r.c.client.GetVM(ctx, m.Org.ValueString(), m.ID.ValueString())
	if err != nil {
		diags.AddError("Cannot read VM "+m.Name.ValueString(), err.Error())
		return
	}
	setVM(ctx, m, vm, diags)
	diags.Append(state.Set(ctx, m)...)
}

// networksValue is the names of the networks of a VM's NICs, in order.
func networksValue(ctx context.Context, nics []api.NIC, diags *diag.Diagnostics) types.List {
	names := []string{}
	for _, n := range nics {
		names = append(names, n.Network)
	}
	l, d := types.ListValueFrom(ctx, types.StringType, names)
	diags.Append(d...)
	return l
}

// setVM copies what the server says into m, except what the configuration
// names its own way (organisation, VDC, image, keys, user-data).
func setVM(ctx context.Context, m *vmModel, vm *api.VM, diags *diag.Diagnostics) {
	m.ID = types.StringValue(vm.ID)
	m.Name = types.StringValue(vm.Name)
	m.Hostname = types.StringValue(vm.Hostname)
	m.Size = types.StringValue(vm.Size)
	m.PowerState = types.StringValue(vm.PowerState)
	m.State = types.StringValue(vm.State)
	m.VCPU = types.Int64Value(int64(vm.VCPU))
	m.MemoryMiB = types.Int64Value(vm.MemoryMiB)
	m.DiskGiB = types.Int64Value(vm.DiskGiB)
	m.Zone = types.StringValue(vm.Zone)
	m.Host = types.StringValue(vm.Host)
	m.Labels = labelsValue(ctx, vm.Labels, m.Labels, diags)
}
