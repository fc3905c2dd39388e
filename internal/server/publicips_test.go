package server

import (
	"context"
	"net/http"
	"sync"
	"testing"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/internal/store"
)

func TestPublicIPPools(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		f := newNetFixture(t, e, 1, roomyQuotas)
		var p api.PublicIPPool
		e.do("POST", "/api/v1/public-ip-pools", f.admin, api.PublicIPPoolCreate{Name: "syd-pub", Region: "au-syd", CIDR: "203.0.113.0/28",
			Gateway: "203.0.113.1", Uplink: "eth1"}).must(t, http.StatusCreated).decode(t, &p)
		if p.FirstIP != "203.0.113.1" || p.LastIP != "203.0.113.14" || p.Allocated != 0 {
			t.Errorf("default range: %+v", p)
		}
		for _, c := range []struct {
			body   api.PublicIPPoolCreate
			status int
		}{
			// Overlaps syd-pub's range.
			{api.PublicIPPoolCreate{Name: "b", Region: "au-syd", CIDR: "203.0.113.0/24", Gateway: "203.0.113.254", FirstIP: "203.0.113.10",
				LastIP: "203.0.113.20", Uplink: "eth1"}, http.StatusConflict},
			{api.PublicIPPoolCreate{Name: "b", Region: "au-syd", CIDR: "198.51.100.0/24", Gateway: "198.51.101.1", Uplink: "eth1"}, http.StatusUnprocessableEntity},
			{api.PublicIPPoolCreate{Name: "b", Region: "au-syd", CIDR: "198.51.100.0/24", Gateway: "198.51.100.1", FirstIP: "198.51.100.20",
				LastIP: "198.51.100.10", Uplink: "eth1"}, http.StatusUnprocessableEntity},
			{api.PublicIPPoolCreate{Name: "b", Region: "nowhere", CIDR: "198.51.100.0/24", Gateway: "198.51.100.1", Uplink: "eth1"}, http.StatusUnprocessableEntity},
			{api.PublicIPPoolCreate{Name: "syd-pub", Region: "au-syd", CIDR: "198.51.100.0/24", Gateway: "198.51.100.1", Uplink: "eth1"}, http.StatusConflict},
		} {
			if r := e.do("POST", "/api/v1/public-ip-pools", f.admin, c.body); r.Status != c.status {
				t.Errorf("%+v: %d %s, want %d", c.body, r.Status, r.Body, c.status)
			}
		}
		var ip api.PublicIP
		e.do("POST", "/api/v1/orgs/acme/public-ips", f.tenant, api.PublicIPAllocate{VDC: "main"}).must(t, http.StatusCreated).decode(t, &ip)
		// The gateway is never handed out.
		if ip.Address != "203.0.113.2" || ip.Region != "au-syd" || ip.VDC != "main" || ip.VM != "" {
			t.Errorf("allocated %+v", ip)
		}
		r := e.do("DELETE", "/api/v1/public-ip-pools/syd-pub", f.admin, nil)
		if r.Status != http.StatusConflict || r.problem(t).Code != api.CodeInUse {
			t.Fatalf("delete a pool with an allocated address: %d %s", r.Status, r.Body)
		}
		var list api.List[api.PublicIPPool]
		e.do("GET", "/api/v1/public-ip-pools?region=au-syd", f.admin, nil).must(t, http.StatusOK).decode(t, &list)
		if len(list.Items) != 1 || list.Items[0].Allocated != 1 {
			t.Errorf("pools: %+v", list.Items)
		}
		e.do("DELETE", "/api/v1/orgs/acme/public-ips/"+ip.Address, f.tenant, nil).must(t, http.StatusNoContent)
		e.do("DELETE", "/api/v1/public-ip-pools/syd-pub", f.admin, nil).must(t, http.StatusNoContent)
	})
}

func TestPublicIPQuotaAndExhaustion(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		q := roomyQuotas
		q.PublicIPs = 2
		f := newNetFixture(t, e, 1, q)
		r := e.do("POST", "/api/v1/orgs/acme/public-ips", f.tenant, api.PublicIPAllocate{})
		if r.Status != http.StatusConflict || r.problem(t).Code != api.CodeNoPublicIPs {
			t.Fatalf("allocate without a pool in the region: %d %s", r.Status, r.Body)
		}
		// A /30 leaves .1 (gateway) and .2.
		f.pool(t, api.PublicIPPoolCreate{Name: "small", Region: "au-syd", CIDR: "203.0.113.0/30", Gateway: "203.0.113.1", Uplink: "eth1"})
		e.do("POST", "/api/v1/orgs/acme/public-ips", f.tenant, api.PublicIPAllocate{}).must(t, http.StatusCreated)
		r = e.do("POST", "/api/v1/orgs/acme/public-ips", f.tenant, api.PublicIPAllocate{})
		if r.Status != http.StatusConflict || r.problem(t).Code != api.CodeNoPublicIPs {
			t.Fatalf("allocate from an empty pool: %d %s", r.Status, r.Body)
		}
		f.pool(t, api.PublicIPPoolCreate{Name: "more", Region: "au-syd", CIDR: "203.0.113.16/28", Gateway: "203.0.113.17", Uplink: "eth1"})
		e.do("POST", "/api/v1/orgs/acme/public-ips", f.tenant, api.PublicIPAllocate{}).must(t, http.StatusCreated)
		r = e.do("POST", "/api/v1/orgs/acme/public-ips", f.tenant, api.PublicIPAllocate{})
		if r.Status != http.StatusForbidden || r.problem(t).Code != api.CodeQuotaExceeded {
			t.Fatalf("third address against a quota of two: %d %s", r.Status, r.Body)
		}
		// The quota counts addresses a VM create takes too.
		f.network(t, "lan", "10.0.0.0/24")
		_, _, err := f.vm(t, "web", "hv1", store.PowerRunning, nil, true)
		if ae, ok := err.(*api.Error); !ok || ae.Code != api.CodeQuotaExceeded {
			t.Fatalf("VM with a public IP over quota: %v", err)
		}
		var list api.List[api.PublicIP]
		e.do("GET", "/api/v1/orgs/acme/public-ips", f.tenant, nil).must(t, http.StatusOK).decode(t, &list)
		if len(list.Items) != 2 || list.Items[0].Address != "203.0.113.2" || list.Items[1].Address != "203.0.113.18" {
			t.Errorf("addresses: %+v", list.Items)
		}
	})
}

func TestPublicIPAttach(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		q := roomyQuotas
		q.PublicIPs = 5
		f := newNetFixture(t, e, 2, q)
		f.pool(t, api.PublicIPPoolCreate{Name: "syd-pub", Region: "au-syd", CIDR: "203.0.113.0/28", Gateway: "203.0.113.1", Uplink: "eth1"})
		f.network(t, "lan", "10.0.0.0/24")
		f.network(t, "db", "10.1.0.0/24")
		stopped, _, err := f.vm(t, "off", "hv1", store.PowerStopped, []api.VMNetwork{{Network: "lan"}, {Network: "db"}}, false)
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = f.vm(t, "other", "hv2", store.PowerRunning, []api.VMNetwork{{Network: "lan"}}, false)
		if err != nil {
			t.Fatal(err)
		}
		var ip api.PublicIP
		e.do("POST", "/api/v1/orgs/acme/public-ips", f.tenant, api.PublicIPAllocate{}).must(t, http.StatusCreated).decode(t, &ip)
		gen := hostGen(t, e, "hv1")
		// A stopped VM takes an address, on the NIC named by its network.
		e.do("POST", "/api/v1/orgs/acme/public-ips/"+ip.ID+"/attach", f.tenant, api.PublicIPAttach{VM: "off", NIC: "db"}).
			must(t, http.StatusOK).decode(t, &ip)
		if ip.VM != stopped.ID || ip.PrivateIP != "10.1.0.2" || ip.MAC == "" {
			t.Fatalf("attached: %+v", ip)
		}
		if hostGen(t, e, "hv1") <= gen {
			t.Errorf("hv1 was not told of the new NAT rule")
		}
		var vmNICs []store.NIC
		err = e.store.View(context.Background(), func(tx *store.Tx) (err error) {
			vmNICs, err = tx.ListNICsByVM(context.Background(), stopped.ID)
			return err
		})
		if err != nil || vmNICs[0].PublicIP != "" || vmNICs[1].PublicIP != ip.Address {
			t.Fatalf("NICs of off: %+v, %v", vmNICs, err)
		}
		if got := nicsOf(vmNICs); len(got) != 2 || got[1] != (api.NIC{Network: "db", MAC: ip.MAC, IP: "10.1.0.2", PublicIP: ip.Address}) {
			t.Errorf("VM's NICs on the wire: %+v", got)
		}
		// Again on the same NIC: nothing changes. Elsewhere: detach first.
		e.do("POST", "/api/v1/orgs/acme/public-ips/"+ip.Address+"/attach", f.tenant, api.PublicIPAttach{VM: stopped.ID, NIC: ip.MAC}).must(t, http.StatusOK)
		r := e.do("POST", "/api/v1/orgs/acme/public-ips/"+ip.ID+"/attach", f.tenant, api.PublicIPAttach{VM: "other"})
		if r.Status != http.StatusConflict || r.problem(t).Code != api.CodeInUse {
			t.Fatalf("attach an attached address elsewhere: %d %s", r.Status, r.Body)
		}
		var second api.PublicIP
		e.do("POST", "/api/v1/orgs/acme/public-ips", f.tenant, api.PublicIPAllocate{}).must(t, http.StatusCreated).decode(t, &second)
		r = e.do("POST", "/api/v1/orgs/acme/public-ips/"+second.ID+"/attach", f.tenant, api.PublicIPAttach{VM: "off", NIC: "db"})
		if r.Status != http.StatusConflict || r.problem(t).Code != api.CodeInUse {
			t.Fatalf("second address on one NIC: %d %s", r.Status, r.Body)
		}
		if r := e.do("POST", "/api/v1/orgs/acme/public-ips/"+second.ID+"/attach", f.tenant, api.PublicIPAttach{VM: "off", NIC: "nope"}); r.Status != http.StatusUnprocessableEntity {
			t.Fatalf("unknown NIC: %d %s", r.Status, r.Body)
		}
		bare, _, err := f.vm(t, "bare", "hv1", store.PowerRunning, []api.VMNetwork{{Network: "lan"}}, false)
		if err != nil {
			t.Fatal(err)
		}
		e.do("POST", "/api/v1/orgs/acme/public-ips/"+second.ID+"/attach", f.tenant, api.PublicIPAttach{VM: bare.Name}).must(t, http.StatusOK)
		// Detach, twice: the second changes nothing.
		e.do("POST", "/api/v1/orgs/acme/public-ips/"+second.ID+"/detach", f.tenant, nil).must(t, http.StatusOK).decode(t, &second)
		if second.VM != "" || second.PrivateIP != "" {
			t.Errorf("detached: %+v", second)
		}
		e.do("POST", "/api/v1/orgs/acme/public-ips/"+second.ID+"/detach", f.tenant, nil).must(t, http.StatusOK)

		// Releasing an attached address detaches it and tells its host.
		gen = hostGen(t, e, "hv1")
		e.do("DELETE", "/api/v1/orgs/acme/public-ips/"+ip.ID, f.tenant, nil).must(t, http.StatusNoContent)
		if hostGen(t, e, "hv1") <= gen {
			t.Errorf("hv1 was not told the address is gone")
		}
		e.do("GET", "/api/v1/orgs/acme/public-ips/"+ip.ID, f.tenant, nil).must(t, http.StatusNotFound)
		err = e.store.View(context.Background(), func(tx *store.Tx) (err error) {
			vmNICs, err = tx.ListNICsByVM(context.Background(), stopped.ID)
			return err
		})
		if err != nil || vmNICs[1].PublicIP != "" {
			t.Fatalf("NIC keeps a released address: %+v, %v", vmNICs, err)
		}
		// The address goes back to the pool: the next allocation gets it.
		var again api.PublicIP
		e.do("POST", "/api/v1/orgs/acme/public-ips", f.tenant, api.PublicIPAllocate{}).must(t, http.StatusCreated).decode(t, &again)
		if again.Address != ip.Address {
			t.Errorf("reallocated %s, want the released %s", again.Address, ip.Address)
		}
		// A VM created with a public IP has it on its first NIC.
		_, nics, err := f.vm(t, "pub", "hv2", store.PowerRunning, []api.VMNetwork{{Network: "db"}}, true)
		if err != nil || nics[0].PublicIP == "" {
			t.Fatalf("VM with public IP: %+v, %v", nics, err)
		}
	})
}

// Twenty allocations at once against a quota of five take exactly five
// distinct addresses, on both engines.
func TestPublicIPAllocateConcurrently(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		q := roomyQuotas
		q.PublicIPs = 5
		f := newNetFixture(t, e, 1, q)
		f.pool(t, api.PublicIPPoolCreate{Name: "syd-pub", Region: "au-syd", CIDR: "203.0.113.0/24", Gateway: "203.0.113.1", Uplink: "eth1"})
		var wg sync.WaitGroup
		var mu sync.Mutex
		got := map[string]int{}
		addrs := map[string]bool{}
		for range 20 {
			wg.Go(func() {
				r := e.do("POST", "/api/v1/orgs/acme/public-ips", f.tenant, api.PublicIPAllocate{})
				mu.Lock()
				defer mu.Unlock()
				if r.Status == http.StatusCreated {
					var ip api.PublicIP
					r.decode(t, &ip)
					addrs[ip.Address] = true
					got["ok"]++
					return
				}
				got[r.problem(t).Code]++
			})
		}
		wg.Wait()
		if got["ok"] != 5 || got[api.CodeQuotaExceeded] != 15 || len(addrs) != 5 {
			t.Fatalf("outcomes %v with %d distinct addresses, want 5 ok and 15 %s", got, len(addrs), api.CodeQuotaExceeded)
		}
	})
}
