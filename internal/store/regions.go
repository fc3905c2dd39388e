package store

import (
	"context"
	"fmt"
)

// Region is a stored region; its ID is its name.
type Region struct {
	Meta
	DisplayName  string
	Jurisdiction string
}

// Zone is a stored zone; its ID is its name.
type Zone struct {
	Meta
	RegionID     string
	DisplayName  string
	Jurisdiction string // of its region, filled in on read
}

const regionCols = `t.id, t.display_name, t.jurisdiction, t.version, t.created_at, t.updated_at`

func scanRegion(sc interface{ Scan(...any) error }) (Region, error) {
	var r Region
	var created, updated Time
	err := sc.Scan(&r.ID, &r.DisplayName, &r.Jurisdiction, &r.Version, &created, &updated)
	r.CreatedAt, r.UpdatedAt = created.Time, updated.Time
	return r, mapErr(err)
}

// CreateRegion stores a new region.
func (tx *Tx) CreateRegion(ctx context.Context, r *Region) error {
	r.created(tx.Now())
	_, err := tx.exec(ctx, `INSERT INTO regions (id, display_name, jurisdiction, version, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6)`, r.ID, r.DisplayName, r.Jurisdiction, r.Version, ts(r.CreatedAt), ts(r.UpdatedAt))
	if err != nil {
		return fmt.Errorf("create region %s: %w", r.ID, err)
	}
	return tx.setLabels(ctx, "region", r.ID, r.Labels)
}

// GetRegion reads one region.
func (tx *Tx) GetRegion(ctx context.Context, id string) (*Region, error) {
	r, err := scanRegion(tx.queryRow(ctx, `SELECT `+regionCols+` FROM regions t WHERE t.id = $1`, id))
	if err != nil {
		return nil, fmt.Errorf("region %s: %w", id, err)
	}
	return &r, tx.loadLabels(ctx, "region", []string{r.ID}, func(_ string, l map[string]string) { r.Labels = l })
}

// ListRegions lists regions by name.
func (tx *Tx) ListRegions(ctx context.Context, p Page) ([]Region, string, error) {
	var w where
	tail, err := w.page("region", p)
	if err != nil {
		return nil, "", err
	}
	rows, err := tx.query(ctx, `SELECT `+regionCols+` FROM regions t`+w.String()+tail, w.args...)
	if err != nil {
		return nil, "", fmt.Errorf("list regions: %w", err)
	}
	out, err := collect(rows, scanRegion)
	if err != nil {
		return nil, "", err
	}
	out, next := trimPage(out, p, func(r Region) string { return r.ID })
	return out, next, attachLabels(ctx, tx, "region", out, func(r *Region) *Meta { return &r.Meta })
}

// UpdateRegion writes a changed region and bumps its version.
func (tx *Tx) UpdateRegion(ctx context.Context, r *Region) error {
	r.updated(tx.Now())
	err := expectOne(tx.exec(ctx, `UPDATE regions SET display_name = $2, version = $3, updated_at = $4 WHERE id = $1`,
		r.ID, r.DisplayName, r.Version, ts(r.UpdatedAt)))
	if err != nil {
		return fmt.Errorf("update region %s: %w", r.ID, err)
	}
	return tx.setLabels(ctx, "region", r.ID, r.Labels)
}

// DeleteRegion removes a region. It fails with ErrConflict while zones remain.
func (tx *Tx) DeleteRegion(ctx context.Context, id string) error {
	if err := expectOne(tx.exec(ctx, `DELETE FROM regions WHERE id = $1`, id)); err != nil {
		return fmt.Errorf("delete region %s: %w", id, err)
	}
	return tx.deleteLabels(ctx, "region", id)
}

const zoneCols = `t.id, t.region_id, t.display_name, r.jurisdiction, t.version, t.created_at, t.updated_at`

func scanZone(sc interface{ Scan(...any) error }) (Zone, error) {
	var z Zone
	var created, updated Time
	err := sc.Scan(&z.ID, &z.RegionID, &z.DisplayName, &z.Jurisdiction, &z.Version, &created, &updated)
	z.CreatedAt, z.UpdatedAt = created.Time, updated.Time
	return z, mapErr(err)
}

// CreateZone stores a new zone. ErrConflict if the region does not exist or
// the name is taken.
func (tx *Tx) CreateZone(ctx context.Context, z *Zone) error {
	z.created(tx.Now())
	_, err := tx.exec(ctx, `INSERT INTO zones (id, region_id, display_name, version, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6)`, z.ID, z.RegionID, z.DisplayName, z.Version, ts(z.CreatedAt), ts(z.UpdatedAt))
	if err != nil {
		return fmt.Errorf("create zone %s: %w", z.ID, err)
	}
	return tx.setLabels(ctx, "zone", z.ID, z.Labels)
}

// GetZone reads one zone with its region's jurisdiction.
func (tx *Tx) GetZone(ctx context.Context, id string) (*Zone, error) {
	z, err := scanZone(tx.queryRow(ctx, `SELECT `+zoneCols+` FROM zones t JOIN regions r ON r.id = t.region_id WHERE t.id = $1`, id))
	if err != nil {
		return nil, fmt.Errorf("zone %s: %w", id, err)
	}
	return &z, tx.loadLabels(ctx, "zone", []string{z.ID}, func(_ string, l map[string]string) { z.Labels = l })
}

// ListZones lists zones, of one region when region is not empty.
func (tx *Tx) ListZones(ctx context.Context, region string, p Page) ([]Zone, string, error) {
	var w where
	if region != "" {
		w.add("t.region_id = ?", region)
	}
	tail, err := w.page("zone", p)
	if err != nil {
		return nil, "", err
	}
	rows, err := tx.query(ctx, `SELECT `+zoneCols+` FROM zones t JOIN regions r ON r.id = t.region_id`+w.String()+tail, w.args...)
	if err != nil {
		return nil, "", fmt.Errorf("list zones: %w", err)
	}
	out, err := collect(rows, scanZone)
	if err != nil {
		return nil, "", err
	}
	out, next := trimPage(out, p, func(z Zone) string { return z.ID })
	return out, next, attachLabels(ctx, tx, "zone", out, func(z *Zone) *Meta { return &z.Meta })
}

// UpdateZone writes a changed zone and bumps its version.
func (tx *Tx) UpdateZone(ctx context.Context, z *Zone) error {
	z.updated(tx.Now())
	err := expectOne(tx.exec(ctx, `UPDATE zones SET display_name = $2, version = $3, updated_at = $4 WHERE id = $1`,
		z.ID, z.DisplayName, z.Version, ts(z.UpdatedAt)))
	if err != nil {
		return fmt.Errorf("update zone %s: %w", z.ID, err)
	}
	return tx.setLabels(ctx, "zone", z.ID, z.Labels)
}

// DeleteZone removes a zone. It fails with ErrConflict while hosts or VDCs use it.
func (tx *Tx) DeleteZone(ctx context.Context, id string) error {
	if err := expectOne(tx.exec(ctx, `DELETE FROM zones WHERE id = $1`, id)); err != nil {
		return fmt.Errorf("delete zone %s: %w", id, err)
	}
	return tx.deleteLabels(ctx, "zone", id)
}
