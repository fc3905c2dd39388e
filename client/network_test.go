package client_test

import (
	"errors"
	"net/http"
	"testing"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/client"
	"github.com/sirocco-cloud/sirocco/internal/store"
)

// netCloud is region au-syd with a ready host that no agent runs (VMs
// placed on it stay creating), image tiny, size s1.small, public pool
// 203.0.113.0/29 (addresses .2 to .6) and tenant acme with VDC main.
type netCloud struct {
	*env
	admin, tenant *client.Client
	org           *api.Organisation
}

func newNetCloud(t *testing.T) *netCloud {
	t.Helper()
	e := newEnv(t, false)
	ctx := t.Context()
	admin := e.client(e.ProviderAdmin())
	catalog(t, admin)
	if _, err := admin.CreateSize(ctx, api.SizeCreate{Name: "s1.small", VCPU: 1, MemoryMiB: 1024, DiskGiB: 10}); err != nil {
		t.Fatal(err)
	}
	err := e.Store.Tx(ctx, func(tx *store.Tx) error {
		h := &store.Host{Meta: store.Meta{ID: "hv1"}, ZoneID: "au-syd-1a", State: api.HostReady, VCPU: 8, MemoryMiB: 16384, DiskGiB: 200,
			CPUOvercommit: 1, MemoryOvercommit: 1}
		if err := tx.CreateHost(ctx, h); err != nil {
			return err
		}
		return tx.CreateImage(ctx, &store.Image{Name: "tiny", Kind: api.ImageKindKernel, State: api.ImageAvailable,
			Files: []store.ImageFile{{Name: api.ImageFileKernel, Size: 1, SHA256: "00"}}})
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.CreatePublicIPPool(ctx, api.PublicIPPoolCreate{Name: "syd-public", Region: "au-syd", CIDR: "203.0.113.0/29",
		Gateway: "203.0.113.1", FirstIP: "203.0.113.2", Uplink: "eth1"}); err != nil {
		t.Fatal(err)
	}
	org, err := admin.CreateOrg(ctx, api.OrganisationCreate{Name: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	u := e.User("ana@acme.test", store.RoleBinding{OrgID: org.ID, Role: api.RoleOrgAdmin})
	tenant := e.client(e.Token(u, org.ID, api.RoleOrgAdmin))
	if _, err := tenant.CreateVDC(ctx, "acme", api.VDCCreate{Name: "main", Zone: "au-syd-1a"}); err != nil {
		t.Fatal(err)
	}
	return &netCloud{env: e, admin: admin, tenant: tenant, org: org}
}

func TestNetworksAndPublicIPs(t *testing.T) {
	nc := newNetCloud(t)
	ctx := t.Context()
	c := nc.tenant

	lan, err := c.CreateNetwork(ctx, "acme", api.NetworkCreate{Name: "lan", CIDR: "10.0.0.0/24", DNS: []string{"1.1.1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	if lan.Gateway != "10.0.0.1" || lan.MTU != 1450 || lan.VDC != "main" || lan.Region != "au-syd" {
		t.Fatalf("created %+v", lan)
	}
	_, err = c.CreateNetwork(ctx, "acme", api.NetworkCreate{Name: "other", CIDR: "10.0.0.128/25"})
	wantCode(t, err, http.StatusConflict, api.CodeNetworkOverlap)
	if _, err := c.CreateNetwork(ctx, "acme", api.NetworkCreate{Name: "db", CIDR: "10.0.1.0/24"}); err != nil {
		t.Fatal(err)
	}
	var names []string
	for n, err := range c.AllNetworks(ctx, "acme", client.NetworkListOptions{ListOptions: client.ListOptions{Limit: 1}, VDC: "main"}) {
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, n.Name)
	}
	if len(names) != 2 {
		t.Fatalf("networks %v", names)
	}
	if got, err := c.GetNetwork(ctx, "acme", lan.ID); err != nil || got.Name != "lan" || got.DNS[0] != "1.1.1.1" {
		t.Fatalf("get by ID: %+v, %v", got, err)
	}

	// A VM on both networks, a fixed address on the second, and a public
	// address on its first NIC.
	created, err := c.CreateVMs(ctx, "acme", api.VMCreate{Name: "web", Image: "tiny", Size: "s1.small", PublicIP: true,
		Networks: []api.VMNetwork{{Network: "lan"}, {Network: "db", IP: "10.0.1.50"}}})
	if err != nil {
		t.Fatal(err)
	}
	nics := created.VMs[0].NICs
	if len(nics) != 2 || nics[0].Network != "lan" || nics[0].IP != "10.0.0.2" || nics[0].PublicIP != "203.0.113.2" ||
		nics[1].Network != "db" || nics[1].IP != "10.0.1.50" || nics[1].PublicIP != "" || nics[0].MAC == "" {
		t.Fatalf("NICs %+v", nics)
	}
	vm, err := c.GetVM(ctx, "acme", "web")
	if err != nil || len(vm.NICs) != 2 || vm.NICs[0].PublicIP != "203.0.113.2" {
		t.Fatalf("get VM: %+v, %v", vm, err)
	}
	// The fixed address is now taken.
	_, err = c.CreateVMs(ctx, "acme", api.VMCreate{Name: "web2", Image: "tiny", Size: "s1.small",
		Networks: []api.VMNetwork{{Network: "db", IP: "10.0.1.50"}}})
	wantCode(t, err, http.StatusConflict, api.CodeAddressInUse)

	// The address shows in the organisation's list with the NIC it NATs to.
	ips, err := c.ListPublicIPs(ctx, "acme", client.PublicIPListOptions{VDC: "main"})
	if err != nil || len(ips.Items) != 1 {
		t.Fatalf("public IPs %+v, %v", ips, err)
	}
	if ip := ips.Items[0]; ip.Address != "203.0.113.2" || ip.VM != vm.ID || ip.PrivateIP != "10.0.0.2" || ip.MAC != nics[0].MAC {
		t.Fatalf("public IP %+v", ip)
	}

	// Move it to the other NIC: detach, attach there.
	ip, err := c.DetachPublicIP(ctx, "acme", "203.0.113.2")
	if err != nil || ip.VM != "" {
		t.Fatalf("detach: %+v, %v", ip, err)
	}
	ip, err = c.AttachPublicIP(ctx, "acme", "203.0.113.2", api.PublicIPAttach{VM: "web", NIC: "db"})
	if err != nil || ip.VM != vm.ID || ip.PrivateIP != "10.0.1.50" {
		t.Fatalf("attach: %+v, %v", ip, err)
	}
	// A second address cannot take the same NIC.
	second, err := c.AllocatePublicIP(ctx, "acme", api.PublicIPAllocate{VDC: "main"})
	if err != nil || second.Address != "203.0.113.3" || second.VM != "" {
		t.Fatalf("allocate: %+v, %v", second, err)
	}
	_, err = c.AttachPublicIP(ctx, "acme", second.ID, api.PublicIPAttach{VM: "web", NIC: "db"})
	wantCode(t, err, http.StatusConflict, api.CodeInUse)
	// The default quota is two addresses.
	_, err = c.AllocatePublicIP(ctx, "acme", api.PublicIPAllocate{})
	wantCode(t, err, http.StatusForbidden, api.CodeQuotaExceeded)

	// The pool counts what is out and will not go while anything is.
	pools, err := nc.admin.ListPublicIPPools(ctx, client.PublicIPPoolListOptions{Region: "au-syd"})
	if err != nil || len(pools.Items) != 1 || pools.Items[0].Allocated != 2 || pools.Items[0].LastIP != "203.0.113.6" {
		t.Fatalf("pools %+v, %v", pools, err)
	}
	err = nc.admin.DeletePublicIPPool(ctx, "syd-public")
	wantCode(t, err, http.StatusConflict, api.CodeInUse)
	// Pools are the provider's.
	_, err = c.CreatePublicIPPool(ctx, api.PublicIPPoolCreate{Name: "mine", Region: "au-syd", CIDR: "198.51.100.0/24",
		Gateway: "198.51.100.1", Uplink: "eth1"})
	if e, ok := errors.AsType[*api.Error](err); !ok || e.Status != http.StatusForbidden {
		t.Fatalf("tenant creating a pool: %v", err)
	}

	// A network with a VM on it stays.
	err = c.DeleteNetwork(ctx, "acme", "db")
	wantCode(t, err, http.StatusConflict, api.CodeInUse)

	if err := c.ReleasePublicIP(ctx, "acme", "203.0.113.2"); err != nil {
		t.Fatal(err)
	}
	if err := c.ReleasePublicIP(ctx, "acme", second.ID); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetPublicIP(ctx, "acme", "203.0.113.2")
	wantCode(t, err, http.StatusNotFound, api.CodeNotFound)
	if err := nc.admin.DeletePublicIPPool(ctx, "syd-public"); err != nil {
		t.Fatal(err)
	}

	// Another tenant sees none of it.
	evil, err := nc.admin.CreateOrg(ctx, api.OrganisationCreate{Name: "evil"})
	if err != nil {
		t.Fatal(err)
	}
	eve := nc.client(nc.Token(nc.User("eve@evil.test", store.RoleBinding{OrgID: evil.ID, Role: api.RoleOrgAdmin}), evil.ID, api.RoleOrgAdmin))
	_, err = eve.GetNetwork(ctx, "acme", "lan")
	wantCode(t, err, http.StatusNotFound, api.CodeNotFound)
	_, err = eve.ListFirewallRules(ctx, "acme", "web")
	wantCode(t, err, http.StatusNotFound, api.CodeNotFound)
}

func TestFirewallRules(t *testing.T) {
	nc := newNetCloud(t)
	ctx := t.Context()
	c := nc.tenant
	if _, err := c.CreateNetwork(ctx, "acme", api.NetworkCreate{Name: "lan", CIDR: "10.0.0.0/24"}); err != nil {
		t.Fatal(err)
	}
	// With one network in the VDC, a VM joins it without naming it.
	created, err := c.CreateVMs(ctx, "acme", api.VMCreate{Name: "web", Image: "tiny", Size: "s1.small"})
	if err != nil {
		t.Fatal(err)
	}
	if n := created.VMs[0].NICs; len(n) != 1 || n[0].Network != "lan" {
		t.Fatalf("NICs %+v", n)
	}

	ssh, err := c.CreateFirewallRule(ctx, "acme", "web", api.FirewallRuleCreate{Direction: api.DirectionIngress, Protocol: "tcp",
		PortFrom: 22, Description: "ssh"})
	if err != nil {
		t.Fatal(err)
	}
	// Defaults: one port, from everywhere.
	if ssh.PortTo != 22 || ssh.CIDR != "0.0.0.0/0" || ssh.VM != created.VMs[0].ID || ssh.ID == "" {
		t.Fatalf("rule %+v", ssh)
	}
	if _, err := c.CreateFirewallRule(ctx, "acme", "web", api.FirewallRuleCreate{Direction: api.DirectionIngress, Protocol: "udp",
		PortFrom: 60000, PortTo: 61000, CIDR: "198.51.100.7"}); err != nil {
		t.Fatal(err)
	}
	// Ports apply to tcp and udp only.
	_, err = c.CreateFirewallRule(ctx, "acme", "web", api.FirewallRuleCreate{Direction: api.DirectionIngress, Protocol: "icmp", PortFrom: 1})
	if e, ok := errors.AsType[*api.Error](err); !ok || e.Status != http.StatusUnprocessableEntity {
		t.Fatalf("icmp with a port: %v", err)
	}

	rules, err := c.ListFirewallRules(ctx, "acme", "web")
	if err != nil || len(rules.Items) != 2 || rules.Items[0].ID != ssh.ID || rules.Items[1].CIDR != "198.51.100.7/32" {
		t.Fatalf("rules %+v, %v", rules, err)
	}
	if got, err := c.GetFirewallRule(ctx, "acme", "web", ssh.ID); err != nil || got.Description != "ssh" {
		t.Fatalf("get: %+v, %v", got, err)
	}
	if err := c.DeleteFirewallRule(ctx, "acme", "web", ssh.ID); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetFirewallRule(ctx, "acme", "web", ssh.ID)
	wantCode(t, err, http.StatusNotFound, api.CodeNotFound)
	if rules, err := c.ListFirewallRules(ctx, "acme", "web"); err != nil || len(rules.Items) != 1 {
		t.Fatalf("after delete: %+v, %v", rules, err)
	}
}
