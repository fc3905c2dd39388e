package store

import (
	"context"
	"fmt"
	"time"
)

// Token is a stored API token; only the hash of its secret is kept.
type Token struct {
	ID         string
	UserID     string
	OrgID      string // "" for a provider token
	Role       string
	Name       string
	Prefix     string
	Hash       string
	ExpiresAt  *time.Time
	LastUsedAt *time.Time
	CreatedAt  time.Time
}

const tokenCols = `t.id, t.user_id, t.org_id, t.role, t.name, t.prefix, t.hash, t.expires_at, t.last_used_at, t.created_at`

func scanToken(sc interface{ Scan(...any) error }) (Token, error) {
	var k Token
	var exp, used NullTime
	var created Time
	err := sc.Scan(&k.ID, &k.UserID, &k.OrgID, &k.Role, &k.Name, &k.Prefix, &k.Hash, &exp, &used, &created)
	k.ExpiresAt, k.LastUsedAt, k.CreatedAt = exp.T, used.T, created.Time
	return k, mapErr(err)
}

// CreateToken stores a new token.
func (tx *Tx) CreateToken(ctx context.Context, k *Token) error {
	if k.ID == "" {
		k.ID = NewID()
	}
	k.CreatedAt = tx.Now()
	_, err := tx.exec(ctx, `INSERT INTO tokens (id, user_id, org_id, role, name, prefix, hash, expires_at, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		k.ID, k.UserID, k.OrgID, k.Role, k.Name, k.Prefix, k.Hash, tsPtr(k.ExpiresAt), ts(k.CreatedAt))
	if err != nil {
		return fmt.Errorf("create token: %w", err)
	}
	return nil
}

// GetToken reads a token by ID.
func (tx *Tx) GetToken(ctx context.Context, id string) (*Token, error) {
	k, err := scanToken(tx.queryRow(ctx, `SELECT `+tokenCols+` FROM tokens t WHERE t.id = $1`, id))
	if err != nil {
		return nil, fmt.Errorf("token %s: %w", id, err)
	}
	return &k, nil
}

// GetTokenByHash finds the token whose secret hashes to hash.
func (tx *Tx) GetTokenByHash(ctx context.Context, hash string) (*Token, error) {
	k, err := scanToken(tx.queryRow(ctx, `SELECT `+tokenCols+` FROM tokens t WHERE t.hash = $1`, hash))
	if err != nil {
		return nil, fmt.Errorf("token by hash: %w", err)
	}
	return &k, nil
}

// ListTokens lists a user's tokens, or all tokens of an organisation when
// userID is "" and orgID is set.
func (tx *Tx) ListTokens(ctx context.Context, userID, orgID string, p Page) ([]Token, string, error) {
	var w where
	if userID != "" {
		w.add("t.user_id = ?", userID)
	}
	if orgID != "" {
		w.add("t.org_id = ?", orgID)
	}
	tail, err := w.page("token", p)
	if err != nil {
		return nil, "", err
	}
	rows, err := tx.query(ctx, `SELECT `+tokenCols+` FROM tokens t`+w.String()+tail, w.args...)
	if err != nil {
		return nil, "", fmt.Errorf("list tokens: %w", err)
	}
	out, err := collect(rows, scanToken)
	if err != nil {
		return nil, "", err
	}
	out, next := trimPage(out, p, func(k Token) string { return k.ID })
	return out, next, nil
}

// TouchToken records that a token was used.
func (tx *Tx) TouchToken(ctx context.Context, id string, at time.Time) error {
	_, err := tx.exec(ctx, `UPDATE tokens SET last_used_at = $2 WHERE id = $1`, id, ts(at))
	return err
}

// DeleteToken revokes a token.
func (tx *Tx) DeleteToken(ctx context.Context, id string) error {
	if err := expectOne(tx.exec(ctx, `DELETE FROM tokens WHERE id = $1`, id)); err != nil {
		return fmt.Errorf("revoke token %s: %w", id, err)
	}
	return nil
}

// DeleteOrgTokens revokes every token scoped to an organisation.
func (tx *Tx) DeleteOrgTokens(ctx context.Context, orgID string) error {
	_, err := tx.exec(ctx, `DELETE FROM tokens WHERE org_id = $1`, orgID)
	return err
}

// Session is a console login.
type Session struct {
	ID        string
	Hash      string
	UserID    string
	ExpiresAt time.Time
	CreatedAt time.Time
}

// CreateSession stores a new session.
func (tx *Tx) CreateSession(ctx context.Context, s *Session) error {
	if s.ID == "" {
		s.ID = NewID()
	}
	s.CreatedAt = tx.Now()
	_, err := tx.exec(ctx, `INSERT INTO sessions (id, hash, user_id, expires_at, created_at) VALUES ($1, $2, $3, $4, $5)`,
		s.ID, s.Hash, s.UserID, ts(s.ExpiresAt), ts(s.CreatedAt))
	if err != nil {
		return fmt.Errorf("create session: %w", err)
	}
	return nil
}

// GetSessionByHash finds a session by the hash of its cookie.
func (tx *Tx) GetSessionByHash(ctx context.Context, hash string) (*Session, error) {
	var s Session
	var exp, created Time
	err := mapErr(tx.queryRow(ctx, `SELECT id, hash, user_id, expires_at, created_at FROM sessions WHERE hash = $1`, hash).
		Scan(&s.ID, &s.Hash, &s.UserID, &exp, &created))
	if err != nil {
		return nil, fmt.Errorf("session: %w", err)
	}
	s.ExpiresAt, s.CreatedAt = exp.Time, created.Time
	return &s, nil
}

// DeleteSession ends a session.
func (tx *Tx) DeleteSession(ctx context.Context, id string) error {
	_, err := tx.exec(ctx, `DELETE FROM sessions WHERE id = $1`, id)
	return err
}

// DeleteUserSessions ends every session of a user (after a password reset).
func (tx *Tx) DeleteUserSessions(ctx context.Context, userID string) error {
	_, err := tx.exec(ctx, `DELETE FROM sessions WHERE user_id = $1`, userID)
	return err
}

// DeleteExpired removes expired sessions, mail tokens and idempotency records
// older than before; the janitor loop calls it.
func (tx *Tx) DeleteExpired(ctx context.Context, now, idempotencyBefore time.Time) (int64, error) {
	var total int64
	for _, q := range []struct {
		sql string
		arg time.Time
	}{
		{`DELETE FROM sessions WHERE expires_at < $1`, now},
		{`DELETE FROM mail_tokens WHERE expires_at < $1`, now},
		{`DELETE FROM idempotency_keys WHERE created_at < $1`, idempotencyBefore},
		{`UPDATE invitations SET state = 'expired' WHERE state = 'pending' AND expires_at < $1`, now},
	} {
		res, err := tx.exec(ctx, q.sql, ts(q.arg))
		if err != nil {
			return total, err
		}
		n, _ := res.RowsAffected()
		total += n
	}
	return total, nil
}
