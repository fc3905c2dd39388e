package server

import (
	"context"
	"net/http"
	"testing"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/api/agentapi"
	"github.com/sirocco-cloud/sirocco/internal/billing/rating"
	"github.com/sirocco-cloud/sirocco/internal/store"
)

// A public address is metered from allocation to release, attached or not;
// a VM created with public_ip gets one on its first NIC and its host is
// told; suspension detaches it (kept, still billed) and the host is told.
func TestPublicIPMeteredAndDetachedOnSuspension(t *testing.T) {
	forEachEngineWith(t, func(t *testing.T, engine string) {
		e := newEnvFor(t, engine, Config{})
		f := newVMFixture(t, e, 1, store.Residency{}, roomyQuotas)
		ctx := context.Background()
		e.do("POST", "/api/v1/public-ip-pools", f.admin, api.PublicIPPoolCreate{Name: "syd-pub", Region: "au-syd", CIDR: "203.0.113.0/28",
			Gateway: "203.0.113.1", Uplink: "eth1"}).must(t, http.StatusCreated)
		e.do("POST", "/api/v1/orgs/acme/networks", f.tenant, api.NetworkCreate{Name: "lan", VDC: "main", CIDR: "10.0.0.0/24"}).
			must(t, http.StatusCreated)
		var created api.VMCreated
		e.do("POST", "/api/v1/orgs/acme/vms", f.tenant, api.VMCreate{Name: "web", Image: "tiny", Size: "s1.small", PublicIP: true}).
			must(t, http.StatusAccepted).decode(t, &created)
		nics := created.VMs[0].NICs
		if len(nics) != 1 || nics[0].IP != "10.0.0.2" || nics[0].PublicIP == "" {
			t.Fatalf("NICs of a VM created with a public IP: %+v", nics)
		}
		public := nics[0].PublicIP
		open := func() *store.UsageSpan {
			t.Helper()
			var spans []store.UsageSpan
			err := e.store.View(ctx, func(tx *store.Tx) (err error) {
				spans, err = tx.ListSpans(ctx, store.SpanFilter{OrgID: f.org.ID, OpenOnly: true})
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			for i := range spans {
				if spans[i].Meter == rating.SpanPublicIP {
					return &spans[i]
				}
			}
			return nil
		}
		if s := open(); s == nil || s.ResourceName != public || s.RegionID != "au-syd" {
			t.Fatalf("open public IP span: %+v", s)
		}
		// The host carries the network, the NIC and the address.
		cred := agentCredentialFor(t, f, created.VMs[0].Host)
		var d agentapi.SyncResponse
		e.do("POST", agentapi.PathSync, cred, agentapi.SyncRequest{Protocol: agentapi.ProtocolVersion}).must(t, http.StatusOK).decode(t, &d)
		if len(d.Networks) != 1 || d.Networks[0].CIDR != "10.0.0.0/24" || len(d.Networks[0].Leases) != 1 ||
			len(d.VMs[0].NICs) != 1 || d.VMs[0].NICs[0].PublicIP != public || len(d.Uplinks) != 1 {
			t.Fatalf("desired state: %+v", d)
		}
		gen := d.Generation

		// Usage the provider never priced is free: the balance answers.
		var b api.Balance
		e.do("GET", "/api/v1/orgs/acme/balance", f.tenant, nil).must(t, http.StatusOK).decode(t, &b)
		if b.AccruedDisplay != "0.00" {
			t.Fatalf("unpriced usage accrued %s", b.Accrued)
		}
		e.do("POST", "/api/v1/price-plans", f.admin, map[string]any{"region": "au-syd", "allocation_model": "payg",
			"rates": map[string]any{"vcpu_hour": "0.02", "public_ip_hour": "0.005"}}).must(t, http.StatusCreated)

		// Suspension detaches it and tells the host; the span stays open.
		e.do("PUT", "/api/v1/orgs/acme/billing-override", f.admin, map[string]any{"state": "suspended", "reason": "test"}).
			must(t, http.StatusOK)
		d = agentapi.SyncResponse{} // decoding into the old answer would keep its fields
		e.do("POST", agentapi.PathSync, cred, agentapi.SyncRequest{Protocol: agentapi.ProtocolVersion}).must(t, http.StatusOK).decode(t, &d)
		if d.Generation <= gen || d.VMs[0].NICs[0].PublicIP != "" {
			t.Fatalf("after suspension: generation %d (was %d), NIC %+v", d.Generation, gen, d.VMs[0].NICs[0])
		}
		var ip api.PublicIP
		e.do("GET", "/api/v1/orgs/acme/public-ips/"+public, f.tenant, nil).must(t, http.StatusOK).decode(t, &ip)
		if ip.VM != "" || open() == nil {
			t.Fatalf("suspended: address %+v, open span %v", ip, open())
		}
		// Released: the span closes.
		e.do("PUT", "/api/v1/orgs/acme/billing-override", f.admin, map[string]any{"state": "", "reason": "test"}).must(t, http.StatusOK)
		e.do("DELETE", "/api/v1/orgs/acme/public-ips/"+public, f.tenant, nil).must(t, http.StatusNoContent)
		if s := open(); s != nil {
			t.Fatalf("a released address is still metered: %+v", s)
		}
	})
}
