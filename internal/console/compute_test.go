package console_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/internal/store"
)

// computeCloud gives the demo cloud what a VM needs that no test here can
// run for real: a ready host (no agent: VMs stay where the API left them)
// and a public image.
func (e *env) computeCloud() {
	e.t.Helper()
	ctx := context.Background()
	err := e.Store.Tx(ctx, func(tx *store.Tx) error {
		h := &store.Host{Meta: store.Meta{ID: "hv1"}, ZoneID: "au-syd-1a", State: api.HostReady, VCPU: 8, MemoryMiB: 16384, DiskGiB: 200,
			CPUOvercommit: 1, MemoryOvercommit: 1}
		if err := tx.CreateHost(ctx, h); err != nil {
			return err
		}
		return tx.CreateImage(ctx, &store.Image{Name: "testguest", OS: "busybox", Kind: api.ImageKindKernel, State: api.ImageAvailable,
			Files: []store.ImageFile{{Name: api.ImageFileKernel, Size: 1, SHA256: "00"}}})
	})
	if err != nil {
		e.t.Fatal(err)
	}
}

// dropDefaultVDC deletes the VDC sign-up made, leaving the organisation with
// none, as a tenant who deleted theirs.
func (e *env) dropDefaultVDC(b *browser, org string) {
	e.t.Helper()
	cl := b.sdk()
	op, err := cl.DeleteVDC(e.t.Context(), org, "default")
	if err != nil {
		e.t.Fatalf("delete the default VDC: %v", err)
	}
	if op, err = cl.WaitOperation(e.t.Context(), op.ID, nil); err != nil || op.State != api.OpSucceeded {
		e.t.Fatalf("delete the default VDC: %v %+v", err, op)
	}
}

// apiGet reads the API with the browser's session, as the page scripts do.
func apiGet[T any](t *testing.T, b *browser, path string) T {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, b.e.URL+path, nil)
	p := b.do(req)
	if p.Status != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, p.Status, p.Body)
	}
	var out T
	if err := json.Unmarshal([]byte(p.Body), &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func mustLack(t *testing.T, p page, unwanted ...string) {
	t.Helper()
	for _, u := range unwanted {
		if strings.Contains(p.Body, u) {
			t.Errorf("page (status %d) shows %q, it should not:\n%s", p.Status, u, p.Body)
		}
	}
}

func launchForm(name string) url.Values {
	return url.Values{"name": {name}, "vdc": {"default"}, "image": {"testguest"}, "size": {"s1.small"}, "count": {"1"},
		"ssh_keys": {"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJq0yGkV8Ubjvae0F2oQJ6jv3gPQ5T7WnZsF6n0a9b9T ann@laptop\n"}}
}

func TestLaunchWizardFirstVDC(t *testing.T) {
	e := newEnv(t)
	b, org := e.signup("ann@example.com", "acme")
	e.dropDefaultVDC(b, org)

	// No VDC: the wizard offers to make one, and says why.
	p := b.get("/console/o/" + org + "/launch")
	mustContain(t, p, "First, a VDC", `<label for="vdc_name">`, `<option value="au-syd-1a"`)
	mustLack(t, p, `<label for="name">Name</label>`)

	p = b.post("/console/o/"+org+"/launch/vdc", url.Values{"vdc_name": {"Not OK"}, "zone": {"au-syd-1a"}})
	if p.Status != http.StatusUnprocessableEntity {
		t.Errorf("a bad VDC name: status %d, want 422", p.Status)
	}
	mustContain(t, p, `role="alert"`, `value="Not OK"`)
	if !regexp.MustCompile(`(?s)id="vdc_name".*?class="field-error"`).MatchString(p.Body) {
		t.Errorf("no field error next to the VDC name:\n%s", p.Body)
	}

	p = b.post("/console/o/"+org+"/launch/vdc", url.Values{"vdc_name": {"main"}, "zone": {"au-syd-1a"}})
	if p.Status != http.StatusSeeOther {
		t.Fatalf("create the VDC: %d\n%s", p.Status, p.Body)
	}
	p = b.get(p.Location)
	mustContain(t, p, "VDC main is ready.", `<label for="name">Name</label>`, `<option value="main" selected>`)
}

func TestLaunchQuote(t *testing.T) {
	e := newEnv(t)
	e.computeCloud()
	b, org := e.signup("ann@example.com", "acme")

	// From the catalog's Launch link: the size is chosen and priced under
	// the demo plan (1 vCPU × 0.02 + 1 GiB × 0.005 + 10 GiB × 0.0002).
	p := b.get("/console/o/" + org + "/launch?size=s1.small")
	mustContain(t, p, `<option value="s1.small"`, "0.027</span> AUD an hour", "19.71</span> AUD a month",
		`aria-live="polite"`, `src="/console/assets/launch.js"`, `value="quote"`)

	// Without script: "Show the price" prices two VMs with public IPs and
	// keeps everything typed.
	f := launchForm("web")
	f.Set("count", "2")
	f.Set("public_ip", "on")
	f.Set("action", "quote")
	p = b.post("/console/o/"+org+"/launch", f)
	if p.Status != http.StatusOK {
		t.Fatalf("quote: status %d\n%s", p.Status, p.Body)
	}
	// 2 × 0.027 + 2 public IPs × 0.005 = 0.064 an hour; × 730 = 46.72.
	mustContain(t, p, "0.064</span> AUD an hour", "46.72</span> AUD a month", `value="web"`, `value="2"`,
		`id="public_ip" name="public_ip" value="on" checked`, "ann@laptop\n</textarea>")
	if n := countVMs(t, b, org); n != 0 {
		t.Errorf("a quote created %d VMs", n)
	}

	// The script asks the API itself, with the console's session.
	req, _ := http.NewRequest(http.MethodPost, e.URL+"/api/v1/orgs/"+org+"/quote", strings.NewReader(`{"size":"s1.small"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	if q := b.do(req); q.Status != http.StatusOK || !strings.Contains(q.Body, `"per_hour":"0.027"`) {
		t.Errorf("the script's quote: %d %s", q.Status, q.Body)
	}
}

func countVMs(t *testing.T, b *browser, org string) int {
	t.Helper()
	return len(apiGet[api.List[api.VM]](t, b, "/api/v1/orgs/"+org+"/vms").Items)
}

func TestLaunchBadNameKeepsValues(t *testing.T) {
	e := newEnv(t)
	e.computeCloud()
	b, org := e.signup("ann@example.com", "acme")

	f := launchForm("Web One!")
	f.Set("user_data", "#cloud-config\nhostname: one\n")
	p := b.post("/console/o/"+org+"/launch", f)
	if p.Status != http.StatusUnprocessableEntity {
		t.Errorf("a bad name: status %d, want 422", p.Status)
	}
	mustContain(t, p, `role="alert"`, `value="Web One!"`, `<option value="s1.small" data-vcpu="1" data-memory-mib="1024" data-disk-gib="10" selected>`,
		`<option value="testguest" selected>`, "hostname: one\n</textarea>")
	if !regexp.MustCompile(`(?s)id="name".*?<span class="field-error" role="alert">[^<]+</span>.*?id="vdc"`).MatchString(p.Body) {
		t.Errorf("no field error next to the name:\n%s", p.Body)
	}
	if n := countVMs(t, b, org); n != 0 {
		t.Errorf("a refused launch made %d VMs", n)
	}
}

func TestVMPages(t *testing.T) {
	e := newEnv(t)
	e.computeCloud()
	b, org := e.signup("ann@example.com", "acme")

	p := b.get("/console/o/" + org + "/vms")
	mustContain(t, p, "You have no VM yet.", `href="/console/o/`+org+`/launch"`)

	p = b.post("/console/o/"+org+"/launch", launchForm("web1"))
	if p.Status != http.StatusSeeOther || !strings.HasPrefix(p.Location, "/console/o/"+org+"/vms/web1?op=") {
		t.Fatalf("launch: %d %q\n%s", p.Status, p.Location, p.Body)
	}
	vm := apiGet[api.VM](t, b, "/api/v1/orgs/"+org+"/vms/web1")

	// The VM page follows the create operation and shows what the API says.
	p = b.get(p.Location)
	mustContain(t, p, "Launching web1.", "<h1>web1</h1>", `<span class="badge`, ">"+vm.State+"</span>", "testguest",
		"s1.small", "data-watch-op=", "Creating the VM", `href="/console/o/`+org+`/vms/web1/firewall"`)
	// Only what the state allows: the VM is asked to run and is not running
	// yet, so it can be stopped, forced off or deleted, but not started or
	// rebooted.
	if vm.PowerState != api.PowerRunning || vm.State == api.VMRunning {
		t.Fatalf("the VM is %s/%s; this test expects a VM asked to run that no host runs", vm.PowerState, vm.State)
	}
	mustContain(t, p, `/vms/web1/stop"`, `/vms/web1/force-off"`, `/vms/web1/delete"`, `data-confirm="Delete web1`)
	mustLack(t, p, `/vms/web1/start"`, `/vms/web1/reboot"`)

	p = b.get("/console/o/" + org + "/vms")
	mustContain(t, p, `href="/console/o/`+org+`/vms/web1">web1</a>`, ">"+vm.State+"</span>", "testguest")
	mustLack(t, p, "You have no VM yet.")
	p = b.get("/console/o/" + org + "/vms?label=env%3Dprod")
	mustContain(t, p, "No VM has the label env=prod.")

	// The create is unfinished (no agent): the API refuses another action
	// and the page says why.
	p = b.post("/console/o/"+org+"/vms/web1/stop", nil)
	if p.Status != http.StatusConflict {
		t.Errorf("stop a busy VM: status %d, want 409", p.Status)
	}
	mustContain(t, p, `class="alert" role="alert"`, "is busy with vm.create", "<h1>web1</h1>")

	// Snapshots need a stopped VM: the API's message shows, the name stays.
	p = b.get("/console/o/" + org + "/vms/web1/snapshots")
	mustContain(t, p, "No snapshot yet.", `<label for="name">Name</label>`)
	p = b.post("/console/o/"+org+"/vms/web1/snapshots", url.Values{"name": {"before-upgrade"}})
	if p.Status != http.StatusConflict {
		t.Errorf("snapshot a running VM: status %d, want 409", p.Status)
	}
	mustContain(t, p, `role="alert"`, `value="before-upgrade"`)

	// The console page connects to the API's WebSocket path.
	p = b.get("/console/o/" + org + "/vms/web1/console")
	mustContain(t, p, `<pre class="console"`, `data-console-socket="/api/v1/orgs/`+org+`/vms/`+vm.ID+`/console"`,
		`src="/console/assets/serial.js"`, "<noscript>", `<label for="console-line">`)

	// Delete asks first (data-confirm) and goes back to the list.
	p = b.post("/console/o/"+org+"/vms/web1/delete", nil)
	if p.Status != http.StatusSeeOther || p.Location != "/console/o/"+org+"/vms" {
		t.Errorf("delete: %d %q\n%s", p.Status, p.Location, p.Body)
	}
	p = b.get("/console/o/" + org + "/vms/web1")
	mustContain(t, p, ">deleting</span>")
	mustLack(t, p, `/vms/web1/stop"`, `/vms/web1/delete"`)
}

func TestVMIsolation(t *testing.T) {
	e := newEnv(t)
	e.computeCloud()
	ann, acme := e.signup("ann@example.com", "acme")
	bob, beta := e.signup("bob@example.com", "beta")
	if p := ann.post("/console/o/"+acme+"/launch", launchForm("web1")); p.Status != http.StatusSeeOther {
		t.Fatalf("launch: %d\n%s", p.Status, p.Body)
	}
	vm := apiGet[api.VM](t, ann, "/api/v1/orgs/"+acme+"/vms/web1")

	for _, path := range []string{
		"/console/o/" + acme + "/vms/web1",     // not bob's organisation
		"/console/o/" + acme + "/vms",          //
		"/console/o/" + beta + "/vms/" + vm.ID, // ann's VM by ID under bob's organisation
		"/console/o/" + beta + "/vms/web1",     //
		"/console/o/" + beta + "/vms/" + vm.ID + "/snapshots",
		"/console/o/" + beta + "/vms/" + vm.ID + "/console",
	} {
		if p := bob.get(path); p.Status != http.StatusNotFound {
			t.Errorf("bob GET %s: status %d, want 404", path, p.Status)
		}
	}
	for _, path := range []string{"/console/o/" + beta + "/vms/" + vm.ID + "/delete", "/console/o/" + acme + "/vms/web1/force-off"} {
		if p := bob.post(path, nil); p.Status != http.StatusNotFound {
			t.Errorf("bob POST %s: status %d, want 404", path, p.Status)
		}
	}
	if got := apiGet[api.VM](t, ann, "/api/v1/orgs/"+acme+"/vms/web1"); got.State == api.VMDeleting {
		t.Error("bob deleted ann's VM")
	}
}

func TestViewerSeesNoButtons(t *testing.T) {
	e := newEnv(t)
	e.computeCloud()
	ann, org := e.signup("ann@example.com", "acme")
	if p := ann.post("/console/o/"+org+"/launch", launchForm("web1")); p.Status != http.StatusSeeOther {
		t.Fatalf("launch: %d\n%s", p.Status, p.Body)
	}
	e.User("vic@example.com", store.RoleBinding{OrgID: org, Role: api.RoleOrgViewer})
	vic := e.browser()
	vic.login("vic@example.com")

	p := vic.get("/console/o/" + org + "/vms/web1")
	mustContain(t, p, "<h1>web1</h1>")
	mustLack(t, p, `/vms/web1/stop"`, `/vms/web1/force-off"`, `/vms/web1/delete"`)
	p = vic.get("/console/o/" + org + "/vms/web1/snapshots")
	mustLack(t, p, "Take the snapshot")
	p = vic.get("/console/o/" + org + "/vms/web1/console")
	mustContain(t, p, "needs the org-member role")
	mustLack(t, p, "data-console-socket")
	// A viewer who posts anyway gets the API's refusal.
	p = vic.post("/console/o/"+org+"/vms/web1/force-off", nil)
	if p.Status != http.StatusForbidden {
		t.Errorf("a viewer's force off: status %d, want 403\n%s", p.Status, p.Body)
	}
	mustContain(t, p, `role="alert"`)
}

func TestCatalog(t *testing.T) {
	e := newEnv(t)
	e.computeCloud()
	b, org := e.signup("ann@example.com", "acme")
	e.dropDefaultVDC(b, org)

	// Without a VDC sizes show no price, and say how to get one.
	p := b.get("/console/o/" + org + "/catalog")
	mustContain(t, p, "testguest", `href="/console/o/`+org+`/launch?image=testguest"`, "s1.small", "make a VDC")

	b.post("/console/o/"+org+"/launch/vdc", url.Values{"vdc_name": {"main"}, "zone": {"au-syd-1a"}})
	p = b.get("/console/o/" + org + "/catalog")
	mustContain(t, p, `href="/console/o/`+org+`/launch?size=s1.small"`, "0.027 AUD", "19.71 AUD", "in VDC main")
}

// Every compute page renders for a tenant with objects.
func TestComputePagesRender(t *testing.T) {
	e := newEnv(t)
	e.computeCloud()
	b, org := e.signup("ann@example.com", "acme")
	if p := b.post("/console/o/"+org+"/launch", launchForm("web1")); p.Status != http.StatusSeeOther {
		t.Fatalf("launch: %d\n%s", p.Status, p.Body)
	}
	o := "/console/o/" + org
	for _, path := range []string{o + "/", o + "/catalog", o + "/launch", o + "/launch?image=testguest&size=s1.medium", o + "/vms",
		o + "/vms/web1", o + "/vms/web1/console", o + "/vms/web1/snapshots"} {
		p := b.get(path)
		if p.Status != http.StatusOK {
			t.Errorf("GET %s: status %d\n%s", path, p.Status, p.Body)
		}
	}
	for _, asset := range []string{"/console/assets/launch.js", "/console/assets/serial.js"} {
		if p := b.get(asset); p.Status != http.StatusOK || !strings.Contains(p.Body, `"use strict"`) {
			t.Errorf("GET %s: %d", asset, p.Status)
		}
	}
}
