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

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/client"
)

// computeRoutes registers the pages of this file: the catalog, the launch
// wizard, the VMs, their serial console and their snapshots.
func (c *Console) computeRoutes() {
	c.mux.Handle("GET /console/o/{org}/catalog", c.tenant(c.catalog))
	c.mux.Handle("GET /console/o/{org}/launch", c.tenant(c.launchPage))
	c.mux.Handle("POST /console/o/{org}/launch", c.tenant(c.launch))
	c.mux.Handle("POST /console/o/{org}/launch/vdc", c.tenant(c.launchVDC))
	c.mux.Handle("GET /console/o/{org}/vms", c.tenant(c.vmList))
	c.mux.Handle("GET /console/o/{org}/vms/{vm}", c.tenant(c.vmDetail))
	for _, a := range vmActions {
		c.mux.Handle("POST /console/o/{org}/vms/{vm}/"+a.path, c.tenant(c.vmPower(a)))
	}
	c.mux.Handle("GET /console/o/{org}/vms/{vm}/console", c.tenant(c.vmConsole))
	c.mux.Handle("GET /console/o/{org}/vms/{vm}/snapshots", c.tenant(c.snapshots))
	c.mux.Handle("POST /console/o/{org}/vms/{vm}/snapshots", c.tenant(c.createSnapshot))
	c.mux.Handle("POST /console/o/{org}/vms/{vm}/snapshots/{snapshot}/revert", c.tenant(c.snapshotAction(true)))
	c.mux.Handle("POST /console/o/{org}/vms/{vm}/snapshots/{snapshot}/delete", c.tenant(c.snapshotAction(false)))
}

// canWrite says whether the visitor's role may change things. It only
// hides buttons: the API decides, and a refusal shows its message.
func (v *visit) canWrite() bool {
	return v.org != nil && v.org.Role != api.RoleOrgViewer
}

// collect walks an SDK iterator into a slice.
func collect[T any](seq func(yield func(T, error) bool)) ([]T, error) {
	var out []T
	for it, err := range seq {
		if err != nil {
			return nil, err
		}
		out = append(out, it)
	}
	return out, nil
}

// images lists what the organisation may boot: its private images first,
// then the public catalog, as the API resolves a name.
func (v *visit) images(ctx context.Context) ([]api.Image, error) {
	private, err := collect(v.api.AllImages(ctx, v.org.Org, client.ListOptions{}))
	if err != nil {
		return nil, err
	}
	public, err := collect(v.api.AllPublicImages(ctx, client.ListOptions{}))
	if err != nil {
		return nil, err
	}
	return append(private, public...), nil
}

func imageNames(images []api.Image) map[string]string {
	m := make(map[string]string, len(images))
	for _, im := range images {
		m[im.ID] = im.Name
	}
	return m
}

func available(images []api.Image) []api.Image {
	return slices.DeleteFunc(slices.Clone(images), func(im api.Image) bool { return im.State != api.ImageAvailable })
}

// Catalog.

type catalogData struct {
	Images []api.Image
	Sizes  []sizePrice
	// VDC is the one prices are quoted for; nil when the organisation has
	// none yet.
	VDC        *api.VDC
	PriceError string
}

// sizePrice is a size with its price in the VDC's plan.
type sizePrice struct {
	api.Size
	Quote *api.Quote
}

func (c *Console) catalog(v *visit) error {
	v.view.Area = "catalog"
	ctx := v.r.Context()
	images, err := v.images(ctx)
	if err != nil {
		return err
	}
	sizes, err := collect(v.api.AllSizes(ctx, client.SizeListOptions{ExcludeDeprecated: true}))
	if err != nil {
		return err
	}
	vdcs, err := collect(v.api.AllVDCs(ctx, v.org.Org, client.ListOptions{}))
	if err != nil {
		return err
	}
	data := catalogData{Images: images}
	if i := slices.IndexFunc(vdcs, func(d api.VDC) bool { return d.Name == v.r.URL.Query().Get("vdc") }); i >= 0 {
		data.VDC = &vdcs[i]
	} else if len(vdcs) > 0 {
		data.VDC = &vdcs[0]
	}
	for _, s := range sizes {
		sp := sizePrice{Size: s}
		if data.VDC != nil && data.PriceError == "" {
			// The API prices each size: the console does no arithmetic on money.
			q, err := v.api.Quote(ctx, v.org.Org, api.QuoteRequest{VDC: data.VDC.ID, Size: s.Name})
			if ae, ok := errors.AsType[*api.Error](err); ok && ae.Status != http.StatusUnauthorized {
				data.PriceError = ae.Detail
			} else if err != nil {
				return err
			}
			sp.Quote = q
		}
		data.Sizes = append(data.Sizes, sp)
	}
	return v.render("catalog", data)
}

// Launch wizard.

type launchData struct {
	VDCs     []api.VDC
	Images   []api.Image
	Sizes    []api.Size
	Networks []api.Network
	// Zones are offered to make a first VDC when there is none.
	Zones      []api.Zone
	Quote      *api.Quote
	QuoteError string
	// QuoteURL is the API endpoint launch.js asks for live quotes.
	QuoteURL string
}

func (c *Console) launchData(v *visit) (*launchData, error) {
	ctx := v.r.Context()
	d := &launchData{QuoteURL: "/api/v1/orgs/" + url.PathEscape(v.org.Org) + "/quote"}
	var err error
	if d.VDCs, err = collect(v.api.AllVDCs(ctx, v.org.Org, client.ListOptions{})); err != nil {
		return nil, err
	}
	images, err := v.images(ctx)
	if err != nil {
		return nil, err
	}
	d.Images = available(images)
	if d.Sizes, err = collect(v.api.AllSizes(ctx, client.SizeListOptions{ExcludeDeprecated: true})); err != nil {
		return nil, err
	}
	if d.Networks, err = collect(v.api.AllNetworks(ctx, v.org.Org, client.NetworkListOptions{})); err != nil {
		return nil, err
	}
	if len(d.VDCs) == 0 {
		if d.Zones, err = collect(v.api.AllZones(ctx, client.ZoneListOptions{})); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// quoteFor asks the API the price of what the form describes: count VMs of
// the size, with a public IP each when asked. Counts multiply whole vCPUs,
// MiB and GiB, so the API still does every sum on money.
func quoteFor(sizes []api.Size, f url.Values) (api.QuoteRequest, bool) {
	i := slices.IndexFunc(sizes, func(s api.Size) bool { return s.Name == f.Get("size") })
	if i < 0 {
		return api.QuoteRequest{}, false
	}
	s := sizes[i]
	n, err := strconv.Atoi(cmp.Or(strings.TrimSpace(f.Get("count")), "1"))
	if err != nil || n < 1 {
		return api.QuoteRequest{}, false
	}
	q := api.QuoteRequest{VDC: f.Get("vdc"), Size: s.Name}
	if n > 1 {
		vcpu, mem, disk := s.VCPU*n, s.MemoryMiB*int64(n), s.DiskGiB*int64(n)
		q.VCPU, q.MemoryMiB, q.DiskGiB = &vcpu, &mem, &disk
	}
	if f.Get("public_ip") != "" {
		q.PublicIPs = n
	}
	return q, true
}

func (v *visit) quote(d *launchData, f url.Values) error {
	req, ok := quoteFor(d.Sizes, f)
	if !ok {
		return nil
	}
	q, err := v.api.Quote(v.r.Context(), v.org.Org, req)
	if ae, isAPI := errors.AsType[*api.Error](err); isAPI && ae.Status != http.StatusUnauthorized {
		d.QuoteError = ae.Detail
		return nil
	}
	d.Quote = q
	return err
}

func (c *Console) launchPage(v *visit) error {
	v.view.Area = "launch"
	d, err := c.launchData(v)
	if err != nil {
		return err
	}
	// The catalog's Launch links prefill the image or the size.
	f := url.Values{"count": {"1"}}
	for _, k := range []string{"image", "size", "vdc"} {
		if q := v.r.URL.Query().Get(k); q != "" {
			f.Set(k, q)
		}
	}
	if f.Get("vdc") == "" && len(d.VDCs) > 0 {
		f.Set("vdc", d.VDCs[0].Name)
	}
	v.view.Form = f
	if err := v.quote(d, f); err != nil {
		return err
	}
	return v.render("launch", d)
}

func (c *Console) launch(v *visit) error {
	v.view.Area = "launch"
	f := v.form()
	d, err := c.launchData(v)
	if err != nil {
		return err
	}
	if err := v.quote(d, f); err != nil {
		return err
	}
	if f.Get("action") == "quote" {
		return v.render("launch", d)
	}
	in := api.VMCreate{
		Name:     strings.TrimSpace(f.Get("name")),
		VDC:      f.Get("vdc"),
		Image:    f.Get("image"),
		Size:     f.Get("size"),
		UserData: f.Get("user_data"),
		PublicIP: f.Get("public_ip") != "",
	}
	if n := strings.TrimSpace(f.Get("count")); n != "" {
		if in.Count, err = strconv.Atoi(n); err != nil {
			v.view.Error = "The number of VMs must be a whole number."
			v.view.Fields = map[string]string{"count": "Enter a whole number from 1 to 50."}
			return v.renderStatus(http.StatusUnprocessableEntity, "launch", d)
		}
	}
	for _, n := range f["network"] {
		in.Networks = append(in.Networks, api.VMNetwork{Network: n})
	}
	for line := range strings.Lines(f.Get("ssh_keys")) {
		if k := strings.TrimSpace(line); k != "" {
			in.SSHKeys = append(in.SSHKeys, k)
		}
	}
	created, err := v.api.CreateVMs(v.r.Context(), v.org.Org, in)
	if err != nil {
		return v.formError("launch", d, err)
	}
	if len(created.VMs) == 1 && len(created.Operations) == 1 {
		return v.redirect(v.orgPath("vms/%s?op=%s", url.PathEscape(created.VMs[0].Name), url.QueryEscape(created.Operations[0].ID)),
			fmt.Sprintf("Launching %s.", created.VMs[0].Name))
	}
	return v.redirect(v.orgPath("vms"), fmt.Sprintf("Launching %d VMs.", len(created.VMs)))
}

// launchVDC makes the organisation's first VDC from the wizard, since no
// VM can be launched without one.
func (c *Console) launchVDC(v *visit) error {
	v.view.Area = "launch"
	f := v.form()
	_, err := v.api.CreateVDC(v.r.Context(), v.org.Org, api.VDCCreate{Name: strings.TrimSpace(f.Get("vdc_name")), Zone: f.Get("zone")})
	if err == nil {
		return v.redirect(v.orgPath("launch"), fmt.Sprintf("VDC %s is ready.", strings.TrimSpace(f.Get("vdc_name"))))
	}
	ae, ok := errors.AsType[*api.Error](err)
	if !ok || ae.Status == http.StatusUnauthorized {
		return err
	}
	d, derr := c.launchData(v)
	if derr != nil {
		return derr
	}
	// The VDC's fields carry their own names here: the VM's "name" is
	// another field of the page.
	v.view.Error = cmp.Or(ae.Detail, ae.Title)
	v.view.Fields = map[string]string{}
	for _, e := range ae.Errors {
		switch strings.TrimPrefix(e.Location, "body.") {
		case "name":
			v.view.Fields["vdc_name"] = e.Message
		case "zone":
			v.view.Fields["zone"] = e.Message
		}
	}
	return v.renderStatus(cmp.Or(ae.Status, http.StatusBadRequest), "launch", d)
}

// VM list.

type vmListData struct {
	VMs    []vmRow
	Label  string
	Images map[string]string
}

type vmRow struct {
	api.VM
	ImageName string
}

// Addresses are a VM's private then public addresses.
func (r vmRow) Addresses() []string { return vmAddresses(r.VM) }

func vmAddresses(vm api.VM) []string {
	var out []string
	for _, n := range vm.NICs {
		if n.IP != "" {
			out = append(out, n.IP)
		}
	}
	for _, n := range vm.NICs {
		if n.PublicIP != "" {
			out = append(out, n.PublicIP)
		}
	}
	return out
}

func (c *Console) vmList(v *visit) error {
	v.view.Area = "vms"
	ctx := v.r.Context()
	label := strings.TrimSpace(v.r.URL.Query().Get("label"))
	opts := client.VMListOptions{}
	if label != "" {
		opts.Labels = []string{label}
	}
	vms, err := collect(v.api.AllVMs(ctx, v.org.Org, opts))
	if err != nil {
		return err
	}
	images, err := v.images(ctx)
	if err != nil {
		return err
	}
	names := imageNames(images)
	d := vmListData{Label: label}
	for _, vm := range vms {
		d.VMs = append(d.VMs, vmRow{VM: vm, ImageName: cmp.Or(names[vm.Image], vm.Image)})
	}
	v.view.Form = url.Values{"label": {label}}
	return v.render("vm-list", d)
}

// VM detail and power.

// vmAction is a power action of the VM page.
type vmAction struct {
	path, label string
	call        func(ctx context.Context, cl *client.Client, org, vm string) (*api.Operation, error)
	done        string // the flash message, with the VM's name
}

var vmActions = []vmAction{
	{"start", "Start", func(ctx context.Context, cl *client.Client, org, vm string) (*api.Operation, error) {
		return cl.StartVM(ctx, org, vm)
	}, "Starting %s."},
	{"stop", "Stop", func(ctx context.Context, cl *client.Client, org, vm string) (*api.Operation, error) {
		return cl.StopVM(ctx, org, vm, nil)
	}, "Stopping %s: the guest is asked to shut down, and forced off after a minute."},
	{"reboot", "Reboot", func(ctx context.Context, cl *client.Client, org, vm string) (*api.Operation, error) {
		return cl.RebootVM(ctx, org, vm)
	}, "Rebooting %s."},
	{"force-off", "Force off", func(ctx context.Context, cl *client.Client, org, vm string) (*api.Operation, error) {
		return cl.ForceOffVM(ctx, org, vm)
	}, "Forcing %s off."},
	{"delete", "Delete", func(ctx context.Context, cl *client.Client, org, vm string) (*api.Operation, error) {
		return cl.DeleteVM(ctx, org, vm)
	}, "Deleting %s and its disk and snapshots."},
}

// vmActionsFor lists the power actions that make sense in the VM's state,
// by path. The API has the last word; this only hides buttons that would
// certainly be refused.
func vmActionsFor(vm api.VM) map[string]bool {
	if vm.State == api.VMDeleting {
		return map[string]bool{}
	}
	on := vm.PowerState == api.PowerRunning
	return map[string]bool{
		"start":     !on,
		"stop":      on && vm.State != api.VMStopped,
		"reboot":    on && vm.State == api.VMRunning,
		"force-off": on || vm.State == api.VMStopping,
		"delete":    true,
	}
}

type vmDetailData struct {
	VM        api.VM
	ImageName string
	// Networks names the NICs' networks, by ID.
	Networks map[string]string
	Actions  []vmAction
	Allowed  map[string]bool
	CanWrite bool
	// Op is the VM's latest operation, or the one the page was sent to
	// follow.
	Op *opView
}

// opView is an operation with words for what it does.
type opView struct {
	*api.Operation
	What string
}

// opWords say what an operation kind does, for people.
var opWords = map[string]string{
	"vm.create": "Creating the VM", "vm.start": "Starting", "vm.stop": "Stopping", "vm.force-off": "Forcing off",
	"vm.reboot": "Rebooting", "vm.resize": "Resizing", "vm.delete": "Deleting",
	"vm.snapshot.create": "Taking a snapshot", "vm.snapshot.delete": "Deleting a snapshot", "vm.snapshot.revert": "Reverting to a snapshot",
}

func viewOp(op *api.Operation) *opView {
	if op == nil {
		return nil
	}
	return &opView{Operation: op, What: cmp.Or(opWords[op.Kind], op.Kind)}
}

// Label and Path let templates read an action.
func (a vmAction) Label() string { return a.label }
func (a vmAction) Path() string  { return a.path }

// Danger marks the actions that lose work.
func (a vmAction) Danger() bool { return a.path == "delete" || a.path == "force-off" }

func (c *Console) vmDetailData(v *visit, ref string) (*vmDetailData, error) {
	ctx := v.r.Context()
	vm, err := v.api.GetVM(ctx, v.org.Org, ref)
	if err != nil {
		return nil, err
	}
	images, err := v.images(ctx)
	if err != nil {
		return nil, err
	}
	d := &vmDetailData{VM: *vm, ImageName: cmp.Or(imageNames(images)[vm.Image], vm.Image), Networks: map[string]string{},
		Actions: vmActions, Allowed: vmActionsFor(*vm), CanWrite: v.canWrite()}
	if len(vm.NICs) > 0 {
		nets, err := collect(v.api.AllNetworks(ctx, v.org.Org, client.NetworkListOptions{}))
		if err != nil {
			return nil, err
		}
		for _, n := range nets {
			d.Networks[n.ID] = n.Name
		}
	}
	op, err := v.latestOp(vm.ID)
	if err != nil {
		return nil, err
	}
	d.Op = viewOp(op)
	return d, nil
}

// latestOp is the operation named by ?op= when it acts on target, else the
// newest operation on target.
func (v *visit) latestOp(target string) (*api.Operation, error) {
	ctx := v.r.Context()
	if id := v.r.URL.Query().Get("op"); id != "" {
		op, err := v.api.GetOperation(ctx, id)
		switch {
		case err == nil && op.Target.ID == target:
			return op, nil
		case err != nil && !isStatus(err, http.StatusNotFound):
			return nil, err
		}
	}
	var last *api.Operation
	for op, err := range v.api.AllOperations(ctx, client.OperationListOptions{Org: v.org.Org, Target: target}) {
		if err != nil {
			return nil, err
		}
		last = &op // oldest first: the last one is the newest
	}
	return last, nil
}

func (c *Console) vmDetail(v *visit) error {
	v.view.Area = "vms"
	d, err := c.vmDetailData(v, v.r.PathValue("vm"))
	if err != nil {
		return err
	}
	return v.render("vm-detail", d)
}

func (c *Console) vmPower(a vmAction) page {
	return func(v *visit) error {
		v.view.Area = "vms"
		ref := v.r.PathValue("vm")
		op, err := a.call(v.r.Context(), v.api, v.org.Org, ref)
		if err != nil {
			d, derr := c.vmDetailData(v, ref)
			if derr != nil {
				return derr
			}
			return v.formError("vm-detail", d, err)
		}
		if a.path == "delete" {
			return v.redirect(v.orgPath("vms"), fmt.Sprintf(a.done, ref))
		}
		return v.redirect(v.orgPath("vms/%s?op=%s", url.PathEscape(ref), url.QueryEscape(op.ID)), fmt.Sprintf(a.done, ref))
	}
}

// Serial console.

type consoleData struct {
	VM       api.VM
	CanWrite bool
	// Socket is the API's WebSocket path; serial.js makes it ws:// or
	// wss:// on this origin, and the session cookie goes with it.
	Socket string
}

func (c *Console) vmConsole(v *visit) error {
	v.view.Area = "vms"
	vm, err := v.api.GetVM(v.r.Context(), v.org.Org, v.r.PathValue("vm"))
	if err != nil {
		return err
	}
	return v.render("vm-console", consoleData{VM: *vm, CanWrite: v.canWrite(),
		Socket: "/api/v1/orgs/" + url.PathEscape(v.org.Org) + "/vms/" + url.PathEscape(vm.ID) + "/console"})
}

// Snapshots.

type snapshotsData struct {
	VM        api.VM
	Snapshots []api.Snapshot
	CanWrite  bool
	Op        *opView
}

func (c *Console) snapshotsData(v *visit) (*snapshotsData, error) {
	ctx := v.r.Context()
	vm, err := v.api.GetVM(ctx, v.org.Org, v.r.PathValue("vm"))
	if err != nil {
		return nil, err
	}
	d := &snapshotsData{VM: *vm, CanWrite: v.canWrite()}
	if d.Snapshots, err = collect(v.api.AllSnapshots(ctx, v.org.Org, vm.ID, client.ListOptions{})); err != nil {
		return nil, err
	}
	if id := v.r.URL.Query().Get("op"); id != "" {
		op, err := v.api.GetOperation(ctx, id)
		if err != nil && !isStatus(err, http.StatusNotFound) {
			return nil, err
		}
		d.Op = viewOp(op)
	}
	return d, nil
}

func (c *Console) snapshots(v *visit) error {
	v.view.Area = "vms"
	d, err := c.snapshotsData(v)
	if err != nil {
		return err
	}
	return v.render("vm-snapshots", d)
}

func (c *Console) createSnapshot(v *visit) error {
	v.view.Area = "vms"
	name := strings.TrimSpace(v.form().Get("name"))
	ref := v.r.PathValue("vm")
	op, err := v.api.CreateSnapshot(v.r.Context(), v.org.Org, ref, api.SnapshotCreate{Name: name})
	if err != nil {
		d, derr := c.snapshotsData(v)
		if derr != nil {
			return derr
		}
		return v.formError("vm-snapshots", d, err)
	}
	return v.redirect(v.orgPath("vms/%s/snapshots?op=%s", url.PathEscape(ref), url.QueryEscape(op.ID)), fmt.Sprintf("Taking snapshot %s.", name))
}

func (c *Console) snapshotAction(revert bool) page {
	return func(v *visit) error {
		v.view.Area = "vms"
		ref, snap := v.r.PathValue("vm"), v.r.PathValue("snapshot")
		call, done := v.api.DeleteSnapshot, "Deleting snapshot %s."
		if revert {
			call, done = v.api.RevertSnapshot, "Reverting to snapshot %s."
		}
		op, err := call(v.r.Context(), v.org.Org, ref, snap)
		if err != nil {
			d, derr := c.snapshotsData(v)
			if derr != nil {
				return derr
			}
			return v.formError("vm-snapshots", d, err)
		}
		return v.redirect(v.orgPath("vms/%s/snapshots?op=%s", url.PathEscape(ref), url.QueryEscape(op.ID)), fmt.Sprintf(done, snap))
	}
}
