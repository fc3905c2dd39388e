package server

import (
	"context"
	"testing"

	"github.com/sirocco-cloud/sirocco/internal/store"
)

// isoNetworking gives the isolation matrix the provider's public pool and
// alpha's networks (one in use by VM vmID's NIC, one spare), public
// addresses and firewall rules, written to the store.
func isoNetworking(t *testing.T, e *env, org, vdc, vmID string) isoComputeObjects {
	t.Helper()
	ctx := context.Background()
	out := isoComputeObjects{refs: map[string][]isoRef{}, secrets: map[string]string{}}
	mine := func(kind, label, id, name, ghost string) {
		out.refs[kind] = []isoRef{{label: label + " by ID", value: id, ghost: store.NewID()}}
		if name != "" {
			out.refs[kind] = append(out.refs[kind], isoRef{label: label + " by name", value: name, ghost: ghost})
		}
		out.secrets[id] = label + " ID"
	}
	err := e.store.Tx(ctx, func(tx *store.Tx) error {
		pool := &store.PublicIPPool{RegionID: "au-syd", Name: "syd-public", CIDR: "203.0.113.0/28", Gateway: "203.0.113.1",
			FirstIP: "203.0.113.2", LastIP: "203.0.113.14", Uplink: "eth1"}
		if err := tx.CreatePublicIPPool(ctx, pool); err != nil {
			return err
		}
		out.refs["pool"] = []isoRef{{label: "the provider's public pool", value: pool.ID}}
		var lan *store.Network
		for _, n := range []struct{ kind, name, cidr string }{{"network", "lan", "10.0.0.0/24"}, {"network-del", "spare", "10.1.0.0/24"}} {
			nw := &store.Network{OrgID: org, VDCID: vdc, Name: n.name, CIDR: n.cidr, Gateway: n.cidr[:len(n.cidr)-4] + "1", MTU: 1450}
			if err := tx.CreateNetwork(ctx, nw); err != nil {
				return err
			}
			if lan == nil {
				lan = nw
			}
			mine(n.kind, "alpha's network "+n.name, nw.ID, n.name, "nxnet")
		}
		if err := tx.CreateNIC(ctx, &store.NIC{VMID: vmID, NetworkID: lan.ID, MAC: "02:00:0a:0b:0c:0d", IP: "10.0.0.2"}); err != nil {
			return err
		}
		for _, kind := range []string{"pip", "pip-del"} {
			p := &store.PublicIP{RegionID: "au-syd", OrgID: org, VDCID: vdc}
			if err := tx.AllocatePublicIP(ctx, p); err != nil {
				return err
			}
			mine(kind, "alpha's public IP "+p.Address, p.ID, p.Address, "198.51.100.99")
		}
		for _, kind := range []string{"rule", "rule-del"} {
			r := &store.FirewallRule{OrgID: org, VMID: vmID, Direction: "ingress", Protocol: "tcp", PortFrom: 22, PortTo: 22, CIDR: "0.0.0.0/0"}
			if err := tx.CreateFirewallRule(ctx, r); err != nil {
				return err
			}
			mine(kind, "alpha's firewall rule", r.ID, "", "")
		}
		return nil
	})
	if err != nil {
		t.Fatalf("networking fixture: %v", err)
	}
	return out
}
