package provider

import (
	"context"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/sirocco-cloud/sirocco/api"
)

// sirocco_firewall_rule: one rule allowing traffic to or from a VM. The API
// cannot change a rule, so any change replaces it; a rule goes with its VM,
// so naming the VM by ID (sirocco_vm.x.id) makes a replaced VM get its rules
// again.

type firewallRuleResource struct{ c *configured }

func newFirewallRuleResource() resource.Resource { return &firewallRuleResource{} }

type firewallRuleModel struct {
	ID          types.String `tfsdk:"id"`
	Org         types.String `tfsdk:"org"`
	VM          types.String `tfsdk:"vm"`
	Direction   types.String `tfsdk:"direction"`
	Protocol    types.String `tfsdk:"protocol"`
	PortFrom    types.Int64  `tfsdk:"port_from"`
	PortTo      types.Int64  `tfsdk:"port_to"`
	CIDR        types.String `tfsdk:"cidr"`
	Description types.String `tfsdk:"description"`
}

func (r *firewallRuleResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_firewall_rule"
}

func (r *firewallRuleResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	replace := []planmodifier.String{stringplanmodifier.RequiresReplace()}
	keepOrReplace := []planmodifier.String{stringplanmodifier.UseStateForUnknown(), stringplanmodifier.RequiresReplace()}
	resp.Schema = schema.Schema{
		Description: "A firewall rule of a VM. Ingress from outside the VM's networks is denied unless a rule " +
			"allows it; egress is open until the VM has an egress rule, then only what rules allow. Any change replaces the rule.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				Computed: true, Description: "Rule ID.",
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"org": schema.StringAttribute{
				Optional: true, Computed: true, PlanModifiers: keepOrReplace,
				Description: "Organisation name or ID. Default: the provider's org.",
			},
			"vm": schema.StringAttribute{
				Required: true, PlanModifiers: replace,
				Description: "VM ID or name. Prefer the ID (sirocco_vm.x.id): a replaced VM loses its rules, and a new ID makes them again.",
			},
			"direction": schema.StringAttribute{
				Optional: true, Computed: true, PlanModifiers: replace,
				Default:     stringdefault.StaticString(api.DirectionIngress),
				Description: "ingress (to the VM) or egress (from it). Default: ingress.",
				Validators:  []validator.String{oneOf{api.DirectionIngress, api.DirectionEgress}},
			},
			"protocol": schema.StringAttribute{
				Required: true, PlanModifiers: replace,
				Description: "tcp, udp, icmp or any.",
				Validators:  []validator.String{oneOf{"tcp", "udp", "icmp", "any"}},
			},
			"port_from": schema.Int64Attribute{
				Optional: true, Description: "First port (tcp and udp only). Default: every port.",
				PlanModifiers: []planmodifier.Int64{int64planmodifier.RequiresReplace()},
			},
			"port_to": schema.Int64Attribute{
				Optional: true, Computed: true, Description: "Last port. Default: port_from.",
				PlanModifiers: []planmodifier.Int64{int64planmodifier.UseStateForUnknown(), int64planmodifier.RequiresReplace()},
			},
			"cidr": schema.StringAttribute{
				Optional: true, Computed: true, PlanModifiers: replace,
				Default:     stringdefault.StaticString("0.0.0.0/0"),
				Description: "Source (ingress) or destination (egress) IPv4 addresses. Default: everywhere.",
			},
			"description": schema.StringAttribute{Optional: true, Description: "Free text.", PlanModifiers: replace},
		},
	}
}

func (r *firewallRuleResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.c = configuredFrom(req.ProviderData, &resp.Diagnostics)
}

func (r *firewallRuleResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan firewallRuleModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() || !requireClient(r.c, &resp.Diagnostics) {
		return
	}
	org := r.c.orgOf(plan.Org, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	in := api.FirewallRuleCreate{
		Direction:   plan.Direction.ValueString(),
		Protocol:    plan.Protocol.ValueString(),
		PortFrom:    int(plan.PortFrom.ValueInt64()),
		PortTo:      int(plan.PortTo.ValueInt64()), // 0 when unknown: the server's default
		CIDR:        plan.CIDR.ValueString(),
		Description: plan.Description.ValueString(),
	}
	vm := plan.VM.ValueString()
	rule, err := r.c.client.CreateFirewallRule(ctx, org, vm, in)
	if err != nil {
		resp.Diagnostics.AddError("Cannot add a firewall rule to VM "+vm, err.Error())
		return
	}
	plan.Org = types.StringValue(org)
	plan.ID = types.StringValue(rule.ID)
	// The rest is kept as configured (the server writes a bare address as
	// a /32, say); only port_to, which defaults to port_from, is the server's.
	plan.PortTo = types.Int64Value(int64(rule.PortTo))
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *firewallRuleResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state firewallRuleModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() || !requireClient(r.c, &resp.Diagnostics) {
		return
	}
	rule, err := r.c.client.GetFirewallRule(ctx, state.Org.ValueString(), state.VM.ValueString(), state.ID.ValueString())
	if isNotFound(err) {
		// Deleted outside Terraform, or with its VM: plan to make it again.
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		resp.Diagnostics.AddError("Cannot read firewall rule "+state.ID.ValueString(), err.Error())
		return
	}
	// A rule cannot change, so what Terraform has is right, except after an
	// import, which knows nothing but the IDs. The VM is then recorded by
	// ID, as the example names it.
	if state.Protocol.IsNull() {
		state.VM = types.StringValue(rule.VM)
		state.Direction = types.StringValue(rule.Direction)
		state.Protocol = types.StringValue(rule.Protocol)
		if rule.PortFrom != 0 {
			state.PortFrom = types.Int64Value(int64(rule.PortFrom))
		}
		state.PortTo = types.Int64Value(int64(rule.PortTo))
		state.CIDR = types.StringValue(rule.CIDR)
		if rule.Description != "" {
			state.Description = types.StringValue(rule.Description)
		}
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

// Update is never called with a change (every attribute replaces the rule),
// but Terraform still asks for it; it keeps the plan.
func (r *firewallRuleResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan firewallRuleModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *firewallRuleResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state firewallRuleModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() || !requireClient(r.c, &resp.Diagnostics) {
		return
	}
	err := r.c.client.DeleteFirewallRule(ctx, state.Org.ValueString(), state.VM.ValueString(), state.ID.ValueString())
	if err != nil && !isNotFound(err) {
		resp.Diagnostics.AddError("Cannot delete firewall rule "+state.ID.ValueString()+" of VM "+state.VM.ValueString(), err.Error())
	}
}

// ImportState takes "org/vm/rule-id", the VM by name or ID; the state
// records the VM's ID.
func (r *firewallRuleResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	parts := strings.Split(req.ID, "/")
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
		resp.Diagnostics.AddError("Invalid import ID", "Want org/vm/rule-id, got "+req.ID+".")
		return
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("org"), parts[0])...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("vm"), parts[1])...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), parts[2])...)
}
