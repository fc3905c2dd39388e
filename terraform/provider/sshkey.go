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

// sirocco_ssh_key: a public key the organisation registers once, which
// sirocco_vm.ssh_keys then names. The API cannot change a key, so any change
// replaces it; VMs made with the old key keep it.

type sshKeyResource struct{ c *configured }

func newSSHKeyResource() resource.Resource { return &sshKeyResource{} }

type sshKeyModel struct {
	ID          types.String `tfsdk:"id"`
	Org         types.String `tfsdk:"org"`
	Name        types.String `tfsdk:"name"`
	PublicKey   types.String `tfsdk:"public_key"`
	Fingerprint types.String `tfsdk:"fingerprint"`
	Type        types.String `tfsdk:"type"`
}

func (r *sshKeyResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_ssh_key"
}

func (r *sshKeyResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	replace := []planmodifier.String{stringplanmodifier.RequiresReplace()}
	keep := []planmodifier.String{stringplanmodifier.UseStateForUnknown()}
	keepOrReplace := []planmodifier.String{stringplanmodifier.UseStateForUnknown(), stringplanmodifier.RequiresReplace()}
	resp.Schema = schema.Schema{
		Description: "An SSH public key registered with the organisation, named by sirocco_vm.ssh_keys. Any change replaces it; " +
			"VMs created with the key keep it.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{Computed: true, Description: "SSH key ID.", PlanModifiers: keep},
			"org": schema.StringAttribute{
				Optional: true, Computed: true, PlanModifiers: keepOrReplace,
				Description: "Organisation name or ID. Default: the provider's org.",
			},
			"name": schema.StringAttribute{
				Required: true, PlanModifiers: replace,
				Description: "Name, unique in the organisation; what VMs put in ssh_keys.",
			},
			"public_key": schema.StringAttribute{
				Required: true, PlanModifiers: replace,
				Description: "One OpenSSH public key, e.g. file(\"~/.ssh/id_ed25519.pub\"): ssh-ed25519, ecdsa-sha2-*, " +
					"ssh-rsa of 2048 bits or more, or a security-key type. Kept as configured; the server stores it normalised.",
			},
			"fingerprint": schema.StringAttribute{
				Computed: true, PlanModifiers: keep,
				Description: "SHA-256 fingerprint as ssh-keygen -l prints it (SHA256:…).",
			},
			"type": schema.StringAttribute{Computed: true, PlanModifiers: keep, Description: "Key type, e.g. ssh-ed25519."},
		},
	}
}

func (r *sshKeyResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.c = configuredFrom(req.ProviderData, &resp.Diagnostics)
}

func (r *sshKeyResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan sshKeyModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() || !requireClient(r.c, &resp.Diagnostics) {
		return
	}
	org := r.c.orgOf(plan.Org, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	in := api.SSHKeyCreate{Name: plan.Name.ValueString(), PublicKey: plan.PublicKey.ValueString()}
	k, err := r.c.client.CreateSSHKey(ctx, org, in)
	if err != nil {
		resp.Diagnostics.AddError("Cannot register SSH key "+in.Name, err.Error())
		return
	}
	plan.Org = types.StringValue(org)
	setSSHKey(&plan, k)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *sshKeyResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state sshKeyModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() || !requireClient(r.c, &resp.Diagnostics) {
		return
	}
	k, err := r.c.client.GetSSHKey(ctx, state.Org.ValueString(), state.ID.ValueString())
	if isNotFound(err) {
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		resp.Diagnostics.AddError("Cannot read SSH key "+state.ID.ValueString(), err.Error())
		return
	}
	// The public key is kept as configured (a file() keeps its newline);
	// only an import, which knows none, takes the server's.
	if state.PublicKey.IsNull() {
		state.PublicKey = types.StringValue(k.PublicKey)
	}
	setSSHKey(&state, k)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

// Update is never called with a change (every attribute replaces the key),
// but Terraform still asks for it; it keeps the plan.
func (r *sshKeyResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan sshKeyModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *sshKeyResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state sshKeyModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() || !requireClient(r.c, &resp.Diagnostics) {
		return
	}
	err := r.c.client.DeleteSSHKey(ctx, state.Org.ValueString(), state.ID.ValueString())
	if err != nil && !isNotFound(err) {
		resp.Diagnostics.AddError("Cannot delete SSH key "+state.Name.ValueString(), err.Error())
	}
}

// ImportState takes the key's ID (in the provider's organisation) or
// "org/id" (or "org/name").
func (r *sshKeyResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	org, id, ok := strings.Cut(req.ID, "/")
	if !ok {
		org, id = "", req.ID
		if r.c != nil {
			org = r.c.org
		}
	}
	if org == "" || id == "" {
		resp.Diagnostics.AddError("Invalid import ID",
			"Want the key's ID (with the provider's organisation set) or org/id, got "+req.ID+".")
		return
	}
	// Read looks the key up and replaces a name with the real ID.
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("org"), org)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), id)...)
}

// setSSHKey copies what the server says into m, except the organisation
// and the public key, which the configuration names its own way.
func setSSHKey(m *sshKeyModel, k *api.SSHKey) {
	m.ID = types.StringValue(k.ID)
	m.Name = types.StringValue(k.Name)
	m.Fingerprint = types.StringValue(k.Fingerprint)
	m.Type = types.StringValue(k.Type)
}

// ModifyPlan replaces a VM whose ssh_keys change, unless every entry still
// means the same key. The server shows a VM's keys as text, so after an
// import the state holds keys where the configuration names sirocco_ssh_key
// keys; that alone must not replace the VM. It is a resource-level plan
// modifier because an attribute's does not get the configured client.
func (r *vmResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.State.Raw.IsNull() || req.Plan.Raw.IsNull() {
		return // created or destroyed
	}
	keys := path.Root("ssh_keys")
	var planned, stated types.List
	var org types.String
	resp.Diagnostics.Append(req.Plan.GetAttribute(ctx, keys, &planned)...)
	resp.Diagnostics.Append(req.State.GetAttribute(ctx, keys, &stated)...)
	resp.Diagnostics.Append(req.State.GetAttribute(ctx, path.Root("org"), &org)...)
	if resp.Diagnostics.HasError() || planned.Equal(stated) {
		return
	}
	if !r.sameKeys(ctx, org.ValueString(), planned, stated) {
		resp.RequiresReplace = append(resp.RequiresReplace, keys)
	}
}

// sameKeys reports whether two ssh_keys lists name the same keys in the
// same order; anything unknown or unresolvable is not the same.
func (r *vmResource) sameKeys(ctx context.Context, org string, a, b types.List) bool {
	if r.c == nil || a.IsUnknown() || a.IsNull() || b.IsNull() || len(a.Elements()) != len(b.Elements()) {
		return false
	}
	var as, bs []types.String
	if a.ElementsAs(ctx, &as, false).HasError() || b.ElementsAs(ctx, &bs, false).HasError() {
		return false
	}
	for i := range as {
		if as[i].IsUnknown() || bs[i].IsUnknown() {
			return false
		}
		x, okX := r.keyMaterial(ctx, org, as[i].ValueString())
		y, okY := r.keyMaterial(ctx, org, bs[i].ValueString())
		if !okX || !okY || x != y {
			return false
		}
	}
	return true
}

// keyMaterial is what identifies an ssh_keys entry's key, its type and
// base64 without the comment, looking a registered key up by name or ID.
func (r *vmResource) keyMaterial(ctx context.Context, org, entry string) (string, bool) {
	f := strings.Fields(entry)
	if len(f) == 1 {
		k, err := r.c.client.GetSSHKey(ctx, org, f[0])
		if err != nil {
			return "", false
		}
		f = strings.Fields(k.PublicKey)
	}
	if len(f) < 2 {
		return "", false
	}
	return f[0] + " " + f[1], true
}
