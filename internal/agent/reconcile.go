package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/api/agentapi"
	"github.com/sirocco-cloud/sirocco/internal/compute"
)

// powerDeleted is the desired power of a VM to delete (agentapi.DesiredVM).
const powerDeleted = "deleted"

// defaultStopTimeout bounds a graceful stop when the control plane gives none.
const defaultStopTimeout = 60 * time.Second

// Reconciler makes the host's VMs what the control plane wants them to be.
// It is level-triggered: every Apply compares each desired VM with what the
// driver has and does what is missing, so a step lost to an agent restart is
// simply done at the next sync. The one-shot actions (reboot, forced
// power-off, revert) are the exception: they apply when their generation is
// above the VM's applied generation, which is kept on disk so that they never
// repeat after a restart.
type Reconciler struct {
	driver compute.Driver
	cache  *Cache
	// net attaches VMs' NICs; nil on a host without tenant networking,
	// where VMs run without a NIC.
	net *Networking
	dir string // <state>/vms: one <id>.json per VM the control plane named
	log *slog.Logger

	changed chan struct{}
	wg      sync.WaitGroup

	mu       sync.Mutex
	vms      map[string]*vmState
	ignored  map[string]bool // VMs on the driver the control plane never named, logged once
	snapshot map[string][]string
	disks    diskState
}

// vmState is what the reconciler knows of one VM.
type vmState struct {
	applied
	busy     bool   // a worker owns the VM
	activity string // api.VM* state reported while busy, once the worker acts
	message  string
	gone     bool // deleted: stop reporting
}

// applied is a VM's state file: the generation the host finished applying
// and, if that failed, why.
type applied struct {
	Generation int64  `json:"generation"`
	Error      string `json:"error,omitempty"`
}

// NewReconciler returns a reconciler of driver's VMs, keeping its per-VM
// state in stateDir/vms and taking images from cache.
func NewReconciler(driver compute.Driver, cache *Cache, stateDir string, log *slog.Logger) (*Reconciler, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Reconciler{driver: driver, cache: cache, dir: filepath.Join(stateDir, "vms"), log: log,
		changed: make(chan struct{}, 1), vms: map[string]*vmState{}, ignored: map[string]bool{}, snapshot: map[string][]string{},
		disks: diskState{have: map[string]compute.Disk{}, ignored: map[string]bool{}}}
	if err := os.MkdirAll(r.dir, 0o700); err != nil {
		return nil, fmt.Errorf("reconciler: %w", err)
	}
	entries, err := os.ReadDir(r.dir)
	if err != nil {
		return nil, fmt.Errorf("reconciler: %w", err)
	}
	for _, e := range entries {
		id, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || !compute.ValidID(id) {
			continue
		}
		b, err := os.ReadFile(filepath.Join(r.dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("reconciler: %w", err)
		}
		v := &vmState{}
		if err := json.Unmarshal(b, &v.applied); err != nil {
			return nil, fmt.Errorf("reconciler: %s: %w", e.Name(), err)
		}
		r.vms[id] = v
	}
	return r, nil
}

// Changed receives a value when a worker has finished with a VM whose
// observed state changed, so that the sync loop reports it at once.
func (r *Reconciler) Changed() <-chan struct{} { return r.changed }

// Wait returns once no worker runs.
func (r *Reconciler) Wait() { r.wg.Wait() }

func (r *Reconciler) notify() {
	select {
	case r.changed <- struct{}{}:
	default:
	}
}

// Apply hands the desired VMs to workers, one per VM that is not already
// being worked on; a busy VM is checked again at the next Apply. Workers run
// under ctx, which should outlive one sync.
func (r *Reconciler) Apply(ctx context.Context, desired []agentapi.DesiredVM) {
	have := map[string]*compute.VM{}
	if list, err := r.driver.List(ctx); err != nil {
		r.log.Warn("list vms", "err", err)
		return // acting on a partial view could create a VM twice
	} else {
		for i := range list {
			have[list[i].Spec.ID] = &list[i]
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, d := range desired {
		if !compute.ValidID(d.ID) {
			r.log.Warn("desired vm with an invalid id", "vm", d.ID)
			continue
		}
		v := r.vms[d.ID]
		if v == nil {
			if d.Power == powerDeleted && have[d.ID] == nil {
				continue // never had it
			}
			v = &vmState{}
			r.vms[d.ID] = v
		}
		switch {
		case v.busy:
			continue
		case v.Error != "" && v.Generation >= d.Generation:
			continue // failed at this generation; retried when it changes
		case d.Power == powerDeleted && have[d.ID] == nil && v.gone:
			continue
		}
		v.busy, v.activity, v.message = true, "", ""
		r.wg.Add(1)
		go r.work(ctx, d, have[d.ID], v)
	}
	named := map[string]bool{}
	for _, d := range desired {
		named[d.ID] = true
	}
	for id, v := range r.vms {
		if v.gone && !v.busy && !named[id] {
			delete(r.vms, id)
		}
	}
}

// work brings one VM to d and records the outcome.
func (r *Reconciler) work(ctx context.Context, d agentapi.DesiredVM, have *compute.VM, v *vmState) {
	defer r.wg.Done()
	w := &worker{r: r, v: v, d: d, applied: v.Generation}
	err := w.run(ctx, have)
	if ctx.Err() != nil {
		// The agent is stopping: whatever was cut short is done again,
		// level-triggered, after the restart.
		r.mu.Lock()
		v.busy, v.activity = false, ""
		r.mu.Unlock()
		return
	}
	r.mu.Lock()
	before := v.applied
	v.busy, v.activity, v.message = false, "", ""
	if d.Power == powerDeleted && err == nil {
		v.gone, v.applied = true, applied{Generation: d.Generation}
		delete(r.snapshot, d.ID)
		r.mu.Unlock()
		if rerr := os.Remove(r.stateFile(d.ID)); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
			r.log.Warn("forget vm", "vm", d.ID, "err", rerr)
		}
		r.log.Info("vm deleted", "vm", d.ID)
		r.notify()
		return
	}
	v.applied = applied{Generation: d.Generation}
	if err != nil {
		v.Error = err.Error()
		r.log.Warn("reconcile vm", "vm", d.ID, "generation", d.Generation, "err", err)
	}
	now := v.applied
	r.mu.Unlock()
	if now != before {
		if err := r.save(d.ID, now); err != nil {
			r.log.Error("save vm state", "vm", d.ID, "err", err)
		}
	}
	if now != before || w.acted {
		r.notify()
	}
}

func (r *Reconciler) stateFile(id string) string { return filepath.Join(r.dir, id+".json") }

// save writes a VM's applied generation atomically: a one-shot action must
// not be forgotten half-written.
func (r *Reconciler) save(id string, a applied) error {
	b, err := json.Marshal(a)
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(r.dir, "."+id+".*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Rename(f.Name(), r.stateFile(id))
}

// worker is one pass over one VM.
type worker struct {
	r       *Reconciler
	v       *vmState
	d       agentapi.DesiredVM
	applied int64 // the generation applied before this pass
	acted   bool  // the pass changed something on the host
}

// due reports whether a one-shot action stamped at generation at is new.
func (w *worker) due(at int64) bool { return at > w.applied }

// doing reports the VM's state while a step runs.
func (w *worker) doing(state, message string) {
	w.acted = true
	w.r.mu.Lock()
	w.v.activity, w.v.message = state, message
	w.r.mu.Unlock()
	w.r.notify()
}

func (w *worker) run(ctx context.Context, have *compute.VM) error {
	d, drv := w.d, w.r.driver
	if d.Power == powerDeleted {
		if have != nil {
			w.doing(api.VMStopping, "deleting")
		}
		if err := drv.Delete(ctx, d.ID); err != nil {
			return err
		}
		if have != nil && w.r.net != nil {
			// QEMU is gone: its taps can go.
			var errs []error
			for _, nic := range have.Spec.NICs {
				errs = append(errs, w.r.net.Unplug(ctx, nic.Tap))
			}
			return errors.Join(errs...)
		}
		return nil
	}
	if have == nil {
		w.doing(api.VMCreating, "")
		spec, err := w.spec(ctx)
		if err != nil {
			return err
		}
		if spec.NICs, err = w.plug(ctx); err != nil {
			return err
		}
		if err := drv.Create(ctx, spec); err != nil {
			return err
		}
		have = &compute.VM{Spec: spec, State: compute.StateStopped}
	}
	state, err := drv.State(ctx, d.ID)
	if err != nil {
		return err
	}
	stopped := state == compute.StateStopped

	// Stop first: resizing and the snapshot steps need a stopped VM.
	if d.Power == api.PowerStopped && !stopped {
		if err := w.stop(ctx); err != nil {
			return err
		}
		stopped = true
	}
	if differs(have.Spec, d) {
		if stopped {
			if err := w.resize(ctx); err != nil {
				return err
			}
		} else {
			w.r.log.Info("resize waits for the vm to stop", "vm", d.ID)
		}
	}
	if err := w.attach(ctx, have.Spec, stopped); err != nil {
		return err
	}
	if err := w.snapshots(ctx, have.Spec, stopped); err != nil {
		return err
	}
	if d.Power == api.PowerRunning {
		switch {
		case state == compute.StateShutdown,
			state == compute.StateCrashed && w.due(d.Generation):
			// The guest powered off but QEMU has not exited, or it
			// crashed and the user has acted since: start it afresh.
			if err := drv.ForceOff(ctx, d.ID); err != nil {
				return err
			}
			stopped = true
		}
		if stopped {
			w.doing(api.VMStarting, "")
			if len(have.Spec.NICs) > 0 {
				// A persistent tap does not survive a host reboot, and
				// QEMU, unprivileged, cannot create it.
				if _, err := w.plug(ctx); err != nil {
					return err
				}
			}
			if err := drv.Start(ctx, d.ID); err != nil {
				return err
			}
		} else if state == compute.StateRunning && w.due(d.RebootAt) {
			w.doing(api.VMRunning, "rebooting")
			if err := drv.Reboot(ctx, d.ID); err != nil {
				return err
			}
		}
	}
	return nil
}

// plug attaches the VM's NICs on the host before QEMU opens their taps,
// returning them for the VM's spec; without tenant networking on the host
// the VM gets no NIC.
func (w *worker) plug(ctx context.Context) ([]compute.NIC, error) {
	if w.r.net == nil || len(w.d.NICs) == 0 {
		return nil, nil
	}
	return w.r.net.Plug(ctx, w.d)
}

func (w *worker) stop(ctx context.Context) error {
	d := w.d
	if w.due(d.ForceOffAt) {
		w.doing(api.VMStopping, "forcing off")
		return w.r.driver.ForceOff(ctx, d.ID)
	}
	timeout := time.Duration(d.StopTimeoutSeconds) * time.Second
	if timeout <= 0 {
		timeout = defaultStopTimeout
	}
	w.doing(api.VMStopping, "")
	return w.r.driver.Stop(ctx, d.ID, timeout)
}

func (w *worker) resize(ctx context.Context) error {
	rs, ok := w.r.driver.(compute.Resizer)
	if !ok {
		return errors.New("resize not supported on this host")
	}
	w.doing(api.VMStopped, "resizing")
	return rs.Resize(ctx, w.d.ID, w.d.VCPU, w.d.MemoryMiB, w.d.DiskGiB)
}

// snapshots creates the desired snapshots that are missing, reverts when
// asked, and deletes the ones no longer wanted. Creating and deleting wait
// for a stopped VM; a revert cannot wait (it is one-shot), so it fails on a
// running VM.
func (w *worker) snapshots(ctx context.Context, spec compute.Spec, stopped bool) error {
	d := w.d
	revert := d.RevertTo != "" && w.due(d.RevertAt)
	sn, ok := w.r.driver.(compute.Snapshotter)
	if !ok || !hasDisk(spec) {
		if len(d.Snapshots) > 0 || revert {
			return errors.New("snapshots not supported for this VM on this host")
		}
		return nil
	}
	// Snapshots change only through workers, which keep the list: the
	// driver is asked (qemu-img, on a disk) only when it is not known.
	have, known := w.r.snapshots(d.ID)
	if !known {
		var err error
		if have, err = sn.ListSnapshots(ctx, d.ID); err != nil {
			return err
		}
		w.r.setSnapshots(d.ID, have)
	}
	var create, remove []string
	for _, s := range d.Snapshots {
		if !slices.Contains(have, s) {
			create = append(create, s)
		}
	}
	for _, s := range have {
		if !slices.Contains(d.Snapshots, s) {
			remove = append(remove, s)
		}
	}
	if !stopped {
		if revert {
			return fmt.Errorf("revert to snapshot %s: %w", d.RevertTo, compute.ErrRunning)
		}
		return nil // left for when the VM is stopped
	}
	if len(create) == 0 && len(remove) == 0 && !revert {
		return nil
	}
	defer func() {
		if now, err := sn.ListSnapshots(ctx, d.ID); err == nil {
			w.r.setSnapshots(d.ID, now)
		} else {
			w.r.forgetSnapshots(d.ID)
		}
	}()
	for _, s := range create {
		w.doing(api.VMStopped, "taking snapshot "+s)
		if err := sn.Snapshot(ctx, d.ID, s); err != nil {
			return err
		}
	}
	if revert {
		w.doing(api.VMStopped, "reverting to snapshot "+d.RevertTo)
		if err := sn.RestoreSnapshot(ctx, d.ID, d.RevertTo); err != nil {
			return err
		}
	}
	for _, s := range remove {
		w.doing(api.VMStopped, "deleting snapshot "+s)
		if err := sn.DeleteSnapshot(ctx, d.ID, s); err != nil {
			return err
		}
	}
	return nil
}

func (r *Reconciler) snapshots(id string) ([]string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	names, ok := r.snapshot[id]
	return slices.Clone(names), ok
}

func (r *Reconciler) forgetSnapshots(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.snapshot, id)
}

func (r *Reconciler) setSnapshots(id string, names []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.snapshot[id] = slices.Clone(names)
}

// differs reports whether the VM's size is not the desired one.
func differs(s compute.Spec, d agentapi.DesiredVM) bool {
	return s.VCPU != d.VCPU || s.MemoryMiB != d.MemoryMiB || d.DiskGiB > 0 && s.DiskGiB != d.DiskGiB
}

// spec builds the driver's spec, with the image from the verified cache.
func (w *worker) spec(ctx context.Context) (compute.Spec, error) {
	d := w.d
	if w.r.cache == nil {
		return compute.Spec{}, errors.New("no image cache")
	}
	ref, err := w.r.cache.Ref(ctx, d.Image)
	if err != nil {
		return compute.Spec{}, err
	}
	disks, err := w.r.dataDisks(d.Disks)
	if err != nil {
		return compute.Spec{}, err
	}
	return compute.Spec{ID: d.ID, Name: d.Name, Hostname: d.Hostname, VCPU: d.VCPU, MemoryMiB: d.MemoryMiB,
		DiskGiB: d.DiskGiB, Image: ref, SSHKeys: d.SSHKeys, UserData: d.UserData, Disks: disks}, nil
}

// Observe reports the VMs the control plane has named, as the host sees
// them now. VMs of the driver it never named are left out (and logged once).
func (r *Reconciler) Observe(ctx context.Context) []agentapi.ObservedVM {
	list, err := r.driver.List(ctx)
	if err != nil {
		r.log.Warn("list vms", "err", err)
	}
	have := map[string]*compute.VM{}
	for i := range list {
		have[list[i].Spec.ID] = &list[i]
	}
	var needSnaps []string
	r.mu.Lock()
	for id, vm := range have {
		if r.vms[id] == nil && !r.ignored[id] {
			r.ignored[id] = true
			r.log.Info("vm not known to the control plane; leaving it alone", "vm", id)
		}
		if _, ok := r.snapshot[id]; !ok && r.vms[id] != nil && hasDisk(vm.Spec) {
			needSnaps = append(needSnaps, id)
		}
	}
	r.mu.Unlock()
	// Snapshots change only through workers, which refresh the list; it is
	// read from the driver once per VM, not at every report.
	if sn, ok := r.driver.(compute.Snapshotter); ok {
		for _, id := range needSnaps {
			if names, err := sn.ListSnapshots(ctx, id); err == nil {
				r.setSnapshots(id, names)
			}
		}
	}

	r.mu.Lock()
	defer r.mu.Unlock()
	out := []agentapi.ObservedVM{}
	for id, v := range r.vms {
		vm := have[id]
		o := agentapi.ObservedVM{ID: id, Generation: v.Generation, Snapshots: []string{}}
		if snaps := r.snapshot[id]; snaps != nil {
			o.Snapshots = slices.Clone(snaps)
		}
		if vm != nil {
			o.VCPU, o.MemoryMiB, o.DiskGiB = vm.Spec.VCPU, vm.Spec.MemoryMiB, vm.Spec.DiskGiB
		}
		switch {
		case v.busy && v.activity != "":
			o.State, o.Message = v.activity, v.message
		case v.Error != "":
			o.State, o.Message = api.VMError, v.Error
		case vm == nil:
			continue // the host does not have it (yet, or any more)
		default:
			o.State, o.Message = observedState(vm.State)
		}
		out = append(out, o)
	}
	slices.SortFunc(out, func(a, b agentapi.ObservedVM) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// observedState maps a driver state to a reported one.
func observedState(s compute.State) (state, message string) {
	switch s {
	case compute.StateRunning:
		return api.VMRunning, ""
	case compute.StateStopped, compute.StateShutdown:
		return api.VMStopped, ""
	case compute.StateCrashed:
		return api.VMError, "the guest crashed"
	case compute.StatePaused:
		// Only transient on Sirocco hosts (QEMU starting, migrating): the
		// process holds its resources as a running VM does.
		return api.VMRunning, "paused"
	default:
		return api.VMUnknown, "the VM's monitor does not answer"
	}
}

func hasDisk(s compute.Spec) bool { return s.Image.Disk != "" || s.DiskGiB > 0 }
