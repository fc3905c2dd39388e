package console

import (
	"cmp"
	"errors"
	"iter"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/client"
)

// networkRoutes registers the pages of this file: networks, public IPs, a
// VM's firewall rules and data disks (disks.go).
func (c *Console) networkRoutes() {
	const o = "/console/o/{org}"
	c.mux.Handle("GET "+o+"/networks", c.tenant(c.networks))
	c.mux.Handle("POST "+o+"/networks", c.tenant(c.createNetwork))
	c.mux.Handle("GET "+o+"/networks/{network}", c.tenant(c.network))
	c.mux.Handle("POST "+o+"/networks/{network}/delete", c.tenant(c.deleteNetwork))

	c.mux.Handle("GET "+o+"/public-ips", c.tenant(c.publicIPs))
	c.mux.Handle("POST "+o+"/public-ips", c.tenant(c.allocatePublicIP))
	c.mux.Handle("POST "+o+"/public-ips/{ip}/attach", c.tenant(c.attachPublicIP))
	c.mux.Handle("POST "+o+"/public-ips/{ip}/detach", c.tenant(c.detachPublicIP))
	c.mux.Handle("POST "+o+"/public-ips/{ip}/release", c.tenant(c.releasePublicIP))

	c.mux.Handle("GET "+o+"/vms/{vm}/firewall", c.tenant(c.firewall))
	c.mux.Handle("POST "+o+"/vms/{vm}/firewall", c.tenant(c.createFirewallRule))
	c.mux.Handle("POST "+o+"/vms/{vm}/firewall/{rule}/delete", c.tenant(c.deleteFirewallRule))

	c.diskRoutes()
}

// netWritable says whether the visitor's role may change the organisation's
// objects. The API decides; this only hides buttons a viewer cannot use.
func netWritable(v *visit) bool {
	return v.org != nil && v.org.Role != api.RoleOrgViewer
}

// netFieldError puts a conflict the API reports without a field (an
// overlapping CIDR, a taken name) next to the field it is about.
func netFieldError(err error, codes map[string]string) error {
	ae, ok := errors.AsType[*api.Error](err)
	if !ok || len(ae.Errors) > 0 {
		return err
	}
	field, ok := codes[ae.Code]
	if !ok {
		return err
	}
	cp := *ae
	cp.Errors = []api.ErrorDetail{{Location: "body." + field, Message: ae.Detail}}
	return &cp
}

// netFormValueError is the console's own complaint about a form value it
// cannot even send (a port that is not a number), shown like the API's.
func netFormValueError(field, format string, args ...any) *api.Error {
	e := api.Errorf(http.StatusUnprocessableEntity, api.CodeValidation, format, args...)
	e.Errors = []api.ErrorDetail{{Location: "body." + field, Message: e.Detail}}
	return e
}

// netRowError turns a failed row action's error (a button in a table
// row, with no field of its own to show a message next to) into one
// message above the page, field messages included. The page's create form
// is not refilled with the row's values.
func netRowError(v *visit, err error) error {
	v.view.Form = url.Values{}
	ae, ok := errors.AsType[*api.Error](err)
	if !ok || len(ae.Errors) == 0 {
		return err
	}
	cp := *ae
	msgs := []string{}
	if cp.Detail != "" {
		msgs = append(msgs, cp.Detail)
	}
	for _, d := range ae.Errors {
		if d.Message != cp.Detail {
			msgs = append(msgs, d.Message)
		}
	}
	cp.Detail, cp.Errors = strings.Join(msgs, ": "), nil
	return &cp
}

// Networks.

type networksData struct {
	Networks []api.Network
	VDCs     []api.VDC
	CanEdit  bool
}

func (c *Console) networksData(v *visit) (*networksData, error) {
	ctx := v.r.Context()
	d := &networksData{CanEdit: netWritable(v)}
	var err error
	if d.Networks, err = netCollect(v.api.AllNetworks(ctx, v.org.Org, client.NetworkListOptions{})); err != nil {
		return nil, err
	}
	if d.VDCs, err = netCollect(v.api.AllVDCs(ctx, v.org.Org, client.ListOptions{})); err != nil {
		return nil, err
	}
	return d, nil
}

func (c *Console) networks(v *visit) error {
	v.view.Area = "networks"
	d, err := c.networksData(v)
	if err != nil {
		return err
	}
	return v.render("net-list", d)
}

func (c *Console) createNetwork(v *visit) error {
	v.view.Area = "networks"
	f := v.form()
	in := api.NetworkCreate{Name: strings.TrimSpace(f.Get("name")), VDC: f.Get("vdc"), CIDR: strings.TrimSpace(f.Get("cidr")),
		Gateway: strings.TrimSpace(f.Get("gateway"))}
	for _, s := range strings.FieldsFunc(f.Get("dns"), func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' }) {
		in.DNS = append(in.DNS, s)
	}
	n, err := v.api.CreateNetwork(v.r.Context(), v.org.Org, in)
	if err != nil {
		d, derr := c.networksData(v)
		if derr != nil {
			return derr
		}
		return v.formError("net-list", d, netFieldError(err, map[string]string{api.CodeNetworkOverlap: "cidr", api.CodeAlreadyExists: "name"}))
	}
	return v.redirect(v.orgPath("networks/%s", n.ID), "Network "+n.Name+" created: "+n.CIDR+", gateway "+n.Gateway+".")
}

// networkNIC is one VM interface on a network.
type networkNIC struct {
	VM     api.VM
	NIC    api.NIC
	VMPath string
}

type networkData struct {
	Network api.Network
	NICs    []networkNIC
	CanEdit bool
}

func (c *Console) networkData(v *visit) (*networkData, error) {
	ctx := v.r.Context()
	n, err := v.api.GetNetwork(ctx, v.org.Org, v.r.PathValue("network"))
	if err != nil {
		return nil, err
	}
	d := &networkData{Network: *n, CanEdit: netWritable(v)}
	// The VM list leaves NICs out and no endpoint lists a network's NICs,
	// so each VM of the network's VDC is read: few on one VDC.
	for vm, err := range v.api.AllVMs(ctx, v.org.Org, client.VMListOptions{VDC: n.VDC}) {
		if err != nil {
			return nil, err
		}
		full, err := v.api.GetVM(ctx, v.org.Org, vm.ID)
		if isStatus(err, http.StatusNotFound) {
			continue // deleted meanwhile
		}
		if err != nil {
			return nil, err
		}
		vm = *full
		for _, nic := range vm.NICs {
			if nic.Network == n.Name || nic.Network == n.ID {
				d.NICs = append(d.NICs, networkNIC{VM: vm, NIC: nic, VMPath: v.orgPath("vms/%s", vm.ID)})
			}
		}
	}
	return d, nil
}

func (c *Console) network(v *visit) error {
	v.view.Area = "networks"
	d, err := c.networkData(v)
	if err != nil {
		return err
	}
	return v.render("net-detail", d)
}

func (c *Console) deleteNetwork(v *visit) error {
	v.view.Area = "networks"
	ctx := v.r.Context()
	id := v.r.PathValue("network")
	n, err := v.api.GetNetwork(ctx, v.org.Org, id)
	if err != nil {
		return err
	}
	if err := v.api.DeleteNetwork(ctx, v.org.Org, n.ID); err != nil {
		// In use, or a viewer: say why on the network's own page.
		d, derr := c.networkData(v)
		if derr != nil {
			return derr
		}
		return v.formError("net-detail", d, netRowError(v, err))
	}
	return v.redirect(v.orgPath("networks"), "Network "+n.Name+" deleted.")
}

// Public IPs.

type publicIPsData struct {
	IPs []publicIPRow
	// VMs are the VMs an address may be attached to.
	VMs  []api.VM
	VDCs []api.VDC
	// Price is the quote for one address, nil when the provider has not
	// priced the VDC's region.
	Price   *api.QuoteLine
	Quote   *api.Quote
	CanEdit bool
}

type publicIPRow struct {
	api.PublicIP
	VMName string
	VMPath string
}

func (c *Console) publicIPsData(v *visit) (*publicIPsData, error) {
	ctx := v.r.Context()
	d := &publicIPsData{CanEdit: netWritable(v)}
	ips, err := netCollect(v.api.AllPublicIPs(ctx, v.org.Org, client.PublicIPListOptions{}))
	if err != nil {
		return nil, err
	}
	if d.VMs, err = netCollect(v.api.AllVMs(ctx, v.org.Org, client.VMListOptions{})); err != nil {
		return nil, err
	}
	if d.VDCs, err = netCollect(v.api.AllVDCs(ctx, v.org.Org, client.ListOptions{})); err != nil {
		return nil, err
	}
	names := map[string]string{}
	for _, vm := range d.VMs {
		names[vm.ID] = vm.Name
	}
	for _, ip := range ips {
		row := publicIPRow{PublicIP: ip}
		if ip.VM != "" {
			row.VMName = cmp.Or(names[ip.VM], ip.VM)
			row.VMPath = v.orgPath("vms/%s", ip.VM)
		}
		d.IPs = append(d.IPs, row)
	}
	if len(d.VDCs) > 0 {
		// The price of one address in the first VDC's region; a quote the
		// API refuses (no price plan yet) just leaves the price out.
		q, err := v.api.Quote(ctx, v.org.Org, api.QuoteRequest{VDC: d.VDCs[0].ID, PublicIPs: 1})
		if err == nil {
			for i := range q.Lines {
				if q.Lines[i].Meter == "public_ip" {
					d.Quote, d.Price = q, &q.Lines[i]
				}
			}
		} else if _, ok := errors.AsType[*api.Error](err); !ok {
			return nil, err
		}
	}
	return d, nil
}

func (c *Console) publicIPs(v *visit) error {
	v.view.Area = "public-ips"
	d, err := c.publicIPsData(v)
	if err != nil {
		return err
	}
	return v.render("ip-list", d)
}

// publicIPFailed shows the public IP page again with a failed action's error.
func (c *Console) publicIPFailed(v *visit, err error) error {
	d, derr := c.publicIPsData(v)
	if derr != nil {
		return derr
	}
	return v.formError("ip-list", d, err)
}

// publicIPRowFailed is publicIPFailed for the buttons of one address.
func (c *Console) publicIPRowFailed(v *visit, err error) error {
	return c.publicIPFailed(v, netRowError(v, err))
}

func (c *Console) allocatePublicIP(v *visit) error {
	v.view.Area = "public-ips"
	ip, err := v.api.AllocatePublicIP(v.r.Context(), v.org.Org, api.PublicIPAllocate{VDC: v.form().Get("vdc")})
	if err != nil {
		return c.publicIPFailed(v, err)
	}
	return v.redirect(v.orgPath("public-ips"), "Public IP "+ip.Address+" allocated. It is charged until you release it.")
}

func (c *Console) attachPublicIP(v *visit) error {
	v.view.Area = "public-ips"
	ip, err := v.api.AttachPublicIP(v.r.Context(), v.org.Org, v.r.PathValue("ip"), api.PublicIPAttach{VM: v.form().Get("vm")})
	if err != nil {
		return c.publicIPRowFailed(v, err)
	}
	return v.redirect(v.orgPath("public-ips"), "Public IP "+ip.Address+" now reaches "+ip.PrivateIP+".")
}

func (c *Console) detachPublicIP(v *visit) error {
	v.view.Area = "public-ips"
	ip, err := v.api.DetachPublicIP(v.r.Context(), v.org.Org, v.r.PathValue("ip"))
	if err != nil {
		return c.publicIPRowFailed(v, err)
	}
	return v.redirect(v.orgPath("public-ips"), "Public IP "+ip.Address+" detached. It stays yours until you release it.")
}

func (c *Console) releasePublicIP(v *visit) error {
	v.view.Area = "public-ips"
	ip := v.r.PathValue("ip")
	if err := v.api.ReleasePublicIP(v.r.Context(), v.org.Org, ip); err != nil {
		return c.publicIPRowFailed(v, err)
	}
	return v.redirect(v.orgPath("public-ips"), "Public IP "+ip+" released.")
}

// Firewall rules.

type firewallData struct {
	VM      api.VM
	VMPath  string
	Rules   []api.FirewallRule
	CanEdit bool
}

func (c *Console) firewallData(v *visit) (*firewallData, error) {
	ctx := v.r.Context()
	vm, err := v.api.GetVM(ctx, v.org.Org, v.r.PathValue("vm"))
	if err != nil {
		return nil, err
	}
	rules, err := v.api.ListFirewallRules(ctx, v.org.Org, vm.ID)
	if err != nil {
		return nil, err
	}
	return &firewallData{VM: *vm, VMPath: v.orgPath("vms/%s", vm.ID), Rules: rules.Items, CanEdit: netWritable(v)}, nil
}

func (c *Console) firewall(v *visit) error {
	v.view.Area = "vms"
	d, err := c.firewallData(v)
	if err != nil {
		return err
	}
	return v.render("fw-list", d)
}

func (c *Console) createFirewallRule(v *visit) error {
	v.view.Area = "vms"
	f := v.form()
	in := api.FirewallRuleCreate{Direction: f.Get("direction"), Protocol: f.Get("protocol"), CIDR: strings.TrimSpace(f.Get("cidr")),
		Description: strings.TrimSpace(f.Get("description"))}
	var err error
	if in.PortFrom, err = netPort(f.Get("port_from"), "port_from"); err == nil {
		in.PortTo, err = netPort(f.Get("port_to"), "port_to")
	}
	if err == nil {
		_, err = v.api.CreateFirewallRule(v.r.Context(), v.org.Org, v.r.PathValue("vm"), in)
	}
	if err != nil {
		d, derr := c.firewallData(v)
		if derr != nil {
			return derr
		}
		return v.formError("fw-list", d, err)
	}
	return v.redirect(v.orgPath("vms/%s/firewall", v.r.PathValue("vm")), "Rule added. The VM's host applies it within seconds.")
}

// netPort reads an optional port field: empty is none.
func netPort(s, field string) (int, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	p, err := strconv.Atoi(s)
	if err != nil || p < 0 || p > 65535 {
		return 0, netFormValueError(field, "%q is not a port: give a number from 1 to 65535, or nothing for every port", s)
	}
	return p, nil
}

func (c *Console) deleteFirewallRule(v *visit) error {
	v.view.Area = "vms"
	vm := v.r.PathValue("vm")
	if err := v.api.DeleteFirewallRule(v.r.Context(), v.org.Org, vm, v.r.PathValue("rule")); err != nil {
		d, derr := c.firewallData(v)
		if derr != nil {
			return derr
		}
		return v.formError("fw-list", d, netRowError(v, err))
	}
	return v.redirect(v.orgPath("vms/%s/firewall", vm), "Rule deleted.")
}

// netCollect gathers every item an SDK walk yields, in the API's order.
func netCollect[T any](seq iter.Seq2[T, error]) ([]T, error) {
	var out []T
	for x, err := range seq {
		if err != nil {
			return nil, err
		}
		out = append(out, x)
	}
	return slices.Clip(out), nil
}
