package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Lease is a named, expiring claim held by one control-plane replica.
type Lease struct {
	Name       string
	Holder     string
	ExpiresAt  time.Time
	AcquiredAt time.Time
}

// AcquireLease takes lease name for holder until until, or renews it if holder
// already has it. It reports whether holder holds the lease afterwards; a
// lease held by another replica is taken over only once it has expired.
func (tx *Tx) AcquireLease(ctx context.Context, name, holder string, until time.Time) (bool, error) {
	now := ts(tx.Now())
	var got string
	err := mapErr(tx.queryRow(ctx, `INSERT INTO leases (name, holder, expires_at, acquired_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at,
			acquired_at = CASE WHEN leases.holder = excluded.holder THEN leases.acquired_at ELSE excluded.acquired_at END
		WHERE leases.holder = excluded.holder OR leases.expires_at < excluded.acquired_at
		RETURNING holder`, name, holder, ts(until), now).Scan(&got))
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("acquire lease %s: %w", name, err)
	}
	return got == holder, nil
}

// ReleaseLease gives up a lease so another replica can take it at once.
func (tx *Tx) ReleaseLease(ctx context.Context, name, holder string) error {
	_, err := tx.exec(ctx, `DELETE FROM leases WHERE name = $1 AND holder = $2`, name, holder)
	return err
}

// ListLeases lists all leases.
func (tx *Tx) ListLeases(ctx context.Context) ([]Lease, error) {
	rows, err := tx.query(ctx, `SELECT name, holder, expires_at, acquired_at FROM leases ORDER BY name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Lease
	for rows.Next() {
		var l Lease
		var exp, acq Time
		if err := rows.Scan(&l.Name, &l.Holder, &exp, &acq); err != nil {
			return nil, err
		}
		l.ExpiresAt, l.AcquiredAt = exp.Time, acq.Time
		out = append(out, l)
	}
	return out, rows.Err()
}
