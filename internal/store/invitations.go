package store

import (
	"context"
	"fmt"
	"time"
)

// Invitation states as stored. A pending invitation past its expiry counts as
// expired even before the janitor rewrites its state.
const (
	InvitationPending  = "pending"
	InvitationAccepted = "accepted"
	InvitationRevoked  = "revoked"
	InvitationExpired  = "expired"
)

// Invitation asks an e-mail address to join an organisation with a role.
// Only the hash of the token mailed to the address is stored.
type Invitation struct {
	ID         string
	OrgID      string
	Email      string
	Role       string
	TokenHash  string
	State      string
	InvitedBy  string // user ID
	ExpiresAt  time.Time
	CreatedAt  time.Time
	AcceptedAt *time.Time
}

// StateAt is the invitation's state at now: a pending one past its expiry is
// expired.
func (i *Invitation) StateAt(now time.Time) string {
	if i.State == InvitationPending && !now.Before(i.ExpiresAt) {
		return InvitationExpired
	}
	return i.State
}

const invitationCols = `t.id, t.org_id, t.email, t.role, t.token_hash, t.state, t.invited_by, t.expires_at, t.created_at, t.accepted_at`

func scanInvitation(sc interface{ Scan(...any) error }) (Invitation, error) {
	var i Invitation
	var exp, created Time
	var accepted NullTime
	err := sc.Scan(&i.ID, &i.OrgID, &i.Email, &i.Role, &i.TokenHash, &i.State, &i.InvitedBy, &exp, &created, &accepted)
	i.ExpiresAt, i.CreatedAt, i.AcceptedAt = exp.Time, created.Time, accepted.T
	return i, mapErr(err)
}

// CreateInvitation stores a new pending invitation.
func (tx *Tx) CreateInvitation(ctx context.Context, i *Invitation) error {
	if i.ID == "" {
		i.ID = NewID()
	}
	i.Email = NormalizeEmail(i.Email)
	i.State = InvitationPending
	i.CreatedAt = tx.Now()
	_, err := tx.exec(ctx, `INSERT INTO invitations (id, org_id, email, role, token_hash, state, invited_by, expires_at, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		i.ID, i.OrgID, i.Email, i.Role, i.TokenHash, i.State, i.InvitedBy, ts(i.ExpiresAt), ts(i.CreatedAt))
	if err != nil {
		return fmt.Errorf("create invitation: %w", err)
	}
	return nil
}

// GetInvitation reads an invitation of an organisation by ID.
func (tx *Tx) GetInvitation(ctx context.Context, orgID, id string) (*Invitation, error) {
	i, err := scanInvitation(tx.queryRow(ctx, `SELECT `+invitationCols+` FROM invitations t WHERE t.id = $1 AND t.org_id = $2`, id, orgID))
	if err != nil {
		return nil, fmt.Errorf("invitation %s: %w", id, err)
	}
	return &i, nil
}

// GetInvitationByHash finds the invitation whose token hashes to hash.
func (tx *Tx) GetInvitationByHash(ctx context.Context, hash string) (*Invitation, error) {
	i, err := scanInvitation(tx.queryRow(ctx, `SELECT `+invitationCols+` FROM invitations t WHERE t.token_hash = $1`, hash))
	if err != nil {
		return nil, fmt.Errorf("invitation by token: %w", err)
	}
	return &i, nil
}

// HasPendingInvitation reports whether org has an unexpired pending
// invitation for email.
func (tx *Tx) HasPendingInvitation(ctx context.Context, orgID, email string, now time.Time) (bool, error) {
	var n int
	err := mapErr(tx.queryRow(ctx, `SELECT COUNT(*) FROM invitations WHERE org_id = $1 AND email = $2 AND state = $3 AND expires_at > $4`,
		orgID, NormalizeEmail(email), InvitationPending, ts(now)).Scan(&n))
	if err != nil {
		return false, fmt.Errorf("find pending invitation: %w", err)
	}
	return n > 0, nil
}

// ListInvitations lists an organisation's invitations, oldest first. A
// non-empty state keeps only those in that state at now.
func (tx *Tx) ListInvitations(ctx context.Context, orgID, state string, now time.Time, p Page) ([]Invitation, string, error) {
	var w where
	w.add("t.org_id = ?", orgID)
	switch state {
	case "":
	case InvitationPending:
		w.add("t.state = ? AND t.expires_at > ?", InvitationPending, ts(now))
	case InvitationExpired:
		w.add("(t.state = ? OR (t.state = ? AND t.expires_at <= ?))", InvitationExpired, InvitationPending, ts(now))
	default:
		w.add("t.state = ?", state)
	}
	tail, err := w.page("invitation", p)
	if err != nil {
		return nil, "", err
	}
	rows, err := tx.query(ctx, `SELECT `+invitationCols+` FROM invitations t`+w.String()+tail, w.args...)
	if err != nil {
		return nil, "", fmt.Errorf("list invitations: %w", err)
	}
	out, err := collect(rows, scanInvitation)
	if err != nil {
		return nil, "", err
	}
	out, next := trimPage(out, p, func(i Invitation) string { return i.ID })
	return out, next, nil
}

// RevokeInvitation revokes a pending invitation. ErrNotFound if it is not
// pending (any more).
func (tx *Tx) RevokeInvitation(ctx context.Context, id string) error {
	err := expectOne(tx.exec(ctx, `UPDATE invitations SET state = $2 WHERE id = $1 AND state = $3`, id, InvitationRevoked, InvitationPending))
	if err != nil {
		return fmt.Errorf("revoke invitation %s: %w", id, err)
	}
	return nil
}

// AcceptInvitation marks a pending, unexpired invitation accepted at now.
// ErrNotFound if it is not pending or has expired; the check and the change
// are one statement, so an invitation is accepted at most once.
func (tx *Tx) AcceptInvitation(ctx context.Context, id string, now time.Time) error {
	err := expectOne(tx.exec(ctx, `UPDATE invitations SET state = $2, accepted_at = $3 WHERE id = $1 AND state = $4 AND expires_at > $3`,
		id, InvitationAccepted, ts(now), InvitationPending))
	if err != nil {
		return fmt.Errorf("accept invitation %s: %w", id, err)
	}
	return nil
}
