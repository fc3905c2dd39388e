// Package compute defines what the agent asks of a hypervisor: the VM spec it
// hands over, the power states it reads back, a small required Driver
// interface, and optional capabilities (Resizer, Snapshotter, Console) that a
// driver may also implement. Callers find capabilities by type assertion and
// fall back as documented on each one. The QEMU implementation lives in
// compute/qemu.
package compute

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
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
	// MAC and Tap are legacy: the single NIC of specs persisted by agents
	// older than NICs. Decoding moves them into NICs (see UnmarshalJSON);
	// nothing else reads or sets them.
	MAC string `json:"mac,omitempty"`
	Tap string `json:"tap,omitempty"`
	// NICs are the VM's interfaces in order; the first is the primary (the
	// guest's eth0, which alone gets the default route). None: no network.
	NICs []NIC `json:"nics,omitempty"`
	// Disks are data disks, attached after the root disk in this order.
	Disks []Disk `json:"disks,omitempty"`
}

// UnmarshalJSON decodes a spec, turning the legacy single MAC/Tap of an
// older agent's spec.json into one NIC, so that VMs created before several
// NICs existed still load, start and are adopted.
func (s *Spec) UnmarshalJSON(b []byte) error {
	type plain Spec // without this method
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	if len(p.NICs) == 0 && (p.MAC != "" || p.Tap != "") {
		p.NICs = []NIC{{MAC: p.MAC, Tap: p.Tap}}
	}
	p.MAC, p.Tap = "", ""
	*s = Spec(p)
	return nil
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
	if err := validNICs(s.NICs); err != nil {
		return err
	}
	return validDisks(s.Disks)
}

// MaxNICs is the most interfaces a VM has (the API allows as many networks).
const MaxNICs = 8

// validNICs checks that every NIC has an Ethernet MAC and a tap name the
// kernel accepts, and that no two share either: QEMU would fail to open a
// tap twice, and the guest matches its interfaces by MAC.
func validNICs(nics []NIC) error {
	if len(nics) > MaxNICs {
		return fmt.Errorf("%w: %d NICs, at most %d", ErrInvalidSpec, len(nics), MaxNICs)
	}
	macs, taps := map[string]bool{}, map[string]bool{}
	for i, n := range nics {
		mac, err := net.ParseMAC(n.MAC)
		if err != nil || len(mac) != 6 {
			return fmt.Errorf("%w: nic %d: mac %q is not an Ethernet address", ErrInvalidSpec, i, n.MAC)
		}
		if !ValidTap(n.Tap) {
			return fmt.Errorf("%w: nic %d: tap %q must be 1-15 characters of [a-zA-Z0-9_-]", ErrInvalidSpec, i, n.Tap)
		}
		if macs[mac.String()] {
			return fmt.Errorf("%w: nic %d: mac %s used twice", ErrInvalidSpec, i, mac)
		}
		if taps[n.Tap] {
			return fmt.Errorf("%w: nic %d: tap %s used twice", ErrInvalidSpec, i, n.Tap)
		}
		macs[mac.String()], taps[n.Tap] = true, true
	}
	return nil
}

// ValidTap reports whether name can be a tap device: the kernel's limit is
// 15 bytes (IFNAMSIZ less its NUL), and the character set keeps it safe in
// QEMU options.
func ValidTap(name string) bool { return len(name) <= 15 && ValidID(name) }

// validDisks checks data disks: a safe ID, an absolute path, a size, and
// no disk attached twice.
func validDisks(disks []Disk) error {
	ids, paths := map[string]bool{}, map[string]bool{}
	for i, d := range disks {
		switch {
		case !ValidID(d.ID):
			return fmt.Errorf("%w: disk %d: id %q must be 1-64 characters of [a-zA-Z0-9_-]", ErrInvalidSpec, i, d.ID)
		case !filepath.IsAbs(d.Path):
			return fmt.Errorf("%w: disk %s: path %q is not absolute", ErrInvalidSpec, d.ID, d.Path)
		case d.SizeGiB < 1:
			return fmt.Errorf("%w: disk %s: size must be >= 1 GiB", ErrInvalidSpec, d.ID)
		case ids[d.ID] || paths[d.Path]:
			return fmt.Errorf("%w: disk %s attached twice", ErrInvalidSpec, d.ID)
		}
		ids[d.ID], paths[d.Path] = true, true
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

// DataDisks keeps the host's data disks: files that live apart from any VM,
// so that deleting a VM never deletes a disk, and that VMs name in
// Spec.Disks. Without it, the host has no data disks: it reports none, and a
// VM that names one fails.
type DataDisks interface {
	// EnsureDisk creates data disk id of sizeGiB if it is missing and grows
	// it if it is smaller; it never shrinks one. It returns the disk as it
	// now is.
	EnsureDisk(ctx context.Context, id string, sizeGiB int64) (Disk, error)
	// DeleteDisk removes the disk's file; a missing one is not an error.
	DeleteDisk(ctx context.Context, id string) error
	// ListDisks returns every data disk the host has a file for.
	ListDisks(ctx context.Context) ([]Disk, error)
	// SetDisks replaces the data disks attached to a stopped VM (ErrRunning
	// if it runs): it starts with them. Attaching to a running VM is not
	// offered: the guest would see a disk appear under it.
	SetDisks(ctx context.Context, id string, disks []Disk) error
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
