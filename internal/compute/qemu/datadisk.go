package qemu

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/sirocco-cloud/sirocco/internal/compute"
)

var _ compute.DataDisks = (*Driver)(nil)

// diskExt ends a data disk's file name: <Disks>/<disk-id>.qcow2.
const diskExt = ".qcow2"

// diskPath is where data disk id lives.
func (d *Driver) diskPath(id string) string { return filepath.Join(d.cfg.Disks, id+diskExt) }

// EnsureDisk creates data disk id (a blank qcow2 of sizeGiB) if it is
// missing, and grows it when sizeGiB is above its size. The file is created
// under a temporary name and renamed, so that a disk interrupted half-made
// is never listed. A disk in use by a running VM is grown through that VM's
// monitor (QMP block_resize): qemu-img cannot write an image QEMU holds.
func (d *Driver) EnsureDisk(ctx context.Context, id string, sizeGiB int64) (compute.Disk, error) {
	if !compute.ValidID(id) || sizeGiB < 1 {
		return compute.Disk{}, fmt.Errorf("ensure disk %q of %d GiB: %w", id, sizeGiB, compute.ErrInvalidSpec)
	}
	d.diskMu.Lock()
	defer d.diskMu.Unlock()
	path := d.diskPath(id)
	disk := compute.Disk{ID: id, Path: path, SizeGiB: sizeGiB}
	cur, err := d.diskSize(ctx, id)
	if errors.Is(err, fs.ErrNotExist) {
		if err := d.createDisk(ctx, id, sizeGiB); err != nil {
			return compute.Disk{}, fmt.Errorf("create disk %s: %w", id, err)
		}
		d.diskSizes[id] = sizeGiB << 30
		return disk, nil
	}
	if err != nil {
		return compute.Disk{}, fmt.Errorf("disk %s: %w", id, err)
	}
	want := sizeGiB << 30
	if cur >= want {
		disk.SizeGiB = cur >> 30 // never shrinks: report what it is
		return disk, nil
	}
	if err := d.growDisk(ctx, id, want); err != nil {
		return compute.Disk{}, fmt.Errorf("grow disk %s to %d GiB: %w", id, sizeGiB, err)
	}
	d.diskSizes[id] = want
	return disk, nil
}

// diskSize is the virtual size of disk id in bytes, from the driver's
// memory or else from qemu-img; fs.ErrNotExist if it has no file. diskMu
// must be held.
func (d *Driver) diskSize(ctx context.Context, id string) (int64, error) {
	path := d.diskPath(id)
	if _, err := os.Stat(path); err != nil {
		delete(d.diskSizes, id)
		return 0, err
	}
	if n, ok := d.diskSizes[id]; ok {
		return n, nil
	}
	n, err := d.img.virtualSize(ctx, path)
	if err != nil {
		return 0, err
	}
	d.diskSizes[id] = n
	return n, nil
}

func (d *Driver) createDisk(ctx context.Context, id string, sizeGiB int64) (err error) {
	if err := os.MkdirAll(d.cfg.Disks, 0o755); err != nil {
		return err
	}
	tmp := filepath.Join(d.cfg.Disks, "."+id+diskExt+".tmp")
	os.Remove(tmp) // left by an interrupted attempt
	defer func() {
		if err != nil {
			os.Remove(tmp)
		}
	}()
	if err := d.img.createBlank(ctx, tmp, sizeGiB); err != nil {
		return err
	}
	// Only QEMU's user (and root) may read a tenant's data.
	if err := os.Chmod(tmp, 0o600); err != nil {
		return err
	}
	if err := d.giveToQEMU(tmp); err != nil {
		return err
	}
	return os.Rename(tmp, d.diskPath(id))
}

// growDisk grows disk id to want bytes: with qemu-img when no QEMU holds
// it, else through the monitor of the running VM it is attached to.
func (d *Driver) growDisk(ctx context.Context, id string, want int64) error {
	path := d.diskPath(id)
	vmID, drive, err := d.attachedTo(path)
	if err != nil {
		return err
	}
	if vmID != "" {
		v, err := d.lookup(vmID)
		if err != nil {
			return err
		}
		v.mu.Lock()
		defer v.mu.Unlock()
		if d.running(ctx, v) {
			if v.proc.qmp == nil {
				return fmt.Errorf("vm %s holds it and its monitor does not answer", vmID)
			}
			qctx, cancel := context.WithTimeout(ctx, qmpTimeout)
			defer cancel()
			return v.proc.qmp.Execute(qctx, "block_resize", map[string]any{"device": drive, "size": want}, nil)
		}
	}
	return d.img.grow(ctx, path, want>>30)
}

// attachedTo names the VM on this host whose spec attaches the data disk
// at path, and the disk's QEMU drive there; "" if none does.
func (d *Driver) attachedTo(path string) (vmID, drive string, err error) {
	entries, err := os.ReadDir(d.cfg.Root)
	if err != nil {
		return "", "", err
	}
	for _, e := range entries {
		if !e.IsDir() || !compute.ValidID(e.Name()) {
			continue
		}
		spec, err := readSpec(PathsFor(filepath.Join(d.cfg.Root, e.Name())).Spec)
		if errors.Is(err, fs.ErrNotExist) {
			continue // not a VM (yet)
		}
		if err != nil {
			return "", "", err
		}
		if i := slices.IndexFunc(spec.Disks, func(x compute.Disk) bool { return x.Path == path }); i >= 0 {
			return spec.ID, diskDrive(i), nil
		}
	}
	return "", "", nil
}

// DeleteDisk removes data disk id's file. It refuses while a VM on the host
// still attaches it (the control plane detaches a disk before deleting it,
// so the VM's next reconcile lets the deletion through).
func (d *Driver) DeleteDisk(ctx context.Context, id string) error {
	if !compute.ValidID(id) {
		return fmt.Errorf("delete disk %q: %w", id, compute.ErrInvalidSpec)
	}
	d.diskMu.Lock()
	defer d.diskMu.Unlock()
	path := d.diskPath(id)
	vmID, _, err := d.attachedTo(path)
	if err != nil {
		return fmt.Errorf("delete disk %s: %w", id, err)
	}
	if vmID != "" {
		return fmt.Errorf("delete disk %s: still attached to vm %s", id, vmID)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete disk %s: %w", id, err)
	}
	delete(d.diskSizes, id)
	return nil
}

// ListDisks returns the data disks the host has files for, with their
// sizes in whole GiB.
func (d *Driver) ListDisks(ctx context.Context) ([]compute.Disk, error) {
	d.diskMu.Lock()
	defer d.diskMu.Unlock()
	entries, err := os.ReadDir(d.cfg.Disks)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list disks: %w", err)
	}
	var out []compute.Disk
	for _, e := range entries {
		id, ok := strings.CutSuffix(e.Name(), diskExt)
		if !ok || !e.Type().IsRegular() || !compute.ValidID(id) {
			continue // temporary files among them
		}
		n, err := d.diskSize(ctx, id)
		if errors.Is(err, fs.ErrNotExist) {
			continue // deleted meanwhile
		}
		if err != nil {
			return nil, fmt.Errorf("list disks: %w", err)
		}
		out = append(out, compute.Disk{ID: id, Path: d.diskPath(id), SizeGiB: n >> 30})
	}
	return out, nil
}

// SetDisks replaces the data disks of a stopped VM; it starts with them.
func (d *Driver) SetDisks(ctx context.Context, id string, disks []compute.Disk) error {
	v, err := d.lookup(id)
	if err != nil {
		return fmt.Errorf("set disks: %w", err)
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if d.running(ctx, v) {
		return fmt.Errorf("set disks of vm %s: %w", id, compute.ErrRunning)
	}
	spec, err := readSpec(v.paths.Spec)
	if err != nil {
		return fmt.Errorf("set disks of vm %s: %w", id, err)
	}
	spec.Disks = slices.Clone(disks)
	if err := spec.Validate(); err != nil {
		return fmt.Errorf("set disks of vm %s: %w", id, err)
	}
	if err := writeSpec(v.paths.Spec, spec); err != nil {
		return fmt.Errorf("set disks of vm %s: %w", id, err)
	}
	return nil
}
