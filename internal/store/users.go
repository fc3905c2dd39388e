package store

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// User is a stored user.
type User struct {
	Meta
	Email         string
	Name          string
	PasswordHash  string
	EmailVerified bool
}

// RoleBinding grants a user a role in an organisation (OrgID "" = provider-wide).
type RoleBinding struct {
	ID        string
	UserID    string
	Email     string // of the user, filled in on read
	OrgID     string
	OrgName   string // filled in on read when OrgID is set
	Role      string
	CreatedAt time.Time
}

// NormalizeEmail is the stored form of an e-mail address: trimmed, lower case.
func NormalizeEmail(e string) string { return strings.ToLower(strings.TrimSpace(e)) }

const userCols = `t.id, t.email, t.name, t.password_hash, t.email_verified, t.version, t.created_at, t.updated_at`

func scanUser(sc interface{ Scan(...any) error }) (User, error) {
	var u User
	var created, updated Time
	err := sc.Scan(&u.ID, &u.Email, &u.Name, &u.PasswordHash, &u.EmailVerified, &u.Version, &created, &updated)
	u.CreatedAt, u.UpdatedAt = created.Time, updated.Time
	return u, mapErr(err)
}

// CreateUser stores a new user. ErrConflict if the e-mail is taken.
func (tx *Tx) CreateUser(ctx context.Context, u *User) error {
	u.created(tx.Now())
	u.Email = NormalizeEmail(u.Email)
	_, err := tx.exec(ctx, `INSERT INTO users (id, email, name, password_hash, email_verified, version, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		u.ID, u.Email, u.Name, u.PasswordHash, u.EmailVerified, u.Version, ts(u.CreatedAt), ts(u.UpdatedAt))
	if err != nil {
		return fmt.Errorf("create user: %w", err)
	}
	return nil
}

// GetUser reads a user by ID.
func (tx *Tx) GetUser(ctx context.Context, id string) (*User, error) {
	u, err := scanUser(tx.queryRow(ctx, `SELECT `+userCols+` FROM users t WHERE t.id = $1`, id))
	if err != nil {
		return nil, fmt.Errorf("user %s: %w", id, err)
	}
	return &u, nil
}

// GetUserByEmail reads a user by e-mail address.
func (tx *Tx) GetUserByEmail(ctx context.Context, email string) (*User, error) {
	u, err := scanUser(tx.queryRow(ctx, `SELECT `+userCols+` FROM users t WHERE t.email = $1`, NormalizeEmail(email)))
	if err != nil {
		return nil, fmt.Errorf("user by e-mail: %w", err)
	}
	return &u, nil
}

// UserFilter narrows ListUsers; empty fields match every user.
type UserFilter struct {
	OrgID string // members of this organisation
	Email string // the user with this address
}

// ListUsers lists users.
func (tx *Tx) ListUsers(ctx context.Context, f UserFilter, p Page) ([]User, string, error) {
	var w where
	if f.OrgID != "" {
		w.add("EXISTS (SELECT 1 FROM role_bindings b WHERE b.user_id = t.id AND b.org_id = ?)", f.OrgID)
	}
	if f.Email != "" {
		w.add("t.email = ?", NormalizeEmail(f.Email))
	}
	tail, err := w.page("user", p)
	if err != nil {
		return nil, "", err
	}
	rows, err := tx.query(ctx, `SELECT `+userCols+` FROM users t`+w.String()+tail, w.args...)
	if err != nil {
		return nil, "", fmt.Errorf("list users: %w", err)
	}
	out, err := collect(rows, scanUser)
	if err != nil {
		return nil, "", err
	}
	out, next := trimPage(out, p, func(u User) string { return u.ID })
	return out, next, attachLabels(ctx, tx, "user", out, func(u *User) *Meta { return &u.Meta })
}

// UpdateUser writes a changed user (name, password hash, verification).
func (tx *Tx) UpdateUser(ctx context.Context, u *User) error {
	u.updated(tx.Now())
	err := expectOne(tx.exec(ctx, `UPDATE users SET name = $2, password_hash = $3, email_verified = $4, version = $5, updated_at = $6 WHERE id = $1`,
		u.ID, u.Name, u.PasswordHash, u.EmailVerified, u.Version, ts(u.UpdatedAt)))
	if err != nil {
		return fmt.Errorf("update user %s: %w", u.ID, err)
	}
	return nil
}

// DeleteUser removes a user with their bindings, tokens and sessions.
func (tx *Tx) DeleteUser(ctx context.Context, id string) error {
	if err := expectOne(tx.exec(ctx, `DELETE FROM users WHERE id = $1`, id)); err != nil {
		return fmt.Errorf("delete user %s: %w", id, err)
	}
	return tx.deleteLabels(ctx, "user", id)
}

const bindingCols = `b.id, b.user_id, u.email, b.org_id, COALESCE(o.name, ''), b.role, b.created_at`
const bindingFrom = ` FROM role_bindings b JOIN users u ON u.id = b.user_id LEFT JOIN orgs o ON o.id = b.org_id`

func scanBinding(sc interface{ Scan(...any) error }) (RoleBinding, error) {
	var b RoleBinding
	var created Time
	err := sc.Scan(&b.ID, &b.UserID, &b.Email, &b.OrgID, &b.OrgName, &b.Role, &created)
	b.CreatedAt = created.Time
	return b, mapErr(err)
}

// PutRoleBinding grants a role, replacing the user's earlier role in the same scope.
func (tx *Tx) PutRoleBinding(ctx context.Context, b *RoleBinding) error {
	if b.ID == "" {
		b.ID = NewID()
	}
	b.CreatedAt = tx.Now()
	_, err := tx.exec(ctx, `INSERT INTO role_bindings (id, user_id, org_id, role, created_at) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (user_id, org_id) DO UPDATE SET role = excluded.role`,
		b.ID, b.UserID, b.OrgID, b.Role, ts(b.CreatedAt))
	if err != nil {
		return fmt.Errorf("bind role: %w", err)
	}
	got, err := scanBinding(tx.queryRow(ctx, `SELECT `+bindingCols+bindingFrom+` WHERE b.user_id = $1 AND b.org_id = $2`, b.UserID, b.OrgID))
	if err != nil {
		return fmt.Errorf("bind role: %w", err)
	}
	*b = got
	return nil
}

// GetRoleBinding reads one binding.
func (tx *Tx) GetRoleBinding(ctx context.Context, id string) (*RoleBinding, error) {
	b, err := scanBinding(tx.queryRow(ctx, `SELECT `+bindingCols+bindingFrom+` WHERE b.id = $1`, id))
	if err != nil {
		return nil, fmt.Errorf("role binding %s: %w", id, err)
	}
	return &b, nil
}

// ListRoleBindings lists bindings of a user (userID set), or of a scope
// (orgID: an organisation, or "" for provider-wide bindings).
func (tx *Tx) ListRoleBindings(ctx context.Context, userID, orgID string, byOrg bool) ([]RoleBinding, error) {
	var w where
	if userID != "" {
		w.add("b.user_id = ?", userID)
	}
	if byOrg {
		w.add("b.org_id = ?", orgID)
	}
	rows, err := tx.query(ctx, `SELECT `+bindingCols+bindingFrom+w.String()+` ORDER BY b.id`, w.args...)
	if err != nil {
		return nil, fmt.Errorf("list role bindings: %w", err)
	}
	defer rows.Close()
	var out []RoleBinding
	for rows.Next() {
		b, err := scanBinding(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, rows.Err()
}

// DeleteRoleBinding removes a binding.
func (tx *Tx) DeleteRoleBinding(ctx context.Context, id string) error {
	if err := expectOne(tx.exec(ctx, `DELETE FROM role_bindings WHERE id = $1`, id)); err != nil {
		return fmt.Errorf("delete role binding %s: %w", id, err)
	}
	return nil
}

// CountRoleBindings counts the bindings with role in a scope (to keep at
// least one admin).
func (tx *Tx) CountRoleBindings(ctx context.Context, orgID, role string) (int, error) {
	var n int
	err := tx.queryRow(ctx, `SELECT COUNT(*) FROM role_bindings WHERE org_id = $1 AND role = $2`, orgID, role).Scan(&n)
	return n, mapErr(err)
}
