package server

import (
	"context"
	"fmt"
	"net/http"
	"reflect"
	"testing"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/api/agentapi"
	"github.com/sirocco-cloud/sirocco/internal/store"
)

// netFixture is newVMFixture's cloud with the network routes, a public pool
// in au-syd and VMs written straight to the store (no agent runs here).
type netFixture struct {
	*vmFixture
}

// withNetworkRoutes registers the network, public IP and firewall routes
// unless routes.go already does.
func withNetworkRoutes(e *env) {
	paths := e.srv.OpenAPI().Paths
	if paths["/api/v1/orgs/{org}/networks"] == nil {
		e.srv.networkRoutes()
	}
	if paths["/api/v1/public-ip-pools"] == nil {
		e.srv.publicIPPoolRoutes()
	}
	if paths["/api/v1/orgs/{org}/public-ips"] == nil {
		e.srv.publicIPRoutes()
	}
	if paths["/api/v1/orgs/{org}/vms/{vm}/firewall-rules"] == nil {
		e.srv.firewallRoutes()
	}
}

func newNetFixture(t *testing.T, e *env, hosts int, q api.Quotas) *netFixture {
	t.Helper()
	withNetworkRoutes(e)
	return &netFixture{newVMFixture(t, e, hosts, store.Residency{}, q)}
}

// vm stores a VM of acme in VDC main on host with the given power and NICs
// from attachNICs.
func (f *netFixture) vm(t *testing.T, name, host, power string, nets []api.VMNetwork, publicIP bool) (*store.VM, []api.NIC, error) {
	t.Helper()
	ctx := context.Background()
	var v *store.VM
	var nics []api.NIC
	err := f.e.store.Tx(ctx, func(tx *store.Tx) error {
		vdc, err := tx.GetVDC(ctx, f.org.ID, "main")
		if err != nil {
			return err
		}
		state := api.VMRunning
		if power == store.PowerStopped {
			state = api.VMStopped
		}
		v = &store.VM{OrgID: f.org.ID, VDCID: vdc.ID, Name: name, Hostname: name, ImageID: f.image, SizeID: "s1.small", VCPU: 1,
			MemoryMiB: 1024, DiskGiB: 10, HostID: host, Power: power, State: state, StopTimeout: defaultStopTimeout}
		if err := tx.CreateVM(ctx, v); err != nil {
			return err
		}
		nics, err = f.e.srv.attachNICs(ctx, tx, v, nets, publicIP)
		return err
	})
	return v, nics, err
}

func (f *netFixture) network(t *testing.T, name, cidr string) api.Network {
	t.Helper()
	var n api.Network
	f.e.do("POST", "/api/v1/orgs/acme/networks", f.tenant, api.NetworkCreate{Name: name, CIDR: cidr}).must(t, http.StatusCreated).decode(t, &n)
	return n
}

func (f *netFixture) pool(t *testing.T, c api.PublicIPPoolCreate) {
	t.Helper()
	f.e.do("POST", "/api/v1/public-ip-pools", f.admin, c).must(t, http.StatusCreated)
}

func hostGen(t *testing.T, e *env, host string) int64 {
	t.Helper()
	var g int64
	err := e.store.View(context.Background(), func(tx *store.Tx) (err error) { g, err = tx.HostGeneration(context.Background(), host); return err })
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestNetworkOverlap(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		f := newNetFixture(t, e, 1, roomyQuotas)
		n := f.network(t, "lan", "10.0.0.0/24")
		if n.Gateway != "10.0.0.1" || n.MTU != 1450 || n.VDC != "main" || n.Region != "au-syd" || n.State != "ready" {
			t.Errorf("created %+v", n)
		}
		// Overlapping a network of the same VDC, whichever is larger, is refused.
		for _, cidr := range []string{"10.0.0.0/24", "10.0.0.128/25", "10.0.0.0/16"} {
			r := e.do("POST", "/api/v1/orgs/acme/networks", f.tenant, api.NetworkCreate{Name: "other", CIDR: cidr})
			if r.Status != http.StatusConflict || r.problem(t).Code != api.CodeNetworkOverlap {
				t.Errorf("%s next to 10.0.0.0/24: %d %s", cidr, r.Status, r.Body)
			}
		}
		f.network(t, "lan2", "10.0.1.0/24")
		// Another VDC of the same tenant, and another tenant, may reuse the addresses.
		e.do("POST", "/api/v1/orgs/acme/vdcs", f.tenant, api.VDCCreate{Name: "second", Zone: "au-syd-1a"}).must(t, http.StatusCreated)
		e.do("POST", "/api/v1/orgs/acme/networks", f.tenant, api.NetworkCreate{Name: "lan3", VDC: "second", CIDR: "10.0.0.0/24"}).must(t, http.StatusCreated)
		_, beta := e.tenant("beta", store.Residency{})
		e.do("POST", "/api/v1/orgs/beta/vdcs", beta, api.VDCCreate{Name: "main", Zone: "au-syd-1a"}).must(t, http.StatusCreated)
		var bn api.Network
		e.do("POST", "/api/v1/orgs/beta/networks", beta, api.NetworkCreate{Name: "lan", CIDR: "10.0.0.0/24"}).must(t, http.StatusCreated).decode(t, &bn)
		// A name is unique in the organisation, whatever the VDC.
		r := e.do("POST", "/api/v1/orgs/acme/networks", f.tenant, api.NetworkCreate{Name: "lan", VDC: "second", CIDR: "10.9.0.0/24"})
		if r.Status != http.StatusConflict || r.problem(t).Code != api.CodeAlreadyExists {
			t.Errorf("second network named lan: %d %s", r.Status, r.Body)
		}
		for _, bad := range []api.NetworkCreate{
			{Name: "x", VDC: "main", CIDR: "10.5.0.7/24"},
			{Name: "x", VDC: "main", CIDR: "10.5.0.0/30"},
			{Name: "x", VDC: "main", CIDR: "10.5.0.0/24", Gateway: "10.6.0.1"},
			{Name: "x", VDC: "main", CIDR: "10.5.0.0/24", DNS: []string{"dns.example"}},
		} {
			if r := e.do("POST", "/api/v1/orgs/acme/networks", f.tenant, bad); r.Status != http.StatusUnprocessableEntity {
				t.Errorf("%+v: %d %s", bad, r.Status, r.Body)
			}
		}
		var list api.List[api.Network]
		e.do("GET", "/api/v1/orgs/acme/networks?vdc=main", f.tenant, nil).must(t, http.StatusOK).decode(t, &list)
		if len(list.Items) != 2 || list.Items[0].Name != "lan" || list.Items[1].Name != "lan2" {
			t.Errorf("networks of main: %+v", list.Items)
		}
		e.do("GET", "/api/v1/orgs/acme/networks/"+n.ID, f.tenant, nil).must(t, http.StatusOK)
		e.do("DELETE", "/api/v1/orgs/acme/networks/lan2", f.tenant, nil).must(t, http.StatusNoContent)
		e.do("GET", "/api/v1/orgs/acme/networks/lan2", f.tenant, nil).must(t, http.StatusNotFound)
	})
}

func TestNetworkAddresses(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		f := newNetFixture(t, e, 1, roomyQuotas)
		f.network(t, "tiny", "10.0.0.0/29") // .2 to .6 for VMs
		// With one network in the VDC, a VM joins it without naming it.
		v1, nics, err := f.vm(t, "a", "hv1", store.PowerRunning, nil, false)
		if err != nil || len(nics) != 1 || nics[0].IP != "10.0.0.2" || nics[0].Network != "tiny" || nics[0].MAC[:6] != "02:00:" {
			t.Fatalf("first VM: %+v, %v", nics, err)
		}
		_, nics, err = f.vm(t, "b", "hv1", store.PowerRunning, []api.VMNetwork{{Network: "tiny", IP: "10.0.0.6"}}, false)
		if err != nil || nics[0].IP != "10.0.0.6" {
			t.Fatalf("fixed address: %+v, %v", nics, err)
		}
		_, _, err = f.vm(t, "c", "hv1", store.PowerRunning, []api.VMNetwork{{Network: "tiny", IP: "10.0.0.6"}}, false)
		if ae, ok := err.(*api.Error); !ok || ae.Code != api.CodeAddressInUse {
			t.Fatalf("fixed address taken: %v", err)
		}
		for _, ip := range []string{"10.0.0.1", "10.0.0.7", "10.0.1.3"} {
			_, _, err = f.vm(t, "c", "hv1", store.PowerRunning, []api.VMNetwork{{Network: "tiny", IP: ip}}, false)
			if ae, ok := err.(*api.Error); !ok || ae.Status != http.StatusUnprocessableEntity {
				t.Errorf("fixed address %s: %v", ip, err)
			}
		}
		for i, want := range []string{"10.0.0.3", "10.0.0.4", "10.0.0.5"} {
			_, nics, err := f.vm(t, fmt.Sprintf("fill%d", i), "hv1", store.PowerRunning, nil, false)
			if err != nil || nics[0].IP != want {
				t.Fatalf("fill %d: %+v, %v", i, nics, err)
			}
		}
		_, _, err = f.vm(t, "full", "hv1", store.PowerRunning, nil, false)
		if ae, ok := err.(*api.Error); !ok || ae.Code != api.CodeNetworkFull {
			t.Fatalf("sixth VM on a /29: %v", err)
		}
		// The network is in use until its VMs are gone.
		r := e.do("DELETE", "/api/v1/orgs/acme/networks/tiny", f.tenant, nil)
		if r.Status != http.StatusConflict || r.problem(t).Code != api.CodeInUse {
			t.Fatalf("delete a used network: %d %s", r.Status, r.Body)
		}
		// A second network makes the choice explicit.
		f.network(t, "more", "10.1.0.0/24")
		_, _, err = f.vm(t, "pick", "hv1", store.PowerRunning, nil, false)
		if ae, ok := err.(*api.Error); !ok || ae.Status != http.StatusUnprocessableEntity {
			t.Fatalf("no network named with two in the VDC: %v", err)
		}
		_, nics, err = f.vm(t, "two", "hv1", store.PowerRunning, []api.VMNetwork{{Network: "more"}, {Network: "tiny", IP: "10.0.0.2"}}, false)
		if ae, ok := err.(*api.Error); !ok || ae.Code != api.CodeAddressInUse {
			t.Fatalf("two NICs, second address taken by %s: %+v, %v", v1.Name, nics, err)
		}
	})
}

func TestHostNetworks(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		f := newNetFixture(t, e, 2, roomyQuotas)
		f.pool(t, api.PublicIPPoolCreate{Name: "syd-pub", Region: "au-syd", CIDR: "203.0.113.0/28", Gateway: "203.0.113.1", Uplink: "eth1"})
		f.pool(t, api.PublicIPPoolCreate{Name: "fra-pub", Region: "de-fra", CIDR: "198.51.100.0/28", Gateway: "198.51.100.1", Uplink: "eth2"})
		err := e.store.Tx(ctx, func(tx *store.Tx) error {
			for h, ip := range map[string]string{"hv1": "192.0.2.1", "hv2": "192.0.2.2"} {
				if err := tx.SetHostUnderlayIP(ctx, h, ip); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		lan := f.network(t, "lan", "10.0.0.0/24")
		db := f.network(t, "db", "10.1.0.0/24")
		web, _, err := f.vm(t, "web", "hv1", store.PowerRunning, []api.VMNetwork{{Network: "lan"}, {Network: "db"}}, true)
		if err != nil {
			t.Fatal(err)
		}
		gen2 := hostGen(t, e, "hv2")
		dbvm, _, err := f.vm(t, "sql", "hv2", store.PowerRunning, []api.VMNetwork{{Network: "db"}}, false)
		if err != nil {
			t.Fatal(err)
		}
		gen1 := hostGen(t, e, "hv1")
		// hv1 learns of the new peer and lease: its generation moves.
		if _, _, err := f.vm(t, "sql2", "hv2", store.PowerStopped, []api.VMNetwork{{Network: "db"}}, false); err != nil {
			t.Fatal(err)
		}
		if hostGen(t, e, "hv1") <= gen1 || hostGen(t, e, "hv2") <= gen2 {
			t.Errorf("host generations did not move when a NIC joined their network")
		}
		e.do("POST", "/api/v1/orgs/acme/vms/"+web.ID+"/firewall-rules", f.tenant,
			api.FirewallRuleCreate{Direction: "ingress", Protocol: "tcp", PortFrom: 22, CIDR: "198.51.100.0/24"}).must(t, http.StatusCreated)
		var got1, got2 []agentapi.DesiredNetwork
		var nics1, nics2 map[string][]agentapi.DesiredNIC
		var up1, up2 []agentapi.PublicUplink
		err = e.store.View(ctx, func(tx *store.Tx) (err error) {
			if got1, nics1, up1, err = e.srv.hostNetworks(ctx, tx, "hv1"); err != nil {
				return err
			}
			got2, nics2, up2, err = e.srv.hostNetworks(ctx, tx, "hv2")
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(got1) != 2 || len(got2) != 1 || got2[0].ID != db.ID {
			t.Fatalf("hv1 carries %+v, hv2 carries %+v", got1, got2)
		}
		byID := map[string]agentapi.DesiredNetwork{}
		for _, n := range got1 {
			byID[n.ID] = n
		}
		l, d := byID[lan.ID], byID[db.ID]
		if l.VNI == 0 || l.VNI == d.VNI || l.CIDR != "10.0.0.0/24" || l.Gateway != "10.0.0.1" || l.MTU != 1450 {
			t.Errorf("lan on hv1: %+v", l)
		}
		// lan has only hv1's VM: no peers. db spans both hosts.
		if len(l.Peers) != 0 || !reflect.DeepEqual(d.Peers, []string{"192.0.2.2"}) || !reflect.DeepEqual(got2[0].Peers, []string{"192.0.2.1"}) {
			t.Errorf("peers: lan %v, db on hv1 %v, db on hv2 %v", l.Peers, d.Peers, got2[0].Peers)
		}
		// Every host's DHCP knows every lease of the network, wherever the VM runs.
		if len(d.Leases) != 3 || len(got2[0].Leases) != 3 || d.Leases[0].IP != "10.1.0.2" || d.Leases[0].Hostname != "web" {
			t.Errorf("db leases: hv1 %+v, hv2 %+v", d.Leases, got2[0].Leases)
		}
		w := nics1[web.ID]
		if len(w) != 2 || w[0].Network != lan.ID || w[1].Network != db.ID || w[0].PublicIP != "203.0.113.2" || w[1].PublicIP != "" {
			t.Fatalf("web's NICs: %+v", w)
		}
		if want := []agentapi.FirewallRule{{Direction: "ingress", Protocol: "tcp", PortFrom: 22, PortTo: 22, CIDR: "198.51.100.0/24"}}; !reflect.DeepEqual(w[0].Rules, want) {
			t.Errorf("web's rules: %+v", w[0].Rules)
		}
		if len(nics2[dbvm.ID]) != 1 || len(nics1[dbvm.ID]) != 0 || len(nics2) != 2 {
			t.Errorf("VM NICs by host: hv1 %+v, hv2 %+v", nics1, nics2)
		}
		// Only the region's pools: fra-pub is elsewhere.
		want := []agentapi.PublicUplink{{Prefix: "203.0.113.0/28", Gateway: "203.0.113.1", Uplink: "eth1"}}
		if !reflect.DeepEqual(up1, want) || !reflect.DeepEqual(up2, want) {
			t.Errorf("uplinks: hv1 %+v, hv2 %+v", up1, up2)
		}
	})
}

// Another tenant learns nothing about acme's networks, addresses or rules:
// every one of its requests is a 404, whether by ID or by name.
func TestNetworkIsolation(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		f := newNetFixture(t, e, 1, roomyQuotas)
		f.pool(t, api.PublicIPPoolCreate{Name: "syd-pub", Region: "au-syd", CIDR: "203.0.113.0/28", Gateway: "203.0.113.1", Uplink: "eth1"})
		n := f.network(t, "lan", "10.0.0.0/24")
		vm, _, err := f.vm(t, "web", "hv1", store.PowerRunning, nil, false)
		if err != nil {
			t.Fatal(err)
		}
		var ip api.PublicIP
		e.do("POST", "/api/v1/orgs/acme/public-ips", f.tenant, api.PublicIPAllocate{}).must(t, http.StatusCreated).decode(t, &ip)
		var rule api.FirewallRule
		e.do("POST", "/api/v1/orgs/acme/vms/web/firewall-rules", f.tenant, api.FirewallRuleCreate{Direction: "ingress", Protocol: "icmp"}).
			must(t, http.StatusCreated).decode(t, &rule)

		_, beta := e.tenant("beta", store.Residency{})
		e.do("POST", "/api/v1/orgs/beta/vdcs", beta, api.VDCCreate{Name: "main", Zone: "au-syd-1a"}).must(t, http.StatusCreated)
		// Through acme's organisation path, and through beta's own with acme's IDs.
		for _, org := range []string{"acme", f.org.ID, "beta"} {
			base := "/api/v1/orgs/" + org
			for _, c := range []struct {
				method, path string
				body         any
			}{
				{"GET", base + "/networks/" + n.ID, nil},
				{"GET", base + "/networks/lan", nil},
				{"DELETE", base + "/networks/" + n.ID, nil},
				{"GET", base + "/public-ips/" + ip.ID, nil},
				{"GET", base + "/public-ips/" + ip.Address, nil},
				{"DELETE", base + "/public-ips/" + ip.ID, nil},
				{"POST", base + "/public-ips/" + ip.ID + "/attach", api.PublicIPAttach{VM: vm.ID}},
				{"POST", base + "/public-ips/" + ip.ID + "/detach", nil},
				{"GET", base + "/vms/" + vm.ID + "/firewall-rules", nil},
				{"POST", base + "/vms/" + vm.ID + "/firewall-rules", api.FirewallRuleCreate{Direction: "ingress", Protocol: "any"}},
				{"GET", base + "/vms/" + vm.ID + "/firewall-rules/" + rule.ID, nil},
				{"DELETE", base + "/vms/" + vm.ID + "/firewall-rules/" + rule.ID, nil},
			} {
				if r := e.do(c.method, c.path, beta, c.body); r.Status != http.StatusNotFound {
					t.Errorf("beta: %s %s: %d %s", c.method, c.path, r.Status, r.Body)
				}
			}
		}
		// Beta's lists stay empty, and its VM cannot take acme's address.
		for _, path := range []string{"/networks", "/public-ips"} {
			var l api.List[map[string]any]
			e.do("GET", "/api/v1/orgs/beta"+path, beta, nil).must(t, http.StatusOK).decode(t, &l)
			if len(l.Items) != 0 {
				t.Errorf("beta lists %s: %+v", path, l.Items)
			}
		}
		// Nothing changed for acme.
		e.do("GET", "/api/v1/orgs/acme/networks/lan", f.tenant, nil).must(t, http.StatusOK)
		e.do("GET", "/api/v1/orgs/acme/vms/web/firewall-rules/"+rule.ID, f.tenant, nil).must(t, http.StatusOK)
		e.do("GET", "/api/v1/orgs/acme/public-ips/"+ip.Address, f.tenant, nil).must(t, http.StatusOK)
		// The pools are the provider's.
		if r := e.do("GET", "/api/v1/public-ip-pools", f.tenant, nil); r.Status != http.StatusForbidden {
			t.Errorf("tenant lists pools: %d", r.Status)
		}
		if r := e.do("POST", "/api/v1/public-ip-pools", f.tenant, api.PublicIPPoolCreate{Name: "mine", Region: "au-syd", CIDR: "192.0.2.0/24",
			Gateway: "192.0.2.1", Uplink: "eth9"}); r.Status != http.StatusForbidden {
			t.Errorf("tenant creates a pool: %d", r.Status)
		}
	})
}
