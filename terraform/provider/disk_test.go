package provider

import (
	"context"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-go/tftypes"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/client"
	"github.com/sirocco-cloud/sirocco/internal/servertest"
	"github.com/sirocco-cloud/sirocco/internal/store"
)

// diskCloud is a real server with tenant acme (VDC main), a ready host
// hv1, and VMs "off" (stopped) and "on" (running) written to the store:
// no agent runs here.
func diskCloud(t *testing.T) (*diskResource, *client.Client, map[string]string) {
	t.Helper()
	ctx := context.Background()
	e := servertest.New(t, false)
	admin, err := client.New(e.URL, client.WithToken(e.ProviderAdmin()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.CreateRegion(ctx, api.RegionCreate{Name: "au-syd", Jurisdiction: "AU"}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.CreateZone(ctx, api.ZoneCreate{Name: "au-syd-1a", Region: "au-syd"}); err != nil {
		t.Fatal(err)
	}
	org, err := admin.CreateOrg(ctx, api.OrganisationCreate{Name: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	u := e.User("ana@acme.test", store.RoleBinding{OrgID: org.ID, Role: api.RoleOrgAdmin})
	c, err := client.New(e.URL, client.WithToken(e.Token(u, org.ID, api.RoleOrgAdmin)))
	if err != nil {
		t.Fatal(err)
	}
	vdc, err := c.CreateVDC(ctx, "acme", api.VDCCreate{Name: "main", Zone: "au-syd-1a"})
	if err != nil {
		t.Fatal(err)
	}
	vms := map[string]string{}
	err = e.Store.Tx(ctx, func(tx *store.Tx) error {
		h := &store.Host{Meta: store.Meta{ID: "hv1"}, ZoneID: "au-syd-1a", State: api.HostReady, VCPU: 8, MemoryMiB: 16384, DiskGiB: 200,
			CPUOvercommit: 1, MemoryOvercommit: 1}
		if err := tx.CreateHost(ctx, h); err != nil {
			return err
		}
		im := &store.Image{Name: "tiny", Kind: api.ImageKindKernel, State: api.ImageAvailable,
			Files: []store.ImageFile{{Name: api.ImageFileKernel, Size: 1, SHA256: "00"}}}
		if err := tx.CreateImage(ctx, im); err != nil {
			return err
		}
		for _, v := range []struct{ name, power, state string }{{"off", store.PowerStopped, api.VMStopped}, {"on", store.PowerRunning, api.VMRunning}} {
			vm := &store.VM{OrgID: org.ID, VDCID: vdc.ID, Name: v.name, Hostname: v.name, ImageID: im.ID, SizeID: "s", VCPU: 1, MemoryMiB: 512,
				DiskGiB: 1, HostID: "hv1", Power: v.power, State: v.state}
			if err := tx.CreateVM(ctx, vm); err != nil {
				return err
			}
			vms[v.name] = vm.ID
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return &diskResource{c: &configured{client: c, org: "acme"}}, c, vms
}

// tfState is a state or plan of r holding m, as Terraform would pass it.
func tfState(t *testing.T, r resource.Resource, m *diskModel) tfsdk.State {
	t.Helper()
	ctx := context.Background()
	var sr resource.SchemaResponse
	r.Schema(ctx, resource.SchemaRequest{}, &sr)
	st := tfsdk.State{Schema: sr.Schema, Raw: tftypes.NewValue(sr.Schema.Type().TerraformType(ctx), nil)}
	if m != nil {
		if d := st.Set(ctx, m); d.HasError() {
			t.Fatalf("state: %v", d)
		}
	}
	return st
}

func planOf(st tfsdk.State) tfsdk.Plan { return tfsdk.Plan{Schema: st.Schema, Raw: st.Raw} }

func diskOfState(t *testing.T, st tfsdk.State) diskModel {
	t.Helper()
	var m diskModel
	if d := st.Get(context.Background(), &m); d.HasError() {
		t.Fatalf("read state: %v", d)
	}
	return m
}

// The resource creates, grows, attaches, moves, imports and destroys a
// disk against a real server; moving it to a running VM fails saying to
// stop the VM first.
func TestDiskResource(t *testing.T) {
	ctx := context.Background()
	r, c, vms := diskCloud(t)

	plan := &diskModel{Org: types.StringNull(), VDC: types.StringValue("main"), Name: types.StringValue("data"),
		SizeGiB: types.Int64Value(20), VMID: types.StringNull(), ID: types.StringUnknown(), Host: types.StringUnknown(), Region: types.StringUnknown()}
	cr := resource.CreateResponse{State: tfState(t, r, nil)}
	r.Create(ctx, resource.CreateRequest{Plan: planOf(tfState(t, r, plan))}, &cr)
	if cr.Diagnostics.HasError() {
		t.Fatalf("create: %v", cr.Diagnostics)
	}
	got := diskOfState(t, cr.State)
	if got.ID.ValueString() == "" || got.Org.ValueString() != "acme" || got.Host.ValueString() != "" || got.Region.ValueString() != "au-syd" {
		t.Fatalf("created %+v", got)
	}

	// Grow and attach in one apply.
	next := got
	next.SizeGiB, next.VMID = types.Int64Value(30), types.StringValue(vms["off"])
	ur := resource.UpdateResponse{State: cr.State}
	r.Update(ctx, resource.UpdateRequest{Plan: planOf(tfState(t, r, &next)), State: cr.State}, &ur)
	if ur.Diagnostics.HasError() {
		t.Fatalf("update: %v", ur.Diagnostics)
	}
	k, err := c.GetDisk(ctx, "acme", "data")
	if err != nil {
		t.Fatal(err)
	}
	if k.SizeGiB != 30 || k.VM != vms["off"] || k.Host != "hv1" {
		t.Fatalf("after grow and attach: %+v", k)
	}

	// Moving it to a running VM detaches it and then says what to do.
	moved := diskOfState(t, ur.State)
	moved.VMID = types.StringValue(vms["on"])
	mr := resource.UpdateResponse{State: ur.State}
	r.Update(ctx, resource.UpdateRequest{Plan: planOf(tfState(t, r, &moved)), State: ur.State}, &mr)
	if !mr.Diagnostics.HasError() || !strings.Contains(mr.Diagnostics[0].Detail(), "stop the VM first") ||
		!strings.Contains(mr.Diagnostics[0].Detail(), `power_state to "stopped"`) {
		t.Fatalf("attach to a running VM: %v", mr.Diagnostics)
	}
	if st := diskOfState(t, mr.State); !st.VMID.IsNull() {
		t.Fatalf("state after a failed move names VM %s; the disk is detached", st.VMID)
	}

	// Import by name reads it all back.
	ir := resource.ImportStateResponse{State: tfState(t, r, nil)}
	r.ImportState(ctx, resource.ImportStateRequest{ID: "acme/data"}, &ir)
	if ir.Diagnostics.HasError() {
		t.Fatalf("import: %v", ir.Diagnostics)
	}
	rr := resource.ReadResponse{State: ir.State}
	r.Read(ctx, resource.ReadRequest{State: ir.State}, &rr)
	imported := diskOfState(t, rr.State)
	if rr.Diagnostics.HasError() || imported.ID.ValueString() != got.ID.ValueString() || imported.SizeGiB.ValueInt64() != 30 ||
		imported.VDC.ValueString() != "main" || imported.Name.ValueString() != "data" || !imported.VMID.IsNull() {
		t.Fatalf("imported %+v (%v)", imported, rr.Diagnostics)
	}
	bad := resource.ImportStateResponse{State: tfState(t, r, nil)}
	r.ImportState(ctx, resource.ImportStateRequest{ID: "data"}, &bad)
	if !bad.Diagnostics.HasError() {
		t.Fatal("import without an organisation was accepted")
	}

	// Destroyed: the server no longer has it, and a read drops it.
	dr := resource.DeleteResponse{State: rr.State}
	r.Delete(ctx, resource.DeleteRequest{State: rr.State}, &dr)
	if dr.Diagnostics.HasError() {
		t.Fatalf("delete: %v", dr.Diagnostics)
	}
	if _, err := c.GetDisk(ctx, "acme", "data"); err == nil {
		t.Fatal("disk data still there after destroy")
	}
	gone := resource.ReadResponse{State: rr.State}
	r.Read(ctx, resource.ReadRequest{State: rr.State}, &gone)
	if gone.Diagnostics.HasError() || !gone.State.Raw.IsNull() {
		t.Fatalf("read after destroy: %v, state %v", gone.Diagnostics, gone.State.Raw)
	}
}
