package store

import (
	"context"
	"fmt"
)

// VDC states. A VDC is ready from creation until a delete is requested; it
// then stays deleting until the vdc.delete operation removes it.
const (
	VDCReady    = "ready"
	VDCDeleting = "deleting"
)

// Quotas cap what a VDC may hold.
type Quotas struct {
	VCPU      int
	MemoryMiB int64
	DiskGiB   int64
	VMs       int
	PublicIPs int
}

// VDC is a stored virtual data centre: an organisation's slice of one zone.
type VDC struct {
	Meta
	OrgID           string
	Name            string
	Description     string
	ZoneID          string
	RegionID        string // of its zone, filled in on read
	Jurisdiction    string // of its region, filled in on read
	AllocationModel string
	Quotas          Quotas
	State           string
}

const vdcCols = `t.id, t.org_id, t.name, t.description, t.zone_id, z.region_id, r.jurisdiction, t.allocation_model,
	t.quota_vcpu, t.quota_memory_mib, t.quota_disk_gib, t.quota_vms, t.quota_public_ips, t.state, t.version, t.created_at, t.updated_at`

const vdcFrom = ` FROM vdcs t JOIN zones z ON z.id = t.zone_id JOIN regions r ON r.id = z.region_id`

func scanVDC(sc interface{ Scan(...any) error }) (VDC, error) {
	var v VDC
	var created, updated Time
	q := &v.Quotas
	err := sc.Scan(&v.ID, &v.OrgID, &v.Name, &v.Description, &v.ZoneID, &v.RegionID, &v.Jurisdiction, &v.AllocationModel,
		&q.VCPU, &q.MemoryMiB, &q.DiskGiB, &q.VMs, &q.PublicIPs, &v.State, &v.Version, &created, &updated)
	v.CreatedAt, v.UpdatedAt = created.Time, updated.Time
	return v, mapErr(err)
}

// CreateVDC stores a new VDC in state ready. ErrConflict if the organisation
// already has a VDC of that name, or the organisation or zone does not exist.
// RegionID and Jurisdiction are not written: they follow from the zone.
func (tx *Tx) CreateVDC(ctx context.Context, v *VDC) error {
	v.created(tx.Now())
	if v.State == "" {
		v.State = VDCReady
	}
	q := v.Quotas
	_, err := tx.exec(ctx, `INSERT INTO vdcs (id, org_id, name, description, zone_id, allocation_model,
		quota_vcpu, quota_memory_mib, quota_disk_gib, quota_vms, quota_public_ips, state, version, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
		v.ID, v.OrgID, v.Name, v.Description, v.ZoneID, v.AllocationModel,
		q.VCPU, q.MemoryMiB, q.DiskGiB, q.VMs, q.PublicIPs, v.State, v.Version, ts(v.CreatedAt), ts(v.UpdatedAt))
	if err != nil {
		return fmt.Errorf("create vdc %s: %w", v.Name, err)
	}
	return tx.setLabels(ctx, "vdc", v.ID, v.Labels)
}

// GetVDC reads a VDC of organisation orgID by ID or by name. A VDC of another
// organisation is ErrNotFound, so callers cannot reach across tenants by ID.
func (tx *Tx) GetVDC(ctx context.Context, orgID, idOrName string) (*VDC, error) {
	col := "t.name"
	if IsID(idOrName) {
		col = "t.id"
	}
	v, err := scanVDC(tx.queryRow(ctx, `SELECT `+vdcCols+vdcFrom+` WHERE t.org_id = $1 AND `+col+` = $2`, orgID, idOrName))
	if err != nil {
		return nil, fmt.Errorf("vdc %s: %w", idOrName, err)
	}
	return &v, tx.loadLabels(ctx, "vdc", []string{v.ID}, func(_ string, l map[string]string) { v.Labels = l })
}

// ListVDCs lists the VDCs of one organisation, oldest first.
func (tx *Tx) ListVDCs(ctx context.Context, orgID string, p Page) ([]VDC, string, error) {
	var w where
	w.add("t.org_id = ?", orgID)
	tail, err := w.page("vdc", p)
	if err != nil {
		return nil, "", err
	}
	rows, err := tx.query(ctx, `SELECT `+vdcCols+vdcFrom+w.String()+tail, w.args...)
	if err != nil {
		return nil, "", fmt.Errorf("list vdcs: %w", err)
	}
	out, err := collect(rows, scanVDC)
	if err != nil {
		return nil, "", err
	}
	out, next := trimPage(out, p, func(v VDC) string { return v.ID })
	return out, next, attachLabels(ctx, tx, "vdc", out, func(v *VDC) *Meta { return &v.Meta })
}

// UpdateVDC writes a changed VDC (description, quotas, state, labels) and
// bumps its version. The name, zone and allocation model do not change.
func (tx *Tx) UpdateVDC(ctx context.Context, v *VDC) error {
	v.updated(tx.Now())
	q := v.Quotas
	err := expectOne(tx.exec(ctx, `UPDATE vdcs SET description = $2, quota_vcpu = $3, quota_memory_mib = $4, quota_disk_gib = $5,
		quota_vms = $6, quota_public_ips = $7, state = $8, version = $9, updated_at = $10 WHERE id = $1`,
		v.ID, v.Description, q.VCPU, q.MemoryMiB, q.DiskGiB, q.VMs, q.PublicIPs, v.State, v.Version, ts(v.UpdatedAt)))
	if err != nil {
		return fmt.Errorf("update vdc %s: %w", v.ID, err)
	}
	return tx.setLabels(ctx, "vdc", v.ID, v.Labels)
}

// DeleteVDC removes a VDC and its labels.
func (tx *Tx) DeleteVDC(ctx context.Context, id string) error {
	if err := expectOne(tx.exec(ctx, `DELETE FROM vdcs WHERE id = $1`, id)); err != nil {
		return fmt.Errorf("delete vdc %s: %w", id, err)
	}
	return tx.deleteLabels(ctx, "vdc", id)
}
