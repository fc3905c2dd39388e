package store

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// VM powers (desired).
const (
	PowerRunning = "running"
	PowerStopped = "stopped"
	PowerDeleted = "deleted" // the host deletes it; the row goes once the host stops reporting it
)

// VM is a stored VM: desired state written by the API, observed state from
// its host's reports.
type VM struct {
	Meta
	OrgID        string
	VDCID        string
	Name         string
	Hostname     string
	ImageID      string
	SizeID       string
	VCPU         int
	MemoryMiB    int64
	DiskGiB      int64
	HostID       string
	AntiAffinity string
	SSHKeys      []string
	UserData     string

	// Desired state. Generation rises (by one) on every change to it; the
	// one-shot actions apply when their generation is above what the host
	// last applied.
	Power       string
	Generation  int64
	StopTimeout int // seconds
	RebootAt    int64
	ForceOffAt  int64
	RevertAt    int64
	RevertTo    string

	// Observed state.
	State              string // api.VM* states
	Message            string
	ObservedGeneration int64
	ObservedAt         *time.Time

	// Filled in on read from the host, zone and region.
	VDCName      string
	ZoneID       string
	RegionID     string
	Jurisdiction string
	HostState    string
}

// VMFilter narrows ListVMs; empty fields match every VM.
type VMFilter struct {
	OrgID   string
	VDCID   string
	HostID  string
	ImageID string
}

// CreateVM stores a new VM with Generation 1 and bumps its host's
// generation. ErrConflict if the organisation already has a VM of that name.
func (tx *Tx) CreateVM(ctx context.Context, v *VM) error {
	v.created(tx.Now())
	v.Generation, v.ObservedGeneration, v.ObservedAt = 1, 0, nil
	if v.State == "" {
		v.State = "creating" // api.VMCreating; store does not import api
	}
	_, err := tx.exec(ctx, `INSERT INTO vms (id, org_id, vdc_id, name, hostname, image_id, size_id, vcpu, memory_mib, disk_gib,
		host_id, anti_affinity, ssh_keys, user_data, power, generation, stop_timeout, reboot_at, force_off_at, revert_at, revert_to,
		state, message, observed_generation, observed_at, version, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28)`,
		v.ID, v.OrgID, v.VDCID, v.Name, v.Hostname, v.ImageID, v.SizeID, v.VCPU, v.MemoryMiB, v.DiskGiB,
		v.HostID, v.AntiAffinity, jsonText{nonNil(v.SSHKeys)}, v.UserData, v.Power, v.Generation, v.StopTimeout,
		v.RebootAt, v.ForceOffAt, v.RevertAt, v.RevertTo, v.State, v.Message, v.ObservedGeneration, nil,
		v.Version, ts(v.CreatedAt), ts(v.UpdatedAt))
	if err != nil {
		return fmt.Errorf("create vm %s: %w", v.Name, err)
	}
	if err := tx.BumpHostGeneration(ctx, v.HostID); err != nil {
		return err
	}
	return tx.setLabels(ctx, "vm", v.ID, v.Labels)
}

// GetVM reads a VM of organisation orgID by ID or name; a VM of another
// organisation is ErrNotFound.
func (tx *Tx) GetVM(ctx context.Context, orgID, idOrName string) (*VM, error) {
	col := "t.name"
	if IsID(idOrName) {
		col = "t.id"
	}
	return tx.getVM(ctx, idOrName, ` WHERE t.org_id = $1 AND `+col+` = $2`, orgID, idOrName)
}

// GetVMByID reads a VM by ID whatever its organisation (operation runners,
// agents).
func (tx *Tx) GetVMByID(ctx context.Context, id string) (*VM, error) {
	return tx.getVM(ctx, id, ` WHERE t.id = $1`, id)
}

// ListVMs lists VMs by ID (creation order).
func (tx *Tx) ListVMs(ctx context.Context, f VMFilter, p Page) ([]VM, string, error) {
	var w where
	if f.OrgID != "" {
		w.add("t.org_id = ?", f.OrgID)
	}
	if f.VDCID != "" {
		w.add("t.vdc_id = ?", f.VDCID)
	}
	if f.HostID != "" {
		w.add("t.host_id = ?", f.HostID)
	}
	if f.ImageID != "" {
		w.add("t.image_id = ?", f.ImageID)
	}
	tail, err := w.page("vm", p)
	if err != nil {
		return nil, "", err
	}
	rows, err := tx.query(ctx, `SELECT `+vmCols+vmFrom+w.String()+tail, w.args...)
	if err != nil {
		return nil, "", fmt.Errorf("list vms: %w", err)
	}
	out, err := collect(rows, scanVM)
	if err != nil {
		return nil, "", err
	}
	out, next := trimPage(out, p, func(v VM) string { return v.ID })
	return out, next, attachLabels(ctx, tx, "vm", out, func(v *VM) *Meta { return &v.Meta })
}

// UpdateVM writes v's labels, size and desired state and bumps its version.
// With bump, it also raises v.Generation by one and bumps the host's
// generation so the agent hears of it; v.Generation holds the new value.
func (tx *Tx) UpdateVM(ctx context.Context, v *VM, bump bool) error {
	v.updated(tx.Now())
	if bump {
		v.Generation++
	}
	err := expectOne(tx.exec(ctx, `UPDATE vms SET size_id = $2, vcpu = $3, memory_mib = $4, disk_gib = $5, power = $6, generation = $7,
		stop_timeout = $8, reboot_at = $9, force_off_at = $10, revert_at = $11, revert_to = $12, state = $13, message = $14,
		version = $15, updated_at = $16 WHERE id = $1`,
		v.ID, v.SizeID, v.VCPU, v.MemoryMiB, v.DiskGiB, v.Power, v.Generation,
		v.StopTimeout, v.RebootAt, v.ForceOffAt, v.RevertAt, v.RevertTo, v.State, v.Message,
		v.Version, ts(v.UpdatedAt)))
	if err != nil {
		return fmt.Errorf("update vm %s: %w", v.ID, err)
	}
	if bump {
		if err := tx.BumpHostGeneration(ctx, v.HostID); err != nil {
			return err
		}
	}
	return tx.setLabels(ctx, "vm", v.ID, v.Labels)
}

// ObserveVM records what host hostID reports about VM o.ID (state, message,
// applied generation, observed size) and returns the VM as it is now. A VM
// not placed on hostID is ErrNotFound: a host cannot report for another's.
// The version changes only when state or message changes.
func (tx *Tx) ObserveVM(ctx context.Context, hostID string, o ObservedVM) (*VM, error) {
	var state, message string
	err := tx.queryRow(ctx, `SELECT state, message FROM vms WHERE id = $1 AND host_id = $2`, o.ID, hostID).Scan(&state, &message)
	if err != nil {
		return nil, fmt.Errorf("vm %s on host %s: %w", o.ID, hostID, mapErr(err))
	}
	now := ts(tx.Now())
	if state != o.State || message != o.Message {
		_, err = tx.exec(ctx, `UPDATE vms SET state = $2, message = $3, observed_generation = $4, observed_at = $5,
			version = version + 1, updated_at = $5 WHERE id = $1`, o.ID, o.State, o.Message, o.Generation, now)
	} else {
		// An unchanged report moves no version, so watchers of the VM are
		// not woken by every heartbeat.
		_, err = tx.exec(ctx, `UPDATE vms SET observed_generation = $2, observed_at = $3 WHERE id = $1`, o.ID, o.Generation, now)
	}
	if err != nil {
		return nil, fmt.Errorf("observe vm %s: %w", o.ID, err)
	}
	return tx.GetVMByID(ctx, o.ID)
}

// ObservedVM is one VM in a host's report.
type ObservedVM struct {
	ID         string
	State      string
	Message    string
	Generation int64
}

// DeleteVM removes a VM row (its snapshots go with it).
func (tx *Tx) DeleteVM(ctx context.Context, id string) error {
	if err := expectOne(tx.exec(ctx, `DELETE FROM vms WHERE id = $1`, id)); err != nil {
		return fmt.Errorf("delete vm %s: %w", id, err)
	}
	return tx.deleteLabels(ctx, "vm", id)
}

// HostVMs returns every VM placed on a host, whatever its power.
func (tx *Tx) HostVMs(ctx context.Context, hostID string) ([]VM, error) {
	rows, err := tx.query(ctx, `SELECT `+vmCols+vmFrom+` WHERE t.host_id = $1 ORDER BY t.id`, hostID)
	if err != nil {
		return nil, fmt.Errorf("vms of host %s: %w", hostID, err)
	}
	out, err := collect(rows, scanVM)
	if err != nil {
		return nil, err
	}
	return out, attachLabels(ctx, tx, "vm", out, func(v *VM) *Meta { return &v.Meta })
}

// HostGeneration reads a host's generation.
func (tx *Tx) HostGeneration(ctx context.Context, hostID string) (int64, error) {
	var g int64
	if err := tx.queryRow(ctx, `SELECT generation FROM hosts WHERE id = $1`, hostID).Scan(&g); err != nil {
		return 0, fmt.Errorf("generation of host %s: %w", hostID, mapErr(err))
	}
	return g, nil
}

// BumpHostGeneration raises a host's generation (for example when a console
// is asked for) so its agent's long-poll answers.
func (tx *Tx) BumpHostGeneration(ctx context.Context, hostID string) error {
	if err := expectOne(tx.exec(ctx, `UPDATE hosts SET generation = generation + 1 WHERE id = $1`, hostID)); err != nil {
		return fmt.Errorf("bump generation of host %s: %w", hostID, err)
	}
	return nil
}

// BumpAllHostGenerations raises every host's generation, so every agent
// re-reads its desired state (after a change that concerns them all, such
// as a host's new underlay address).
func (tx *Tx) BumpAllHostGenerations(ctx context.Context) error {
	if _, err := tx.exec(ctx, `UPDATE hosts SET generation = generation + 1`); err != nil {
		return fmt.Errorf("bump host generations: %w", err)
	}
	return nil
}

// Usage is what a VDC's VMs hold, counted against its quotas.
type Usage struct {
	VCPU      int
	MemoryMiB int64
	DiskGiB   int64
	VMs       int
}

// VDCUsage sums the VMs of a VDC, whatever their power (deleting ones too:
// they hold their resources until the host has let go).
func (tx *Tx) VDCUsage(ctx context.Context, vdcID string) (Usage, error) {
	var u Usage
	err := tx.queryRow(ctx, `SELECT `+usageSums+` FROM vms WHERE vdc_id = $1`, vdcID).Scan(&u.VCPU, &u.MemoryMiB, &u.DiskGiB, &u.VMs)
	if err != nil {
		return Usage{}, fmt.Errorf("usage of vdc %s: %w", vdcID, mapErr(err))
	}
	return u, nil
}

// VDCVMCount counts the VMs of a VDC (for delete checks).
func (tx *Tx) VDCVMCount(ctx context.Context, vdcID string) (int, error) {
	var n int
	if err := tx.queryRow(ctx, `SELECT COUNT(*) FROM vms WHERE vdc_id = $1`, vdcID).Scan(&n); err != nil {
		return 0, fmt.Errorf("count vms of vdc %s: %w", vdcID, mapErr(err))
	}
	return n, nil
}

// PlacementHost is a host with its location and what its VMs reserve.
type PlacementHost struct {
	Host
	RegionID     string
	Jurisdiction string
	Used         Usage
}

// PlacementHosts returns the hosts of the given zones (all zones if none)
// with labels, region, jurisdiction and the sum of their VMs' resources.
func (tx *Tx) PlacementHosts(ctx context.Context, zones []string) ([]PlacementHost, error) {
	var w where
	if len(zones) > 0 {
		in := make([]string, len(zones))
		for i, z := range zones {
			in[i] = w.arg(z)
		}
		w.conds = append(w.conds, "t.zone_id IN ("+strings.Join(in, ", ")+")")
	}
	rows, err := tx.query(ctx, `SELECT `+hostCols+`, z.region_id, r.jurisdiction,
		COALESCE(u.vcpu, 0), COALESCE(u.memory_mib, 0), COALESCE(u.disk_gib, 0), COALESCE(u.vms, 0)
		FROM hosts t JOIN zones z ON z.id = t.zone_id JOIN regions r ON r.id = z.region_id
		LEFT JOIN (SELECT host_id, CAST(SUM(vcpu) AS BIGINT) AS vcpu, CAST(SUM(memory_mib) AS BIGINT) AS memory_mib,
			CAST(SUM(disk_gib) AS BIGINT) AS disk_gib, COUNT(*) AS vms FROM vms GROUP BY host_id) u ON u.host_id = t.id`+
		w.String()+` ORDER BY t.id`, w.args...)
	if err != nil {
		return nil, fmt.Errorf("placement hosts: %w", err)
	}
	out, err := collect(rows, func(sc interface{ Scan(...any) error }) (PlacementHost, error) {
		var p PlacementHost
		var created, updated Time
		var beat NullTime
		h, u := &p.Host, &p.Used
		err := sc.Scan(&h.ID, &h.ZoneID, &h.State, &h.VCPU, &h.MemoryMiB, &h.DiskGiB, &h.CPUOvercommit, &h.MemoryOvercommit,
			&h.Acceleration, &h.AgentVersion, &beat, &h.Version, &created, &updated,
			&p.RegionID, &p.Jurisdiction, &u.VCPU, &u.MemoryMiB, &u.DiskGiB, &u.VMs)
		h.CreatedAt, h.UpdatedAt, h.LastHeartbeat = created.Time, updated.Time, beat.T
		return p, mapErr(err)
	})
	if err != nil {
		return nil, err
	}
	return out, attachLabels(ctx, tx, "host", out, func(p *PlacementHost) *Meta { return &p.Host.Meta })
}

// GroupHosts counts, per host, the VMs of organisation orgID in
// anti-affinity group group.
func (tx *Tx) GroupHosts(ctx context.Context, orgID, group string) (map[string]int, error) {
	out := map[string]int{}
	if group == "" {
		return out, nil // no group: no anti-affinity to honour
	}
	rows, err := tx.query(ctx, `SELECT host_id, COUNT(*) FROM vms WHERE org_id = $1 AND anti_affinity = $2 GROUP BY host_id`, orgID, group)
	if err != nil {
		return nil, fmt.Errorf("hosts of group %s: %w", group, err)
	}
	defer rows.Close()
	for rows.Next() {
		var host string
		var n int
		if err := rows.Scan(&host, &n); err != nil {
			return nil, err
		}
		out[host] = n
	}
	return out, rows.Err()
}

// Snapshot states.
const (
	SnapshotCreating = "creating"
	SnapshotReady    = "ready"
	SnapshotDeleting = "deleting"
	SnapshotError    = "error"
)

// Snapshot is a stored snapshot of a VM's root disk.
type Snapshot struct {
	Meta
	VMID  string
	OrgID string
	Name  string
	State string
}

// CreateSnapshot stores a new snapshot. ErrConflict if the VM has one of
// that name.
func (tx *Tx) CreateSnapshot(ctx context.Context, s *Snapshot) error {
	s.created(tx.Now())
	if s.State == "" {
		s.State = SnapshotCreating
	}
	_, err := tx.exec(ctx, `INSERT INTO vm_snapshots (id, vm_id, org_id, name, state, version, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, s.ID, s.VMID, s.OrgID, s.Name, s.State, s.Version, ts(s.CreatedAt), ts(s.UpdatedAt))
	if err != nil {
		return fmt.Errorf("create snapshot %s: %w", s.Name, err)
	}
	return nil
}

// GetSnapshot reads a snapshot of VM vmID by ID or name.
func (tx *Tx) GetSnapshot(ctx context.Context, vmID, idOrName string) (*Snapshot, error) {
	col := "t.name"
	if IsID(idOrName) {
		col = "t.id"
	}
	s, err := scanSnapshot(tx.queryRow(ctx, `SELECT `+snapshotCols+` FROM vm_snapshots t WHERE t.vm_id = $1 AND `+col+` = $2`, vmID, idOrName))
	if err != nil {
		return nil, fmt.Errorf("snapshot %s: %w", idOrName, err)
	}
	return &s, nil
}

// ListSnapshots lists a VM's snapshots by ID (creation order), all of them.
func (tx *Tx) ListSnapshots(ctx context.Context, vmID string) ([]Snapshot, error) {
	rows, err := tx.query(ctx, `SELECT `+snapshotCols+` FROM vm_snapshots t WHERE t.vm_id = $1 ORDER BY t.id`, vmID)
	if err != nil {
		return nil, fmt.Errorf("list snapshots of vm %s: %w", vmID, err)
	}
	return collect(rows, scanSnapshot)
}

// HostSnapshots lists the snapshots of every VM placed on a host, by VM ID,
// in one query: the agent sync reads them for all the host's VMs at once.
func (tx *Tx) HostSnapshots(ctx context.Context, hostID string) (map[string][]Snapshot, error) {
	rows, err := tx.query(ctx, `SELECT `+snapshotCols+` FROM vm_snapshots t JOIN vms v ON v.id = t.vm_id
		WHERE v.host_id = $1 ORDER BY t.vm_id, t.id`, hostID)
	if err != nil {
		return nil, fmt.Errorf("list snapshots on host %s: %w", hostID, err)
	}
	all, err := collect(rows, scanSnapshot)
	if err != nil {
		return nil, err
	}
	out := map[string][]Snapshot{}
	for _, sn := range all {
		out[sn.VMID] = append(out[sn.VMID], sn)
	}
	return out, nil
}

// UpdateSnapshot writes a snapshot's state and bumps its version.
func (tx *Tx) UpdateSnapshot(ctx context.Context, s *Snapshot) error {
	s.updated(tx.Now())
	err := expectOne(tx.exec(ctx, `UPDATE vm_snapshots SET state = $2, version = $3, updated_at = $4 WHERE id = $1`,
		s.ID, s.State, s.Version, ts(s.UpdatedAt)))
	if err != nil {
		return fmt.Errorf("update snapshot %s: %w", s.ID, err)
	}
	return nil
}

// DeleteSnapshot removes a snapshot row.
func (tx *Tx) DeleteSnapshot(ctx context.Context, id string) error {
	if err := expectOne(tx.exec(ctx, `DELETE FROM vm_snapshots WHERE id = $1`, id)); err != nil {
		return fmt.Errorf("delete snapshot %s: %w", id, err)
	}
	return nil
}

// ResidencyRow is one place an organisation's data lives.
type ResidencyRow struct {
	Kind         string // vm, disk, snapshot, image, image-copy
	ID           string
	Name         string
	VMID         string
	HostID       string
	ZoneID       string
	RegionID     string
	Jurisdiction string
}

// ResidencyRows lists, for organisation orgID: each VM and its root disk
// (kind "disk", ID = VM ID, Name = "<vm name> root disk") on its host; each
// snapshot on its VM's host; each copy of the organisation's private images
// in a host's cache (kind image-copy); and each private image's master copy
// (kind image, HostID "control-plane", location fields empty). Ordered by
// kind then ID.
func (tx *Tx) ResidencyRows(ctx context.Context, orgID string) ([]ResidencyRow, error) {
	// Every row is placed by the host that holds the data: its zone and
	// region, not the VDC's, are where the bytes are.
	const hostPlace = ` JOIN hosts h ON h.id = t.host_id JOIN zones z ON z.id = h.zone_id JOIN regions r ON r.id = z.region_id`
	queries := []string{
		`SELECT 'vm', t.id, t.name, '', t.host_id, z.id, r.id, r.jurisdiction FROM vms t` + hostPlace + ` WHERE t.org_id = $1`,
		`SELECT 'disk', t.id, t.name || ' root disk', t.id, t.host_id, z.id, r.id, r.jurisdiction FROM vms t` + hostPlace + ` WHERE t.org_id = $1`,
		`SELECT 'snapshot', s.id, s.name, t.id, t.host_id, z.id, r.id, r.jurisdiction FROM vm_snapshots s JOIN vms t ON t.id = s.vm_id` +
			hostPlace + ` WHERE t.org_id = $1`,
		`SELECT 'image', i.id, i.name, '', 'control-plane', '', '', '' FROM images i WHERE i.org_id = $1`,
		`SELECT 'image-copy', i.id, i.name, '', t.host_id, z.id, r.id, r.jurisdiction FROM image_copies t JOIN images i ON i.id = t.image_id` +
			hostPlace + ` WHERE i.org_id = $1`,
	}
	var out []ResidencyRow
	for _, q := range queries {
		rows, err := tx.query(ctx, q, orgID)
		if err != nil {
			return nil, fmt.Errorf("residency of organisation %s: %w", orgID, err)
		}
		got, err := collect(rows, func(sc interface{ Scan(...any) error }) (ResidencyRow, error) {
			var r ResidencyRow
			err := sc.Scan(&r.Kind, &r.ID, &r.Name, &r.VMID, &r.HostID, &r.ZoneID, &r.RegionID, &r.Jurisdiction)
			return r, mapErr(err)
		})
		if err != nil {
			return nil, fmt.Errorf("residency of organisation %s: %w", orgID, err)
		}
		out = append(out, got...)
	}
	slices.SortFunc(out, func(a, b ResidencyRow) int {
		return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.ID, b.ID), cmp.Compare(a.HostID, b.HostID))
	})
	return out, nil
}

const vmCols = `t.id, t.org_id, t.vdc_id, t.name, t.hostname, t.image_id, t.size_id, t.vcpu, t.memory_mib, t.disk_gib,
	t.host_id, t.anti_affinity, t.ssh_keys, t.user_data, t.power, t.generation, t.stop_timeout, t.reboot_at, t.force_off_at,
	t.revert_at, t.revert_to, t.state, t.message, t.observed_generation, t.observed_at, t.version, t.created_at, t.updated_at,
	d.name, d.zone_id, z.region_id, r.jurisdiction, h.state`

// The VM's zone is its VDC's; the host sits in the same zone.
const vmFrom = ` FROM vms t JOIN vdcs d ON d.id = t.vdc_id JOIN zones z ON z.id = d.zone_id JOIN regions r ON r.id = z.region_id
	JOIN hosts h ON h.id = t.host_id`

// usageSums totals the resources of a set of vms rows. The casts keep the
// sums integers: PostgreSQL sums BIGINT columns as NUMERIC.
const usageSums = `CAST(COALESCE(SUM(vcpu), 0) AS BIGINT), CAST(COALESCE(SUM(memory_mib), 0) AS BIGINT),
	CAST(COALESCE(SUM(disk_gib), 0) AS BIGINT), COUNT(*)`

func scanVM(sc interface{ Scan(...any) error }) (VM, error) {
	var v VM
	var created, updated Time
	var observed NullTime
	err := sc.Scan(&v.ID, &v.OrgID, &v.VDCID, &v.Name, &v.Hostname, &v.ImageID, &v.SizeID, &v.VCPU, &v.MemoryMiB, &v.DiskGiB,
		&v.HostID, &v.AntiAffinity, jsonScan{&v.SSHKeys}, &v.UserData, &v.Power, &v.Generation, &v.StopTimeout, &v.RebootAt, &v.ForceOffAt,
		&v.RevertAt, &v.RevertTo, &v.State, &v.Message, &v.ObservedGeneration, &observed, &v.Version, &created, &updated,
		&v.VDCName, &v.ZoneID, &v.RegionID, &v.Jurisdiction, &v.HostState)
	v.CreatedAt, v.UpdatedAt, v.ObservedAt = created.Time, updated.Time, observed.T
	return v, mapErr(err)
}

// getVM reads the one VM matching cond; what names it in errors.
func (tx *Tx) getVM(ctx context.Context, what, cond string, args ...any) (*VM, error) {
	v, err := scanVM(tx.queryRow(ctx, `SELECT `+vmCols+vmFrom+cond, args...))
	if err != nil {
		return nil, fmt.Errorf("vm %s: %w", what, err)
	}
	return &v, tx.loadLabels(ctx, "vm", []string{v.ID}, func(_ string, l map[string]string) { v.Labels = l })
}

const snapshotCols = `t.id, t.vm_id, t.org_id, t.name, t.state, t.version, t.created_at, t.updated_at`

func scanSnapshot(sc interface{ Scan(...any) error }) (Snapshot, error) {
	var s Snapshot
	var created, updated Time
	err := sc.Scan(&s.ID, &s.VMID, &s.OrgID, &s.Name, &s.State, &s.Version, &created, &updated)
	s.CreatedAt, s.UpdatedAt = created.Time, updated.Time
	return s, mapErr(err)
}

// nonNil stores an absent list as [] rather than null, as the column default does.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
