package store

import (
	"context"
	"errors"
	"fmt"
)

// Cursor reads the named position of a background reader, "" when it has
// none yet.
func (tx *Tx) Cursor(ctx context.Context, name string) (string, error) {
	var v string
	err := mapErr(tx.queryRow(ctx, `SELECT value FROM cursors WHERE name = $1`, name).Scan(&v))
	switch {
	case errors.Is(err, ErrNotFound):
		return "", nil
	case err != nil:
		return "", fmt.Errorf("cursor %s: %w", name, err)
	}
	return v, nil
}

// SetCursor moves the named position, in the transaction of the work that
// got there, so the work and the position commit together.
func (tx *Tx) SetCursor(ctx context.Context, name, value string) error {
	_, err := tx.exec(ctx, `INSERT INTO cursors (name, value) VALUES ($1, $2)
		ON CONFLICT (name) DO UPDATE SET value = excluded.value`, name, value)
	if err != nil {
		return fmt.Errorf("set cursor %s: %w", name, err)
	}
	return nil
}
