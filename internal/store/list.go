package store

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// ErrBadCursor is a page cursor this store did not hand out.
var ErrBadCursor = errors.New("invalid page cursor")

// Page asks for one page of a list.
type Page struct {
	// Limit is the page size; 0 means DefaultLimit. Larger than MaxLimit is capped.
	Limit int
	// Cursor continues after the last item of a previous page.
	Cursor string
	// Labels keeps only objects carrying every selector.
	Labels []LabelSelector
}

// Page sizes.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// LabelSelector matches objects with label Key (and, when HasValue, Value).
type LabelSelector struct {
	Key      string
	Value    string
	HasValue bool
}

// ParseLabelSelector reads "key=value" or "key".
func ParseLabelSelector(s string) (LabelSelector, error) {
	k, v, has := strings.Cut(s, "=")
	if k == "" {
		return LabelSelector{}, fmt.Errorf("label selector %q: empty key", s)
	}
	return LabelSelector{Key: k, Value: v, HasValue: has}, nil
}

func (p Page) limit() int {
	switch {
	case p.Limit <= 0:
		return DefaultLimit
	case p.Limit > MaxLimit:
		return MaxLimit
	}
	return p.Limit
}

// EncodeCursor makes the opaque cursor that continues after id.
func EncodeCursor(id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(id))
}

func decodeCursor(c string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || len(b) == 0 || len(b) > 200 {
		return "", ErrBadCursor
	}
	return string(b), nil
}

// where builds a WHERE clause with numbered placeholders.
type where struct {
	conds []string
	args  []any
}

// add appends a condition; each "?" in cond becomes the next $n.
func (w *where) add(cond string, args ...any) {
	for _, a := range args {
		w.args = append(w.args, a)
		cond = strings.Replace(cond, "?", fmt.Sprintf("$%d", len(w.args)), 1)
	}
	w.conds = append(w.conds, cond)
}

func (w *where) arg(a any) string {
	w.args = append(w.args, a)
	return fmt.Sprintf("$%d", len(w.args))
}

func (w *where) String() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}

// page adds the cursor and label conditions for table alias t (whose key
// column is t.id) and returns the ORDER BY / LIMIT tail.
func (w *where) page(kind string, p Page) (string, error) {
	if p.Cursor != "" {
		after, err := decodeCursor(p.Cursor)
		if err != nil {
			return "", err
		}
		w.add("t.id > ?", after)
	}
	for _, sel := range p.Labels {
		if sel.HasValue {
			w.add("EXISTS (SELECT 1 FROM labels l WHERE l.kind = ? AND l.resource_id = t.id AND l.key = ? AND l.value = ?)", kind, sel.Key, sel.Value)
		} else {
			w.add("EXISTS (SELECT 1 FROM labels l WHERE l.kind = ? AND l.resource_id = t.id AND l.key = ?)", kind, sel.Key)
		}
	}
	return fmt.Sprintf(" ORDER BY t.id LIMIT %d", p.limit()+1), nil
}

// trimPage cuts the extra row fetched to detect a next page and returns the
// next cursor.
func trimPage[T any](items []T, p Page, id func(T) string) ([]T, string) {
	if len(items) <= p.limit() {
		return items, ""
	}
	items = items[:p.limit()]
	return items, EncodeCursor(id(items[len(items)-1]))
}

// setLabels replaces the labels of one object.
func (tx *Tx) setLabels(ctx context.Context, kind, id string, labels map[string]string) error {
	if _, err := tx.exec(ctx, `DELETE FROM labels WHERE kind = $1 AND resource_id = $2`, kind, id); err != nil {
		return fmt.Errorf("clear labels: %w", err)
	}
	for k, v := range labels {
		if _, err := tx.exec(ctx, `INSERT INTO labels (kind, resource_id, key, value) VALUES ($1, $2, $3, $4)`, kind, id, k, v); err != nil {
			return fmt.Errorf("set label %s: %w", k, err)
		}
	}
	return nil
}

// loadLabels fills in the labels of objects of one kind, keyed by ID. The IDs
// travel as one JSON array parameter: a page of 1,000 objects as 1,000
// placeholders costs SQLite more to parse than to run (PostgreSQL takes an
// array).
func (tx *Tx) loadLabels(ctx context.Context, kind string, ids []string, set func(id string, labels map[string]string)) error {
	if len(ids) == 0 {
		return nil
	}
	var rows *sql.Rows
	var err error
	if tx.dialect == Postgres {
		rows, err = tx.query(ctx, `SELECT resource_id, key, value FROM labels WHERE kind = $1 AND resource_id = ANY($2::text[])`, kind, ids)
	} else {
		list, merr := json.Marshal(ids)
		if merr != nil {
			return merr
		}
		rows, err = tx.query(ctx, `SELECT resource_id, key, value FROM labels WHERE kind = $1 AND resource_id IN (SELECT value FROM json_each($2))`, kind, string(list))
	}
	if err != nil {
		return fmt.Errorf("load labels: %w", err)
	}
	defer rows.Close()
	byID := map[string]map[string]string{}
	for rows.Next() {
		var id, k, v string
		if err := rows.Scan(&id, &k, &v); err != nil {
			return err
		}
		if byID[id] == nil {
			byID[id] = map[string]string{}
		}
		byID[id][k] = v
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for id, l := range byID {
		set(id, l)
	}
	return nil
}

// deleteLabels removes the labels of a deleted object.
func (tx *Tx) deleteLabels(ctx context.Context, kind, id string) error {
	_, err := tx.exec(ctx, `DELETE FROM labels WHERE kind = $1 AND resource_id = $2`, kind, id)
	return err
}

// attachLabels loads the labels of a page of objects in one query.
func attachLabels[T any](ctx context.Context, tx *Tx, kind string, items []T, meta func(*T) *Meta) error {
	byID := make(map[string]*Meta, len(items))
	keys := make([]string, 0, len(items))
	for i := range items {
		m := meta(&items[i])
		byID[m.ID] = m
		keys = append(keys, m.ID)
	}
	return tx.loadLabels(ctx, kind, keys, func(id string, l map[string]string) { byID[id].Labels = l })
}

// collect scans every row of rows with scan, then closes rows.
func collect[T any](rows *sql.Rows, scan func(interface{ Scan(...any) error }) (T, error)) ([]T, error) {
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
