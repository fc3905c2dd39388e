package console_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/client"
	"github.com/sirocco-cloud/sirocco/internal/store"
)

// netTenant is a signed-up organisation with its default VDC in au-syd-1a and
// an SDK client acting as its admin, for setting things up.
type netTenant struct {
	b   *browser
	org string
	api *client.Client
	vdc api.VDC
}

func (t *netTenant) path(p string) string { return "/console/o/" + t.org + "/" + p }

func netSignup(t *testing.T, e *env, email, orgName string) *netTenant {
	t.Helper()
	b, org := e.signup(email, orgName)
	cl := b.sdk()
	vdc, err := cl.GetVDC(t.Context(), org, "default")
	if err != nil {
		t.Fatalf("the VDC made at sign-up: %v", err)
	}
	return &netTenant{b: b, org: org, api: cl, vdc: *vdc}
}

// netHost adds a host and an image to the store, so that VMs can be placed
// (no agent runs them here: they stay as placed, powered off).
func netHost(t *testing.T, e *env) {
	t.Helper()
	ctx := context.Background()
	err := e.Store.Tx(ctx, func(tx *store.Tx) error {
		h := &store.Host{Meta: store.Meta{ID: "hv1"}, ZoneID: "au-syd-1a", State: api.HostReady, VCPU: 16, MemoryMiB: 65536, DiskGiB: 1000,
			CPUOvercommit: 1, MemoryOvercommit: 1}
		if err := tx.CreateHost(ctx, h); err != nil {
			return err
		}
		return tx.CreateImage(ctx, &store.Image{Name: "tiny", Kind: api.ImageKindKernel, State: api.ImageAvailable,
			Files: []store.ImageFile{{Name: api.ImageFileKernel, Size: 1, SHA256: "00"}}})
	})
	if err != nil {
		t.Fatalf("host and image: %v", err)
	}
}

// netVM creates a powered-off VM on the VDC's only network.
func netVM(t *testing.T, tn *netTenant, name string) api.VM {
	t.Helper()
	vm, _ := netVMOp(t, tn, name)
	return vm
}

// netVMOp is netVM that also returns the create operation's ID.
func netVMOp(t *testing.T, tn *netTenant, name string) (api.VM, string) {
	t.Helper()
	off := false
	out, err := tn.api.CreateVMs(t.Context(), tn.org, api.VMCreate{Name: name, Image: "tiny", Size: "s1.small", PowerOn: &off})
	if err != nil {
		t.Fatalf("create VM %s: %v", name, err)
	}
	return out.VMs[0], out.Operations[0].ID
}

// netStopped reports, as the VM's host would, that a VM created powered
// off is ready and stopped, and waits for its create operation to end.
func netStopped(t *testing.T, e *env, tn *netTenant, vm api.VM, op string) {
	t.Helper()
	ctx := context.Background()
	err := e.Store.Tx(ctx, func(tx *store.Tx) error {
		v, err := tx.GetVMByID(ctx, vm.ID)
		if err != nil {
			return err
		}
		_, err = tx.ObserveVM(ctx, v.HostID, store.ObservedVM{ID: v.ID, State: api.VMStopped, Generation: v.Generation})
		return err
	})
	if err != nil {
		t.Fatalf("stop VM %s: %v", vm.Name, err)
	}
	if o, err := tn.api.WaitOperation(t.Context(), op, nil); err != nil || o.State != api.OpSucceeded {
		t.Fatalf("create operation of %s: %v %+v", vm.Name, err, o)
	}
}

// netFieldMessage is the message shown next to a form field, or "".
func netFieldMessage(p page, input string) string {
	re := regexp.MustCompile(`id="` + regexp.QuoteMeta(input) + `"[^>]*>(?:\s*<span class="hint"[^>]*>[^<]*</span>)?<span class="field-error" role="alert">([^<]*)</span>`)
	m := re.FindStringSubmatch(p.Body)
	if m == nil {
		return ""
	}
	return m[1]
}

func mustStatus(t *testing.T, what string, p page, want int) {
	t.Helper()
	if p.Status != want {
		t.Fatalf("%s: status %d, want %d:\n%s", what, p.Status, want, p.Body)
	}
}

func TestNetworkCreateListAndOverlap(t *testing.T) {
	e := newEnv(t)
	tn := netSignup(t, e, "dev@kiwi.test", "kiwi")

	p := tn.b.get(tn.path("networks"))
	mustStatus(t, "networks page", p, http.StatusOK)
	mustContain(t, p, "No networks yet", `<label for="net-cidr">`, "Create network", `aria-current="page">Networks`)

	p = tn.b.post(tn.path("networks"), url.Values{"name": {"lan"}, "vdc": {tn.vdc.ID}, "cidr": {"10.0.0.0/24"}, "dns": {"1.1.1.1, 9.9.9.9"}})
	mustStatus(t, "create lan", p, http.StatusSeeOther)
	if !strings.HasPrefix(p.Location, tn.path("networks/")) {
		t.Errorf("after create: Location %q, want the network's page", p.Location)
	}
	p = tn.b.get(p.Location)
	mustContain(t, p, "Network lan created", "10.0.0.0/24", "10.0.0.1", "1.1.1.1, 9.9.9.9", "No VM has an interface")

	p = tn.b.get(tn.path("networks"))
	mustContain(t, p, ">lan</a>", "<code>10.0.0.0/24</code>", "<code>10.0.0.1</code>")

	// An overlapping subnet: the API's message next to the CIDR field, the
	// typed values kept.
	p = tn.b.post(tn.path("networks"), url.Values{"name": {"backend"}, "vdc": {tn.vdc.ID}, "cidr": {"10.0.0.128/25"}, "gateway": {"10.0.0.129"}})
	mustStatus(t, "overlapping network", p, http.StatusConflict)
	if msg := netFieldMessage(p, "net-cidr"); !strings.Contains(msg, "overlaps 10.0.0.0/24") {
		t.Errorf("message next to the CIDR field %q, want the overlap:\n%s", msg, p.Body)
	}
	mustContain(t, p, `role="alert"`, `value="backend"`, `value="10.0.0.128/25"`, `value="10.0.0.129"`)

	// A malformed gateway is the API's validation message, by its field.
	p = tn.b.post(tn.path("networks"), url.Values{"name": {"backend"}, "vdc": {tn.vdc.ID}, "cidr": {"10.1.0.0/24"}, "gateway": {"nonsense"}})
	if p.Status < 400 || netFieldMessage(p, "net-gateway") == "" {
		t.Errorf("bad gateway: status %d, no message next to the gateway field:\n%s", p.Status, p.Body)
	}
}

func TestNetworkIsolationAndDelete(t *testing.T) {
	e := newEnv(t)
	netHost(t, e)
	kiwi := netSignup(t, e, "dev@kiwi.test", "kiwi")
	emu := netSignup(t, e, "dev@emu.test", "emu")
	lan, err := kiwi.api.CreateNetwork(t.Context(), kiwi.org, api.NetworkCreate{Name: "lan", CIDR: "10.9.0.0/24"})
	if err != nil {
		t.Fatal(err)
	}

	// Another tenant sees neither the network nor kiwi's pages.
	if p := emu.b.get(emu.path("networks/" + lan.ID)); p.Status != http.StatusNotFound {
		t.Errorf("emu opens kiwi's network through its own organisation: status %d", p.Status)
	}
	if p := emu.b.get(kiwi.path("networks/" + lan.ID)); p.Status != http.StatusNotFound {
		t.Errorf("emu opens kiwi's network page: status %d", p.Status)
	}
	if p := emu.b.post(kiwi.path("networks/"+lan.ID+"/delete"), nil); p.Status != http.StatusNotFound {
		t.Errorf("emu deletes kiwi's network: status %d", p.Status)
	}
	p := emu.b.get(emu.path("networks"))
	mustStatus(t, "emu's networks", p, http.StatusOK)
	if strings.Contains(p.Body, "10.9.0.0/24") || strings.Contains(p.Body, lan.ID) {
		t.Errorf("emu's network list shows kiwi's network:\n%s", p.Body)
	}

	// A network in use cannot go: the page says which VM holds it.
	netVM(t, kiwi, "web1")
	p = kiwi.b.get(kiwi.path("networks/" + lan.ID))
	mustContain(t, p, ">web1</a>", "<code>10.9.0.2</code>", `data-confirm="Delete network lan?"`)
	p = kiwi.b.post(kiwi.path("networks/"+lan.ID+"/delete"), nil)
	mustStatus(t, "delete a network in use", p, http.StatusConflict)
	mustContain(t, p, `class="alert" role="alert"`, "used by 1 NICs of VMs web1")

	// An unused one goes.
	spare, err := kiwi.api.CreateNetwork(t.Context(), kiwi.org, api.NetworkCreate{Name: "spare", CIDR: "10.8.0.0/24"})
	if err != nil {
		t.Fatal(err)
	}
	p = kiwi.b.post(kiwi.path("networks/"+spare.ID+"/delete"), nil)
	mustStatus(t, "delete spare", p, http.StatusSeeOther)
	p = kiwi.b.get(p.Location)
	mustContain(t, p, "Network spare deleted.")
	if strings.Contains(p.Body, "10.8.0.0/24") {
		t.Errorf("spare is still listed:\n%s", p.Body)
	}
}

func TestPublicIPAllocateAttachRelease(t *testing.T) {
	e := newEnv(t)
	netHost(t, e)
	tn := netSignup(t, e, "dev@kiwi.test", "kiwi")
	if _, err := tn.api.CreateNetwork(t.Context(), tn.org, api.NetworkCreate{Name: "lan", CIDR: "10.0.0.0/24"}); err != nil {
		t.Fatal(err)
	}
	vm := netVM(t, tn, "web1")

	// No pool in the region: the API's reason, on the page.
	p := tn.b.post(tn.path("public-ips"), url.Values{"vdc": {tn.vdc.ID}})
	mustStatus(t, "allocate without a pool", p, http.StatusConflict)
	mustContain(t, p, "has no free public address")

	admin, err := client.New(e.URL, client.WithToken(e.ProviderAdmin()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.CreatePublicIPPool(t.Context(), api.PublicIPPoolCreate{Name: "syd-pub", Region: "au-syd", CIDR: "203.0.113.0/28",
		Gateway: "203.0.113.1", Uplink: "eth1"}); err != nil {
		t.Fatal(err)
	}

	p = tn.b.get(tn.path("public-ips"))
	mustStatus(t, "public IPs page", p, http.StatusOK)
	// The demo price of an address, exact.
	mustContain(t, p, "No public IPs yet", "0.005 AUD</strong> an hour", "about 3.65 AUD a month", "Allocate an address")

	p = tn.b.post(tn.path("public-ips"), url.Values{"vdc": {tn.vdc.ID}})
	mustStatus(t, "allocate", p, http.StatusSeeOther)
	p = tn.b.get(p.Location)
	mustContain(t, p, "Public IP 203.0.113.2 allocated", "<code>203.0.113.2</code>", "not attached", `data-confirm="Release 203.0.113.2?`)

	p = tn.b.post(tn.path("public-ips/203.0.113.2/attach"), url.Values{"vm": {vm.ID}})
	mustStatus(t, "attach", p, http.StatusSeeOther)
	p = tn.b.get(p.Location)
	mustContain(t, p, "now reaches 10.0.0.2", ">web1</a>", "Detach")

	p = tn.b.post(tn.path("public-ips/203.0.113.2/detach"), nil)
	mustStatus(t, "detach", p, http.StatusSeeOther)
	p = tn.b.get(p.Location)
	mustContain(t, p, "detached", "not attached")

	p = tn.b.post(tn.path("public-ips/203.0.113.2/release"), nil)
	mustStatus(t, "release", p, http.StatusSeeOther)
	p = tn.b.get(p.Location)
	mustContain(t, p, "Public IP 203.0.113.2 released.", "No public IPs yet")
	if strings.Contains(p.Body, "<code>203.0.113.2</code>") {
		t.Errorf("the released address is still listed:\n%s", p.Body)
	}
}

func TestFirewallRules(t *testing.T) {
	e := newEnv(t)
	netHost(t, e)
	tn := netSignup(t, e, "dev@kiwi.test", "kiwi")
	if _, err := tn.api.CreateNetwork(t.Context(), tn.org, api.NetworkCreate{Name: "lan", CIDR: "10.0.0.0/24"}); err != nil {
		t.Fatal(err)
	}
	vm := netVM(t, tn, "web1")
	fw := tn.path("vms/" + vm.ID + "/firewall")

	p := tn.b.get(fw)
	mustStatus(t, "firewall page", p, http.StatusOK)
	mustContain(t, p, "Firewall of web1", "Inbound traffic from outside the VM's networks is denied unless a rule below allows it",
		"No rules", `<label for="fw-port-from">`, `placeholder="0.0.0.0/0"`)
	// The example is a placeholder, not a silently filled value.
	if strings.Contains(p.Body, `value="22"`) || strings.Contains(p.Body, `value="0.0.0.0/0"`) {
		t.Errorf("the rule form is prefilled:\n%s", p.Body)
	}

	p = tn.b.post(fw, url.Values{"direction": {"ingress"}, "protocol": {"tcp"}, "port_from": {"22"}, "cidr": {"198.51.100.0/24"}, "description": {"ssh from the office"}})
	mustStatus(t, "add a rule", p, http.StatusSeeOther)
	p = tn.b.get(p.Location)
	mustContain(t, p, "Rule added.", "<td>ingress</td>", "<td>tcp</td>", "<td>22</td>", "<code>198.51.100.0/24</code>", "ssh from the office")
	rules, err := tn.api.ListFirewallRules(t.Context(), tn.org, vm.ID)
	if err != nil || len(rules.Items) != 1 {
		t.Fatalf("rules after adding one: %v %+v", err, rules)
	}

	// Errors next to their fields, values kept.
	p = tn.b.post(fw, url.Values{"direction": {"ingress"}, "protocol": {"tcp"}, "port_from": {"80"}, "cidr": {"10.0.0.1/8"}})
	if p.Status < 400 || !strings.Contains(netFieldMessage(p, "fw-cidr"), "host bits set") {
		t.Errorf("a CIDR with host bits: status %d, no message by the field:\n%s", p.Status, p.Body)
	}
	mustContain(t, p, `value="80"`, `value="10.0.0.1/8"`)
	p = tn.b.post(fw, url.Values{"direction": {"ingress"}, "protocol": {"tcp"}, "port_from": {"ssh"}})
	if p.Status < 400 || !strings.Contains(netFieldMessage(p, "fw-port-from"), "is not a port") {
		t.Errorf("a port that is not a number: status %d:\n%s", p.Status, p.Body)
	}

	p = tn.b.post(fw+"/"+rules.Items[0].ID+"/delete", nil)
	mustStatus(t, "delete the rule", p, http.StatusSeeOther)
	p = tn.b.get(p.Location)
	mustContain(t, p, "Rule deleted.", "No rules")

	// Another tenant cannot see the VM's firewall.
	emu := netSignup(t, e, "dev@emu.test", "emu")
	if p := emu.b.get(emu.path("vms/" + vm.ID + "/firewall")); p.Status != http.StatusNotFound {
		t.Errorf("emu opens kiwi's VM firewall: status %d", p.Status)
	}
}

func TestDisks(t *testing.T) {
	e := newEnv(t)
	netHost(t, e)
	tn := netSignup(t, e, "dev@kiwi.test", "kiwi")
	if _, err := tn.api.CreateNetwork(t.Context(), tn.org, api.NetworkCreate{Name: "lan", CIDR: "10.0.0.0/24"}); err != nil {
		t.Fatal(err)
	}
	vm, op := netVMOp(t, tn, "web1")

	p := tn.b.get(tn.path("disks"))
	mustStatus(t, "disks page", p, http.StatusOK)
	mustContain(t, p, "No data disks yet", `<label for="disk-size">Size in GiB</label>`, "per GiB per hour")

	p = tn.b.post(tn.path("disks"), url.Values{"name": {"data1"}, "vdc": {tn.vdc.ID}, "size_gib": {"many"}})
	if p.Status < 400 || !strings.Contains(netFieldMessage(p, "disk-size"), "not a size") {
		t.Errorf("a size that is not a number: status %d:\n%s", p.Status, p.Body)
	}
	mustContain(t, p, `value="data1"`)

	p = tn.b.post(tn.path("disks"), url.Values{"name": {"data1"}, "vdc": {tn.vdc.ID}, "size_gib": {"20"}})
	mustStatus(t, "create data1", p, http.StatusSeeOther)
	p = tn.b.get(p.Location)
	mustContain(t, p, "Disk data1 created (20 GiB)", "<td>data1</td>", "20 GiB", "available")
	d, err := tn.api.GetDisk(t.Context(), tn.org, "data1")
	if err != nil {
		t.Fatal(err)
	}

	p = tn.b.post(tn.path("disks/"+d.ID+"/grow"), url.Values{"size_gib": {"10"}})
	mustStatus(t, "shrink", p, http.StatusConflict)
	mustContain(t, p, `class="alert" role="alert"`)
	p = tn.b.post(tn.path("disks/"+d.ID+"/grow"), url.Values{"size_gib": {"30"}})
	mustStatus(t, "grow", p, http.StatusSeeOther)
	p = tn.b.get(p.Location)
	mustContain(t, p, "Disk data1 is now 30 GiB")

	// The VM is still being created: the API's reason shows.
	p = tn.b.post(tn.path("disks/"+d.ID+"/attach"), url.Values{"vm": {vm.ID}})
	mustStatus(t, "attach to a VM being created", p, http.StatusConflict)
	mustContain(t, p, `class="alert" role="alert"`, "VM &#34;web1&#34; is")

	// Once its host reports it stopped, the disk attaches and detaches.
	netStopped(t, e, tn, vm, op)
	p = tn.b.post(tn.path("disks/"+d.ID+"/attach"), url.Values{"vm": {vm.ID}})
	mustStatus(t, "attach", p, http.StatusSeeOther)
	p = tn.b.get(p.Location)
	mustContain(t, p, "Disk data1 attached to web1", ">web1</a>", `data-confirm="Detach data1 from web1?`)
	if strings.Contains(p.Body, "/disks/"+d.ID+"/delete") {
		t.Errorf("an attached disk offers Delete:\n%s", p.Body)
	}
	p = tn.b.post(tn.path("disks/"+d.ID+"/detach"), nil)
	mustStatus(t, "detach", p, http.StatusSeeOther)
	p = tn.b.get(p.Location)
	mustContain(t, p, "Disk data1 detached")

	p = tn.b.post(tn.path("disks/"+d.ID+"/delete"), nil)
	mustStatus(t, "delete", p, http.StatusSeeOther)
	p = tn.b.get(p.Location)
	// Its host removes the file; until then the disk shows as going.
	mustContain(t, p, "Disk deleted.", `<span class="badge warn">deleting</span>`)
	if strings.Contains(p.Body, "/disks/"+d.ID+"/") {
		t.Errorf("a disk being deleted still has buttons:\n%s", p.Body)
	}
}

// A viewer sees the objects but no buttons, and a form posted anyway gets
// the API's refusal.
func TestNetworkPagesForAViewer(t *testing.T) {
	e := newEnv(t)
	netHost(t, e)
	tn := netSignup(t, e, "dev@kiwi.test", "kiwi")
	lan, err := tn.api.CreateNetwork(t.Context(), tn.org, api.NetworkCreate{Name: "lan", CIDR: "10.0.0.0/24"})
	if err != nil {
		t.Fatal(err)
	}
	vm := netVM(t, tn, "web1")
	if _, err := tn.api.CreateDisk(t.Context(), tn.org, api.DiskCreate{Name: "data1", SizeGiB: 5}); err != nil {
		t.Fatal(err)
	}
	if _, err := tn.api.CreateFirewallRule(t.Context(), tn.org, vm.ID, api.FirewallRuleCreate{Direction: "ingress", Protocol: "tcp", PortFrom: 22}); err != nil {
		t.Fatal(err)
	}
	e.User("viewer@kiwi.test", store.RoleBinding{OrgID: tn.org, Role: api.RoleOrgViewer})
	b := e.browser()
	b.login("viewer@kiwi.test")

	for _, c := range []struct {
		path string
		sees string
		no   []string
	}{
		{"networks", ">lan</a>", []string{"Create network", `method="post"`}},
		{"networks/" + lan.ID, "<code>10.0.0.0/24</code>", []string{"Delete network", `/delete"`}},
		{"public-ips", "Public IPs", []string{"Allocate an address", "/release"}},
		{"vms/" + vm.ID + "/firewall", "<td>22</td>", []string{"Add rule", "/delete"}},
		{"disks", "<td>data1</td>", []string{"Create disk", "/grow", "/delete"}},
	} {
		p := b.get(tn.path(c.path))
		mustStatus(t, c.path, p, http.StatusOK)
		mustContain(t, p, c.sees)
		for _, no := range c.no {
			// The layout's own log-out form is the only post a viewer keeps.
			body := strings.ReplaceAll(p.Body, `<form method="post" action="/console/logout">`, "")
			if strings.Contains(body, no) {
				t.Errorf("a viewer's %s page shows %q", c.path, no)
			}
		}
	}
	p := b.post(tn.path("networks"), url.Values{"name": {"sneaky"}, "vdc": {tn.vdc.ID}, "cidr": {"10.5.0.0/24"}})
	mustStatus(t, "a viewer creates a network", p, http.StatusForbidden)
	mustContain(t, p, `class="alert" role="alert"`)
	p = b.post(tn.path("networks/"+lan.ID+"/delete"), nil)
	mustStatus(t, "a viewer deletes a network", p, http.StatusForbidden)
	if _, err := tn.api.GetNetwork(t.Context(), tn.org, "lan"); err != nil {
		t.Errorf("lan after a viewer's delete: %v", err)
	}
}

// Every page of this area renders for a tenant with some of each object.
func TestNetworkPagesRender(t *testing.T) {
	e := newEnv(t)
	netHost(t, e)
	tn := netSignup(t, e, "dev@kiwi.test", "kiwi")
	admin, err := client.New(e.URL, client.WithToken(e.ProviderAdmin()))
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if _, err := admin.CreatePublicIPPool(ctx, api.PublicIPPoolCreate{Name: "syd-pub", Region: "au-syd", CIDR: "203.0.113.0/28",
		Gateway: "203.0.113.1", Uplink: "eth1"}); err != nil {
		t.Fatal(err)
	}
	lan, err := tn.api.CreateNetwork(ctx, tn.org, api.NetworkCreate{Name: "lan", CIDR: "10.0.0.0/24", DNS: []string{"1.1.1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	vm := netVM(t, tn, "web1")
	ip, err := tn.api.AllocatePublicIP(ctx, tn.org, api.PublicIPAllocate{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tn.api.AttachPublicIP(ctx, tn.org, ip.Address, api.PublicIPAttach{VM: vm.ID}); err != nil {
		t.Fatal(err)
	}
	if _, err := tn.api.AllocatePublicIP(ctx, tn.org, api.PublicIPAllocate{}); err != nil {
		t.Fatal(err)
	}
	if _, err := tn.api.CreateFirewallRule(ctx, tn.org, vm.ID, api.FirewallRuleCreate{Direction: "egress", Protocol: "udp", PortFrom: 53, PortTo: 54}); err != nil {
		t.Fatal(err)
	}
	if _, err := tn.api.CreateDisk(ctx, tn.org, api.DiskCreate{Name: "data1", SizeGiB: 5}); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"networks", "networks/" + lan.ID, "networks/lan", "public-ips", "vms/" + vm.ID + "/firewall", "disks"} {
		p := tn.b.get(tn.path(path))
		if p.Status != http.StatusOK {
			t.Errorf("%s: status %d:\n%s", path, p.Status, p.Body)
		}
	}
}
