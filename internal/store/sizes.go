package store

import (
	"context"
	"fmt"
)

// Size is a stored VM size (flavour); its ID is its name.
type Size struct {
	Meta
	Description string
	VCPU        int
	MemoryMiB   int64
	DiskGiB     int64
	PriceClass  string
	Deprecated  bool
}

// SizeFilter narrows ListSizes.
type SizeFilter struct {
	// ExcludeDeprecated leaves out deprecated sizes.
	ExcludeDeprecated bool
}

const sizeCols = `t.id, t.description, t.vcpu, t.memory_mib, t.disk_gib, t.price_class, t.deprecated, t.version, t.created_at, t.updated_at`

func scanSize(sc interface{ Scan(...any) error }) (Size, error) {
	var z Size
	var created, updated Time
	err := sc.Scan(&z.ID, &z.Description, &z.VCPU, &z.MemoryMiB, &z.DiskGiB, &z.PriceClass, &z.Deprecated, &z.Version, &created, &updated)
	z.CreatedAt, z.UpdatedAt = created.Time, updated.Time
	return z, mapErr(err)
}

// CreateSize stores a new size. ErrConflict if the name is taken.
func (tx *Tx) CreateSize(ctx context.Context, z *Size) error {
	z.created(tx.Now())
	_, err := tx.exec(ctx, `INSERT INTO sizes (id, description, vcpu, memory_mib, disk_gib, price_class, deprecated, version, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		z.ID, z.Description, z.VCPU, z.MemoryMiB, z.DiskGiB, z.PriceClass, z.Deprecated, z.Version, ts(z.CreatedAt), ts(z.UpdatedAt))
	if err != nil {
		return fmt.Errorf("create size %s: %w", z.ID, err)
	}
	return tx.setLabels(ctx, "size", z.ID, z.Labels)
}

// GetSize reads one size.
func (tx *Tx) GetSize(ctx context.Context, id string) (*Size, error) {
	z, err := scanSize(tx.queryRow(ctx, `SELECT `+sizeCols+` FROM sizes t WHERE t.id = $1`, id))
	if err != nil {
		return nil, fmt.Errorf("size %s: %w", id, err)
	}
	return &z, tx.loadLabels(ctx, "size", []string{z.ID}, func(_ string, l map[string]string) { z.Labels = l })
}

// ListSizes lists sizes by name.
func (tx *Tx) ListSizes(ctx context.Context, f SizeFilter, p Page) ([]Size, string, error) {
	var w where
	if f.ExcludeDeprecated {
		w.add("t.deprecated = ?", false)
	}
	tail, err := w.page("size", p)
	if err != nil {
		return nil, "", err
	}
	rows, err := tx.query(ctx, `SELECT `+sizeCols+` FROM sizes t`+w.String()+tail, w.args...)
	if err != nil {
		return nil, "", fmt.Errorf("list sizes: %w", err)
	}
	out, err := collect(rows, scanSize)
	if err != nil {
		return nil, "", err
	}
	out, next := trimPage(out, p, func(z Size) string { return z.ID })
	return out, next, attachLabels(ctx, tx, "size", out, func(z *Size) *Meta { return &z.Meta })
}

// UpdateSize writes a changed size and bumps its version. The shape (vCPU,
// memory, disk) is fixed once created, so it is not written.
func (tx *Tx) UpdateSize(ctx context.Context, z *Size) error {
	z.updated(tx.Now())
	err := expectOne(tx.exec(ctx, `UPDATE sizes SET description = $2, price_class = $3, deprecated = $4, version = $5, updated_at = $6 WHERE id = $1`,
		z.ID, z.Description, z.PriceClass, z.Deprecated, z.Version, ts(z.UpdatedAt)))
	if err != nil {
		return fmt.Errorf("update size %s: %w", z.ID, err)
	}
	return tx.setLabels(ctx, "size", z.ID, z.Labels)
}

// DeleteSize removes a size. Once VMs reference sizes, it fails with
// ErrConflict while any VM uses it.
func (tx *Tx) DeleteSize(ctx context.Context, id string) error {
	if err := expectOne(tx.exec(ctx, `DELETE FROM sizes WHERE id = $1`, id)); err != nil {
		return fmt.Errorf("delete size %s: %w", id, err)
	}
	return tx.deleteLabels(ctx, "size", id)
}
