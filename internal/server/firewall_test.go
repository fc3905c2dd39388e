package server

import (
	"net/http"
	"testing"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/internal/store"
)

func TestFirewallRules(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		f := newNetFixture(t, e, 1, roomyQuotas)
		f.network(t, "lan", "10.0.0.0/24")
		if _, _, err := f.vm(t, "web", "hv1", store.PowerStopped, nil, false); err != nil {
			t.Fatal(err)
		}
		base := "/api/v1/orgs/acme/vms/web/firewall-rules"
		gen := hostGen(t, e, "hv1")
		var ssh api.FirewallRule
		r := e.do("POST", base, f.tenant, api.FirewallRuleCreate{Direction: "ingress", Protocol: "tcp", PortFrom: 22, CIDR: "198.51.100.7",
			Description: "office"}).must(t, http.StatusCreated)
		r.decode(t, &ssh)
		// One port means that port; a bare address is one host.
		if ssh.PortTo != 22 || ssh.CIDR != "198.51.100.7/32" || ssh.Direction != "ingress" || ssh.Description != "office" {
			t.Errorf("created %+v", ssh)
		}
		if hostGen(t, e, "hv1") <= gen {
			t.Errorf("the VM's host was not told of the new rule")
		}
		e.do("GET", r.Header.Get("Location"), f.tenant, nil).must(t, http.StatusOK)
		var web api.FirewallRule
		e.do("POST", base, f.tenant, api.FirewallRuleCreate{Direction: "ingress", Protocol: "tcp", PortFrom: 80, PortTo: 443}).
			must(t, http.StatusCreated).decode(t, &web)
		if web.CIDR != "0.0.0.0/0" {
			t.Errorf("default source: %+v", web)
		}
		e.do("POST", base, f.tenant, api.FirewallRuleCreate{Direction: "egress", Protocol: "any", CIDR: "10.0.0.0/8"}).must(t, http.StatusCreated)
		for _, bad := range []api.FirewallRuleCreate{
			{Direction: "ingress", Protocol: "tcp", PortFrom: 443, PortTo: 80},
			{Direction: "ingress", Protocol: "tcp", PortTo: 80},
			{Direction: "ingress", Protocol: "icmp", PortFrom: 8},
			{Direction: "ingress", Protocol: "udp", PortFrom: 53, CIDR: "10.0.0.1/8"},
			{Direction: "ingress", Protocol: "udp", PortFrom: 53, CIDR: "fd00::/8"},
			{Direction: "sideways", Protocol: "udp"},
			{Direction: "ingress", Protocol: "gre"},
			{Direction: "ingress", Protocol: "tcp", PortFrom: 70000},
		} {
			if r := e.do("POST", base, f.tenant, bad); r.Status != http.StatusUnprocessableEntity {
				t.Errorf("%+v: %d %s", bad, r.Status, r.Body)
			}
		}
		var list api.List[api.FirewallRule]
		e.do("GET", base, f.tenant, nil).must(t, http.StatusOK).decode(t, &list)
		if len(list.Items) != 3 || list.Items[0].ID != ssh.ID || list.Items[1].ID != web.ID {
			t.Fatalf("rules: %+v", list.Items)
		}
		gen = hostGen(t, e, "hv1")
		e.do("DELETE", base+"/"+ssh.ID, f.tenant, nil).must(t, http.StatusNoContent)
		if hostGen(t, e, "hv1") <= gen {
			t.Errorf("the VM's host was not told the rule is gone")
		}
		e.do("DELETE", base+"/"+ssh.ID, f.tenant, nil).must(t, http.StatusNotFound)
		e.do("GET", base, f.tenant, nil).must(t, http.StatusOK).decode(t, &list)
		if len(list.Items) != 2 {
			t.Fatalf("after delete: %+v", list.Items)
		}
		// A viewer reads rules but cannot change them.
		viewer := e.token(e.user("viewer@acme.test", store.RoleBinding{OrgID: f.org.ID, Role: api.RoleOrgViewer}), f.org.ID, api.RoleOrgViewer)
		e.do("GET", base, viewer, nil).must(t, http.StatusOK)
		e.do("POST", base, viewer, api.FirewallRuleCreate{Direction: "ingress", Protocol: "icmp"}).must(t, http.StatusForbidden)
		e.do("DELETE", base+"/"+web.ID, viewer, nil).must(t, http.StatusForbidden)
		e.do("DELETE", "/api/v1/orgs/acme/networks/lan", viewer, nil).must(t, http.StatusForbidden)
		e.do("POST", "/api/v1/orgs/acme/public-ips", viewer, api.PublicIPAllocate{}).must(t, http.StatusForbidden)
	})
}
