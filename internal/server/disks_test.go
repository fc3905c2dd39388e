package server

import (
	"context"
	"net/http"
	"slices"
	"testing"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/api/agentapi"
	"github.com/sirocco-cloud/sirocco/internal/billing/rating"
	"github.com/sirocco-cloud/sirocco/internal/store"
)

// diskSpanOf returns the open disk span of resource id, nil if none.
func diskSpanOf(t *testing.T, e *env, org, id string) *store.UsageSpan {
	t.Helper()
	ctx := context.Background()
	var spans []store.UsageSpan
	err := e.store.View(ctx, func(tx *store.Tx) (err error) {
		spans, err = tx.ListSpans(ctx, store.SpanFilter{OrgID: org, OpenOnly: true})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := range spans {
		if spans[i].Meter == rating.SpanDisk && spans[i].ResourceID == id {
			return &spans[i]
		}
	}
	return nil
}

// A data disk is billed from creation to deletion, counts against the
// VDC's disk quota with the root disks, attaches only to a stopped VM of
// its VDC on its host, reaches the host through the sync, and goes once
// the host has removed its file.
func TestDiskLifecycleThroughAPI(t *testing.T) {
	forEachEngineWith(t, func(t *testing.T, engine string) {
		e := newEnvFor(t, engine, Config{})
		q := roomyQuotas
		q.DiskGiB = 60
		f := newVMFixture(t, e, 2, store.Residency{}, q)
		ctx := context.Background()
		base := "/api/v1/orgs/acme/disks"

		var data api.Disk
		e.do("POST", base, f.tenant, api.DiskCreate{Name: "data", SizeGiB: 20, Labels: api.Labels{"tier": "db"}}).
			must(t, http.StatusCreated).decode(t, &data)
		if data.State != api.DiskAvailable || data.Host != "" || data.VDC != "main" || data.Region != "au-syd" {
			t.Fatalf("created %+v", data)
		}
		if s := diskSpanOf(t, e, f.org.ID, data.ID); s == nil || s.SizeGiB != 20 || s.ResourceKind != "disk" || s.ResourceName != "data" {
			t.Fatalf("open span of a new disk: %+v", s)
		}
		wantCode(t, e.do("POST", base, f.tenant, api.DiskCreate{Name: "data", SizeGiB: 1}), http.StatusConflict, api.CodeAlreadyExists)
		// 20 GiB of disk + 10 GiB of root disk + 31 > 60.
		var created api.VMCreated
		off := false
		f.create(t, api.VMCreate{Name: "web", PowerOn: &off}).must(t, http.StatusAccepted).decode(t, &created)
		web := created.VMs[0]
		wantCode(t, e.do("POST", base, f.tenant, api.DiskCreate{Name: "big", SizeGiB: 31}), http.StatusForbidden, api.CodeQuotaExceeded)
		wantCode(t, f.create(t, api.VMCreate{Name: "fat", Size: "s1.large"}), http.StatusForbidden, api.CodeQuotaExceeded)

		// Attaching waits for the VM to be off, as its host reports.
		attach := func(disk, vm string) *resp {
			return e.do("POST", base+"/"+disk+"/attach", f.tenant, api.DiskAttach{VM: vm})
		}
		wantCode(t, attach("data", "web"), http.StatusConflict, api.CodeVMNotStopped)
		cred := agentCredentialFor(t, f, web.Host)
		sync := func(req agentapi.SyncRequest) agentapi.SyncResponse {
			t.Helper()
			req.Protocol = agentapi.ProtocolVersion
			var d agentapi.SyncResponse
			e.do("POST", agentapi.PathSync, cred, req).must(t, http.StatusOK).decode(t, &d)
			return d
		}
		sync(agentapi.SyncRequest{VMs: []agentapi.ObservedVM{{ID: web.ID, State: api.VMStopped, Generation: 1}}})
		var op api.Operation
		e.do("GET", "/api/v1/operations/"+created.Operations[0].ID+"/wait?timeout=20s", f.tenant, nil).must(t, http.StatusOK).decode(t, &op)
		if op.State != api.OpSucceeded {
			t.Fatalf("create operation %+v", op)
		}
		var got api.Disk
		attach("data", "web").must(t, http.StatusOK).decode(t, &got)
		if got.State != api.DiskAttached || got.VM != web.ID || got.VMName != "web" || got.Host != web.Host {
			t.Fatalf("attached %+v", got)
		}
		attach("data", "web").must(t, http.StatusOK) // again: nothing changes
		d := sync(agentapi.SyncRequest{VMs: []agentapi.ObservedVM{{ID: web.ID, State: api.VMStopped, Generation: 1}}})
		if len(d.Disks) != 1 || d.Disks[0] != (agentapi.DesiredDisk{ID: data.ID, SizeGiB: 20}) || !slices.Equal(d.VMs[0].Disks, []string{data.ID}) {
			t.Fatalf("desired disks %+v, VM's %v", d.Disks, d.VMs[0].Disks)
		}
		var vm api.VM
		e.do("GET", "/api/v1/orgs/acme/vms/web", f.tenant, nil).must(t, http.StatusOK).decode(t, &vm)
		if len(vm.Disks) != 1 || vm.Disks[0] != (api.VMDisk{ID: data.ID, Name: "data", SizeGiB: 20}) {
			t.Fatalf("VM's disks %+v", vm.Disks)
		}
		wantCode(t, f.create(t, api.VMCreate{Name: "thief", Disks: []string{"data"}}), http.StatusConflict, api.CodeDiskAttached)

		// Grow only, within the quota; billing follows the size.
		grow := func(size int64) *resp {
			return e.do("PATCH", base+"/data", f.tenant, api.DiskUpdate{SizeGiB: &size})
		}
		grow(25).must(t, http.StatusOK)
		if s := diskSpanOf(t, e, f.org.ID, data.ID); s == nil || s.SizeGiB != 25 || s.Reason != "resized" {
			t.Fatalf("span after growing: %+v", s)
		}
		wantCode(t, grow(10), http.StatusConflict, api.CodeDiskShrink)
		wantCode(t, grow(100), http.StatusForbidden, api.CodeQuotaExceeded)
		wantCode(t, e.do("DELETE", base+"/data", f.tenant, nil), http.StatusConflict, api.CodeDiskAttached)

		// A disk lives on its host; VMs elsewhere or in another VDC are refused.
		other := "hv1"
		if web.Host == other {
			other = "hv2"
		}
		e.do("POST", "/api/v1/orgs/acme/vdcs", f.tenant, api.VDCCreate{Name: "side", Zone: "au-syd-1a", Quotas: &q}).must(t, http.StatusCreated)
		e.do("POST", base, f.tenant, api.DiskCreate{Name: "aside", VDC: "side", SizeGiB: 1}).must(t, http.StatusCreated)
		var main api.VDC
		e.do("GET", "/api/v1/orgs/acme/vdcs/main", f.tenant, nil).must(t, http.StatusOK).decode(t, &main)
		err := e.store.Tx(ctx, func(tx *store.Tx) error {
			return tx.CreateVM(ctx, &store.VM{OrgID: f.org.ID, VDCID: main.ID, Name: "far", Hostname: "far", ImageID: f.image, SizeID: "s1.small",
				VCPU: 1, MemoryMiB: 1024, DiskGiB: 10, HostID: other, Power: store.PowerStopped, State: api.VMStopped})
		})
		if err != nil {
			t.Fatal(err)
		}
		detach := func(disk string) *resp { return e.do("POST", base+"/"+disk+"/detach", f.tenant, nil) }
		detach("data").must(t, http.StatusOK)
		detach("data").must(t, http.StatusOK) // again: nothing changes
		got = api.Disk{}                      // decoding into the old answer would keep its fields
		e.do("GET", base+"/data", f.tenant, nil).must(t, http.StatusOK).decode(t, &got)
		if got.State != api.DiskAvailable || got.VM != "" || got.Host != web.Host {
			t.Fatalf("detached disk: %+v", got)
		}
		wantCode(t, attach("data", "far"), http.StatusConflict, api.CodeDiskOnOtherHost)
		wantCode(t, attach("aside", "web"), http.StatusConflict, api.CodeConflict)

		// A VM created with the disk goes to its host; deleting the VM keeps
		// the disk, detached.
		created = api.VMCreated{}
		f.create(t, api.VMCreate{Name: "db", VDC: "main", Disks: []string{data.ID}}).must(t, http.StatusAccepted).decode(t, &created)
		db := created.VMs[0]
		if db.Host != web.Host || len(db.Disks) != 1 || db.Disks[0].ID != data.ID {
			t.Fatalf("VM created with disk data: host %s (disk on %s), disks %+v", db.Host, web.Host, db.Disks)
		}
		e.do("DELETE", "/api/v1/orgs/acme/vms/db", f.tenant, nil).must(t, http.StatusAccepted)
		got = api.Disk{} // decoding into the old answer would keep its fields
		e.do("GET", base+"/data", f.tenant, nil).must(t, http.StatusOK).decode(t, &got)
		if got.State != api.DiskAvailable || got.VM != "" || got.Host != web.Host {
			t.Fatalf("disk of a deleted VM: %+v", got)
		}

		// Deleted: billing stops at once; the row goes when the host no
		// longer reports the file. A disk no host ever held goes at once.
		e.do("DELETE", base+"/data", f.tenant, nil).must(t, http.StatusNoContent)
		if s := diskSpanOf(t, e, f.org.ID, data.ID); s != nil {
			t.Fatalf("a deleted disk is still billed: %+v", s)
		}
		d = sync(agentapi.SyncRequest{Disks: []agentapi.ObservedDisk{{ID: data.ID, SizeGiB: 25}},
			VMs: []agentapi.ObservedVM{{ID: web.ID, State: api.VMStopped, Generation: 1}}})
		if len(d.Disks) != 1 || !d.Disks[0].Deleted {
			t.Fatalf("desired disks after delete: %+v", d.Disks)
		}
		got = api.Disk{}
		e.do("GET", base+"/"+data.ID, f.tenant, nil).must(t, http.StatusOK).decode(t, &got)
		if got.State != api.DiskDeleting {
			t.Fatalf("deleted disk still on its host: %+v", got)
		}
		e.do("POST", base, f.tenant, api.DiskCreate{Name: "data", VDC: "main", SizeGiB: 1}).must(t, http.StatusCreated) // the name is free
		sync(agentapi.SyncRequest{VMs: []agentapi.ObservedVM{{ID: web.ID, State: api.VMStopped, Generation: 1}}})
		wantCode(t, e.do("GET", base+"/"+data.ID, f.tenant, nil), http.StatusNotFound, api.CodeNotFound)
		var aside api.Disk
		e.do("GET", base+"/aside", f.tenant, nil).must(t, http.StatusOK).decode(t, &aside)
		e.do("DELETE", base+"/aside", f.tenant, nil).must(t, http.StatusNoContent)
		wantCode(t, e.do("GET", base+"/"+aside.ID, f.tenant, nil), http.StatusNotFound, api.CodeNotFound)

		// Every change is audited as a disk event.
		var events api.List[api.AuditEvent]
		e.do("GET", "/api/v1/orgs/acme/audit-events?resource="+data.ID, f.tenant, nil).must(t, http.StatusOK).decode(t, &events)
		var actions []string
		for _, ev := range events.Items {
			actions = append(actions, ev.Action)
		}
		for _, want := range []string{"disk.create", "disk.attach", "disk.update", "disk.detach", "disk.delete", "disk.deleted"} {
			if !slices.Contains(actions, want) {
				t.Errorf("audit of disk data lacks %s: %v", want, actions)
			}
		}

		// A suspended organisation keeps its disks but makes no new ones.
		e.do("PUT", "/api/v1/orgs/acme/billing-override", f.admin, map[string]any{"state": "suspended", "reason": "test"}).must(t, http.StatusOK)
		wantCode(t, e.do("POST", base, f.tenant, api.DiskCreate{Name: "more", VDC: "main", SizeGiB: 1}), http.StatusForbidden, api.CodeOrgRestricted)
		e.do("GET", base+"/data", f.tenant, nil).must(t, http.StatusOK)
	})
}
