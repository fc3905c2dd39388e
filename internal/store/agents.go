package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrTokenUsed is a join token that was used, has expired or never existed.
var ErrTokenUsed = errors.New("join token invalid, used or expired")

// CreateJoinToken stores the hash of a one-time token that lets an agent join
// as host hostID until expires.
func (tx *Tx) CreateJoinToken(ctx context.Context, hash, hostID, createdBy string, expires time.Time) error {
	_, err := tx.exec(ctx, `INSERT INTO join_tokens (hash, host_id, created_by, expires_at, created_at) VALUES ($1, $2, $3, $4, $5)`,
		hash, hostID, createdBy, ts(expires), ts(tx.Now()))
	if err != nil {
		return fmt.Errorf("create join token: %w", err)
	}
	return nil
}

// UseJoinToken spends a join token and returns the host it is for.
func (tx *Tx) UseJoinToken(ctx context.Context, hash string) (string, error) {
	now := ts(tx.Now())
	var host string
	err := mapErr(tx.queryRow(ctx, `UPDATE join_tokens SET used_at = $2 WHERE hash = $1 AND used_at IS NULL AND expires_at > $2
		RETURNING host_id`, hash, now).Scan(&host))
	if errors.Is(err, ErrNotFound) {
		return "", ErrTokenUsed
	}
	return host, err
}

// SetAgentCredential records the credential hash and protocol of a host's
// newly joined agent; an earlier agent's credential stops working.
func (tx *Tx) SetAgentCredential(ctx context.Context, hostID, hash string, protocol int) error {
	return expectOne(tx.exec(ctx, `UPDATE hosts SET agent_hash = $2, protocol = $3 WHERE id = $1`, hostID, hash, protocol))
}

// HostByAgentCredential finds the host whose agent holds the credential
// with this hash.
func (tx *Tx) HostByAgentCredential(ctx context.Context, hash string) (*Host, error) {
	if hash == "" {
		return nil, ErrNotFound
	}
	h, err := scanHost(tx.queryRow(ctx, `SELECT `+hostCols+` FROM hosts t WHERE t.agent_hash = $1`, hash))
	if err != nil {
		return nil, fmt.Errorf("host by agent credential: %w", err)
	}
	return &h, nil
}

// Heartbeat is what an agent reports about its host.
type Heartbeat struct {
	VCPU         int
	MemoryMiB    int64
	DiskGiB      int64
	Acceleration string
	AgentVersion string
}

// RecordHeartbeat stores a host's report and brings a pending or down host
// back to ready, or to draining if the operator drained it. It returns the
// host's state.
func (tx *Tx) RecordHeartbeat(ctx context.Context, hostID string, hb Heartbeat) (string, error) {
	now := ts(tx.Now())
	var state string
	err := mapErr(tx.queryRow(ctx, `UPDATE hosts SET vcpu = $2, memory_mib = $3, disk_gib = $4, acceleration = $5, agent_version = $6,
		last_heartbeat = $7,
		version = CASE WHEN state IN ('pending', 'down') THEN version + 1 ELSE version END,
		updated_at = CASE WHEN state IN ('pending', 'down') THEN $7 ELSE updated_at END,
		state = CASE WHEN state IN ('pending', 'down') THEN (CASE WHEN drain THEN 'draining' ELSE 'ready' END) ELSE state END
		WHERE id = $1 RETURNING state`, hostID, hb.VCPU, hb.MemoryMiB, hb.DiskGiB, hb.Acceleration, hb.AgentVersion, now).Scan(&state))
	if err != nil {
		return "", fmt.Errorf("record heartbeat of %s: %w", hostID, err)
	}
	return state, nil
}

// MarkSilentHostsDown sets ready and draining hosts whose last heartbeat is
// older than before to down, and returns their IDs. Nothing on them is
// touched: their VMs are unknown, not gone.
func (tx *Tx) MarkSilentHostsDown(ctx context.Context, before time.Time) ([]string, error) {
	now := ts(tx.Now())
	rows, err := tx.query(ctx, `UPDATE hosts SET state = 'down', version = version + 1, updated_at = $2
		WHERE state IN ('ready', 'draining') AND (last_heartbeat IS NULL OR last_heartbeat < $1) RETURNING id`, ts(before), now)
	if err != nil {
		return nil, fmt.Errorf("mark silent hosts down: %w", err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}
