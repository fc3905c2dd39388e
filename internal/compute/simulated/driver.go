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
	mu  sync.Mutex
	vms map[string]*compute.VM
}

var _ compute.Driver = (*Driver)(nil)

// NewDriver returns an empty simulated host.
func NewDriver() *Driver { return &Driver{vms: map[string]*compute.VM{}} }

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
