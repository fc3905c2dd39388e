package server

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/api/agentapi"
	"github.com/sirocco-cloud/sirocco/internal/store"
)

// vmFixture is a zone with ready hosts, a size, a public image and a tenant
// with a VDC, built directly in the store where the API has no say (agents
// make hosts ready; images are imported).
type vmFixture struct {
	e      *env
	org    *store.Org
	tenant string // org-admin token
	admin  string // provider-admin token
	image  string
}

// newVMFixture makes zone au-syd-1a (AU) with hosts of 8 vCPU / 16 GiB /
// 200 GiB each, zone de-fra-1a (DE) with one host, sizes s1.small (1 vCPU,
// 1 GiB, 10 GiB) and s1.large (4 vCPU, 8 GiB, 40 GiB), public image
// "tiny", and tenant "acme" (policy r) with VDC "main" in au-syd-1a under
// quotas q.
func newVMFixture(t *testing.T, e *env, hosts int, r store.Residency, q api.Quotas) *vmFixture {
	t.Helper()
	ctx := context.Background()
	f := &vmFixture{e: e}
	admin := e.providerAdmin()
	f.admin = admin
	for _, z := range []struct{ region, juris, zone string }{{"au-syd", "AU", "au-syd-1a"}, {"de-fra", "DE", "de-fra-1a"}} {
		e.do("POST", "/api/v1/regions", admin, api.RegionCreate{Name: z.region, Jurisdiction: z.juris}).must(t, http.StatusCreated)
		e.do("POST", "/api/v1/zones", admin, api.ZoneCreate{Name: z.zone, Region: z.region}).must(t, http.StatusCreated)
	}
	e.do("POST", "/api/v1/sizes", admin, api.SizeCreate{Name: "s1.small", VCPU: 1, MemoryMiB: 1024, DiskGiB: 10}).must(t, http.StatusCreated)
	e.do("POST", "/api/v1/sizes", admin, api.SizeCreate{Name: "s1.large", VCPU: 4, MemoryMiB: 8192, DiskGiB: 40}).must(t, http.StatusCreated)
	err := e.store.Tx(ctx, func(tx *store.Tx) error {
		add := func(id, zone string) error {
			h := &store.Host{Meta: store.Meta{ID: id}, ZoneID: zone, State: api.HostReady, VCPU: 8, MemoryMiB: 16384, DiskGiB: 200,
				CPUOvercommit: 1, MemoryOvercommit: 1}
			return tx.CreateHost(ctx, h)
		}
		for i := 1; i <= hosts; i++ {
			if err := add(fmt.Sprintf("hv%d", i), "au-syd-1a"); err != nil {
				return err
			}
		}
		if err := add("fra1", "de-fra-1a"); err != nil {
			return err
		}
		im := &store.Image{Name: "tiny", Kind: api.ImageKindKernel, State: api.ImageAvailable,
			Files: []store.ImageFile{{Name: api.ImageFileKernel, Size: 1, SHA256: "00"}}}
		if err := tx.CreateImage(ctx, im); err != nil {
			return err
		}
		f.image = im.ID
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	f.org, f.tenant = e.tenant("acme", r)
	e.do("POST", "/api/v1/orgs/acme/vdcs", f.tenant, api.VDCCreate{Name: "main", Zone: "au-syd-1a", Quotas: &q}).must(t, http.StatusCreated)
	return f
}

func (f *vmFixture) create(t *testing.T, c api.VMCreate) *resp {
	t.Helper()
	if c.Image == "" {
		c.Image = "tiny"
	}
	if c.Size == "" {
		c.Size = "s1.small"
	}
	return f.e.do("POST", "/api/v1/orgs/acme/vms", f.tenant, c)
}

var roomyQuotas = api.Quotas{VCPU: 100, MemoryMiB: 1 << 20, DiskGiB: 10000, VMs: 100, PublicIPs: 1}

// Fifty creates at once against a quota of ten VMs make exactly ten VMs, on
// both engines: the quota check and the placement share one transaction.
func TestVMQuotaUnderConcurrency(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		q := roomyQuotas
		q.VMs = 10
		f := newVMFixture(t, e, 4, store.Residency{}, q)
		var wg sync.WaitGroup
		codes := make(chan string, 50)
		for i := range 50 {
			wg.Go(func() {
				r := f.create(t, api.VMCreate{Name: fmt.Sprintf("burst%d", i)})
				if r.Status == http.StatusAccepted {
					codes <- "ok"
					return
				}
				codes <- r.problem(t).Code
			})
		}
		wg.Wait()
		close(codes)
		got := map[string]int{}
		for c := range codes {
			got[c]++
		}
		if got["ok"] != 10 || got[api.CodeQuotaExceeded] != 40 {
			t.Fatalf("outcomes %v, want 10 ok and 40 %s", got, api.CodeQuotaExceeded)
		}
		var list api.List[api.VM]
		e.do("GET", "/api/v1/orgs/acme/vms?limit=100", f.tenant, nil).must(t, http.StatusOK).decode(t, &list)
		if len(list.Items) != 10 {
			t.Fatalf("%d VMs exist, want 10", len(list.Items))
		}
	})
}

func TestVMCreatePlacesAndValidates(t *testing.T) {
	e := newEnvFor(t, "sqlite", Config{})
	f := newVMFixture(t, e, 2, store.Residency{Jurisdictions: []string{"AU"}}, roomyQuotas)

	var out api.VMCreated
	f.create(t, api.VMCreate{Name: "web", Count: 2, AntiAffinityGroup: "web", SSHKeys: []string{"ssh-ed25519 AAAAC3Nza me@laptop"}}).
		must(t, http.StatusAccepted).decode(t, &out)
	if len(out.VMs) != 2 || len(out.Operations) != 2 || out.VMs[0].Name != "web-1" || out.VMs[1].Name != "web-2" {
		t.Fatalf("created %+v", out)
	}
	if out.VMs[0].Host == out.VMs[1].Host {
		t.Fatalf("both members of an anti-affinity group on %s", out.VMs[0].Host)
	}
	f.create(t, api.VMCreate{Name: "solo"}).must(t, http.StatusAccepted)

	cases := []struct {
		name   string
		in     api.VMCreate
		status int
		code   string
	}{
		{"unknown size", api.VMCreate{Name: "a1", Size: "s9.huge"}, http.StatusUnprocessableEntity, api.CodeValidation},
		{"unknown image", api.VMCreate{Name: "a2", Image: "nope"}, http.StatusUnprocessableEntity, api.CodeValidation},
		{"bad ssh key", api.VMCreate{Name: "a3", SSHKeys: []string{"not a key"}}, http.StatusUnprocessableEntity, api.CodeValidation},
		{"name taken", api.VMCreate{Name: "web-1"}, http.StatusConflict, api.CodeAlreadyExists},
		{"no host has room", api.VMCreate{Name: "big", Size: "s1.large", Count: 5}, http.StatusConflict, api.CodeNoCapacity},
		{"anti-affinity beyond hosts", api.VMCreate{Name: "db", Count: 3, AntiAffinityGroup: "db"}, http.StatusConflict, api.CodeNoCapacity},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := f.create(t, c.in)
			if r.Status != c.status || r.problem(t).Code != c.code {
				t.Fatalf("status %d %s, want %d %s", r.Status, r.Body, c.status, c.code)
			}
		})
	}
	// Nothing of a refused create is left.
	var list api.List[api.VM]
	e.do("GET", "/api/v1/orgs/acme/vms", f.tenant, nil).must(t, http.StatusOK).decode(t, &list)
	if len(list.Items) != 3 {
		t.Fatalf("%d VMs after refused creates, want 3", len(list.Items))
	}
	for _, v := range list.Items {
		if v.Zone != "au-syd-1a" || v.Jurisdiction != "AU" || v.State != api.VMCreating || v.PowerState != api.PowerRunning {
			t.Errorf("VM %s: zone %s %s state %s power %s", v.Name, v.Zone, v.Jurisdiction, v.State, v.PowerState)
		}
	}
}

// Residency is enforced at placement whoever asks: a provider admin creating
// a VM for an AU-only organisation in a DE VDC is refused.
func TestVMResidencyAtPlacement(t *testing.T) {
	e := newEnvFor(t, "sqlite", Config{})
	f := newVMFixture(t, e, 1, store.Residency{Jurisdictions: []string{"AU"}}, roomyQuotas)
	// The API refuses a VDC, or a policy, that breaks residency; a VDC in
	// Germany can only come from the store (an older policy, a restore).
	// Placement must refuse it still.
	ctx := context.Background()
	err := e.store.Tx(ctx, func(tx *store.Tx) error {
		return tx.CreateVDC(ctx, &store.VDC{OrgID: f.org.ID, Name: "fra", ZoneID: "de-fra-1a", AllocationModel: api.AllocationPAYG,
			Quotas: store.Quotas{VCPU: 10, MemoryMiB: 10000, DiskGiB: 100, VMs: 10}})
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, who := range []string{f.tenant, f.admin} {
		r := e.do("POST", "/api/v1/orgs/acme/vms", who, api.VMCreate{Name: "spy", VDC: "fra", Image: "tiny", Size: "s1.small"})
		if r.Status != http.StatusForbidden || r.problem(t).Code != api.CodeResidency {
			t.Fatalf("VM in DE for an AU-only org: %d %s", r.Status, r.Body)
		}
	}
	f.create(t, api.VMCreate{Name: "home", VDC: "main"}).must(t, http.StatusAccepted)
}

// A drained or down host takes no new VM; VMs on a down host read unknown.
func TestVMPlacementSkipsDrainedAndShowsUnknown(t *testing.T) {
	e := newEnvFor(t, "sqlite", Config{})
	f := newVMFixture(t, e, 2, store.Residency{}, roomyQuotas)
	admin := f.admin
	draining := api.HostDraining
	e.do("PATCH", "/api/v1/hosts/hv1", admin, api.HostUpdate{State: &draining}).must(t, http.StatusOK)
	var out api.VMCreated
	f.create(t, api.VMCreate{Name: "a", Count: 3}).must(t, http.StatusAccepted).decode(t, &out)
	for _, v := range out.VMs {
		if v.Host != "hv2" {
			t.Fatalf("VM %s placed on %s while hv1 drains", v.Name, v.Host)
		}
	}
	ctx := context.Background()
	err := e.store.Tx(ctx, func(tx *store.Tx) error {
		_, err := tx.MarkSilentHostsDown(ctx, time.Now().Add(time.Hour))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	var v api.VM
	e.do("GET", "/api/v1/orgs/acme/vms/a-1", f.tenant, nil).must(t, http.StatusOK).decode(t, &v)
	if v.State != api.VMUnknown {
		t.Fatalf("VM on a down host is %s, want unknown", v.State)
	}
	r := f.create(t, api.VMCreate{Name: "b"})
	if r.Status != http.StatusConflict || r.problem(t).Code != api.CodeNoCapacity {
		t.Fatalf("create with every host down or draining: %d %s", r.Status, r.Body)
	}
}

// The agent protocol end to end through the store: desired state goes out,
// reports come back, a VM whose delete the host has carried out goes.
func TestAgentSyncDesiredAndObserved(t *testing.T) {
	e := newEnvFor(t, "sqlite", Config{})
	f := newVMFixture(t, e, 1, store.Residency{}, roomyQuotas)
	cred := agentCredentialFor(t, f, "hv1")
	var out api.VMCreated
	f.create(t, api.VMCreate{Name: "web", UserData: "#cloud-config\n"}).must(t, http.StatusAccepted).decode(t, &out)
	vm := out.VMs[0]

	var d agentapi.SyncResponse
	e.do("POST", agentapi.PathSync, cred, agentapi.SyncRequest{Protocol: agentapi.ProtocolVersion, VMs: []agentapi.ObservedVM{}}).
		must(t, http.StatusOK).decode(t, &d)
	if len(d.VMs) != 1 || d.VMs[0].ID != vm.ID || d.VMs[0].Power != "running" || d.VMs[0].Image.ID != f.image ||
		d.VMs[0].Hostname != "web" || d.VMs[0].UserData != "#cloud-config\n" {
		t.Fatalf("desired %+v", d)
	}
	// Another host's credential sees none of it and cannot report for it.
	other := agentCredentialFor(t, f, "fra1")
	var od agentapi.SyncResponse
	e.do("POST", agentapi.PathSync, other, agentapi.SyncRequest{Protocol: agentapi.ProtocolVersion,
		VMs: []agentapi.ObservedVM{{ID: vm.ID, State: api.VMError, Generation: 99}}}).must(t, http.StatusOK).decode(t, &od)
	if len(od.VMs) != 0 {
		t.Fatalf("host fra1 was told about %d VMs of hv1", len(od.VMs))
	}

	report := func(state string, gen int64) {
		e.do("POST", agentapi.PathSync, cred, agentapi.SyncRequest{Protocol: agentapi.ProtocolVersion, Generation: d.Generation,
			VMs: []agentapi.ObservedVM{{ID: vm.ID, State: state, Generation: gen}}}).must(t, http.StatusOK).decode(t, &d)
	}
	report(api.VMRunning, d.VMs[0].Generation)
	var op api.Operation
	e.do("GET", "/api/v1/operations/"+out.Operations[0].ID+"/wait?timeout=10s", f.tenant, nil).must(t, http.StatusOK).decode(t, &op)
	if op.State != api.OpSucceeded {
		t.Fatalf("create operation %s after the host reported running: %+v", op.State, op)
	}
	e.do("GET", "/api/v1/orgs/acme/vms/web", f.tenant, nil).must(t, http.StatusOK).decode(t, &vm)
	if vm.State != api.VMRunning {
		t.Fatalf("VM state %s, want running", vm.State)
	}

	// The guest powers itself off: the VM stays stopped, and the host is
	// told so rather than starting it again.
	report(api.VMStopped, d.VMs[0].Generation)
	if d.VMs[0].Power != "stopped" {
		t.Fatalf("after a power-off from inside the guest the host is told power %s", d.VMs[0].Power)
	}
	e.do("GET", "/api/v1/orgs/acme/vms/web", f.tenant, nil).must(t, http.StatusOK).decode(t, &vm)
	if vm.State != api.VMStopped || vm.PowerState != api.PowerStopped {
		t.Fatalf("after a guest power-off: state %s power %s", vm.State, vm.PowerState)
	}
	var start api.Operation
	e.do("POST", "/api/v1/orgs/acme/vms/web/start", f.tenant, nil).must(t, http.StatusAccepted).decode(t, &start)
	e.do("POST", agentapi.PathSync, cred, agentapi.SyncRequest{Protocol: agentapi.ProtocolVersion}).must(t, http.StatusOK).decode(t, &d)
	report(api.VMRunning, d.VMs[0].Generation)
	e.do("GET", "/api/v1/operations/"+start.ID+"/wait?timeout=10s", f.tenant, nil).must(t, http.StatusOK).decode(t, &op)
	if op.State != api.OpSucceeded {
		t.Fatalf("start after a guest power-off: %+v", op)
	}

	// A long-poll answers as soon as the desired state moves.
	done := make(chan *resp, 1)
	go func() {
		r := e.do("POST", agentapi.PathSync, cred, agentapi.SyncRequest{Protocol: agentapi.ProtocolVersion, Generation: d.Generation, Wait: true,
			VMs: []agentapi.ObservedVM{{ID: vm.ID, State: api.VMRunning, Generation: d.VMs[0].Generation}}})
		done <- r
	}()
	time.Sleep(200 * time.Millisecond) // let the poll start holding; the test passes either way
	var stop api.Operation
	e.do("POST", "/api/v1/orgs/acme/vms/web/stop", f.tenant, nil).must(t, http.StatusAccepted).decode(t, &stop)
	select {
	case r := <-done:
		r.must(t, http.StatusOK).decode(t, &d)
		if d.VMs[0].Power != "stopped" {
			t.Fatalf("long-poll answered with power %s", d.VMs[0].Power)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the long-poll did not answer when the VM was stopped")
	}
	// A second action while the stop is unfinished is refused.
	r := e.do("POST", "/api/v1/orgs/acme/vms/web/start", f.tenant, nil)
	if r.Status != http.StatusConflict || r.problem(t).Code != api.CodeVMBusy {
		t.Fatalf("start during stop: %d %s", r.Status, r.Body)
	}
	// A failure on the host fails the operation with the host's message.
	e.do("POST", agentapi.PathSync, cred, agentapi.SyncRequest{Protocol: agentapi.ProtocolVersion, Generation: d.Generation,
		VMs: []agentapi.ObservedVM{{ID: vm.ID, State: api.VMError, Message: "disk full", Generation: d.VMs[0].Generation}}}).must(t, http.StatusOK)
	e.do("GET", "/api/v1/operations/"+stop.ID+"/wait?timeout=10s", f.tenant, nil).must(t, http.StatusOK).decode(t, &op)
	if op.State != api.OpFailed || op.Error == nil || op.Error.Code != api.CodeVMFailed {
		t.Fatalf("stop operation after a host error: %+v", op)
	}

	// Delete: the row goes once the host no longer reports the VM.
	var del api.Operation
	e.do("DELETE", "/api/v1/orgs/acme/vms/web", f.tenant, nil).must(t, http.StatusAccepted).decode(t, &del)
	e.do("POST", agentapi.PathSync, cred, agentapi.SyncRequest{Protocol: agentapi.ProtocolVersion, VMs: []agentapi.ObservedVM{}}).must(t, http.StatusOK)
	e.do("GET", "/api/v1/operations/"+del.ID+"/wait?timeout=10s", f.tenant, nil).must(t, http.StatusOK).decode(t, &op)
	if op.State != api.OpSucceeded {
		t.Fatalf("delete operation: %+v", op)
	}
	e.do("GET", "/api/v1/orgs/acme/vms/web", f.tenant, nil).must(t, http.StatusNotFound)
}

// agentCredentialFor joins host id's agent through the real join endpoint
// and returns the bearer credential it gets.
func agentCredentialFor(t *testing.T, f *vmFixture, host string) string {
	t.Helper()
	e := f.e
	var jt api.HostJoinToken
	e.do("POST", "/api/v1/hosts/"+host+"/join-tokens", f.admin, nil).must(t, http.StatusCreated).decode(t, &jt)
	tok, err := agentapi.ParseJoinToken(jt.Token)
	if err != nil {
		t.Fatal(err)
	}
	var jr agentapi.JoinResponse
	e.do("POST", agentapi.PathJoin, "", agentapi.JoinRequest{Protocol: agentapi.ProtocolVersion, Secret: tok.Secret, Hostname: host,
		Capacity: api.Capacity{VCPU: 8, MemoryMiB: 16384, DiskGiB: 200}, Acceleration: "tcg"}).must(t, http.StatusOK).decode(t, &jr)
	return jr.Credential
}

// A host's new underlay address reaches every other host: their desired
// state moves, so agents re-read their VXLAN peers.
func TestUnderlayChangeTellsOtherHosts(t *testing.T) {
	e := newEnvFor(t, "sqlite", Config{})
	f := newVMFixture(t, e, 2, store.Residency{}, roomyQuotas)
	a, b := agentCredentialFor(t, f, "hv1"), agentCredentialFor(t, f, "hv2")
	gen := func() int64 {
		var d agentapi.SyncResponse
		e.do("POST", agentapi.PathSync, b, agentapi.SyncRequest{Protocol: agentapi.ProtocolVersion}).must(t, http.StatusOK).decode(t, &d)
		return d.Generation
	}
	before := gen()
	beat := func(ip string) {
		e.do("POST", agentapi.PathHeartbeat, a, agentapi.Heartbeat{Protocol: agentapi.ProtocolVersion,
			Capacity: api.Capacity{VCPU: 8, MemoryMiB: 16384, DiskGiB: 200}, UnderlayIP: ip}).must(t, http.StatusOK)
	}
	beat("10.99.0.1")
	if after := gen(); after <= before {
		t.Fatalf("hv2's generation %d -> %d after hv1's underlay address changed", before, after)
	}
	before = gen()
	beat("10.99.0.1") // the same address again changes nothing
	if after := gen(); after != before {
		t.Fatalf("hv2's generation %d -> %d after an unchanged heartbeat", before, after)
	}
	r := e.do("POST", agentapi.PathHeartbeat, a, agentapi.Heartbeat{Protocol: agentapi.ProtocolVersion, UnderlayIP: "not-an-ip"})
	if r.Status != http.StatusBadRequest {
		t.Fatalf("a bad underlay address: %d %s", r.Status, r.Body)
	}
}
