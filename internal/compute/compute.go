// Package compute defines what the agent asks of a hypervisor: the VM spec it
// hands over, the power states it reads back, a small required Driver
// interface, and optional capabilities (Resizer, Snapshotter, Console) that a
// driver may also implement. Callers find capabilities by type assertion and
// fall back as documented on each one. The QEMU implementation lives in
// compute/qemu.
package compute

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"
)

// Image kinds.
const (
	// ImageDisk boots from a disk image (qcow2) through the firmware.
	ImageDisk = "disk"
	// ImageKernel boots a kernel and initrd directly; a root disk may still
	// be attached from Disk.
	ImageKernel = "kernel"
)

// ImageRef names what a VM boots. Paths point into the host's image cache:
// trusted, already-validated files, never paths a user chose.
type ImageRef struct {
	Kind    string `json:"kind"`              // ImageDisk or ImageKernel
	Disk    string `json:"disk,omitempty"`    // qcow2 base of the root disk (required for ImageDisk)
	Kernel  string `json:"kernel,omitempty"`  // ImageKernel only
	Initrd  string `json:"initrd,omitempty"`  // ImageKernel only, optional
	Cmdline string `json:"cmdline,omitempty"` // ImageKernel only, optional
}

// Spec is everything a driver needs to create a VM.
type Spec struct {
	ID        string   `json:"id"`       // stable, unique on the host; used in paths
	Name      string   `json:"name"`     // human name, shown in QEMU's -name
	Hostname  string   `json:"hostname"` // given to the guest by cloud-init
	VCPU      int      `json:"vcpu"`
	MemoryMiB int64    `json:"memory_mib"`
	DiskGiB   int64    `json:"disk_gib"` // root disk size; 0 keeps the base image's size
	Image     ImageRef `json:"image"`
	SSHKeys   []string `json:"ssh_keys,omitempty"`
	UserData  string   `json:"user_data,omitempty"`
	// MAC of the first NIC; empty means no NIC (networking is wired later).
	MAC string `json:"mac,omitempty"`
	// Tap is the host tap device of the first NIC, if any.
	Tap string `json:"tap,omitempty"`
	// NICs are the VM's interfaces in order; the first is the primary.
	NICs []NIC `json:"nics,omitempty"`
	// Disks are data disks, attached after the root disk in this order.
	Disks []Disk `json:"disks,omitempty"`
}

// NIC is one network interface of a VM: a virtio-net device on a host tap.
type NIC struct {
	MAC string `json:"mac"`
	Tap string `json:"tap"`
}

// Disk is a data disk: a qcow2 file the host keeps outside the VM's
// directory, so that it outlives the VM it is attached to.
type Disk struct {
	ID      string `json:"id"`
	Path    string `json:"path"`
	SizeGiB int64  `json:"size_gib"`
}

// Validate reports the first problem with s.
func (s Spec) Validate() error {
	switch {
	case !ValidID(s.ID):
		return fmt.Errorf("%w: id %q must be 1-64 characters of [a-zA-Z0-9_-]", ErrInvalidSpec, s.ID)
	case s.VCPU < 1:
		return fmt.Errorf("%w: vcpu must be >= 1", ErrInvalidSpec)
	case s.MemoryMiB < 16:
		return fmt.Errorf("%w: memory must be >= 16 MiB", ErrInvalidSpec)
	case s.DiskGiB < 0:
		return fmt.Errorf("%w: disk size must be >= 0", ErrInvalidSpec)
	}
	switch s.Image.Kind {
	case ImageDisk:
		if s.Image.Disk == "" {
			return fmt.Errorf("%w: disk image needs a disk", ErrInvalidSpec)
		}
	case ImageKernel:
		if s.Image.Kernel == "" {
			return fmt.Errorf("%w: kernel image needs a kernel", ErrInvalidSpec)
		}
	default:
		return fmt.Errorf("%w: image kind %q", ErrInvalidSpec, s.Image.Kind)
	}
	return nil
}

// ValidID reports whether id can name a VM: 1-64 characters of
// [a-zA-Z0-9_-], so that it is safe in paths and QEMU options.
func ValidID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, c := range id {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_'
		if !ok {
			return false
		}
	}
	return true
}

// State is a VM's power state as the driver observes it.
type State string

// Power states.
const (
	StateRunning  State = "running"  // the guest executes
	StatePaused   State = "paused"   // the process lives but the guest is stopped
	StateStopped  State = "stopped"  // created, no process
	StateShutdown State = "shutdown" // the guest powered off; the process has not exited yet
	StateCrashed  State = "crashed"  // the guest panicked or QEMU reported an internal error
	StateUnknown  State = "unknown"  // the process lives but does not answer
)

// Errors shared by drivers. Match with errors.Is.
var (
	ErrNotFound    = errors.New("vm not found")
	ErrExists      = errors.New("vm already exists")
	ErrInvalidSpec = errors.New("invalid vm spec")
	ErrRunning     = errors.New("vm is running")
	ErrNotRunning  = errors.New("vm is not running")
)

// Driver is what every hypervisor driver implements. Methods are safe for
// concurrent use on different VMs; calls on the same VM are serialised by the
// caller (the agent's reconciler owns one VM at a time).
type Driver interface {
	// Create prepares everything a VM needs on the host (disk, seed, spec)
	// without starting it. It fails with ErrExists if id is taken.
	Create(ctx context.Context, spec Spec) error
	// Start launches the VM and returns when its monitor answers. The VM
	// outlives the caller's process.
	Start(ctx context.Context, id string) error
	// Stop asks the guest to power off (ACPI) and waits up to timeout; past
	// it the VM is forced off. It returns nil once the VM is stopped.
	Stop(ctx context.Context, id string, timeout time.Duration) error
	// ForceOff stops the VM at once, like pulling the plug.
	ForceOff(ctx context.Context, id string) error
	// Reboot resets the VM (a hard reset; the guest is not asked first).
	Reboot(ctx context.Context, id string) error
	// Delete forces the VM off and removes every file it had on the host.
	// Deleting a VM that does not exist is not an error.
	Delete(ctx context.Context, id string) error
	// State reports the VM's power state; ErrNotFound if it does not exist.
	State(ctx context.Context, id string) (State, error)
	// List returns the VMs this host has, running or not, adopting running
	// ones left by an earlier driver instance (an agent restart) without
	// disturbing them.
	List(ctx context.Context) ([]VM, error)
}

// VM is one entry of Driver.List.
type VM struct {
	Spec  Spec
	State State
}

// Resizer changes a stopped VM's size. Without it, a resize needs a new VM.
type Resizer interface {
	// Resize sets vCPU and memory and grows the root disk to diskGiB (0
	// keeps it). It fails with ErrRunning if the VM runs. Disks only grow.
	Resize(ctx context.Context, id string, vcpu int, memoryMiB, diskGiB int64) error
}

// Snapshotter keeps point-in-time copies of a stopped VM's root disk.
// Without it, snapshots are not offered on the host.
type Snapshotter interface {
	Snapshot(ctx context.Context, id, name string) error
	RestoreSnapshot(ctx context.Context, id, name string) error
	DeleteSnapshot(ctx context.Context, id, name string) error
	ListSnapshots(ctx context.Context, id string) ([]string, error)
}

// Console gives access to a VM's serial console. Without it, no console is
// shown.
type Console interface {
	// ConsoleLog returns everything the guest wrote to its serial port
	// since the VM was created.
	ConsoleLog(ctx context.Context, id string) (io.ReadCloser, error)
	// AttachConsole connects to the live serial port (both directions).
	AttachConsole(ctx context.Context, id string) (io.ReadWriteCloser, error)
}
