// Package simulated is a compute driver and a host fleet that exist only in
// memory, for scale benchmarks of the control plane: thousands of hosts and
// VMs in one process, speaking the real agent protocol. It is never the
// product's driver: no guest runs, nothing is isolated, nothing is billed
// for real.
package simulated

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sirocco-cloud/sirocco/internal/compute"
)

// Driver keeps VMs as entries in a map. Power changes take effect at once;
// the semantics (idempotent start and stop, reboot of a stopped VM refused,
// delete of a missing VM accepted) match the QEMU driver's.
type Driver struct {
	mu    sync.Mutex
	vms   map[string]*compute.VM
	snaps map[string][]string // per VM, in creation order
}

var (
	_ compute.Driver      = (*Driver)(nil)
	_ compute.Resizer     = (*Driver)(nil)
	_ compute.Snapshotter = (*Driver)(nil)
)

// NewDriver returns an empty simulated host.
func NewDriver() *Driver { return &Driver{vms: map[string]*compute.VM{}, snaps: map[string][]string{}} }

func (d *Driver) get(id string) (*compute.VM, error) {
	vm, ok := d.vms[id]
	if !ok {
		return nil, fmt.Errorf("simulated vm %s: %w", id, compute.ErrNotFound)
	}
	return vm, nil
}

// Create records a stopped VM.
func (d *Driver) Create(_ context.Context, spec compute.Spec) error {
	if err := spec.Validate(); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.vms[spec.ID]; ok {
		return fmt.Errorf("simulated vm %s: %w", spec.ID, compute.ErrExists)
	}
	d.vms[spec.ID] = &compute.VM{Spec: spec, State: compute.StateStopped}
	return nil
}

func (d *Driver) set(id string, from func(compute.State) error, to compute.State) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	vm, err := d.get(id)
	if err != nil {
		return err
	}
	if from != nil {
		if err := from(vm.State); err != nil {
			return err
		}
	}
	vm.State = to
	return nil
}

// Start marks the VM running.
func (d *Driver) Start(_ context.Context, id string) error {
	return d.set(id, nil, compute.StateRunning)
}

// Stop marks the VM stopped.
func (d *Driver) Stop(_ context.Context, id string, _ time.Duration) error {
	return d.set(id, nil, compute.StateStopped)
}

// ForceOff marks the VM stopped.
func (d *Driver) ForceOff(_ context.Context, id string) error {
	return d.set(id, nil, compute.StateStopped)
}

// Reboot keeps a running VM running and refuses a stopped one.
func (d *Driver) Reboot(_ context.Context, id string) error {
	return d.set(id, func(s compute.State) error {
		if s != compute.StateRunning {
			return fmt.Errorf("reboot simulated vm %s: %w", id, compute.ErrNotRunning)
		}
		return nil
	}, compute.StateRunning)
}

// Delete forgets the VM.
func (d *Driver) Delete(_ context.Context, id string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.vms, id)
	delete(d.snaps, id)
	return nil
}

// State reports the VM's state.
func (d *Driver) State(_ context.Context, id string) (compute.State, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	vm, err := d.get(id)
	if err != nil {
		return "", err
	}
	return vm.State, nil
}

// List returns the VMs by ID.
func (d *Driver) List(context.Context) ([]compute.VM, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]compute.VM, 0, len(d.vms))
	for _, vm := range d.vms {
		out = append(out, *vm)
	}
	slices.SortFunc(out, func(a, b compute.VM) int { return strings.Compare(a.Spec.ID, b.Spec.ID) })
	return out, nil
}

// stopped returns the VM if it is stopped, ErrRunning otherwise. d.mu must
// be held.
func (d *Driver) stopped(id string) (*compute.VM, error) {
	vm, err := d.get(id)
	if err != nil {
		return nil, err
	}
	if vm.State != compute.StateStopped {
		return nil, fmt.Errorf("simulated vm %s: %w", id, compute.ErrRunning)
	}
	return vm, nil
}

// Resize changes a stopped VM's size; as with QEMU, disks only grow.
func (d *Driver) Resize(_ context.Context, id string, vcpu int, memoryMiB, diskGiB int64) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	vm, err := d.stopped(id)
	if err != nil {
		return err
	}
	spec := vm.Spec
	spec.VCPU, spec.MemoryMiB = vcpu, memoryMiB
	if diskGiB > 0 {
		if diskGiB < spec.DiskGiB {
			return fmt.Errorf("resize simulated vm %s: %w: disks only grow", id, compute.ErrInvalidSpec)
		}
		spec.DiskGiB = diskGiB
	}
	if err := spec.Validate(); err != nil {
		return err
	}
	vm.Spec = spec
	return nil
}

// Snapshot records snapshot name of a stopped VM.
func (d *Driver) Snapshot(_ context.Context, id, name string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, err := d.stopped(id); err != nil {
		return err
	}
	if slices.Contains(d.snaps[id], name) {
		return fmt.Errorf("snapshot %s of simulated vm %s: %w", name, id, compute.ErrExists)
	}
	d.snaps[id] = append(d.snaps[id], name)
	return nil
}

// RestoreSnapshot checks that a stopped VM has snapshot name; there is no
// disk to restore.
func (d *Driver) RestoreSnapshot(_ context.Context, id, name string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, err := d.stopped(id); err != nil {
		return err
	}
	if !slices.Contains(d.snaps[id], name) {
		return fmt.Errorf("snapshot %s of simulated vm %s: %w", name, id, compute.ErrNotFound)
	}
	return nil
}

// DeleteSnapshot forgets snapshot name of a stopped VM.
func (d *Driver) DeleteSnapshot(_ context.Context, id, name string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, err := d.stopped(id); err != nil {
		return err
	}
	i := slices.Index(d.snaps[id], name)
	if i < 0 {
		return fmt.Errorf("snapshot %s of simulated vm %s: %w", name, id, compute.ErrNotFound)
	}
	d.snaps[id] = slices.Delete(d.snaps[id], i, i+1)
	return nil
}

// ListSnapshots names the VM's snapshots.
func (d *Driver) ListSnapshots(_ context.Context, id string) ([]string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, err := d.get(id); err != nil {
		return nil, err
	}
	return slices.Clone(d.snaps[id]), nil
}
