package store

import (
	"context"
	"fmt"
)

// PlacedVDC is where one of an organisation's VDCs lives, for checking a
// residency policy against it.
type PlacedVDC struct {
	ID           string
	Name         string
	ZoneID       string
	RegionID     string
	Jurisdiction string
}

// OrgVDCPlacements lists the zone, region and jurisdiction of every VDC of an
// organisation, so a new residency policy can be checked before it applies.
func (tx *Tx) OrgVDCPlacements(ctx context.Context, orgID string) ([]PlacedVDC, error) {
	rows, err := tx.query(ctx, `SELECT v.id, v.name, v.zone_id, z.region_id, r.jurisdiction
		FROM vdcs v JOIN zones z ON z.id = v.zone_id JOIN regions r ON r.id = z.region_id
		WHERE v.org_id = $1 ORDER BY v.id`, orgID)
	if err != nil {
		return nil, fmt.Errorf("placements of organisation %s: %w", orgID, err)
	}
	defer rows.Close()
	var out []PlacedVDC
	for rows.Next() {
		var p PlacedVDC
		if err := rows.Scan(&p.ID, &p.Name, &p.ZoneID, &p.RegionID, &p.Jurisdiction); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// DeleteOrgVDCs removes every VDC of an organisation with its labels, and
// reports how many went. Whatever lives in the VDCs must be gone already.
func (tx *Tx) DeleteOrgVDCs(ctx context.Context, orgID string) (int64, error) {
	if _, err := tx.exec(ctx, `DELETE FROM labels WHERE kind = 'vdc' AND resource_id IN (SELECT id FROM vdcs WHERE org_id = $1)`, orgID); err != nil {
		return 0, fmt.Errorf("delete VDC labels of organisation %s: %w", orgID, err)
	}
	res, err := tx.exec(ctx, `DELETE FROM vdcs WHERE org_id = $1`, orgID)
	if err != nil {
		return 0, fmt.Errorf("delete VDCs of organisation %s: %w", orgID, err)
	}
	return res.RowsAffected()
}

// RevokeOrgInvitations revokes an organisation's pending invitations and
// reports how many there were.
func (tx *Tx) RevokeOrgInvitations(ctx context.Context, orgID string) (int64, error) {
	res, err := tx.exec(ctx, `UPDATE invitations SET state = 'revoked' WHERE org_id = $1 AND state = 'pending'`, orgID)
	if err != nil {
		return 0, fmt.Errorf("revoke invitations of organisation %s: %w", orgID, err)
	}
	return res.RowsAffected()
}

// DeleteUserScopeTokens revokes a user's tokens in one scope (an organisation,
// or "" for provider tokens): they grant nothing once the user's role there is
// gone, and must not come back to life if the role is granted again.
func (tx *Tx) DeleteUserScopeTokens(ctx context.Context, userID, orgID string) error {
	if _, err := tx.exec(ctx, `DELETE FROM tokens WHERE user_id = $1 AND org_id = $2`, userID, orgID); err != nil {
		return fmt.Errorf("revoke tokens of user %s: %w", userID, err)
	}
	return nil
}

// ListScopeBindings lists the role bindings of one scope (an organisation, or
// "" for provider-wide roles) a page at a time, oldest first.
func (tx *Tx) ListScopeBindings(ctx context.Context, orgID string, p Page) ([]RoleBinding, string, error) {
	var w where
	w.add("t.org_id = ?", orgID)
	p.Labels = nil // bindings carry no labels
	tail, err := w.page("role_binding", p)
	if err != nil {
		return nil, "", err
	}
	rows, err := tx.query(ctx, `SELECT t.id, t.user_id, u.email, t.org_id, COALESCE(o.name, ''), t.role, t.created_at
		FROM role_bindings t JOIN users u ON u.id = t.user_id LEFT JOIN orgs o ON o.id = t.org_id`+w.String()+tail, w.args...)
	if err != nil {
		return nil, "", fmt.Errorf("list role bindings: %w", err)
	}
	out, err := collect(rows, scanBinding)
	if err != nil {
		return nil, "", err
	}
	out, next := trimPage(out, p, func(b RoleBinding) string { return b.ID })
	return out, next, nil
}
