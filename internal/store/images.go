package store

import (
	"context"
	"fmt"
	"strings"
)

// Image is a stored catalog image. OrgID is empty for public images.
type Image struct {
	Meta
	OrgID       string
	Name        string
	Description string
	Kind        string
	OS          string
	Cmdline     string
	MinDiskGiB  int64
	State       string // api.Image* states
	Message     string
	Source      string
	Files       []ImageFile
	// Expect maps a file name to the sha256 its uploader promised.
	Expect map[string]string
}

// ImageFile is one stored file of an image.
type ImageFile struct {
	Name        string `json:"name"`
	Size        int64  `json:"size"`
	SHA256      string `json:"sha256"`
	VirtualSize int64  `json:"virtual_size,omitempty"`
}

// ImageFilter narrows ListImages.
type ImageFilter struct {
	// OrgID lists that organisation's private images; empty lists the
	// public catalog.
	OrgID string
	State string
}

// CreateImage stores a new image. ErrConflict if its owner (the provider for
// public images) has an image of that name.
func (tx *Tx) CreateImage(ctx context.Context, im *Image) error {
	im.created(tx.Now())
	_, err := tx.exec(ctx, `INSERT INTO images (id, org_id, name, description, kind, os, cmdline, min_disk_gib, state, message, source,
		files, expect, version, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`,
		im.ID, im.OrgID, im.Name, im.Description, im.Kind, im.OS, im.Cmdline, im.MinDiskGiB, im.State, im.Message, im.Source,
		jsonText{nonNil(im.Files)}, jsonText{expectOrEmpty(im.Expect)}, im.Version, ts(im.CreatedAt), ts(im.UpdatedAt))
	if err != nil {
		return fmt.Errorf("create image %s: %w", im.Name, err)
	}
	return tx.setLabels(ctx, "image", im.ID, im.Labels)
}

// GetImage reads an image owned by orgID ("" for public) by ID or name.
func (tx *Tx) GetImage(ctx context.Context, orgID, idOrName string) (*Image, error) {
	col := "t.name"
	if IsID(idOrName) {
		col = "t.id"
	}
	return tx.getImage(ctx, idOrName, ` WHERE t.org_id = $1 AND `+col+` = $2`, orgID, idOrName)
}

// GetImageByID reads an image by ID whatever its owner (agents, runners).
func (tx *Tx) GetImageByID(ctx context.Context, id string) (*Image, error) {
	return tx.getImage(ctx, id, ` WHERE t.id = $1`, id)
}

// ListImages lists images by ID.
func (tx *Tx) ListImages(ctx context.Context, f ImageFilter, p Page) ([]Image, string, error) {
	var w where
	w.add("t.org_id = ?", f.OrgID)
	if f.State != "" {
		w.add("t.state = ?", f.State)
	}
	tail, err := w.page("image", p)
	if err != nil {
		return nil, "", err
	}
	rows, err := tx.query(ctx, `SELECT `+imageCols+` FROM images t`+w.String()+tail, w.args...)
	if err != nil {
		return nil, "", fmt.Errorf("list images: %w", err)
	}
	out, err := collect(rows, scanImage)
	if err != nil {
		return nil, "", err
	}
	out, next := trimPage(out, p, func(im Image) string { return im.ID })
	return out, next, attachLabels(ctx, tx, "image", out, func(im *Image) *Meta { return &im.Meta })
}

// UpdateImage writes an image's mutable fields (description, cmdline,
// state, message, files, expect, min disk, labels) and bumps its version.
func (tx *Tx) UpdateImage(ctx context.Context, im *Image) error {
	im.updated(tx.Now())
	err := expectOne(tx.exec(ctx, `UPDATE images SET description = $2, cmdline = $3, state = $4, message = $5, files = $6, expect = $7,
		min_disk_gib = $8, version = $9, updated_at = $10 WHERE id = $1`,
		im.ID, im.Description, im.Cmdline, im.State, im.Message, jsonText{nonNil(im.Files)}, jsonText{expectOrEmpty(im.Expect)},
		im.MinDiskGiB, im.Version, ts(im.UpdatedAt)))
	if err != nil {
		return fmt.Errorf("update image %s: %w", im.ID, err)
	}
	return tx.setLabels(ctx, "image", im.ID, im.Labels)
}

// DeleteImage removes an image; ErrConflict while VMs use it.
func (tx *Tx) DeleteImage(ctx context.Context, id string) error {
	// Checked first so the error says why; the foreign key from vms would
	// refuse the delete anyway (also as ErrConflict).
	n, err := tx.ImageUsers(ctx, id)
	if err != nil {
		return err
	}
	if n > 0 {
		return fmt.Errorf("delete image %s: %d VMs use it: %w", id, n, ErrConflict)
	}
	if err := expectOne(tx.exec(ctx, `DELETE FROM images WHERE id = $1`, id)); err != nil {
		return fmt.Errorf("delete image %s: %w", id, err)
	}
	return tx.deleteLabels(ctx, "image", id)
}

// ImageUsers counts the VMs created from an image.
func (tx *Tx) ImageUsers(ctx context.Context, id string) (int, error) {
	var n int
	if err := tx.queryRow(ctx, `SELECT COUNT(*) FROM vms WHERE image_id = $1`, id).Scan(&n); err != nil {
		return 0, fmt.Errorf("count users of image %s: %w", id, mapErr(err))
	}
	return n, nil
}

// SetImageCopies records that host hostID holds exactly these images in its
// cache (unknown image IDs are ignored).
func (tx *Tx) SetImageCopies(ctx context.Context, hostID string, imageIDs []string) error {
	var w where
	w.add("host_id = ?", hostID)
	if len(imageIDs) > 0 {
		in := make([]string, len(imageIDs))
		for i, id := range imageIDs {
			in[i] = w.arg(id)
		}
		w.conds = append(w.conds, "image_id NOT IN ("+strings.Join(in, ", ")+")")
	}
	if _, err := tx.exec(ctx, `DELETE FROM image_copies`+w.String(), w.args...); err != nil {
		return fmt.Errorf("forget image copies of host %s: %w", hostID, err)
	}
	now := ts(tx.Now())
	for _, id := range imageIDs {
		// Selecting from images skips IDs the catalog does not know (an
		// image deleted while the host still had it cached); an existing
		// copy keeps the time it was first reported.
		_, err := tx.exec(ctx, `INSERT INTO image_copies (image_id, host_id, reported_at)
			SELECT id, $2, $3 FROM images WHERE id = $1 ON CONFLICT (image_id, host_id) DO NOTHING`, id, hostID, now)
		if err != nil {
			return fmt.Errorf("record copy of image %s on host %s: %w", id, hostID, err)
		}
	}
	return nil
}

// ImageCopyHosts lists the hosts holding a copy of an image.
func (tx *Tx) ImageCopyHosts(ctx context.Context, imageID string) ([]string, error) {
	rows, err := tx.query(ctx, `SELECT host_id FROM image_copies WHERE image_id = $1 ORDER BY host_id`, imageID)
	if err != nil {
		return nil, fmt.Errorf("hosts with image %s: %w", imageID, err)
	}
	return collect(rows, func(sc interface{ Scan(...any) error }) (string, error) {
		var h string
		return h, sc.Scan(&h)
	})
}

const imageCols = `t.id, t.org_id, t.name, t.description, t.kind, t.os, t.cmdline, t.min_disk_gib, t.state, t.message, t.source,
	t.files, t.expect, t.version, t.created_at, t.updated_at`

func scanImage(sc interface{ Scan(...any) error }) (Image, error) {
	var im Image
	var created, updated Time
	err := sc.Scan(&im.ID, &im.OrgID, &im.Name, &im.Description, &im.Kind, &im.OS, &im.Cmdline, &im.MinDiskGiB, &im.State, &im.Message,
		&im.Source, jsonScan{&im.Files}, jsonScan{&im.Expect}, &im.Version, &created, &updated)
	im.CreatedAt, im.UpdatedAt = created.Time, updated.Time
	return im, mapErr(err)
}

// getImage reads the one image matching cond; what names it in errors.
func (tx *Tx) getImage(ctx context.Context, what, cond string, args ...any) (*Image, error) {
	im, err := scanImage(tx.queryRow(ctx, `SELECT `+imageCols+` FROM images t`+cond, args...))
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", what, err)
	}
	return &im, tx.loadLabels(ctx, "image", []string{im.ID}, func(_ string, l map[string]string) { im.Labels = l })
}

// expectOrEmpty stores no promises as {} rather than null, as the column
// default does.
func expectOrEmpty(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}
