package store_test

import (
	"context"
	"errors"
	"testing"

	"github.com/sirocco-cloud/sirocco/internal/ipam"
	"github.com/sirocco-cloud/sirocco/internal/store"
)

// netVM stores a VM of org in vdc on host.
func netVM(t *testing.T, ctx context.Context, tx *store.Tx, f computeFixture, org, vdc, host, name string) *store.VM {
	t.Helper()
	v := &store.VM{OrgID: org, VDCID: vdc, Name: name, Hostname: name, ImageID: f.image, SizeID: "small", VCPU: 1, MemoryMiB: 1024,
		DiskGiB: 10, HostID: host, Power: store.PowerRunning}
	if err := tx.CreateVM(ctx, v); err != nil {
		t.Fatalf("create vm %s: %v", name, err)
	}
	return v
}

func TestNetworkRows(t *testing.T) {
	openCatalogStores(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		f := newComputeFixture(t, s)
		a := &store.Network{Meta: store.Meta{Labels: map[string]string{"tier": "web"}}, OrgID: f.acme, VDCID: f.acmeDE, Name: "lan",
			CIDR: "10.0.0.0/24", Gateway: "10.0.0.1", DNS: []string{"9.9.9.9"}}
		b := &store.Network{OrgID: f.other, VDCID: f.otherDE, Name: "lan", CIDR: "10.0.0.0/24", Gateway: "10.0.0.1"}
		err := s.Tx(ctx, func(tx *store.Tx) error {
			for _, n := range []*store.Network{a, b} {
				if err := tx.CreateNetwork(ctx, n); err != nil {
					return err
				}
			}
			// VNIs are allocated from 1000 and never shared, whatever the tenant.
			if a.VNI != store.FirstVNI || b.VNI != store.FirstVNI+1 || a.MTU != store.DefaultMTU || a.State != store.NetworkReady {
				t.Errorf("networks got VNI %d and %d, MTU %d, state %s", a.VNI, b.VNI, a.MTU, a.State)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		// A failed statement ends a PostgreSQL transaction: each expected
		// conflict gets its own.
		err = s.Tx(ctx, func(tx *store.Tx) error {
			return tx.CreateNetwork(ctx, &store.Network{OrgID: f.acme, VDCID: f.acmeDE, Name: "lan", CIDR: "10.1.0.0/24", Gateway: "10.1.0.1"})
		})
		if !errors.Is(err, store.ErrConflict) {
			t.Errorf("second network named lan in one VDC: %v, want ErrConflict", err)
		}
		var v *store.VM
		err = s.Tx(ctx, func(tx *store.Tx) error {
			got, err := tx.GetNetwork(ctx, f.acme, "lan")
			if err != nil {
				return err
			}
			if got.ID != a.ID || got.VDCName != "main" || got.RegionID != "de" || len(got.DNS) != 1 || got.Labels["tier"] != "web" {
				t.Errorf("read back %+v", got)
			}
			if _, err := tx.GetNetwork(ctx, f.other, a.ID); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("other org reads acme's network by ID: %v", err)
			}
			list, _, err := tx.ListNetworks(ctx, store.NetworkFilter{OrgID: f.acme}, store.Page{})
			if err != nil || len(list) != 1 || list[0].ID != a.ID {
				t.Errorf("acme's networks: %+v, %v", list, err)
			}

			v = netVM(t, ctx, tx, f, f.acme, f.acmeDE, "h-de", "web")
			mac, err := tx.NewNICMAC(ctx)
			if err != nil {
				return err
			}
			return tx.CreateNIC(ctx, &store.NIC{VMID: v.ID, NetworkID: a.ID, MAC: mac, IP: "10.0.0.2"})
		})
		if err != nil {
			t.Fatal(err)
		}
		err = s.Tx(ctx, func(tx *store.Tx) error {
			return tx.CreateNIC(ctx, &store.NIC{VMID: v.ID, NetworkID: a.ID, Position: 1, MAC: "02:00:00:00:00:01", IP: "10.0.0.2"})
		})
		if !errors.Is(err, store.ErrConflict) {
			t.Errorf("second NIC with 10.0.0.2 on one network: %v", err)
		}
		err = s.Tx(ctx, func(tx *store.Tx) error {
			// The same address on the other tenant's network is fine.
			w := netVM(t, ctx, tx, f, f.other, f.otherDE, "h-de", "web")
			if err := tx.CreateNIC(ctx, &store.NIC{VMID: w.ID, NetworkID: b.ID, MAC: "02:00:00:00:00:02", IP: "10.0.0.2"}); err != nil {
				return err
			}
			if err := tx.DeleteNetwork(ctx, a.ID); !errors.Is(err, store.ErrConflict) {
				t.Errorf("delete a network in use: %v, want ErrConflict", err)
			}
			nics, err := tx.ListNICsByVM(ctx, v.ID)
			if err != nil || len(nics) != 1 || nics[0].NetworkName != "lan" || nics[0].HostID != "h-de" || nics[0].Hostname != "web" {
				t.Errorf("nics of web: %+v, %v", nics, err)
			}
			// A VM's NICs go with it.
			if err := tx.DeleteVM(ctx, v.ID); err != nil {
				return err
			}
			if err := tx.DeleteNetwork(ctx, a.ID); err != nil {
				t.Errorf("delete a network no longer used: %v", err)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}

func TestPublicIPRows(t *testing.T) {
	openCatalogStores(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		f := newComputeFixture(t, s)
		err := s.Tx(ctx, func(tx *store.Tx) error {
			// Two usable addresses: .10 and .12 (.11 is the gateway).
			pool := &store.PublicIPPool{RegionID: "de", Name: "de-pub", CIDR: "203.0.113.0/24", Gateway: "203.0.113.11",
				FirstIP: "203.0.113.10", LastIP: "203.0.113.12", Uplink: "eth1"}
			if err := tx.CreatePublicIPPool(ctx, pool); err != nil {
				return err
			}
			var got []string
			for range 2 {
				p := &store.PublicIP{RegionID: "de", OrgID: f.acme, VDCID: f.acmeDE}
				if err := tx.AllocatePublicIP(ctx, p); err != nil {
					return err
				}
				got = append(got, p.Address)
			}
			if got[0] != "203.0.113.10" || got[1] != "203.0.113.12" {
				t.Errorf("allocated %v, want .10 and .12 (never the gateway)", got)
			}
			if err := tx.AllocatePublicIP(ctx, &store.PublicIP{RegionID: "de", OrgID: f.other, VDCID: f.otherDE}); !errors.Is(err, ipam.ErrExhausted) {
				t.Errorf("third address from a pool of two: %v", err)
			}
			if err := tx.AllocatePublicIP(ctx, &store.PublicIP{RegionID: "au", OrgID: f.acme, VDCID: f.acmeAU}); !errors.Is(err, ipam.ErrExhausted) {
				t.Errorf("address in a region without pools: %v", err)
			}
			if n, err := tx.CountPublicIPs(ctx, f.acmeDE); err != nil || n != 2 {
				t.Errorf("acme holds %d, %v", n, err)
			}
			if err := tx.DeletePublicIPPool(ctx, pool.ID); !errors.Is(err, store.ErrConflict) {
				t.Errorf("delete a pool with allocated addresses: %v", err)
			}
			p, err := tx.GetPublicIP(ctx, f.acme, "203.0.113.10")
			if err != nil {
				return err
			}
			if _, err := tx.GetPublicIP(ctx, f.other, p.ID); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("other org reads acme's address: %v", err)
			}
			n := &store.Network{OrgID: f.acme, VDCID: f.acmeDE, Name: "lan", CIDR: "10.0.0.0/24", Gateway: "10.0.0.1"}
			if err := tx.CreateNetwork(ctx, n); err != nil {
				return err
			}
			v := netVM(t, ctx, tx, f, f.acme, f.acmeDE, "h-de", "web")
			nic := &store.NIC{VMID: v.ID, NetworkID: n.ID, MAC: "02:00:00:00:00:09", IP: "10.0.0.2"}
			if err := tx.CreateNIC(ctx, nic); err != nil {
				return err
			}
			if err := tx.AttachPublicIP(ctx, p, nic.ID); err != nil {
				return err
			}
			other, err := tx.GetPublicIP(ctx, f.acme, got[1])
			if err != nil {
				return err
			}
			if err := tx.AttachPublicIP(ctx, other, nic.ID); !errors.Is(err, store.ErrConflict) {
				t.Errorf("second address on one NIC: %v", err)
			}
			p, _ = tx.GetPublicIP(ctx, f.acme, p.ID)
			if p.VMID != v.ID || p.PrivateIP != "10.0.0.2" || p.HostID != "h-de" || p.Version != 2 {
				t.Errorf("attached address read back as %+v", p)
			}
			nics, _ := tx.ListNICsByVM(ctx, v.ID)
			if len(nics) != 1 || nics[0].PublicIP != p.Address {
				t.Errorf("NIC does not show its public address: %+v", nics)
			}
			if n, err := tx.DetachVMPublicIPs(ctx, v.ID); err != nil || n != 1 {
				t.Errorf("detach the VM's addresses: %d, %v", n, err)
			}
			p, _ = tx.GetPublicIP(ctx, f.acme, p.ID)
			if p.NICID != "" || p.VMID != "" {
				t.Errorf("still attached: %+v", p)
			}
			// Suspension detaches everything the organisation has attached.
			if err := tx.AttachPublicIP(ctx, p, nic.ID); err != nil {
				return err
			}
			if hosts, err := tx.DetachOrgPublicIPs(ctx, f.acme); err != nil || len(hosts) != 1 || hosts[0] != "h-de" {
				t.Errorf("detach acme's addresses: hosts %v, %v", hosts, err)
			}
			if p, _ = tx.GetPublicIP(ctx, f.acme, p.ID); p.VMID != "" {
				t.Errorf("still attached after suspension: %+v", p)
			}
			for _, a := range got {
				ip, err := tx.GetPublicIP(ctx, f.acme, a)
				if err != nil {
					return err
				}
				if err := tx.ReleasePublicIP(ctx, ip.ID); err != nil {
					return err
				}
			}
			return tx.DeletePublicIPPool(ctx, pool.ID)
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}

func TestFirewallRuleRows(t *testing.T) {
	openCatalogStores(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		f := newComputeFixture(t, s)
		err := s.Tx(ctx, func(tx *store.Tx) error {
			v := netVM(t, ctx, tx, f, f.acme, f.acmeDE, "h-de", "web")
			r := &store.FirewallRule{OrgID: f.acme, VMID: v.ID, Direction: store.DirectionIngress, Protocol: "tcp", PortFrom: 22, PortTo: 22}
			if err := tx.CreateFirewallRule(ctx, r); err != nil {
				return err
			}
			rules, err := tx.ListFirewallRules(ctx, v.ID)
			if err != nil || len(rules) != 1 || rules[0].CIDR != "0.0.0.0/0" || rules[0].PortTo != 22 {
				t.Errorf("rules %+v, %v", rules, err)
			}
			if _, err := tx.GetFirewallRule(ctx, store.NewID(), r.ID); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("rule read through another VM: %v", err)
			}
			if err := tx.DeleteFirewallRule(ctx, r.ID); err != nil {
				return err
			}
			rules, err = tx.ListFirewallRules(ctx, v.ID)
			if err != nil || len(rules) != 0 {
				t.Errorf("after delete: %+v, %v", rules, err)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}
