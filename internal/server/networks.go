package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/api/agentapi"
	"github.com/sirocco-cloud/sirocco/internal/ipam"
	"github.com/sirocco-cloud/sirocco/internal/store"
)

func networkOf(n *store.Network) api.Network {
	return api.Network{
		Meta: metaOf(n.Meta), Org: n.OrgID, VDC: n.VDCName, Region: n.RegionID, Name: n.Name, CIDR: n.CIDR,
		Gateway: n.Gateway, DNS: n.DNS, MTU: n.MTU, State: n.State,
	}
}

// nicsOf converts a VM's NICs (tx.ListNICsByVM) for api.VM.NICs.
func nicsOf(ns []store.NIC) []api.NIC {
	var out []api.NIC
	for _, c := range ns {
		out = append(out, api.NIC{Network: c.NetworkName, MAC: c.MAC, IP: c.IP, PublicIP: c.PublicIP})
	}
	return out
}

type (
	networkPath struct {
		Org     string `path:"org" maxLength:"200" doc:"Organisation ID or name"`
		Network string `path:"network" maxLength:"200" doc:"Network ID or name"`
	}
	networkListIn struct {
		Org string `path:"org" maxLength:"200" doc:"Organisation ID or name"`
		VDC string `query:"vdc" maxLength:"200" doc:"Keep the networks of this VDC (ID or name)"`
		ListParams
	}
	networkCreateIn struct {
		Org  string `path:"org" maxLength:"200" doc:"Organisation ID or name"`
		Body api.NetworkCreate
	}
)

func (s *Server) networkRoutes() {
	tags := []string{"Networks"}

	register(s, huma.Operation{OperationID: "list-networks", Method: http.MethodGet, Path: "/api/v1/orgs/{org}/networks", Summary: "List networks", Tags: tags},
		func(ctx context.Context, in *networkListIn) (*listOut[api.Network], error) {
			return listInOrg(ctx, s, in.Org, in.ListParams, canRead, func(tx *store.Tx, o *store.Org, pg store.Page) ([]store.Network, string, error) {
				f := store.NetworkFilter{OrgID: o.ID}
				if in.VDC != "" {
					v, err := tx.GetVDC(ctx, o.ID, in.VDC)
					if err != nil {
						return nil, "", notFoundOr(err, "VDC", in.VDC)
					}
					f.VDCID = v.ID
				}
				return tx.ListNetworks(ctx, f, pg)
			}, networkOf)
		})

	register(s, huma.Operation{OperationID: "get-network", Method: http.MethodGet, Path: "/api/v1/orgs/{org}/networks/{network}", Summary: "Get a network", Tags: tags},
		func(ctx context.Context, in *networkPath) (*bodyOut[api.Network], error) {
			n, err := readInOrg(ctx, s, in.Org, "network", in.Network, (*store.Tx).GetNetwork)
			if err != nil {
				return nil, err
			}
			return &bodyOut[api.Network]{ETag: etag(n.Version), Body: networkOf(n)}, nil
		})

	register(s, huma.Operation{OperationID: "create-network", Method: http.MethodPost, Path: "/api/v1/orgs/{org}/networks", Summary: "Create a network",
		Description: "Needs the org-member role or higher. The CIDR (IPv4, /16 to /29) must not overlap another network of the same VDC " +
			"(409 network_overlap); networks of other VDCs and other tenants may use the same addresses, isolated from each other. " +
			"Network names are unique in the organisation.",
		Tags: tags, DefaultStatus: http.StatusCreated},
		func(ctx context.Context, in *networkCreateIn) (*createdOut[api.Network], error) {
			p, err := principal(ctx)
			if err != nil {
				return nil, err
			}
			b := in.Body
			if store.IsID(b.Name) {
				return nil, fieldError("body.name", b.Name, "network name %q has the shape of an ID: choose another", b.Name)
			}
			if err := validateLabels(b.Labels); err != nil {
				return nil, err
			}
			prefix, gw, dns, err := parseNetwork(b)
			if err != nil {
				return nil, err
			}
			var n *store.Network
			err = s.store.Tx(ctx, func(tx *store.Tx) error {
				o, err := s.orgFor(ctx, tx, p, in.Org, canWrite)
				if err != nil {
					return err
				}
				if err := requireVerified(p); err != nil {
					return err
				}
				if err := requireOrgActive(o); err != nil {
					return err
				}
				vdc, err := s.vdcForCreate(ctx, tx, o, b.VDC)
				if err != nil {
					return err
				}
				// Names are unique per organisation, not only per VDC as the
				// schema has it, so a VM can name its network unambiguously.
				_, err = tx.GetNetwork(ctx, o.ID, b.Name)
				if err == nil {
					return api.Errorf(http.StatusConflict, api.CodeAlreadyExists, "organisation %q already has a network named %q", o.Name, b.Name)
				}
				if !errors.Is(err, store.ErrNotFound) {
					return err
				}
				others, _, err := tx.ListNetworks(ctx, store.NetworkFilter{VDCID: vdc.ID}, store.Page{Limit: store.MaxLimit})
				if err != nil {
					return err
				}
				for _, other := range others {
					op, err := netip.ParsePrefix(other.CIDR)
					if err == nil && ipam.Overlaps(prefix, op) {
						return api.Errorf(http.StatusConflict, api.CodeNetworkOverlap,
							"%s overlaps %s of network %q in VDC %q: networks of one VDC need distinct addresses", prefix, other.CIDR, other.Name, vdc.Name)
					}
				}
				n = &store.Network{Meta: store.Meta{Labels: b.Labels}, OrgID: o.ID, VDCID: vdc.ID, Name: b.Name, CIDR: prefix.String(),
					Gateway: gw.String(), DNS: dns}
				if err := tx.CreateNetwork(ctx, n); err != nil {
					return conflictOr(err, api.CodeAlreadyExists, "VDC %q already has a network named %q", vdc.Name, b.Name)
				}
				n.VDCName, n.RegionID = vdc.Name, vdc.RegionID
				return s.audit(ctx, tx, "network.create", "network", n.ID, o.ID, fmt.Sprintf("%s %s in VDC %s (VNI %d)", n.Name, n.CIDR, vdc.Name, n.VNI))
			})
			if err != nil {
				return nil, err
			}
			return &createdOut[api.Network]{Location: "/api/v1/orgs/" + n.OrgID + "/networks/" + n.ID, ETag: etag(n.Version), Body: networkOf(n)}, nil
		})

	register(s, huma.Operation{OperationID: "delete-network", Method: http.MethodDelete, Path: "/api/v1/orgs/{org}/networks/{network}", Summary: "Delete a network",
		Description: "Needs the org-member role or higher. Refused with 409 in_use while VMs have interfaces on it.",
		Tags:        tags, DefaultStatus: http.StatusNoContent},
		func(ctx context.Context, in *networkPath) (*emptyOut, error) {
			p, err := principal(ctx)
			if err != nil {
				return nil, err
			}
			err = s.store.Tx(ctx, func(tx *store.Tx) error {
				o, err := s.orgFor(ctx, tx, p, in.Org, canWrite)
				if err != nil {
					return err
				}
				n, err := tx.GetNetwork(ctx, o.ID, in.Network)
				if err != nil {
					return notFoundOr(err, "network", in.Network)
				}
				nics, err := tx.ListNICsByNetwork(ctx, n.ID)
				if err != nil {
					return err
				}
				if len(nics) > 0 {
					var vms []string
					for _, c := range nics {
						if !slices.Contains(vms, c.VMName) {
							vms = append(vms, c.VMName)
						}
					}
					return api.Errorf(http.StatusConflict, api.CodeInUse, "network %q is used by %d NICs of VMs %s: delete those VMs first",
						n.Name, len(nics), strings.Join(vms, ", "))
				}
				if err := tx.DeleteNetwork(ctx, n.ID); err != nil {
					return err
				}
				return s.audit(ctx, tx, "network.delete", "network", n.ID, o.ID, fmt.Sprintf("%s %s (VNI %d)", n.Name, n.CIDR, n.VNI))
			})
			return nil, err
		})
}

// parseNetwork validates a create's addresses: the CIDR, the gateway
// (default the first host) and the DNS servers.
func parseNetwork(b api.NetworkCreate) (netip.Prefix, netip.Addr, []string, error) {
	prefix, err := ipam.ParsePrefix(b.CIDR)
	if err != nil {
		return netip.Prefix{}, netip.Addr{}, nil, fieldError("body.cidr", b.CIDR, "%v", err)
	}
	gw := ipam.Gateway(prefix)
	if b.Gateway != "" {
		gw, err = netip.ParseAddr(b.Gateway)
		if err == nil {
			err = ipam.ValidateFixed(prefix, netip.Addr{}, gw, nil)
		}
		if err != nil {
			return netip.Prefix{}, netip.Addr{}, nil, fieldError("body.gateway", b.Gateway, "gateway %q is not a host address of %s", b.Gateway, prefix)
		}
	}
	dns := []string{}
	for i, d := range b.DNS {
		a, err := netip.ParseAddr(d)
		if err != nil || !a.Is4() {
			return netip.Prefix{}, netip.Addr{}, nil, fieldError(fmt.Sprintf("body.dns[%d]", i), d, "%q is not an IPv4 address", d)
		}
		dns = append(dns, a.String())
	}
	return prefix, gw, dns, nil
}

// attachNICs gives a new VM its interfaces, inside the VM-create
// transaction after tx.CreateVM: one NIC per entry of nets, in order, with a
// fresh MAC and the fixed or next free address; with no nets, one on the
// VDC's only network (none if the VDC has no network). With publicIP it
// allocates a public address in the VM's VDC (quota public_ips) and attaches
// it to the first NIC. Other hosts carrying the same networks get their
// generation bumped (new peer, new lease); peerHosts names them for kicking
// after commit.
func (s *Server) attachNICs(ctx context.Context, tx *store.Tx, vm *store.VM, nets []api.VMNetwork, publicIP bool) ([]api.NIC, error) {
	if len(nets) == 0 {
		list, _, err := tx.ListNetworks(ctx, store.NetworkFilter{VDCID: vm.VDCID}, store.Page{Limit: 2})
		if err != nil {
			return nil, err
		}
		switch len(list) {
		case 0:
			if publicIP {
				return nil, fieldError("body.public_ip", "true", "the VM's VDC has no network, and a public address needs one: create a network first")
			}
			return nil, nil
		case 1:
			nets = []api.VMNetwork{{Network: list[0].ID}}
		default:
			return nil, fieldError("body.networks", "", "the VM's VDC has several networks: name the ones the VM joins")
		}
	}
	var out []api.NIC
	var first *store.NIC
	seen := map[string]bool{}
	bumped := map[string]bool{vm.HostID: true} // CreateVM bumped the VM's own host
	for i, want := range nets {
		loc := fmt.Sprintf("body.networks[%d]", i)
		n, err := tx.GetNetwork(ctx, vm.OrgID, want.Network)
		if errors.Is(err, store.ErrNotFound) {
			return nil, fieldError(loc+".network", want.Network, "no network %q in the organisation (GET .../networks lists them)", want.Network)
		}
		if err != nil {
			return nil, err
		}
		if n.VDCID != vm.VDCID {
			return nil, fieldError(loc+".network", want.Network, "network %q is in VDC %q, not in the VM's", n.Name, n.VDCName)
		}
		if seen[n.ID] {
			return nil, fieldError(loc+".network", want.Network, "network %q is listed twice", n.Name)
		}
		seen[n.ID] = true
		ip, onNet, err := s.pickAddress(ctx, tx, n, want.IP, loc+".ip")
		if err != nil {
			return nil, err
		}
		mac, err := tx.NewNICMAC(ctx)
		if err != nil {
			return nil, err
		}
		nic := &store.NIC{VMID: vm.ID, NetworkID: n.ID, Position: i, MAC: mac, IP: ip.String()}
		if err := tx.CreateNIC(ctx, nic); err != nil {
			return nil, err
		}
		for _, c := range onNet {
			if !bumped[c.HostID] {
				bumped[c.HostID] = true
				if err := tx.BumpHostGeneration(ctx, c.HostID); err != nil {
					return nil, err
				}
			}
		}
		if first == nil {
			first = nic
		}
		out = append(out, api.NIC{Network: n.Name, MAC: nic.MAC, IP: nic.IP})
	}
	if publicIP {
		vdc, err := tx.GetVDC(ctx, vm.OrgID, vm.VDCID)
		if err != nil {
			return nil, err
		}
		pip, err := s.allocatePublicIP(ctx, tx, vdc)
		if err != nil {
			return nil, err
		}
		if err := tx.AttachPublicIP(ctx, pip, first.ID); err != nil {
			return nil, err
		}
		out[0].PublicIP = pip.Address
	}
	return out, nil
}

// pickAddress chooses a new NIC's address on n: fixed (checked) or the next
// free one. It also returns the NICs already on the network.
func (s *Server) pickAddress(ctx context.Context, tx *store.Tx, n *store.Network, fixed, loc string) (netip.Addr, []store.NIC, error) {
	prefix, err := netip.ParsePrefix(n.CIDR)
	if err != nil {
		return netip.Addr{}, nil, fmt.Errorf("network %s: %w", n.ID, err)
	}
	gw, err := netip.ParseAddr(n.Gateway)
	if err != nil {
		return netip.Addr{}, nil, fmt.Errorf("network %s: %w", n.ID, err)
	}
	nics, err := tx.ListNICsByNetwork(ctx, n.ID)
	if err != nil {
		return netip.Addr{}, nil, err
	}
	used := make([]netip.Addr, 0, len(nics))
	for _, c := range nics {
		if a, err := netip.ParseAddr(c.IP); err == nil {
			used = append(used, a)
		}
	}
	if fixed == "" {
		ip, err := ipam.NextIP(prefix, gw, used)
		if errors.Is(err, ipam.ErrExhausted) {
			return netip.Addr{}, nil, api.Errorf(http.StatusConflict, api.CodeNetworkFull,
				"network %q (%s) has no free address left: delete a VM on it or use another network", n.Name, n.CIDR)
		}
		return ip, nics, err
	}
	ip, err := netip.ParseAddr(fixed)
	if err == nil {
		err = ipam.ValidateFixed(prefix, gw, ip, used)
	}
	switch {
	case errors.Is(err, ipam.ErrTaken):
		return netip.Addr{}, nil, api.Errorf(http.StatusConflict, api.CodeAddressInUse, "address %s on network %q is taken by another NIC", ip, n.Name)
	case err != nil:
		return netip.Addr{}, nil, fieldError(loc, fixed, "address %q cannot be used on network %q (%s): %v", fixed, n.Name, n.CIDR, err)
	}
	return ip, nics, nil
}

// peerHosts lists the hosts other than the VM's own that carry one of its
// networks: attachNICs bumped them; the caller kicks them after commit (and
// should do the same before deleting a VM, whose leases they hold).
func (s *Server) peerHosts(ctx context.Context, tx *store.Tx, vm *store.VM) ([]string, error) {
	mine, err := tx.ListNICsByVM(ctx, vm.ID)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, m := range mine {
		on, err := tx.ListNICsByNetwork(ctx, m.NetworkID)
		if err != nil {
			return nil, err
		}
		for _, c := range on {
			if c.HostID != vm.HostID && !slices.Contains(out, c.HostID) {
				out = append(out, c.HostID)
			}
		}
	}
	slices.Sort(out)
	return out, nil
}

// hostNetworks is the network part of a host's desired state: every network
// with a NIC of a VM placed on the host (peers: the underlay addresses of
// the other hosts with VMs on it; leases: all its NICs, wherever they run),
// per VM its NICs with firewall rules and public address, and the uplinks of
// the public pools of the host's region.
func (s *Server) hostNetworks(ctx context.Context, tx *store.Tx, hostID string) ([]agentapi.DesiredNetwork, map[string][]agentapi.DesiredNIC, []agentapi.PublicUplink, error) {
	vms, err := tx.HostVMs(ctx, hostID)
	if err != nil {
		return nil, nil, nil, err
	}
	hostNICs, err := tx.HostNICs(ctx, hostID)
	if err != nil {
		return nil, nil, nil, err
	}
	hostRules, err := tx.HostFirewallRules(ctx, hostID)
	if err != nil {
		return nil, nil, nil, err
	}
	byVM := map[string][]agentapi.DesiredNIC{}
	var netIDs []string
	for _, v := range vms {
		nics := hostNICs[v.ID]
		if len(nics) == 0 {
			continue
		}
		var desiredRules []agentapi.FirewallRule
		for _, r := range hostRules[v.ID] {
			desiredRules = append(desiredRules, agentapi.FirewallRule{Direction: r.Direction, Protocol: r.Protocol, PortFrom: r.PortFrom,
				PortTo: r.PortTo, CIDR: r.CIDR})
		}
		for _, c := range nics {
			byVM[v.ID] = append(byVM[v.ID], agentapi.DesiredNIC{Network: c.NetworkID, MAC: c.MAC, IP: c.IP, Rules: desiredRules, PublicIP: c.PublicIP})
			if !slices.Contains(netIDs, c.NetworkID) {
				netIDs = append(netIDs, c.NetworkID)
			}
		}
	}
	slices.Sort(netIDs)
	networks := make([]agentapi.DesiredNetwork, 0, len(netIDs))
	for _, id := range netIDs {
		n, err := tx.GetNetworkByID(ctx, id)
		if err != nil {
			return nil, nil, nil, err
		}
		all, err := tx.ListNICsByNetwork(ctx, id)
		if err != nil {
			return nil, nil, nil, err
		}
		d := agentapi.DesiredNetwork{ID: n.ID, VNI: n.VNI, CIDR: n.CIDR, Gateway: n.Gateway, DNS: n.DNS, MTU: n.MTU,
			Peers: []string{}, Leases: []agentapi.Lease{}}
		var others []string
		for _, c := range all {
			d.Leases = append(d.Leases, agentapi.Lease{MAC: c.MAC, IP: c.IP, Hostname: c.Hostname})
			if c.HostID != hostID && !slices.Contains(others, c.HostID) {
				others = append(others, c.HostID)
			}
		}
		underlay, err := tx.HostUnderlayIPs(ctx, others)
		if err != nil {
			return nil, nil, nil, err
		}
		for _, ip := range underlay {
			if !slices.Contains(d.Peers, ip) {
				d.Peers = append(d.Peers, ip)
			}
		}
		slices.Sort(d.Peers)
		networks = append(networks, d)
	}
	region, err := tx.HostRegion(ctx, hostID)
	if err != nil {
		return nil, nil, nil, err
	}
	pools, _, err := tx.ListPublicIPPools(ctx, region, store.Page{Limit: store.MaxLimit})
	if err != nil {
		return nil, nil, nil, err
	}
	var uplinks []agentapi.PublicUplink
	for _, p := range pools {
		// Two pools may split one external subnet: the host needs it once.
		if u := (agentapi.PublicUplink{Prefix: p.CIDR, Gateway: p.Gateway, Uplink: p.Uplink}); !slices.Contains(uplinks, u) {
			uplinks = append(uplinks, u)
		}
	}
	return networks, byVM, uplinks, nil
}
