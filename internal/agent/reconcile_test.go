package agent_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/api/agentapi"
	"github.com/sirocco-cloud/sirocco/internal/agent"
	"github.com/sirocco-cloud/sirocco/internal/compute"
	"github.com/sirocco-cloud/sirocco/internal/compute/qemu"
	"github.com/sirocco-cloud/sirocco/internal/compute/simulated"
	"github.com/sirocco-cloud/sirocco/internal/compute/testguest"
)

// imageEndpoint stands in for the control plane's image endpoint
// (agentapi.PathImageFile): it serves files from memory, checks the agent's
// credential and counts what it served.
type imageEndpoint struct {
	*httptest.Server
	mu      sync.Mutex
	files   map[string][]byte // "<image>/<file>"
	fetches map[string]int
}

const testCredential = "shc_test-credential"

func newImageEndpoint(t *testing.T, tlsServer bool) *imageEndpoint {
	t.Helper()
	e := &imageEndpoint{files: map[string][]byte{}, fetches: map[string]int{}}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+testCredential {
			http.Error(w, "unauthorised", http.StatusUnauthorized)
			return
		}
		key, ok := strings.CutPrefix(r.URL.Path, agentapi.PathImageFile+"/")
		e.mu.Lock()
		b, found := e.files[key]
		e.fetches[key]++
		e.mu.Unlock()
		if !ok || !found {
			http.NotFound(w, r)
			return
		}
		w.Write(b)
	})
	if tlsServer {
		e.Server = httptest.NewTLSServer(h)
	} else {
		e.Server = httptest.NewServer(h)
	}
	t.Cleanup(e.Close)
	return e
}

// add serves content as file of image id and returns its description.
func (e *imageEndpoint) add(id, file string, content []byte) agentapi.ImageFile {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.files[id+"/"+file] = content
	sum := sha256.Sum256(content)
	return agentapi.ImageFile{Name: file, Size: int64(len(content)), SHA256: hex.EncodeToString(sum[:])}
}

func (e *imageEndpoint) count(id, file string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.fetches[id+"/"+file]
}

// recorder is the simulated driver with a log of the actions a user would
// notice happening twice (a reboot, a revert, a forced power-off).
type recorder struct {
	*simulated.Driver
	mu    sync.Mutex
	calls []string
}

func (r *recorder) record(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, s)
}

func (r *recorder) count(s string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, c := range r.calls {
		if c == s {
			n++
		}
	}
	return n
}

func (r *recorder) Reboot(ctx context.Context, id string) error {
	r.record("reboot " + id)
	return r.Driver.Reboot(ctx, id)
}

func (r *recorder) ForceOff(ctx context.Context, id string) error {
	r.record("force-off " + id)
	return r.Driver.ForceOff(ctx, id)
}

func (r *recorder) Stop(ctx context.Context, id string, timeout time.Duration) error {
	r.record("stop " + id)
	return r.Driver.Stop(ctx, id, timeout)
}

func (r *recorder) RestoreSnapshot(ctx context.Context, id, name string) error {
	r.record("revert " + id + " " + name)
	return r.Driver.RestoreSnapshot(ctx, id, name)
}

func quietLog() *slog.Logger { return slog.New(slog.DiscardHandler) }

func newReconciler(t *testing.T, d compute.Driver, stateDir string, e *imageEndpoint) *agent.Reconciler {
	t.Helper()
	cache := agent.NewCache(filepath.Join(stateDir, "images"), e.URL, e.Client(), testCredential)
	r, err := agent.NewReconciler(d, cache, stateDir, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// apply hands desired to r, waits for its workers and returns what the host
// then reports, by VM.
func apply(t *testing.T, r *agent.Reconciler, desired ...agentapi.DesiredVM) map[string]agentapi.ObservedVM {
	t.Helper()
	ctx := context.Background()
	r.Apply(ctx, desired)
	r.Wait()
	out := map[string]agentapi.ObservedVM{}
	for _, o := range r.Observe(ctx) {
		out[o.ID] = o
	}
	return out
}

func diskImage(e *imageEndpoint, id string) agentapi.Image {
	return agentapi.Image{ID: id, Kind: api.ImageKindDisk,
		Files: []agentapi.ImageFile{e.add(id, api.ImageFileDisk, []byte("qcow2 bytes of "+id))}}
}

func wantObserved(t *testing.T, step string, got agentapi.ObservedVM, state string, generation int64) {
	t.Helper()
	if got.State != state || got.Generation != generation {
		t.Fatalf("%s: observed %+v, want state %s at generation %d", step, got, state, generation)
	}
}

func TestReconcileLifecycle(t *testing.T) {
	e := newImageEndpoint(t, false)
	drv := &recorder{Driver: simulated.NewDriver()}
	state := t.TempDir()
	r := newReconciler(t, drv, state, e)
	ctx := context.Background()

	// A VM the control plane never named is left alone and not reported.
	other := compute.Spec{ID: "not-ours", VCPU: 1, MemoryMiB: 64, Image: compute.ImageRef{Kind: compute.ImageKernel, Kernel: "/k"}}
	if err := drv.Create(ctx, other); err != nil {
		t.Fatal(err)
	}

	d := agentapi.DesiredVM{ID: "vm-1", Generation: 1, Power: api.PowerRunning, Name: "web", Hostname: "web",
		VCPU: 1, MemoryMiB: 512, DiskGiB: 10, Image: diskImage(e, "img-debian"), Snapshots: []string{}}
	obs := apply(t, r, d)
	wantObserved(t, "create", obs["vm-1"], api.VMRunning, 1)
	if _, ok := obs["not-ours"]; ok || len(obs) != 1 {
		t.Fatalf("reported a VM the control plane never named: %+v", obs)
	}
	if o := obs["vm-1"]; o.VCPU != 1 || o.MemoryMiB != 512 || o.DiskGiB != 10 {
		t.Fatalf("size %+v", o)
	}
	if ids := (agent.NewCache(filepath.Join(state, "images"), "", nil, "")).IDs(); !slices.Equal(ids, []string{"img-debian"}) {
		t.Fatalf("cached images %v", ids)
	}

	d.Generation, d.Power = 2, api.PowerStopped
	wantObserved(t, "stop", apply(t, r, d)["vm-1"], api.VMStopped, 2)
	d.Generation, d.Power = 3, api.PowerRunning
	wantObserved(t, "start", apply(t, r, d)["vm-1"], api.VMRunning, 3)

	// A reboot happens once: not again at the next sync, nor after the
	// agent restarts (a new reconciler on the same state directory).
	d.Generation, d.RebootAt = 4, 4
	wantObserved(t, "reboot", apply(t, r, d)["vm-1"], api.VMRunning, 4)
	apply(t, r, d)
	r = newReconciler(t, drv, state, e)
	wantObserved(t, "after restart", apply(t, r, d)["vm-1"], api.VMRunning, 4)
	if n := drv.count("reboot vm-1"); n != 1 {
		t.Fatalf("rebooted %d times, want once", n)
	}

	// Resize needs a stopped VM: the reconciler stops it first.
	d.Generation, d.Power, d.VCPU, d.MemoryMiB, d.DiskGiB = 5, api.PowerStopped, 2, 1024, 20
	obs = apply(t, r, d)
	wantObserved(t, "resize", obs["vm-1"], api.VMStopped, 5)
	if o := obs["vm-1"]; o.VCPU != 2 || o.MemoryMiB != 1024 || o.DiskGiB != 20 {
		t.Fatalf("after resize: %+v", o)
	}

	d.Generation, d.Snapshots = 6, []string{"before-upgrade", "nightly"}
	obs = apply(t, r, d)
	if got := obs["vm-1"].Snapshots; !slices.Equal(got, d.Snapshots) {
		t.Fatalf("snapshots %v, want %v", got, d.Snapshots)
	}
	d.Generation, d.Snapshots, d.RevertTo, d.RevertAt = 7, []string{"before-upgrade"}, "before-upgrade", 7
	obs = apply(t, r, d)
	wantObserved(t, "revert", obs["vm-1"], api.VMStopped, 7)
	if got := obs["vm-1"].Snapshots; !slices.Equal(got, []string{"before-upgrade"}) {
		t.Fatalf("snapshots after delete %v", got)
	}
	apply(t, r, d)
	if n := drv.count("revert vm-1 before-upgrade"); n != 1 {
		t.Fatalf("reverted %d times, want once", n)
	}

	// A forced power-off does not ask the guest.
	d.Generation, d.Power = 8, api.PowerRunning
	wantObserved(t, "start again", apply(t, r, d)["vm-1"], api.VMRunning, 8)
	stops := drv.count("stop vm-1")
	d.Generation, d.Power, d.ForceOffAt = 9, api.PowerStopped, 9
	wantObserved(t, "force off", apply(t, r, d)["vm-1"], api.VMStopped, 9)
	if drv.count("force-off vm-1") != 1 || drv.count("stop vm-1") != stops {
		t.Fatalf("force off: calls %v", drv.calls)
	}

	d.Generation, d.Power = 10, "deleted"
	if obs := apply(t, r, d); len(obs) != 0 {
		t.Fatalf("deleted VM still reported: %+v", obs)
	}
	if _, err := drv.State(ctx, "vm-1"); err == nil {
		t.Fatal("the driver still has the deleted VM")
	}
	if _, err := os.Stat(filepath.Join(state, "vms", "vm-1.json")); !os.IsNotExist(err) {
		t.Fatalf("state file of the deleted VM: %v", err)
	}
	if _, err := drv.State(ctx, "not-ours"); err != nil {
		t.Fatalf("the VM the control plane never named was touched: %v", err)
	}
}

// noResize is a host whose driver cannot resize or snapshot.
type noResize struct{ compute.Driver }

func TestReconcileErrorsEndTheGenerationAndRetryOnTheNext(t *testing.T) {
	e := newImageEndpoint(t, false)
	r := newReconciler(t, noResize{simulated.NewDriver()}, t.TempDir(), e)
	d := agentapi.DesiredVM{ID: "vm-1", Generation: 1, Power: api.PowerStopped, VCPU: 1, MemoryMiB: 512,
		Image: diskImage(e, "img-1")}
	wantObserved(t, "create", apply(t, r, d)["vm-1"], api.VMStopped, 1)
	d.Generation, d.VCPU = 2, 4
	o := apply(t, r, d)["vm-1"]
	wantObserved(t, "resize", o, api.VMError, 2)
	if !strings.Contains(o.Message, "resize not supported") {
		t.Fatalf("message %q", o.Message)
	}
	// Put back: the next generation clears the error.
	d.Generation, d.VCPU = 3, 1
	wantObserved(t, "undo", apply(t, r, d)["vm-1"], api.VMStopped, 3)
}

func TestReconcileImageChecksumMismatch(t *testing.T) {
	e := newImageEndpoint(t, false)
	drv := simulated.NewDriver()
	r := newReconciler(t, drv, t.TempDir(), e)
	img := diskImage(e, "img-bad")
	e.add("img-bad", api.ImageFileDisk, []byte("QCOW2 BYTES OF IMG-BAD")) // same size, other bytes

	d := agentapi.DesiredVM{ID: "vm-1", Generation: 1, Power: api.PowerRunning, VCPU: 1, MemoryMiB: 512, Image: img}
	o := apply(t, r, d)["vm-1"]
	wantObserved(t, "create", o, api.VMError, 1)
	if !strings.Contains(o.Message, "checksum") {
		t.Fatalf("message %q", o.Message)
	}
	if vms, _ := drv.List(context.Background()); len(vms) != 0 {
		t.Fatalf("a VM was created from a bad image: %+v", vms)
	}
	// Failed at generation 1: not fetched again until the generation moves.
	apply(t, r, d)
	if n := e.count("img-bad", api.ImageFileDisk); n != 1 {
		t.Fatalf("fetched %d times at one generation", n)
	}
	d.Generation = 2
	apply(t, r, d)
	if n := e.count("img-bad", api.ImageFileDisk); n != 2 {
		t.Fatalf("fetched %d times after a new generation, want 2", n)
	}
}

func TestReconcileRefetchesACorruptedCacheFile(t *testing.T) {
	e := newImageEndpoint(t, false)
	state := t.TempDir()
	r := newReconciler(t, simulated.NewDriver(), state, e)
	img := diskImage(e, "img-1")

	// Four VMs of one image at once: it is fetched once.
	var desired []agentapi.DesiredVM
	for _, id := range []string{"a", "b", "c", "d"} {
		desired = append(desired, agentapi.DesiredVM{ID: id, Generation: 1, Power: api.PowerRunning, VCPU: 1, MemoryMiB: 64, Image: img})
	}
	obs := apply(t, r, desired...)
	for _, d := range desired {
		wantObserved(t, "create "+d.ID, obs[d.ID], api.VMRunning, 1)
	}
	if n := e.count("img-1", api.ImageFileDisk); n != 1 {
		t.Fatalf("fetched %d times for four VMs", n)
	}

	path := filepath.Join(state, "images", "img-1", api.ImageFileDisk)
	if err := os.WriteFile(path, []byte("bit rot"), 0o644); err != nil {
		t.Fatal(err)
	}
	d := agentapi.DesiredVM{ID: "e", Generation: 1, Power: api.PowerRunning, VCPU: 1, MemoryMiB: 64, Image: img}
	wantObserved(t, "create after corruption", apply(t, r, d)["e"], api.VMRunning, 1)
	if n := e.count("img-1", api.ImageFileDisk); n != 2 {
		t.Fatalf("fetched %d times, want a second fetch for the corrupted file", n)
	}
	if b, _ := os.ReadFile(path); string(b) != "qcow2 bytes of img-1" {
		t.Fatalf("cache holds %q", b)
	}
}

// TestReconcileQEMU runs the busybox test guest through the real QEMU driver.
func TestReconcileQEMU(t *testing.T) {
	kernel, initrd := testguest.Path(t)
	e := newImageEndpoint(t, false)
	var files []agentapi.ImageFile
	for name, path := range map[string]string{api.ImageFileKernel: kernel, api.ImageFileInitrd: initrd} {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, e.add("testguest", name, b))
	}
	root := t.TempDir()
	drv, err := qemu.New(qemu.Config{Root: filepath.Join(root, "vms-qemu"), Accel: "tcg"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { drv.Delete(context.Background(), "qemu-1"); drv.Close() })
	r := newReconciler(t, drv, root, e)

	d := agentapi.DesiredVM{ID: "qemu-1", Generation: 1, Power: api.PowerRunning, Name: "guest", Hostname: "guest-one",
		VCPU: 1, MemoryMiB: 256, StopTimeoutSeconds: 20,
		Image: agentapi.Image{ID: "testguest", Kind: api.ImageKindKernel, Cmdline: testguest.Cmdline, Files: files}}
	wantObserved(t, "create", apply(t, r, d)["qemu-1"], api.VMRunning, 1)
	waitConsole(t, drv, "qemu-1", testguest.ReadyPrefix+"hostname=guest-one ", 60*time.Second)

	d.Generation, d.Power = 2, "deleted"
	if obs := apply(t, r, d); len(obs) != 0 {
		t.Fatalf("deleted VM still reported: %+v", obs)
	}
	if _, err := os.Stat(filepath.Join(root, "vms-qemu", "qemu-1")); !os.IsNotExist(err) {
		t.Fatalf("the VM's directory is still there: %v", err)
	}
}

// waitConsole polls the VM's console log until it holds want.
func waitConsole(t *testing.T, con compute.Console, id, want string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var b []byte
	for time.Now().Before(deadline) {
		rc, err := con.ConsoleLog(context.Background(), id)
		if err == nil {
			b, _ = io.ReadAll(rc)
			rc.Close()
			if strings.Contains(string(b), want) {
				return
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("%q not on the console within %v; it holds:\n%s", want, timeout, b)
}
