package store

import (
	"context"
	"fmt"
	"time"
)

// Host is a stored hypervisor host; its ID is its name.
type Host struct {
	Meta
	ZoneID    string
	State     string
	VCPU      int
	MemoryMiB int64
	DiskGiB   int64
	// Overcommit ratios are plain ratios, not money, so float is fine.
	CPUOvercommit    float64
	MemoryOvercommit float64
	// Acceleration, AgentVersion and LastHeartbeat are reported by the agent.
	Acceleration  string
	AgentVersion  string
	LastHeartbeat *time.Time
}

// HostFilter narrows ListHosts; empty fields match every host.
type HostFilter struct {
	Zone  string
	State string
}

const hostCols = `t.id, t.zone_id, t.state, t.vcpu, t.memory_mib, t.disk_gib, t.cpu_overcommit, t.memory_overcommit,
	t.acceleration, t.agent_version, t.last_heartbeat, t.version, t.created_at, t.updated_at`

func scanHost(sc interface{ Scan(...any) error }) (Host, error) {
	var h Host
	var created, updated Time
	var beat NullTime
	err := sc.Scan(&h.ID, &h.ZoneID, &h.State, &h.VCPU, &h.MemoryMiB, &h.DiskGiB, &h.CPUOvercommit, &h.MemoryOvercommit,
		&h.Acceleration, &h.AgentVersion, &beat, &h.Version, &created, &updated)
	h.CreatedAt, h.UpdatedAt, h.LastHeartbeat = created.Time, updated.Time, beat.T
	return h, mapErr(err)
}

// CreateHost stores a new host. ErrConflict if the name is taken or the zone
// does not exist.
func (tx *Tx) CreateHost(ctx context.Context, h *Host) error {
	h.created(tx.Now())
	_, err := tx.exec(ctx, `INSERT INTO hosts (id, zone_id, state, vcpu, memory_mib, disk_gib, cpu_overcommit, memory_overcommit,
		acceleration, agent_version, last_heartbeat, version, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
		h.ID, h.ZoneID, h.State, h.VCPU, h.MemoryMiB, h.DiskGiB, h.CPUOvercommit, h.MemoryOvercommit,
		h.Acceleration, h.AgentVersion, tsPtr(h.LastHeartbeat), h.Version, ts(h.CreatedAt), ts(h.UpdatedAt))
	if err != nil {
		return fmt.Errorf("create host %s: %w", h.ID, err)
	}
	return tx.setLabels(ctx, "host", h.ID, h.Labels)
}

// GetHost reads one host.
func (tx *Tx) GetHost(ctx context.Context, id string) (*Host, error) {
	h, err := scanHost(tx.queryRow(ctx, `SELECT `+hostCols+` FROM hosts t WHERE t.id = $1`, id))
	if err != nil {
		return nil, fmt.Errorf("host %s: %w", id, err)
	}
	return &h, tx.loadLabels(ctx, "host", []string{h.ID}, func(_ string, l map[string]string) { h.Labels = l })
}

// ListHosts lists hosts by name.
func (tx *Tx) ListHosts(ctx context.Context, f HostFilter, p Page) ([]Host, string, error) {
	var w where
	if f.Zone != "" {
		w.add("t.zone_id = ?", f.Zone)
	}
	if f.State != "" {
		w.add("t.state = ?", f.State)
	}
	tail, err := w.page("host", p)
	if err != nil {
		return nil, "", err
	}
	rows, err := tx.query(ctx, `SELECT `+hostCols+` FROM hosts t`+w.String()+tail, w.args...)
	if err != nil {
		return nil, "", fmt.Errorf("list hosts: %w", err)
	}
	out, err := collect(rows, scanHost)
	if err != nil {
		return nil, "", err
	}
	out, next := trimPage(out, p, func(h Host) string { return h.ID })
	return out, next, attachLabels(ctx, tx, "host", out, func(h *Host) *Meta { return &h.Meta })
}

// UpdateHost writes a changed host (everything but its zone) and bumps its version.
func (tx *Tx) UpdateHost(ctx context.Context, h *Host) error {
	h.updated(tx.Now())
	// drain follows the operator's ready/draining choice and survives the
	// agent-driven pending and down states.
	err := expectOne(tx.exec(ctx, `UPDATE hosts SET state = $2,
		drain = CASE WHEN $2 = 'draining' THEN TRUE WHEN $2 = 'ready' THEN FALSE ELSE drain END, vcpu = $3, memory_mib = $4, disk_gib = $5,
		cpu_overcommit = $6, memory_overcommit = $7, acceleration = $8, agent_version = $9, last_heartbeat = $10,
		version = $11, updated_at = $12 WHERE id = $1`,
		h.ID, h.State, h.VCPU, h.MemoryMiB, h.DiskGiB, h.CPUOvercommit, h.MemoryOvercommit,
		h.Acceleration, h.AgentVersion, tsPtr(h.LastHeartbeat), h.Version, ts(h.UpdatedAt)))
	if err != nil {
		return fmt.Errorf("update host %s: %w", h.ID, err)
	}
	return tx.setLabels(ctx, "host", h.ID, h.Labels)
}

// DeleteHost removes a host. Once VMs reference hosts, it fails with
// ErrConflict while any VM is placed on it.
func (tx *Tx) DeleteHost(ctx context.Context, id string) error {
	if err := expectOne(tx.exec(ctx, `DELETE FROM hosts WHERE id = $1`, id)); err != nil {
		return fmt.Errorf("delete host %s: %w", id, err)
	}
	return tx.deleteLabels(ctx, "host", id)
}

// ZoneUsers counts the hosts and VDCs in a zone, so that deleting a zone in
// use can say what still holds it rather than report a bare conflict.
func (tx *Tx) ZoneUsers(ctx context.Context, zone string) (hosts, vdcs int, err error) {
	err = tx.queryRow(ctx, `SELECT (SELECT COUNT(*) FROM hosts WHERE zone_id = $1), (SELECT COUNT(*) FROM vdcs WHERE zone_id = $1)`, zone).
		Scan(&hosts, &vdcs)
	if err != nil {
		return 0, 0, fmt.Errorf("count users of zone %s: %w", zone, mapErr(err))
	}
	return hosts, vdcs, nil
}
