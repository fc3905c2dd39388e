package store

import (
	"context"
	"fmt"
	"time"
)

// SSHKey is an SSH public key an organisation registered under a name. The
// store keeps the key as the API normalised it; parsing is the API's job.
type SSHKey struct {
	ID          string
	OrgID       string
	Name        string
	PublicKey   string // "type base64 [comment]"
	Fingerprint string // SHA256:…, as ssh-keygen -l prints it
	CreatedAt   time.Time
	CreatedBy   string // user ID; "" for a caller without one
}

const sshKeyCols = `t.id, t.org_id, t.name, t.public_key, t.fingerprint, t.created_at, t.created_by`

func scanSSHKey(sc interface{ Scan(...any) error }) (SSHKey, error) {
	var k SSHKey
	var created Time
	err := sc.Scan(&k.ID, &k.OrgID, &k.Name, &k.PublicKey, &k.Fingerprint, &created, &k.CreatedBy)
	k.CreatedAt = created.Time
	return k, mapErr(err)
}

// CreateSSHKey stores a key. ErrConflict if the organisation has a key of
// that name.
func (tx *Tx) CreateSSHKey(ctx context.Context, k *SSHKey) error {
	if k.ID == "" {
		k.ID = NewID()
	}
	// Stored to the microsecond: the caller sees what a read returns.
	k.CreatedAt = tx.Now().Truncate(time.Microsecond)
	_, err := tx.exec(ctx, `INSERT INTO ssh_keys (id, org_id, name, public_key, fingerprint, created_at, created_by)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		k.ID, k.OrgID, k.Name, k.PublicKey, k.Fingerprint, ts(k.CreatedAt), k.CreatedBy)
	if err != nil {
		return fmt.Errorf("create ssh key %s: %w", k.Name, err)
	}
	return nil
}

// GetSSHKey reads a key of organisation orgID by ID or by name; one of
// another organisation is ErrNotFound.
func (tx *Tx) GetSSHKey(ctx context.Context, orgID, idOrName string) (*SSHKey, error) {
	col := "t.name"
	if IsID(idOrName) {
		col = "t.id"
	}
	k, err := scanSSHKey(tx.queryRow(ctx, `SELECT `+sshKeyCols+` FROM ssh_keys t WHERE t.org_id = $1 AND `+col+` = $2`, orgID, idOrName))
	if err != nil {
		return nil, fmt.Errorf("ssh key %s: %w", idOrName, err)
	}
	return &k, nil
}

// ListSSHKeys lists an organisation's keys by ID (creation order).
func (tx *Tx) ListSSHKeys(ctx context.Context, orgID string, p Page) ([]SSHKey, string, error) {
	var w where
	w.add("t.org_id = ?", orgID)
	tail, err := w.page("ssh-key", p)
	if err != nil {
		return nil, "", err
	}
	rows, err := tx.query(ctx, `SELECT `+sshKeyCols+` FROM ssh_keys t`+w.String()+tail, w.args...)
	if err != nil {
		return nil, "", fmt.Errorf("list ssh keys: %w", err)
	}
	out, err := collect(rows, scanSSHKey)
	if err != nil {
		return nil, "", err
	}
	out, next := trimPage(out, p, func(k SSHKey) string { return k.ID })
	return out, next, nil
}

// DeleteSSHKey removes a key. VMs made with it keep their copy.
func (tx *Tx) DeleteSSHKey(ctx context.Context, id string) error {
	if err := expectOne(tx.exec(ctx, `DELETE FROM ssh_keys WHERE id = $1`, id)); err != nil {
		return fmt.Errorf("delete ssh key %s: %w", id, err)
	}
	return nil
}
