package console

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/client"
)

// providerRoutes registers the provider console: capacity, catalogue,
// prices, tenants, revenue, audit and branding. Every page needs a provider
// role (c.provider); what it may change is the API's decision.
func (c *Console) providerRoutes() {
	c.mux.Handle("GET /console/provider/{$}", c.provider(c.provOverviewPage))
	c.mux.Handle("GET /console/provider/hosts", c.provider(c.provHostsPage))
	c.mux.Handle("POST /console/provider/hosts", c.provider(c.provCreateHost))
	c.mux.Handle("POST /console/provider/hosts/{host}/state", c.provider(c.provHostState))
	c.mux.Handle("POST /console/provider/hosts/{host}/join-token", c.provider(c.provHostJoinToken))
	c.mux.Handle("GET /console/provider/regions", c.provider(c.provRegionsPage))
	c.mux.Handle("POST /console/provider/regions", c.provider(c.provCreateRegion))
	c.mux.Handle("POST /console/provider/zones", c.provider(c.provCreateZone))
	c.mux.Handle("GET /console/provider/images", c.provider(c.provImagesPage))
	c.mux.Handle("POST /console/provider/images", c.provider(c.provCreateImage))
	c.mux.Handle("POST /console/provider/images/{image}/delete", c.provider(c.provDeleteImage))
	c.mux.Handle("GET /console/provider/sizes", c.provider(c.provSizesPage))
	c.mux.Handle("POST /console/provider/sizes", c.provider(c.provCreateSize))
	c.mux.Handle("POST /console/provider/sizes/{size}/delete", c.provider(c.provDeleteSize))
	c.mux.Handle("GET /console/provider/prices", c.provider(c.provPricesPage))
	c.mux.Handle("POST /console/provider/prices", c.provider(c.provCreatePlan))
	c.mux.Handle("GET /console/provider/tenants", c.provider(c.provTenantsPage))
	c.mux.Handle("GET /console/provider/tenants/{org}", c.provider(c.provTenantPage))
	c.mux.Handle("POST /console/provider/tenants/{org}/credit", c.provider(c.provGrantCredit))
	c.mux.Handle("POST /console/provider/tenants/{org}/override", c.provider(c.provOverride))
	c.mux.Handle("GET /console/provider/revenue", c.provider(c.provRevenuePage))
	c.mux.Handle("GET /console/provider/audit", c.provider(c.provAuditPage))
	c.mux.Handle("GET /console/provider/branding", c.provider(c.provBrandingPage))
	c.mux.Handle("POST /console/provider/branding", c.provider(c.provSaveBranding))
}

// provAdmin says whether the visitor may change provider settings; it only
// hides forms, the API decides.
func provAdmin(v *visit) bool { return v.me.Provider == api.RoleProviderAdmin }

// provActionError shows page name again with a failed row action's message
// (a drain, a delete): the page's own forms are not refilled.
func provActionError(v *visit, name string, data any, err error) error {
	ae, ok := errors.AsType[*api.Error](err)
	if !ok || ae.Status == http.StatusUnauthorized {
		return err
	}
	v.view.Form = url.Values{}
	v.view.Error = cmp.Or(ae.Detail, ae.Title)
	return v.renderStatus(max(ae.Status, http.StatusBadRequest), name, data)
}

// provFieldError is a form value that does not parse, shown as the API shows
// its own validation errors.
func provFieldError(field, msg string) *api.Error {
	e := api.Errorf(http.StatusUnprocessableEntity, api.CodeValidation, "%s", msg)
	e.Errors = []api.ErrorDetail{{Location: "body." + field, Message: msg}}
	return e
}

// provInt reads an optional whole number from a form field.
func provInt(f url.Values, field string) (int64, error) {
	s := strings.TrimSpace(f.Get(field))
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, provFieldError(field, fmt.Sprintf("%q is not a whole number", s))
	}
	return n, nil
}

// Overview.

type provOverviewData struct {
	Hosts        map[string]int
	HostsTotal   int
	Tenants      map[string]int
	TenantsTotal int
	VMsRunning   int
	VMsTotal     int
	Month        api.RevenueMonth
	MonthName    string
}

func (c *Console) provOverviewPage(v *visit) error {
	v.view.Section = "overview"
	ctx := v.r.Context()
	d := provOverviewData{Hosts: map[string]int{}, Tenants: map[string]int{}}
	hosts, err := collect(v.api.AllHosts(ctx, client.HostListOptions{}))
	if err != nil {
		return err
	}
	for _, h := range hosts {
		d.Hosts[h.State]++
	}
	d.HostsTotal = len(hosts)
	orgs, err := collect(v.api.AllOrgs(ctx, client.ListOptions{}))
	if err != nil {
		return err
	}
	for _, o := range orgs {
		d.Tenants[o.State]++
	}
	d.TenantsTotal = len(orgs)
	vms, err := collect(v.api.AllProviderVMs(ctx, client.ProviderVMListOptions{}))
	if err != nil {
		return err
	}
	for _, vm := range vms {
		if vm.State == "running" {
			d.VMsRunning++
		}
	}
	d.VMsTotal = len(vms)
	now := c.cfg.Now().UTC()
	month := now.Format("2006-01")
	rev, err := v.api.Revenue(ctx, client.RevenueOptions{From: month, To: month})
	if err != nil {
		return err
	}
	if len(rev.Months) == 1 {
		d.Month = rev.Months[0]
	}
	d.MonthName = now.Format("January 2006")
	return v.render("provider-overview", d)
}

// Hosts.

type provHostsData struct {
	Hosts []provHost
	Zones []api.Zone
	Admin bool
}

// provHost is a host with what its VMs use of it.
type provHost struct {
	api.Host
	VMs                     int
	UsedVCPU                int
	UsedMemMiB, UsedDiskGiB int64
	// The capacity overcommit allows, which placement fills.
	MaxVCPU   string
	MaxMemMiB int64
}

func (c *Console) provHostsData(v *visit) (provHostsData, error) {
	ctx := v.r.Context()
	d := provHostsData{Admin: provAdmin(v)}
	hosts, err := collect(v.api.AllHosts(ctx, client.HostListOptions{}))
	if err != nil {
		return d, err
	}
	vms, err := collect(v.api.AllProviderVMs(ctx, client.ProviderVMListOptions{}))
	if err != nil {
		return d, err
	}
	byHost := map[string]*provHost{}
	for _, h := range hosts {
		ph := provHost{Host: h,
			MaxVCPU:   strconv.FormatFloat(float64(h.Capacity.VCPU)*max(h.Overcommit.CPU, 1), 'f', -1, 64),
			MaxMemMiB: int64(float64(h.Capacity.MemoryMiB) * max(h.Overcommit.Memory, 1))}
		d.Hosts = append(d.Hosts, ph)
	}
	for i := range d.Hosts {
		byHost[d.Hosts[i].ID] = &d.Hosts[i]
		byHost[d.Hosts[i].Name] = &d.Hosts[i]
	}
	for _, vm := range vms {
		if h := byHost[vm.Host]; h != nil {
			h.VMs++
			h.UsedDiskGiB += vm.DiskGiB
			if vm.PowerState == "running" {
				h.UsedVCPU += vm.VCPU
				h.UsedMemMiB += vm.MemoryMiB
			}
		}
	}
	d.Zones, err = collect(v.api.AllZones(ctx, client.ZoneListOptions{}))
	return d, err
}

func (c *Console) provHostsPage(v *visit) error {
	v.view.Section = "hosts"
	d, err := c.provHostsData(v)
	if err != nil {
		return err
	}
	return v.render("provider-hosts", d)
}

type provJoinData struct {
	Host  string
	Token *api.HostJoinToken // nil when none could be made
}

// provCreateHost registers a host and shows the command its agent joins
// with: the token is shown once, so this page is not a redirect.
func (c *Console) provCreateHost(v *visit) error {
	v.view.Section = "hosts"
	f := v.form()
	in := api.HostCreate{Name: strings.TrimSpace(f.Get("name")), Zone: f.Get("zone")}
	var err error
	var n int64
	if n, err = provInt(f, "vcpu"); err == nil {
		in.Capacity.VCPU = int(n)
		if in.Capacity.MemoryMiB, err = provInt(f, "memory_mib"); err == nil {
			in.Capacity.DiskGiB, err = provInt(f, "disk_gib")
		}
	}
	var h *api.Host
	if err == nil {
		h, err = v.api.CreateHost(v.r.Context(), in)
	}
	if err != nil {
		d, derr := c.provHostsData(v)
		if derr != nil {
			return derr
		}
		if ae, ok := errors.AsType[*api.Error](err); ok {
			for i := range ae.Errors {
				ae.Errors[i].Location = strings.Replace(ae.Errors[i].Location, "body.capacity.", "body.", 1)
			}
		}
		return v.formError("provider-hosts", d, err)
	}
	v.view.Flash = "Host " + h.Name + " registered."
	return c.provShowJoin(v, h)
}

// provShowJoin shows a fresh join command for host h. When the control
// plane cannot hand one out (it serves plain HTTP, say), the page says why:
// the host stays registered and can get its command later.
func (c *Console) provShowJoin(v *visit, h *api.Host) error {
	tok, err := v.api.CreateHostJoinToken(v.r.Context(), h.ID)
	if err != nil {
		ae, ok := errors.AsType[*api.Error](err)
		if !ok || ae.Status == http.StatusUnauthorized {
			return err
		}
		v.view.Error = cmp.Or(ae.Detail, ae.Title)
		return v.renderStatus(max(ae.Status, http.StatusBadRequest), "provider-host-join", provJoinData{Host: h.Name})
	}
	return v.render("provider-host-join", provJoinData{Host: h.Name, Token: tok})
}

func (c *Console) provHostJoinToken(v *visit) error {
	v.view.Section = "hosts"
	h, err := v.api.GetHost(v.r.Context(), v.r.PathValue("host"))
	if err != nil {
		return err
	}
	return c.provShowJoin(v, h)
}

// provHostState drains a host or makes it ready again.
func (c *Console) provHostState(v *visit) error {
	v.view.Section = "hosts"
	state := v.form().Get("state")
	h, err := v.api.UpdateHost(v.r.Context(), v.r.PathValue("host"), api.HostUpdate{State: &state})
	if err != nil {
		d, derr := c.provHostsData(v)
		if derr != nil {
			return derr
		}
		return provActionError(v, "provider-hosts", d, err)
	}
	msg := "Host " + h.Name + " is ready for new VMs."
	if h.State == api.HostDraining {
		msg = "Host " + h.Name + " is draining: no new VMs will be placed on it."
	}
	return v.redirect("/console/provider/hosts", msg)
}

// Regions and zones.

type provRegionsData struct {
	Regions []provRegion
	Admin   bool
}

type provRegion struct {
	api.Region
	Zones []api.Zone
}

func (c *Console) provRegionsData(v *visit) (provRegionsData, error) {
	ctx := v.r.Context()
	d := provRegionsData{Admin: provAdmin(v)}
	regions, err := collect(v.api.AllRegions(ctx, client.ListOptions{}))
	if err != nil {
		return d, err
	}
	zones, err := collect(v.api.AllZones(ctx, client.ZoneListOptions{}))
	if err != nil {
		return d, err
	}
	for _, r := range regions {
		pr := provRegion{Region: r}
		for _, z := range zones {
			if z.Region == r.Name || z.Region == r.ID {
				pr.Zones = append(pr.Zones, z)
			}
		}
		d.Regions = append(d.Regions, pr)
	}
	return d, nil
}

func (c *Console) provRegionsPage(v *visit) error {
	v.view.Section = "regions"
	d, err := c.provRegionsData(v)
	if err != nil {
		return err
	}
	return v.render("provider-regions", d)
}

func (c *Console) provCreateRegion(v *visit) error {
	v.view.Section = "regions"
	f := v.form()
	r, err := v.api.CreateRegion(v.r.Context(), api.RegionCreate{Name: strings.TrimSpace(f.Get("name")),
		DisplayName: strings.TrimSpace(f.Get("display_name")), Jurisdiction: strings.ToUpper(strings.TrimSpace(f.Get("jurisdiction")))})
	if err != nil {
		d, derr := c.provRegionsData(v)
		if derr != nil {
			return derr
		}
		return v.formError("provider-regions", d, err)
	}
	return v.redirect("/console/provider/regions", "Region "+r.Name+" ("+r.Jurisdiction+") created.")
}

func (c *Console) provCreateZone(v *visit) error {
	v.view.Section = "regions"
	f := v.form()
	z, err := v.api.CreateZone(v.r.Context(), api.ZoneCreate{Name: strings.TrimSpace(f.Get("zone_name")), Region: f.Get("region"),
		DisplayName: strings.TrimSpace(f.Get("zone_display_name"))})
	if err != nil {
		d, derr := c.provRegionsData(v)
		if derr != nil {
			return derr
		}
		// The zone form's fields are named apart from the region form's.
		if ae, ok := errors.AsType[*api.Error](err); ok {
			for i := range ae.Errors {
				if l := ae.Errors[i].Location; l == "body.name" || l == "body.display_name" {
					ae.Errors[i].Location = "body.zone_" + strings.TrimPrefix(l, "body.")
				}
			}
		}
		return v.formError("provider-regions", d, err)
	}
	return v.redirect("/console/provider/regions", "Zone "+z.Name+" created in "+z.Region+".")
}

// Images.

type provImagesData struct {
	Images []api.Image
	Admin  bool
}

func (c *Console) provImagesData(v *visit) (provImagesData, error) {
	imgs, err := collect(v.api.AllPublicImages(v.r.Context(), client.ListOptions{}))
	return provImagesData{Images: imgs, Admin: provAdmin(v)}, err
}

func (c *Console) provImagesPage(v *visit) error {
	v.view.Section = "images"
	d, err := c.provImagesData(v)
	if err != nil {
		return err
	}
	return v.render("provider-images", d)
}

func (c *Console) provCreateImage(v *visit) error {
	v.view.Section = "images"
	f := v.form()
	in := api.ImageCreate{Name: strings.TrimSpace(f.Get("name")), Description: strings.TrimSpace(f.Get("description")),
		Kind: f.Get("kind"), OS: strings.TrimSpace(f.Get("os")), Cmdline: strings.TrimSpace(f.Get("cmdline")),
		DiskURL: strings.TrimSpace(f.Get("disk_url")), KernelURL: strings.TrimSpace(f.Get("kernel_url")),
		InitrdURL: strings.TrimSpace(f.Get("initrd_url")), DiskSHA256: strings.TrimSpace(f.Get("disk_sha256"))}
	var err error
	in.MinDiskGiB, err = provInt(f, "min_disk_gib")
	var created *api.ImageCreated
	if err == nil {
		created, err = v.api.CreatePublicImage(v.r.Context(), in)
	}
	if err != nil {
		d, derr := c.provImagesData(v)
		if derr != nil {
			return derr
		}
		return v.formError("provider-images", d, err)
	}
	msg := "Image " + created.Image.Name + " added."
	if created.Operation != nil {
		msg = "Importing image " + created.Image.Name + "; it becomes available when the download and checks finish."
	}
	return v.redirect("/console/provider/images", msg)
}

func (c *Console) provDeleteImage(v *visit) error {
	v.view.Section = "images"
	name := v.r.PathValue("image")
	if _, err := v.api.DeletePublicImage(v.r.Context(), name); err != nil {
		d, derr := c.provImagesData(v)
		if derr != nil {
			return derr
		}
		return provActionError(v, "provider-images", d, err)
	}
	return v.redirect("/console/provider/images", "Deleting image "+name+".")
}

// Sizes.

type provSizesData struct {
	Sizes []api.Size
	Admin bool
}

func (c *Console) provSizesData(v *visit) (provSizesData, error) {
	sizes, err := collect(v.api.AllSizes(v.r.Context(), client.SizeListOptions{}))
	return provSizesData{Sizes: sizes, Admin: provAdmin(v)}, err
}

func (c *Console) provSizesPage(v *visit) error {
	v.view.Section = "sizes"
	d, err := c.provSizesData(v)
	if err != nil {
		return err
	}
	return v.render("provider-sizes", d)
}

func (c *Console) provCreateSize(v *visit) error {
	v.view.Section = "sizes"
	f := v.form()
	in := api.SizeCreate{Name: strings.TrimSpace(f.Get("name")), Description: strings.TrimSpace(f.Get("description")),
		PriceClass: strings.TrimSpace(f.Get("price_class"))}
	vcpu, err := provInt(f, "vcpu")
	in.VCPU = int(vcpu)
	if err == nil {
		if in.MemoryMiB, err = provInt(f, "memory_mib"); err == nil {
			in.DiskGiB, err = provInt(f, "disk_gib")
		}
	}
	var s *api.Size
	if err == nil {
		s, err = v.api.CreateSize(v.r.Context(), in)
	}
	if err != nil {
		d, derr := c.provSizesData(v)
		if derr != nil {
			return derr
		}
		return v.formError("provider-sizes", d, err)
	}
	return v.redirect("/console/provider/sizes", "Size "+s.Name+" added to the catalog.")
}

func (c *Console) provDeleteSize(v *visit) error {
	v.view.Section = "sizes"
	name := v.r.PathValue("size")
	if err := v.api.DeleteSize(v.r.Context(), name); err != nil {
		d, derr := c.provSizesData(v)
		if derr != nil {
			return derr
		}
		return provActionError(v, "provider-sizes", d, err)
	}
	return v.redirect("/console/provider/sizes", "Size "+name+" deleted.")
}

// Price plans.

type provPricesData struct {
	Plans      []api.PricePlan
	Regions    []api.Region
	Models     []string
	RateFields []provField
	Admin      bool
}

// provField is a form field and its label.
type provField struct{ Name, Label string }

// provRateFields are the new-plan form's rates, by form field name.
var provRateFields = []provField{
	{"vcpu_hour", "Per vCPU-hour"},
	{"memory_gib_hour", "Per GiB-hour of memory"},
	{"disk_standard", "Per GiB-hour of standard disk"},
	{"snapshot_gib_hour", "Per GiB-hour of snapshot"},
	{"public_ip_hour", "Per public IP-hour"},
	{"egress_gib", "Per GiB of egress"},
	{"reservation_vcpu_month", "Reservation VDCs: per vCPU per month"},
	{"reservation_memory_gib_month", "Reservation VDCs: per GiB of memory per month"},
	{"allocation_guarantee_percent", "Allocation VDCs: guaranteed share, percent"},
}

func (c *Console) provPricesData(v *visit) (provPricesData, error) {
	ctx := v.r.Context()
	d := provPricesData{Admin: provAdmin(v), RateFields: provRateFields,
		Models: []string{api.AllocationPAYG, api.AllocationAllocation, api.AllocationReservation}}
	plans, err := v.api.ListPricePlans(ctx, client.PricePlanListOptions{})
	if err != nil {
		return d, err
	}
	d.Plans = plans.Items
	slices.SortStableFunc(d.Plans, func(a, b api.PricePlan) int {
		return cmp.Or(cmp.Compare(a.Region, b.Region), cmp.Compare(a.AllocationModel, b.AllocationModel), b.EffectiveFrom.Compare(a.EffectiveFrom))
	})
	d.Regions, err = collect(v.api.AllRegions(ctx, client.ListOptions{}))
	return d, err
}

func (c *Console) provPricesPage(v *visit) error {
	v.view.Section = "prices"
	d, err := c.provPricesData(v)
	if err != nil {
		return err
	}
	return v.render("provider-prices", d)
}

func (c *Console) provCreatePlan(v *visit) error {
	v.view.Section = "prices"
	f := v.form()
	get := func(k string) string { return strings.TrimSpace(f.Get(k)) }
	in := api.PricePlanCreate{Region: f.Get("region"), AllocationModel: f.Get("allocation_model"), Description: get("description"),
		Rates: api.PriceRates{VCPUHour: get("vcpu_hour"), MemoryGiBHour: get("memory_gib_hour"), SnapshotGiBHour: get("snapshot_gib_hour"),
			PublicIPHour: get("public_ip_hour"), EgressGiB: get("egress_gib"), ReservationVCPUMonth: get("reservation_vcpu_month"),
			ReservationMemoryGiBMonth: get("reservation_memory_gib_month"), AllocationGuaranteePercent: get("allocation_guarantee_percent")}}
	if d := get("disk_standard"); d != "" {
		in.Rates.DiskGiBHour = map[string]string{"standard": d}
	}
	var err error
	if s := get("effective_from"); s != "" {
		t, perr := time.Parse("2006-01-02T15:04", s)
		if perr != nil {
			err = provFieldError("effective_from", fmt.Sprintf("%q is not a date and time such as 2026-05-01T00:00", s))
		} else {
			t = t.UTC()
			in.EffectiveFrom = &t
		}
	}
	var p *api.PricePlan
	if err == nil {
		p, err = v.api.CreatePricePlan(v.r.Context(), in)
	}
	if err != nil {
		d, derr := c.provPricesData(v)
		if derr != nil {
			return derr
		}
		if ae, ok := errors.AsType[*api.Error](err); ok {
			for i := range ae.Errors {
				l := strings.Replace(ae.Errors[i].Location, "body.rates.", "body.", 1)
				ae.Errors[i].Location = strings.Replace(l, "body.disk_gib_hour.standard", "body.disk_standard", 1)
			}
		}
		return v.formError("provider-prices", d, err)
	}
	return v.redirect("/console/provider/prices", fmt.Sprintf("Price plan for %s %s created, in force from %s.",
		p.Region, p.AllocationModel, p.EffectiveFrom.UTC().Format("2 Jan 2006 15:04 UTC")))
}

// Tenants.

type provTenantsData struct {
	Tenants  []provTenant
	Currency string
}

type provTenant struct {
	api.Organisation
	Balance *api.Balance
}

func (c *Console) provTenantsPage(v *visit) error {
	v.view.Section = "tenants"
	ctx := v.r.Context()
	orgs, err := collect(v.api.AllOrgs(ctx, client.ListOptions{}))
	if err != nil {
		return err
	}
	d := provTenantsData{Currency: v.view.Provider.Currency}
	for _, o := range orgs {
		b, err := v.api.GetBalance(ctx, o.ID)
		if err != nil {
			return err
		}
		d.Tenants = append(d.Tenants, provTenant{Organisation: o, Balance: b})
	}
	return v.render("provider-tenants", d)
}

type provTenantData struct {
	Org      *api.Organisation
	Balance  *api.Balance
	Members  []api.RoleBinding
	VDCs     []api.VDC
	VMs      int
	Running  int
	Invoices []api.Invoice
	Admin    bool
}

func (c *Console) provTenantData(v *visit, ctx context.Context) (provTenantData, error) {
	d := provTenantData{Admin: provAdmin(v)}
	ref := v.r.PathValue("org")
	var err error
	if d.Org, err = v.api.GetOrg(ctx, ref); err != nil {
		return d, err
	}
	if d.Balance, err = v.api.GetBalance(ctx, d.Org.ID); err != nil {
		return d, err
	}
	if d.Members, err = collect(v.api.AllMembers(ctx, d.Org.ID, client.ListOptions{})); err != nil {
		return d, err
	}
	if d.VDCs, err = collect(v.api.AllVDCs(ctx, d.Org.ID, client.ListOptions{})); err != nil {
		return d, err
	}
	vms, err := collect(v.api.AllProviderVMs(ctx, client.ProviderVMListOptions{Org: d.Org.ID}))
	if err != nil {
		return d, err
	}
	d.VMs = len(vms)
	for _, vm := range vms {
		if vm.State == "running" {
			d.Running++
		}
	}
	invs, err := collect(v.api.AllInvoices(ctx, d.Org.ID, client.ListOptions{}))
	if err != nil {
		return d, err
	}
	slices.Reverse(invs) // newest first
	d.Invoices = invs
	return d, nil
}

func (c *Console) provTenantPage(v *visit) error {
	v.view.Section = "tenants"
	d, err := c.provTenantData(v, v.r.Context())
	if err != nil {
		return err
	}
	return v.render("provider-tenant", d)
}

// provGrantCredit gives the tenant credit: amount, kind, optional expiry in
// days and a note for the audit log and the tenant.
func (c *Console) provGrantCredit(v *visit) error {
	v.view.Section = "tenants"
	ctx := v.r.Context()
	f := v.form()
	in := api.CreditGrantCreate{Kind: f.Get("kind"), Amount: strings.TrimSpace(f.Get("amount")), Reason: strings.TrimSpace(f.Get("reason"))}
	days, err := provInt(f, "expires_days")
	switch {
	case err != nil:
	case days < 0:
		err = provFieldError("expires_days", "the number of days cannot be negative")
	case days > 0:
		at := c.cfg.Now().UTC().Add(time.Duration(days) * 24 * time.Hour)
		in.ExpiresAt = &at
	}
	org := v.r.PathValue("org")
	var g *api.CreditGrant
	if err == nil {
		g, err = v.api.GrantCredit(ctx, org, in)
	}
	if err != nil {
		d, derr := c.provTenantData(v, ctx)
		if derr != nil {
			return derr
		}
		return v.formError("provider-tenant", d, err)
	}
	return v.redirect("/console/provider/tenants/"+url.PathEscape(org),
		fmt.Sprintf("Granted %s of %s credit.", money(g.Amount, g.Currency), g.Kind))
}

// provOverride suspends a tenant or hands it back to billing.
func (c *Console) provOverride(v *visit) error {
	v.view.Section = "tenants"
	ctx := v.r.Context()
	f := v.form()
	org := v.r.PathValue("org")
	state := f.Get("state")
	b, err := v.api.SetBillingOverride(ctx, org, api.BillingOverride{State: state, Reason: strings.TrimSpace(f.Get("override_reason"))})
	if err != nil {
		d, derr := c.provTenantData(v, ctx)
		if derr != nil {
			return derr
		}
		if ae, ok := errors.AsType[*api.Error](err); ok {
			for i := range ae.Errors {
				if ae.Errors[i].Location == "body.reason" {
					ae.Errors[i].Location = "body.override_reason"
				}
			}
		}
		return v.formError("provider-tenant", d, err)
	}
	msg := "The organisation is " + b.State + "."
	switch state {
	case "suspended":
		msg = "The organisation is suspended: its VMs are powered off."
	case "":
		msg = "The organisation is back under billing's control: it is " + b.State + "."
	}
	return v.redirect("/console/provider/tenants/"+url.PathEscape(org), msg)
}

// Revenue.

// Revenue chart geometry, in SVG user units.
const (
	provChartW      = 720
	provChartH      = 220
	provChartTop    = 10
	provChartBottom = 24
)

type provRevenueData struct {
	Rev            *api.Revenue
	From, To       string
	Bars           []provBar
	ChartW, ChartH int
	AxisY          int
	Total          string
	Empty          bool
}

type provBar struct {
	Month               string
	Label               string
	Display             string
	X, Y, Width, Height int
	LabelX              int
}

func (c *Console) provRevenuePage(v *visit) error {
	v.view.Section = "revenue"
	q := v.r.URL.Query()
	rev, err := v.api.Revenue(v.r.Context(), client.RevenueOptions{From: q.Get("from"), To: q.Get("to")})
	if err != nil {
		return err
	}
	d := provRevenueData{Rev: rev, From: rev.From, To: rev.To, ChartW: provChartW, ChartH: provChartH,
		AxisY: provChartH - provChartBottom, Empty: true}
	// Bars are the usage rated each month, scaled to the largest; the
	// scaling is for drawing only, the figures are the exact amounts.
	total, top := decimal.Zero, decimal.Zero
	usage := make([]decimal.Decimal, len(rev.Months))
	for i, m := range rev.Months {
		u, err := decimal.NewFromString(m.Usage)
		if err != nil {
			return fmt.Errorf("revenue of %s: usage %q: %w", m.Month, m.Usage, err)
		}
		usage[i] = u
		total = total.Add(u)
		if u.GreaterThan(top) {
			top = u
		}
	}
	d.Total = total.String()
	n := max(len(rev.Months), 1)
	slot := provChartW / n
	height := decimal.NewFromInt(int64(provChartH - provChartTop - provChartBottom))
	for i, m := range rev.Months {
		b := provBar{Month: m.Month, Display: money(m.Usage, rev.Currency), X: i*slot + slot/6, Width: slot * 2 / 3, LabelX: i*slot + slot/2}
		if t, err := time.Parse("2006-01", m.Month); err == nil {
			b.Label = t.Format("Jan")
		}
		if top.IsPositive() && usage[i].IsPositive() {
			d.Empty = false
			b.Height = max(int(usage[i].Mul(height).DivRound(top, 0).IntPart()), 1)
			b.Y = d.AxisY - b.Height
		}
		d.Bars = append(d.Bars, b)
	}
	return v.render("provider-revenue", d)
}

// Audit log.

type provAuditData struct {
	Events []api.AuditEvent
	Next   string // query string of the next page, "" on the last
}

const provAuditPageSize = 50

func (c *Console) provAuditPage(v *visit) error {
	v.view.Section = "audit"
	q := v.r.URL.Query()
	v.view.Form = q // the filter form shows what is applied
	opts := client.AuditListOptions{ListOptions: client.ListOptions{Limit: provAuditPageSize, Cursor: q.Get("cursor")},
		Org: strings.TrimSpace(q.Get("org")), Actor: strings.TrimSpace(q.Get("actor")), Action: strings.TrimSpace(q.Get("action"))}
	for _, t := range []struct {
		field string
		dst   *time.Time
		end   bool
	}{{"since", &opts.Since, false}, {"until", &opts.Until, true}} {
		s := strings.TrimSpace(q.Get(t.field))
		if s == "" {
			continue
		}
		at, err := time.Parse("2006-01-02", s)
		if err != nil {
			return api.Errorf(http.StatusBadRequest, api.CodeValidation, "%s %q: give a date such as 2026-03-31", t.field, s)
		}
		if t.end {
			at = at.AddDate(0, 0, 1) // the whole day named
		}
		*t.dst = at
	}
	list, err := v.api.ListAuditEvents(v.r.Context(), opts)
	if err != nil {
		ae, ok := errors.AsType[*api.Error](err)
		if !ok || ae.Status == http.StatusUnauthorized || ae.Status == http.StatusForbidden {
			return err
		}
		v.view.Error = cmp.Or(ae.Detail, ae.Title)
		return v.renderStatus(max(ae.Status, http.StatusBadRequest), "provider-audit", provAuditData{})
	}
	d := provAuditData{Events: list.Items}
	if list.NextCursor != "" {
		next := url.Values{}
		for _, k := range []string{"org", "actor", "action", "since", "until"} {
			if s := q.Get(k); s != "" {
				next.Set(k, s)
			}
		}
		next.Set("cursor", list.NextCursor)
		d.Next = next.Encode()
	}
	return v.render("provider-audit", d)
}

// Branding.

type provBrandingData struct {
	Branding api.Branding
	Admin    bool
}

func (c *Console) provBrandingPage(v *visit) error {
	v.view.Section = "branding"
	b := v.view.Provider.Branding
	v.view.Form = url.Values{"display_name": {b.DisplayName}, "logo_url": {b.LogoURL},
		"primary_color": {cmp.Or(b.PrimaryColor, "#0b5fff")}, "accent_color": {cmp.Or(b.AccentColor, "#00a884")},
		"support_email": {b.SupportEmail}, "support_url": {b.SupportURL}}
	return v.render("provider-branding", provBrandingData{Branding: b, Admin: provAdmin(v)})
}

func (c *Console) provSaveBranding(v *visit) error {
	v.view.Section = "branding"
	f := v.form()
	get := func(k string) string { return strings.TrimSpace(f.Get(k)) }
	b := api.Branding{DisplayName: get("display_name"), LogoURL: get("logo_url"), PrimaryColor: get("primary_color"),
		AccentColor: get("accent_color"), SupportEmail: get("support_email"), SupportURL: get("support_url")}
	if _, err := v.api.UpdateProvider(v.r.Context(), api.ProviderUpdate{Branding: &b}); err != nil {
		if ae, ok := errors.AsType[*api.Error](err); ok {
			for i := range ae.Errors {
				ae.Errors[i].Location = strings.Replace(ae.Errors[i].Location, "body.branding.", "body.", 1)
			}
		}
		return v.formError("provider-branding", provBrandingData{Branding: v.view.Provider.Branding, Admin: provAdmin(v)}, err)
	}
	return v.redirect("/console/provider/branding", "Branding saved: every page shows it now.")
}
