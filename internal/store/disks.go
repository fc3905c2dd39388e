package store

import (
	"context"
	"errors"
	"fmt"
)

// Disk states (api.Disk* has the same values; store does not import api).
const (
	DiskAvailable = "available" // attached to no VM
	DiskAttached  = "attached"
	DiskDeleting  = "deleting" // its host removes the file, then the row goes
)

// Disk is a stored data disk: a block volume of a VDC attached to at most
// one VM. HostID is the host that holds its file, "" until it is first
// attached (no file exists before); from then on it attaches only to VMs
// of that host.
type Disk struct {
	Meta
	OrgID    string
	VDCID    string
	Name     string
	SizeGiB  int64
	State    string
	HostID   string
	VMID     string
	Position int // order among the VM's disks

	// Filled in on read.
	VDCName  string
	RegionID string
	VMName   string
}

// DiskFilter narrows ListDisks; empty fields match every disk.
type DiskFilter struct {
	OrgID string
	VDCID string
	VMID  string
}

const diskCols = `t.id, t.org_id, t.vdc_id, t.name, t.size_gib, t.state, COALESCE(t.host_id, ''), COALESCE(t.vm_id, ''), t.position,
	t.version, t.created_at, t.updated_at, d.name, z.region_id, COALESCE(v.name, '')`

const diskFrom = ` FROM disks t JOIN vdcs d ON d.id = t.vdc_id JOIN zones z ON z.id = d.zone_id LEFT JOIN vms v ON v.id = t.vm_id`

func scanDisk(sc interface{ Scan(...any) error }) (Disk, error) {
	var k Disk
	var created, updated Time
	err := sc.Scan(&k.ID, &k.OrgID, &k.VDCID, &k.Name, &k.SizeGiB, &k.State, &k.HostID, &k.VMID, &k.Position,
		&k.Version, &created, &updated, &k.VDCName, &k.RegionID, &k.VMName)
	k.CreatedAt, k.UpdatedAt = created.Time, updated.Time
	if k.State == DiskAttached && k.VMID == "" {
		k.State = DiskAvailable // its VM's row went (ON DELETE SET NULL)
	}
	return k, mapErr(err)
}

// nullIf stores "" as NULL, for the optional references.
func nullIf(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// conflictIfNone turns expectOne's ErrNotFound into ErrConflict, for the
// updates whose conditions guard a state change.
func conflictIfNone(err error) error {
	if errors.Is(err, ErrNotFound) {
		return ErrConflict
	}
	return err
}

// CreateDisk stores a new disk, available and bound to no host.
// ErrConflict if the organisation has a live disk of that name or the VDC
// does not exist.
func (tx *Tx) CreateDisk(ctx context.Context, k *Disk) error {
	k.created(tx.Now())
	k.State, k.HostID, k.VMID, k.Position = DiskAvailable, "", "", 0
	_, err := tx.exec(ctx, `INSERT INTO disks (id, org_id, vdc_id, name, size_gib, state, host_id, vm_id, position, version, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, NULL, NULL, 0, $7, $8, $9)`,
		k.ID, k.OrgID, k.VDCID, k.Name, k.SizeGiB, k.State, k.Version, ts(k.CreatedAt), ts(k.UpdatedAt))
	if err != nil {
		return fmt.Errorf("create disk %s: %w", k.Name, err)
	}
	return tx.setLabels(ctx, "disk", k.ID, k.Labels)
}

// GetDisk reads a disk of organisation orgID by ID, or by name among its
// live (not deleting) disks; one of another organisation is ErrNotFound.
func (tx *Tx) GetDisk(ctx context.Context, orgID, idOrName string) (*Disk, error) {
	if IsID(idOrName) {
		return tx.getDisk(ctx, idOrName, ` WHERE t.org_id = $1 AND t.id = $2`, orgID, idOrName)
	}
	return tx.getDisk(ctx, idOrName, ` WHERE t.org_id = $1 AND t.name = $2 AND t.state <> $3`, orgID, idOrName, DiskDeleting)
}

// GetDiskByID reads a disk by ID whatever its organisation.
func (tx *Tx) GetDiskByID(ctx context.Context, id string) (*Disk, error) {
	return tx.getDisk(ctx, id, ` WHERE t.id = $1`, id)
}

func (tx *Tx) getDisk(ctx context.Context, what, cond string, args ...any) (*Disk, error) {
	k, err := scanDisk(tx.queryRow(ctx, `SELECT `+diskCols+diskFrom+cond, args...))
	if err != nil {
		return nil, fmt.Errorf("disk %s: %w", what, err)
	}
	return &k, tx.loadLabels(ctx, "disk", []string{k.ID}, func(_ string, l map[string]string) { k.Labels = l })
}

// ListDisks lists disks by ID (creation order), deleting ones included.
func (tx *Tx) ListDisks(ctx context.Context, f DiskFilter, p Page) ([]Disk, string, error) {
	var w where
	if f.OrgID != "" {
		w.add("t.org_id = ?", f.OrgID)
	}
	if f.VDCID != "" {
		w.add("t.vdc_id = ?", f.VDCID)
	}
	if f.VMID != "" {
		w.add("t.vm_id = ?", f.VMID)
	}
	tail, err := w.page("disk", p)
	if err != nil {
		return nil, "", err
	}
	rows, err := tx.query(ctx, `SELECT `+diskCols+diskFrom+w.String()+tail, w.args...)
	if err != nil {
		return nil, "", fmt.Errorf("list disks: %w", err)
	}
	out, err := collect(rows, scanDisk)
	if err != nil {
		return nil, "", err
	}
	out, next := trimPage(out, p, func(k Disk) string { return k.ID })
	return out, next, attachLabels(ctx, tx, "disk", out, func(k *Disk) *Meta { return &k.Meta })
}

// UpdateDisk writes a disk's labels and size and bumps its version. The
// size only grows: a smaller one is ErrConflict (a file is never shrunk
// under a guest's file system).
func (tx *Tx) UpdateDisk(ctx context.Context, k *Disk) error {
	var size int64
	if err := tx.queryRow(ctx, `SELECT size_gib FROM disks WHERE id = $1`, k.ID).Scan(&size); err != nil {
		return fmt.Errorf("update disk %s: %w", k.ID, mapErr(err))
	}
	if k.SizeGiB < size {
		return fmt.Errorf("update disk %s: size %d GiB below %d GiB: %w", k.ID, k.SizeGiB, size, ErrConflict)
	}
	k.updated(tx.Now())
	err := expectOne(tx.exec(ctx, `UPDATE disks SET size_gib = $2, version = $3, updated_at = $4 WHERE id = $1`,
		k.ID, k.SizeGiB, k.Version, ts(k.UpdatedAt)))
	if err != nil {
		return fmt.Errorf("update disk %s: %w", k.ID, err)
	}
	return tx.setLabels(ctx, "disk", k.ID, k.Labels)
}

// AttachDisk attaches disk k to VM vm after the VM's other disks and binds
// it to the VM's host if it was bound to none. ErrConflict if it is
// attached (to any VM), deleting, or bound to another host: the file lives
// on one host and never moves.
func (tx *Tx) AttachDisk(ctx context.Context, k *Disk, vm *VM) error {
	var pos int
	if err := tx.queryRow(ctx, `SELECT COALESCE(MAX(position), -1) + 1 FROM disks WHERE vm_id = $1`, vm.ID).Scan(&pos); err != nil {
		return fmt.Errorf("attach disk %s: %w", k.ID, mapErr(err))
	}
	now := tx.Now()
	// The conditions make a concurrent attach or delete lose rather than
	// overwrite: no row changes, and the caller gets ErrConflict.
	res, err := tx.exec(ctx, `UPDATE disks SET vm_id = $2, host_id = $3, position = $4, state = $5, version = version + 1, updated_at = $6
		WHERE id = $1 AND vm_id IS NULL AND state <> $7 AND (host_id IS NULL OR host_id = $3)`,
		k.ID, vm.ID, vm.HostID, pos, DiskAttached, ts(now), DiskDeleting)
	if err != nil {
		return fmt.Errorf("attach disk %s: %w", k.ID, err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return fmt.Errorf("attach disk %s to vm %s: attached, deleting or bound to another host: %w", k.ID, vm.ID, ErrConflict)
	}
	k.VMID, k.HostID, k.Position, k.State, k.VMName = vm.ID, vm.HostID, pos, DiskAttached, vm.Name
	k.Version++
	k.UpdatedAt = now
	return nil
}

// DetachDisk takes disk k off its VM; it stays bound to its host.
func (tx *Tx) DetachDisk(ctx context.Context, k *Disk) error {
	k.updated(tx.Now())
	err := expectOne(tx.exec(ctx, `UPDATE disks SET vm_id = NULL, position = 0, state = $2, version = $3, updated_at = $4 WHERE id = $1 AND state <> $5`,
		k.ID, DiskAvailable, k.Version, ts(k.UpdatedAt), DiskDeleting))
	if err != nil {
		return fmt.Errorf("detach disk %s: %w", k.ID, conflictIfNone(err))
	}
	k.VMID, k.VMName, k.Position, k.State = "", "", 0, DiskAvailable
	return nil
}

// DetachVMDisks takes every disk off VM vmID (the VM is going; its disks
// stay) and returns them as they were.
func (tx *Tx) DetachVMDisks(ctx context.Context, vmID string) ([]Disk, error) {
	disks, _, err := tx.ListDisks(ctx, DiskFilter{VMID: vmID}, Page{Limit: MaxLimit})
	if err != nil {
		return nil, err
	}
	for i := range disks {
		k := disks[i]
		if err := tx.DetachDisk(ctx, &k); err != nil {
			return nil, err
		}
	}
	return disks, nil
}

// MarkDiskDeleting puts a detached disk in state deleting: its name is
// free at once, its host removes the file, then RemoveDisk drops the row.
// ErrConflict while it is attached.
func (tx *Tx) MarkDiskDeleting(ctx context.Context, k *Disk) error {
	k.updated(tx.Now())
	err := expectOne(tx.exec(ctx, `UPDATE disks SET state = $2, version = $3, updated_at = $4 WHERE id = $1 AND vm_id IS NULL`,
		k.ID, DiskDeleting, k.Version, ts(k.UpdatedAt)))
	if err != nil {
		return fmt.Errorf("delete disk %s: %w", k.ID, conflictIfNone(err))
	}
	k.State = DiskDeleting
	return nil
}

// RemoveDisk drops a disk's row and labels.
func (tx *Tx) RemoveDisk(ctx context.Context, id string) error {
	if err := expectOne(tx.exec(ctx, `DELETE FROM disks WHERE id = $1`, id)); err != nil {
		return fmt.Errorf("remove disk %s: %w", id, err)
	}
	return tx.deleteLabels(ctx, "disk", id)
}

// HostDisks lists every disk bound to a host, deleting ones included, by
// VM then position (unattached first), for the agent sync.
func (tx *Tx) HostDisks(ctx context.Context, hostID string) ([]Disk, error) {
	rows, err := tx.query(ctx, `SELECT `+diskCols+diskFrom+` WHERE t.host_id = $1 ORDER BY COALESCE(t.vm_id, ''), t.position, t.id`, hostID)
	if err != nil {
		return nil, fmt.Errorf("disks of host %s: %w", hostID, err)
	}
	return collect(rows, scanDisk)
}

// VMDisks lists the disks attached to a VM in order.
func (tx *Tx) VMDisks(ctx context.Context, vmID string) ([]Disk, error) {
	rows, err := tx.query(ctx, `SELECT `+diskCols+diskFrom+` WHERE t.vm_id = $1 ORDER BY t.position, t.id`, vmID)
	if err != nil {
		return nil, fmt.Errorf("disks of vm %s: %w", vmID, err)
	}
	return collect(rows, scanDisk)
}

// VDCDiskGiB sums the sizes of a VDC's data disks, deleting ones too: they
// hold their space until the host has let go, like deleting VMs.
func (tx *Tx) VDCDiskGiB(ctx context.Context, vdcID string) (int64, error) {
	var n int64
	err := tx.queryRow(ctx, `SELECT CAST(COALESCE(SUM(size_gib), 0) AS BIGINT) FROM disks WHERE vdc_id = $1`, vdcID).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("disk usage of vdc %s: %w", vdcID, mapErr(err))
	}
	return n, nil
}

// DataDiskGiBByHost sums the sizes of the data disks bound to each host
// that has any, in one query (placement adds them to the root disks).
func (tx *Tx) DataDiskGiBByHost(ctx context.Context) (map[string]int64, error) {
	rows, err := tx.query(ctx, `SELECT host_id, CAST(SUM(size_gib) AS BIGINT) FROM disks WHERE host_id IS NOT NULL GROUP BY host_id`)
	if err != nil {
		return nil, fmt.Errorf("disk usage of hosts: %w", err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var host string
		var n int64
		if err := rows.Scan(&host, &n); err != nil {
			return nil, err
		}
		out[host] = n
	}
	return out, rows.Err()
}

// MeteredDisks lists every disk that is billed (all but deleting ones),
// without labels, for the metering reconciler.
func (tx *Tx) MeteredDisks(ctx context.Context) ([]Disk, error) {
	rows, err := tx.query(ctx, `SELECT `+diskCols+diskFrom+` WHERE t.state <> $1 ORDER BY t.id`, DiskDeleting)
	if err != nil {
		return nil, fmt.Errorf("metered disks: %w", err)
	}
	return collect(rows, scanDisk)
}
