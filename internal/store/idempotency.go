package store

import (
	"context"
	"fmt"
	"time"
)

// IdempotentResponse is a stored answer to a POST made with an Idempotency-Key.
// Status 0 means the first request is still being served.
type IdempotentResponse struct {
	RequestHash string
	Status      int
	ContentType string
	Location    string
	Body        string
	CreatedAt   time.Time
}

// ClaimIdempotencyKey records that principal started a request with key. It
// returns the earlier record and false when the key was already used.
func (tx *Tx) ClaimIdempotencyKey(ctx context.Context, principal, key, requestHash string) (*IdempotentResponse, bool, error) {
	res, err := tx.exec(ctx, `INSERT INTO idempotency_keys (principal, key, request_hash, created_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (principal, key) DO NOTHING`, principal, key, requestHash, ts(tx.Now()))
	if err != nil {
		return nil, false, fmt.Errorf("claim idempotency key: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return nil, true, nil
	}
	var r IdempotentResponse
	var created Time
	err = mapErr(tx.queryRow(ctx, `SELECT request_hash, status, content_type, location, body, created_at FROM idempotency_keys
		WHERE principal = $1 AND key = $2`, principal, key).Scan(&r.RequestHash, &r.Status, &r.ContentType, &r.Location, &r.Body, &created))
	if err != nil {
		return nil, false, fmt.Errorf("read idempotency key: %w", err)
	}
	r.CreatedAt = created.Time
	return &r, false, nil
}

// CompleteIdempotencyKey stores the response to replay for key.
func (tx *Tx) CompleteIdempotencyKey(ctx context.Context, principal, key string, r *IdempotentResponse) error {
	_, err := tx.exec(ctx, `UPDATE idempotency_keys SET status = $3, content_type = $4, location = $5, body = $6
		WHERE principal = $1 AND key = $2`, principal, key, r.Status, r.ContentType, r.Location, r.Body)
	return err
}

// ReleaseIdempotencyKey forgets a key whose request failed in a way worth
// retrying (a server error), so the client's retry runs again.
func (tx *Tx) ReleaseIdempotencyKey(ctx context.Context, principal, key string) error {
	_, err := tx.exec(ctx, `DELETE FROM idempotency_keys WHERE principal = $1 AND key = $2`, principal, key)
	return err
}
