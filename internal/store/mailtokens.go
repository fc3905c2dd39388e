package store

import (
	"context"
	"fmt"
	"time"
)

// Purposes of one-time mail tokens.
const (
	MailVerify = "verify" // proves control of a sign-up's e-mail address
	MailReset  = "reset"  // allows setting a new password
)

// MailToken is a one-time token sent by mail. Only the hash of the secret is
// stored, so a database leak does not hand out working links.
type MailToken struct {
	Hash      string
	UserID    string
	Purpose   string
	ExpiresAt time.Time
	UsedAt    *time.Time
	CreatedAt time.Time
}

// CreateMailToken stores a new mail token.
func (tx *Tx) CreateMailToken(ctx context.Context, t *MailToken) error {
	t.CreatedAt = tx.Now()
	_, err := tx.exec(ctx, `INSERT INTO mail_tokens (hash, user_id, purpose, expires_at, created_at) VALUES ($1, $2, $3, $4, $5)`,
		t.Hash, t.UserID, t.Purpose, ts(t.ExpiresAt), ts(t.CreatedAt))
	if err != nil {
		return fmt.Errorf("create %s mail token: %w", t.Purpose, err)
	}
	return nil
}

// UseMailToken marks the token with hash and purpose used and returns it. A
// token that is unknown, already used or expired at now gives ErrNotFound.
// The check and the marking are one statement, so two concurrent uses
// cannot both succeed.
func (tx *Tx) UseMailToken(ctx context.Context, hash, purpose string, now time.Time) (*MailToken, error) {
	t := MailToken{Hash: hash, Purpose: purpose}
	var exp, created Time
	err := mapErr(tx.queryRow(ctx, `UPDATE mail_tokens SET used_at = $3
		WHERE hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > $3
		RETURNING user_id, expires_at, created_at`, hash, purpose, ts(now)).Scan(&t.UserID, &exp, &created))
	if err != nil {
		return nil, fmt.Errorf("use %s mail token: %w", purpose, err)
	}
	t.ExpiresAt, t.CreatedAt, t.UsedAt = exp.Time, created.Time, &now
	return &t, nil
}

// DeleteMailTokens removes a user's tokens of one purpose, so that older
// mails stop working once one of them was used.
func (tx *Tx) DeleteMailTokens(ctx context.Context, userID, purpose string) error {
	if _, err := tx.exec(ctx, `DELETE FROM mail_tokens WHERE user_id = $1 AND purpose = $2`, userID, purpose); err != nil {
		return fmt.Errorf("delete %s mail tokens: %w", purpose, err)
	}
	return nil
}

// LastMailToken reports when the newest token of a purpose was issued to a
// user, or the zero time if none is stored. Callers use it to throttle mails.
func (tx *Tx) LastMailToken(ctx context.Context, userID, purpose string) (time.Time, error) {
	var last NullTime
	err := mapErr(tx.queryRow(ctx, `SELECT MAX(created_at) FROM mail_tokens WHERE user_id = $1 AND purpose = $2`, userID, purpose).Scan(&last))
	if err != nil || last.T == nil {
		return time.Time{}, err
	}
	return *last.T, nil
}
