package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/internal/ipam"
	"github.com/sirocco-cloud/sirocco/internal/metering"
	"github.com/sirocco-cloud/sirocco/internal/store"
)

func poolOf(p *store.PublicIPPool) api.PublicIPPool {
	return api.PublicIPPool{Meta: metaOf(p.Meta), Name: p.Name, Region: p.RegionID, CIDR: p.CIDR, Gateway: p.Gateway,
		FirstIP: p.FirstIP, LastIP: p.LastIP, Uplink: p.Uplink, Allocated: p.Allocated}
}

func publicIPOf(p *store.PublicIP) api.PublicIP {
	return api.PublicIP{Meta: metaOf(p.Meta), Org: p.OrgID, VDC: p.VDCName, Region: p.RegionID, Address: p.Address,
		VM: p.VMID, MAC: p.MAC, PrivateIP: p.PrivateIP}
}

type (
	poolListIn struct {
		Region string `query:"region" maxLength:"200" doc:"Keep the pools of this region"`
		ListParams
	}
	poolPath struct {
		Pool string `path:"pool" maxLength:"200" doc:"Pool ID or name"`
	}
	publicIPListIn struct {
		Org string `path:"org" maxLength:"200" doc:"Organisation ID or name"`
		VDC string `query:"vdc" maxLength:"200" doc:"Keep the addresses of this VDC (ID or name)"`
		ListParams
	}
	publicIPPath struct {
		Org string `path:"org" maxLength:"200" doc:"Organisation ID or name"`
		IP  string `path:"ip" maxLength:"200" doc:"Public IP ID or address"`
	}
	publicIPAllocateIn struct {
		Org  string `path:"org" maxLength:"200" doc:"Organisation ID or name"`
		Body api.PublicIPAllocate
	}
	publicIPAttachIn struct {
		Org  string `path:"org" maxLength:"200" doc:"Organisation ID or name"`
		IP   string `path:"ip" maxLength:"200" doc:"Public IP ID or address"`
		Body api.PublicIPAttach
	}
)

func (s *Server) publicIPPoolRoutes() {
	tags := []string{"Public IPs"}

	register(s, huma.Operation{OperationID: "list-public-ip-pools", Method: http.MethodGet, Path: "/api/v1/public-ip-pools",
		Summary: "List public IP pools", Description: "Needs a provider role.", Tags: tags},
		func(ctx context.Context, in *poolListIn) (*listOut[api.PublicIPPool], error) {
			if _, err := requireProviderRead(ctx); err != nil {
				return nil, err
			}
			pg, err := in.page()
			if err != nil {
				return nil, err
			}
			var rows []store.PublicIPPool
			var next string
			err = s.store.View(ctx, func(tx *store.Tx) error {
				rows, next, err = tx.ListPublicIPPools(ctx, in.Region, pg)
				return err
			})
			if err != nil {
				return nil, err
			}
			return &listOut[api.PublicIPPool]{Body: listOf(rows, next, poolOf)}, nil
		})

	register(s, huma.Operation{OperationID: "create-public-ip-pool", Method: http.MethodPost, Path: "/api/v1/public-ip-pools",
		Summary: "Create a public IP pool",
		Description: "Provider admins only. Addresses first_ip to last_ip (default: every host address of the CIDR) are handed out, " +
			"never the gateway. Hosts of the region reach the external network through the uplink interface.",
		Tags: tags, DefaultStatus: http.StatusCreated},
		func(ctx context.Context, in *struct{ Body api.PublicIPPoolCreate }) (*createdOut[api.PublicIPPool], error) {
			if _, err := requireProviderAdmin(ctx); err != nil {
				return nil, err
			}
			pool, err := parsePool(in.Body)
			if err != nil {
				return nil, err
			}
			err = s.store.Tx(ctx, func(tx *store.Tx) error {
				if _, err := tx.GetRegion(ctx, pool.RegionID); err != nil {
					if errors.Is(err, store.ErrNotFound) {
						return fieldError("body.region", pool.RegionID, "region %q does not exist (GET /api/v1/regions lists them)", pool.RegionID)
					}
					return err
				}
				others, _, err := tx.ListPublicIPPools(ctx, "", store.Page{Limit: store.MaxLimit})
				if err != nil {
					return err
				}
				first, last := netip.MustParseAddr(pool.FirstIP), netip.MustParseAddr(pool.LastIP)
				for _, o := range others {
					of, err1 := netip.ParseAddr(o.FirstIP)
					ol, err2 := netip.ParseAddr(o.LastIP)
					if err1 == nil && err2 == nil && first.Compare(ol) <= 0 && of.Compare(last) <= 0 {
						return api.Errorf(http.StatusConflict, api.CodeConflict, "addresses %s-%s overlap pool %q (%s-%s)",
							first, last, o.Name, o.FirstIP, o.LastIP)
					}
				}
				if err := tx.CreatePublicIPPool(ctx, pool); err != nil {
					return conflictOr(err, api.CodeAlreadyExists, "a public IP pool named %q already exists", pool.Name)
				}
				return s.audit(ctx, tx, "public-ip-pool.create", "public-ip-pool", pool.ID, "",
					fmt.Sprintf("%s in region %s: %s-%s via %s", pool.Name, pool.RegionID, pool.FirstIP, pool.LastIP, pool.Uplink))
			})
			if err != nil {
				return nil, err
			}
			return &createdOut[api.PublicIPPool]{Location: "/api/v1/public-ip-pools/" + pool.ID, ETag: etag(pool.Version), Body: poolOf(pool)}, nil
		})

	register(s, huma.Operation{OperationID: "delete-public-ip-pool", Method: http.MethodDelete, Path: "/api/v1/public-ip-pools/{pool}",
		Summary: "Delete a public IP pool", Description: "Provider admins only. Refused with 409 in_use while any of its addresses is allocated.",
		Tags: tags, DefaultStatus: http.StatusNoContent},
		func(ctx context.Context, in *poolPath) (*emptyOut, error) {
			if _, err := requireProviderAdmin(ctx); err != nil {
				return nil, err
			}
			err := s.store.Tx(ctx, func(tx *store.Tx) error {
				pool, err := tx.GetPublicIPPool(ctx, in.Pool)
				if err != nil {
					return notFoundOr(err, "public IP pool", in.Pool)
				}
				if pool.Allocated > 0 {
					return api.Errorf(http.StatusConflict, api.CodeInUse, "pool %q still has %d addresses allocated to organisations", pool.Name, pool.Allocated)
				}
				if err := tx.DeletePublicIPPool(ctx, pool.ID); err != nil {
					return err
				}
				return s.audit(ctx, tx, "public-ip-pool.delete", "public-ip-pool", pool.ID, "", pool.Name)
			})
			return nil, err
		})
}

// parsePool validates a pool definition and fills in its default range.
func parsePool(b api.PublicIPPoolCreate) (*store.PublicIPPool, error) {
	prefix, err := netip.ParsePrefix(b.CIDR)
	if err != nil || !prefix.Addr().Is4() || prefix.Bits() > 30 || prefix.Masked() != prefix {
		return nil, fieldError("body.cidr", b.CIDR, "%q is not an IPv4 subnet written as its network address, /30 or larger", b.CIDR)
	}
	gw, err := netip.ParseAddr(b.Gateway)
	if err != nil || ipam.ValidateFixed(prefix, netip.Addr{}, gw, nil) != nil {
		return nil, fieldError("body.gateway", b.Gateway, "gateway %q is not a host address of %s", b.Gateway, prefix)
	}
	bound := func(loc, s string, def netip.Addr) (netip.Addr, error) {
		if s == "" {
			return def, nil
		}
		a, err := netip.ParseAddr(s)
		if err != nil || ipam.ValidateFixed(prefix, netip.Addr{}, a, nil) != nil {
			return netip.Addr{}, fieldError(loc, s, "%q is not a host address of %s", s, prefix)
		}
		return a, nil
	}
	first, err := bound("body.first_ip", b.FirstIP, prefix.Addr().Next())
	if err != nil {
		return nil, err
	}
	last, err := bound("body.last_ip", b.LastIP, ipam.Broadcast(prefix).Prev())
	if err != nil {
		return nil, err
	}
	if first.Compare(last) > 0 {
		return nil, fieldError("body.last_ip", b.LastIP, "last_ip %s comes before first_ip %s", last, first)
	}
	return &store.PublicIPPool{RegionID: b.Region, Name: b.Name, CIDR: prefix.String(), Gateway: gw.String(),
		FirstIP: first.String(), LastIP: last.String(), Uplink: b.Uplink}, nil
}

// allocatePublicIP takes an address for VDC vdc from its region's pools,
// within the VDC's public_ips quota. Billing opens the address's usage span
// here (metering hook to wire).
func (s *Server) allocatePublicIP(ctx context.Context, tx *store.Tx, vdc *store.VDC) (*store.PublicIP, error) {
	held, err := tx.CountPublicIPs(ctx, vdc.ID)
	if err != nil {
		return nil, err
	}
	if err := checkQuota(vdc, held+1 > vdc.Quotas.PublicIPs, "public IPs", held+1, vdc.Quotas.PublicIPs); err != nil {
		return nil, err
	}
	p := &store.PublicIP{RegionID: vdc.RegionID, OrgID: vdc.OrgID, VDCID: vdc.ID}
	if err := tx.AllocatePublicIP(ctx, p); err != nil {
		if errors.Is(err, ipam.ErrExhausted) {
			return nil, api.Errorf(http.StatusConflict, api.CodeNoPublicIPs, "region %s has no free public address: ask the provider", vdc.RegionID)
		}
		return nil, err
	}
	p.VDCName = vdc.Name
	if err := metering.PublicIPAllocated(ctx, tx, p); err != nil {
		return nil, err
	}
	return p, nil
}

func (s *Server) publicIPRoutes() {
	tags := []string{"Public IPs"}

	register(s, huma.Operation{OperationID: "list-public-ips", Method: http.MethodGet, Path: "/api/v1/orgs/{org}/public-ips", Summary: "List public IPs", Tags: tags},
		func(ctx context.Context, in *publicIPListIn) (*listOut[api.PublicIP], error) {
			return listInOrg(ctx, s, in.Org, in.ListParams, canRead, func(tx *store.Tx, o *store.Org, pg store.Page) ([]store.PublicIP, string, error) {
				f := store.PublicIPFilter{OrgID: o.ID}
				if in.VDC != "" {
					v, err := tx.GetVDC(ctx, o.ID, in.VDC)
					if err != nil {
						return nil, "", notFoundOr(err, "VDC", in.VDC)
					}
					f.VDCID = v.ID
				}
				return tx.ListPublicIPs(ctx, f, pg)
			}, publicIPOf)
		})

	register(s, huma.Operation{OperationID: "get-public-ip", Method: http.MethodGet, Path: "/api/v1/orgs/{org}/public-ips/{ip}", Summary: "Get a public IP", Tags: tags},
		func(ctx context.Context, in *publicIPPath) (*bodyOut[api.PublicIP], error) {
			ip, err := readInOrg(ctx, s, in.Org, "public IP", in.IP, (*store.Tx).GetPublicIP)
			if err != nil {
				return nil, err
			}
			return &bodyOut[api.PublicIP]{ETag: etag(ip.Version), Body: publicIPOf(ip)}, nil
		})

	register(s, huma.Operation{OperationID: "allocate-public-ip", Method: http.MethodPost, Path: "/api/v1/orgs/{org}/public-ips", Summary: "Allocate a public IP",
		Description: "Needs the org-member role or higher. Takes a free address from the pools of the VDC's region; it counts against the VDC's " +
			"public_ips quota (403 quota_exceeded) and is charged until released, attached or not.",
		Tags: tags, DefaultStatus: http.StatusCreated},
		func(ctx context.Context, in *publicIPAllocateIn) (*createdOut[api.PublicIP], error) {
			p, err := principal(ctx)
			if err != nil {
				return nil, err
			}
			var ip *store.PublicIP
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
				vdc, err := s.vdcForCreate(ctx, tx, o, in.Body.VDC)
				if err != nil {
					return err
				}
				if ip, err = s.allocatePublicIP(ctx, tx, vdc); err != nil {
					return err
				}
				return s.audit(ctx, tx, "public-ip.allocate", "public-ip", ip.ID, o.ID, fmt.Sprintf("%s in VDC %s", ip.Address, vdc.Name))
			})
			if err != nil {
				return nil, err
			}
			return &createdOut[api.PublicIP]{Location: "/api/v1/orgs/" + ip.OrgID + "/public-ips/" + ip.ID, ETag: etag(ip.Version), Body: publicIPOf(ip)}, nil
		})

	register(s, huma.Operation{OperationID: "release-public-ip", Method: http.MethodDelete, Path: "/api/v1/orgs/{org}/public-ips/{ip}", Summary: "Release a public IP",
		Description: "Needs the org-member role or higher. An attached address is detached first; it goes back to the provider's pool.",
		Tags:        tags, DefaultStatus: http.StatusNoContent},
		func(ctx context.Context, in *publicIPPath) (*emptyOut, error) {
			p, err := principal(ctx)
			if err != nil {
				return nil, err
			}
			var host string
			err = s.store.Tx(ctx, func(tx *store.Tx) error {
				host = ""
				o, err := s.orgFor(ctx, tx, p, in.Org, canWrite)
				if err != nil {
					return err
				}
				ip, err := tx.GetPublicIP(ctx, o.ID, in.IP)
				if err != nil {
					return notFoundOr(err, "public IP", in.IP)
				}
				if host, err = s.detach(ctx, tx, ip); err != nil {
					return err
				}
				if err := metering.PublicIPReleased(ctx, tx, ip); err != nil {
					return err
				}
				if err := tx.ReleasePublicIP(ctx, ip.ID); err != nil {
					return err
				}
				return s.audit(ctx, tx, "public-ip.release", "public-ip", ip.ID, o.ID, ip.Address)
			})
			if err == nil && host != "" {
				s.hub.kickHost(host)
			}
			return nil, err
		})

	register(s, huma.Operation{OperationID: "attach-public-ip", Method: http.MethodPost, Path: "/api/v1/orgs/{org}/public-ips/{ip}/attach",
		Summary: "Attach a public IP to a VM",
		Description: "Needs the org-member role or higher. The VM may be running or stopped and must be in the address's VDC; " +
			"the address is 1:1 NATed to the NIC's private address. Attaching it again to the same NIC changes nothing; " +
			"an address attached elsewhere must be detached first (409 in_use).",
		Tags: tags},
		func(ctx context.Context, in *publicIPAttachIn) (*bodyOut[api.PublicIP], error) {
			p, err := principal(ctx)
			if err != nil {
				return nil, err
			}
			var ip *store.PublicIP
			var host string
			err = s.store.Tx(ctx, func(tx *store.Tx) error {
				host = ""
				o, err := s.orgFor(ctx, tx, p, in.Org, canWrite)
				if err != nil {
					return err
				}
				if err := requireOrgActive(o); err != nil {
					return err
				}
				if ip, err = tx.GetPublicIP(ctx, o.ID, in.IP); err != nil {
					return notFoundOr(err, "public IP", in.IP)
				}
				vm, err := tx.GetVM(ctx, o.ID, in.Body.VM)
				if err != nil {
					return notFoundOr(err, "VM", in.Body.VM)
				}
				if vm.Power == store.PowerDeleted {
					return api.Errorf(http.StatusConflict, api.CodeConflict, "VM %q is being deleted", vm.Name)
				}
				if vm.VDCID != ip.VDCID {
					return api.Errorf(http.StatusConflict, api.CodeConflict, "address %s belongs to VDC %q and VM %q is in VDC %q: "+
						"an address attaches to VMs of its own VDC", ip.Address, ip.VDCName, vm.Name, vm.VDCName)
				}
				nic, err := pickNIC(ctx, tx, vm, in.Body.NIC)
				if err != nil {
					return err
				}
				if ip.VMID != "" {
					if ip.NICID == nic.ID {
						return nil // already there
					}
					return api.Errorf(http.StatusConflict, api.CodeInUse, "address %s is attached to VM %s: detach it first", ip.Address, ip.VMID)
				}
				if nic.PublicIP != "" {
					return api.Errorf(http.StatusConflict, api.CodeInUse, "VM %q already has public address %s on NIC %s: detach it first",
						vm.Name, nic.PublicIP, nic.MAC)
				}
				if err := tx.AttachPublicIP(ctx, ip, nic.ID); err != nil {
					return err
				}
				if err := tx.BumpHostGeneration(ctx, vm.HostID); err != nil {
					return err
				}
				host = vm.HostID
				if ip, err = tx.GetPublicIP(ctx, o.ID, ip.ID); err != nil {
					return err
				}
				return s.audit(ctx, tx, "public-ip.attach", "public-ip", ip.ID, o.ID, fmt.Sprintf("%s to VM %s (%s, %s)", ip.Address, vm.Name, nic.MAC, nic.IP))
			})
			if err != nil {
				return nil, err
			}
			if host != "" {
				s.hub.kickHost(host)
			}
			return &bodyOut[api.PublicIP]{ETag: etag(ip.Version), Body: publicIPOf(ip)}, nil
		})

	register(s, huma.Operation{OperationID: "detach-public-ip", Method: http.MethodPost, Path: "/api/v1/orgs/{org}/public-ips/{ip}/detach",
		Summary: "Detach a public IP", Description: "Needs the org-member role or higher. The address stays allocated (and charged). " +
			"Detaching a free address changes nothing.", Tags: tags},
		func(ctx context.Context, in *publicIPPath) (*bodyOut[api.PublicIP], error) {
			p, err := principal(ctx)
			if err != nil {
				return nil, err
			}
			var ip *store.PublicIP
			var host string
			err = s.store.Tx(ctx, func(tx *store.Tx) error {
				host = ""
				o, err := s.orgFor(ctx, tx, p, in.Org, canWrite)
				if err != nil {
					return err
				}
				if ip, err = tx.GetPublicIP(ctx, o.ID, in.IP); err != nil {
					return notFoundOr(err, "public IP", in.IP)
				}
				was := ip.VMID
				if host, err = s.detach(ctx, tx, ip); err != nil || host == "" {
					return err
				}
				if ip, err = tx.GetPublicIP(ctx, o.ID, ip.ID); err != nil {
					return err
				}
				return s.audit(ctx, tx, "public-ip.detach", "public-ip", ip.ID, o.ID, fmt.Sprintf("%s from VM %s", ip.Address, was))
			})
			if err != nil {
				return nil, err
			}
			if host != "" {
				s.hub.kickHost(host)
			}
			return &bodyOut[api.PublicIP]{ETag: etag(ip.Version), Body: publicIPOf(ip)}, nil
		})
}

// detach frees an attached address and bumps its VM's host, whose NAT
// rules change; it returns that host for kicking after commit ("" when the
// address was free).
func (s *Server) detach(ctx context.Context, tx *store.Tx, ip *store.PublicIP) (string, error) {
	if ip.NICID == "" {
		return "", nil
	}
	host := ip.HostID
	if err := tx.DetachPublicIP(ctx, ip); err != nil {
		return "", err
	}
	if host == "" {
		return "", nil // its NIC is gone already: no host holds rules for it
	}
	return host, tx.BumpHostGeneration(ctx, host)
}

// pickNIC finds the NIC of vm named by ref (its MAC, or its network's ID or
// name), or its first NIC when ref is empty.
func pickNIC(ctx context.Context, tx *store.Tx, vm *store.VM, ref string) (*store.NIC, error) {
	nics, err := tx.ListNICsByVM(ctx, vm.ID)
	if err != nil {
		return nil, err
	}
	if len(nics) == 0 {
		return nil, api.Errorf(http.StatusConflict, api.CodeConflict, "VM %q has no network interface to attach an address to", vm.Name)
	}
	if ref == "" {
		return &nics[0], nil
	}
	for i, c := range nics {
		if strings.EqualFold(c.MAC, ref) || c.NetworkID == ref || c.NetworkName == ref {
			return &nics[i], nil
		}
	}
	return nil, fieldError("body.nic", ref, "VM %q has no NIC with MAC address or network %q", vm.Name, ref)
}
