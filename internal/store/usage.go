package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// UsageSpan is a stored usage span (see rating.Span, which it maps to one
// to one). EndedAt is nil while the span is open.
type UsageSpan struct {
	ID           string
	OrgID        string
	VDCID        string
	RegionID     string
	Model        string
	ResourceKind string
	ResourceID   string
	ResourceName string
	Meter        string
	VCPU         int
	MemoryMiB    int64
	SizeGiB      int64
	Class        string
	PowerOnID    string
	StartedAt    time.Time
	EndedAt      *time.Time
	// Source says who opened it: "api", "agent" (a host's report) or
	// "reconciler"; Reason says why, for repairs.
	Source    string
	Reason    string
	CreatedAt time.Time
}

const spanCols = `id, org_id, vdc_id, region_id, allocation_model, resource_kind, resource_id, resource_name, meter,
	vcpu, memory_mib, size_gib, class, power_on_id, started_at, ended_at, source, reason, created_at`

func scanSpan(sc interface{ Scan(...any) error }) (UsageSpan, error) {
	var s UsageSpan
	var started, created Time
	var ended NullTime
	err := sc.Scan(&s.ID, &s.OrgID, &s.VDCID, &s.RegionID, &s.Model, &s.ResourceKind, &s.ResourceID, &s.ResourceName, &s.Meter,
		&s.VCPU, &s.MemoryMiB, &s.SizeGiB, &s.Class, &s.PowerOnID, &started, &ended, &s.Source, &s.Reason, &created)
	s.StartedAt, s.EndedAt, s.CreatedAt = started.Time, ended.T, created.Time
	return s, mapErr(err)
}

// OpenSpan stores a new open span (ID generated, StartedAt as given).
// ErrConflict if the resource already has an open span on that meter: the
// database allows one. On PostgreSQL that conflict aborts the transaction,
// so callers that may meet an open span check OpenSpanOf first.
func (tx *Tx) OpenSpan(ctx context.Context, s *UsageSpan) error {
	if s.ID == "" {
		s.ID = NewID()
	}
	s.CreatedAt, s.EndedAt = tx.Now(), nil
	s.StartedAt = s.StartedAt.UTC().Truncate(time.Microsecond) // what the column keeps
	_, err := tx.exec(ctx, `INSERT INTO usage_spans (`+spanCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, NULL, $16, $17, $18)`,
		s.ID, s.OrgID, s.VDCID, s.RegionID, s.Model, s.ResourceKind, s.ResourceID, s.ResourceName, s.Meter,
		s.VCPU, s.MemoryMiB, s.SizeGiB, s.Class, s.PowerOnID, ts(s.StartedAt), s.Source, s.Reason, ts(s.CreatedAt))
	if err != nil {
		return fmt.Errorf("open %s span of %s %s: %w", s.Meter, s.ResourceKind, s.ResourceID, err)
	}
	return nil
}

// CloseSpan ends the open span of resource on meter at end and returns it;
// ErrNotFound if there is none. An end before the span's start (clocks of
// two replicas a little apart) closes it empty at its start rather than
// storing a negative duration.
func (tx *Tx) CloseSpan(ctx context.Context, resourceID, meter string, end time.Time) (*UsageSpan, error) {
	s, err := tx.OpenSpanOf(ctx, resourceID, meter)
	if err != nil {
		return nil, err
	}
	end = end.UTC().Truncate(time.Microsecond)
	if end.Before(s.StartedAt) {
		end = s.StartedAt
	}
	if err := expectOne(tx.exec(ctx, `UPDATE usage_spans SET ended_at = $2 WHERE id = $1 AND ended_at IS NULL`, s.ID, ts(end))); err != nil {
		return nil, fmt.Errorf("close %s span of %s: %w", meter, resourceID, err)
	}
	s.EndedAt = &end
	return s, nil
}

// OpenSpanOf returns the open span of resource on meter, or ErrNotFound.
func (tx *Tx) OpenSpanOf(ctx context.Context, resourceID, meter string) (*UsageSpan, error) {
	s, err := scanSpan(tx.queryRow(ctx, `SELECT `+spanCols+` FROM usage_spans WHERE resource_id = $1 AND meter = $2 AND ended_at IS NULL`,
		resourceID, meter))
	if err != nil {
		return nil, fmt.Errorf("open %s span of %s: %w", meter, resourceID, err)
	}
	return &s, nil
}

// SpanFilter narrows ListSpans.
type SpanFilter struct {
	OrgID string // empty: every organisation
	// Overlapping keeps spans that overlap [From, To): started before To
	// and not ended by From (open spans overlap every window after their
	// start).
	From, To time.Time
	OpenOnly bool
}

// ListSpans lists spans by start time, then ID.
func (tx *Tx) ListSpans(ctx context.Context, f SpanFilter) ([]UsageSpan, error) {
	var w where
	if f.OrgID != "" {
		w.add("org_id = ?", f.OrgID)
	}
	if !f.To.IsZero() {
		w.add("started_at < ?", ts(f.To))
	}
	if !f.From.IsZero() {
		// A span ended exactly at From covers nothing of [From, To).
		w.add("(ended_at IS NULL OR ended_at > ?)", ts(f.From))
	}
	if f.OpenOnly {
		w.add("ended_at IS NULL")
	}
	rows, err := tx.query(ctx, `SELECT `+spanCols+` FROM usage_spans`+w.String()+` ORDER BY started_at, id`, w.args...)
	if err != nil {
		return nil, fmt.Errorf("list usage spans: %w", err)
	}
	return collect(rows, scanSpan)
}

// EgressSample is one reading of a VM's egress byte counter.
type EgressSample struct {
	VMID      string
	OrgID     string
	SampledAt time.Time
	Counter   int64
	// Delta is the increase since the VM's previous sample.
	Delta int64
	// What the sample is priced by (RecordVMEgress keeps them).
	VDCID, RegionID, Model, VMName string
}

// RecordEgress stores a reading of VM vmID's egress counter taken at at and
// returns the bytes sent since the previous reading: counter minus the
// previous counter, or counter itself when it went down (the counter was
// reset, by a restart of the VM or of the host's tap, or wrapped), so bytes
// are never counted negative. The first reading counts from zero. A reading
// sent again (same VM and time, same counter) is a no-op giving 0; the same
// time with another counter, or a reading older than the latest, is
// ErrConflict: deltas are taken in time order only, so one arriving late
// would count twice.
func (tx *Tx) RecordEgress(ctx context.Context, vmID, orgID string, at time.Time, counter int64) (int64, error) {
	at = at.UTC().Truncate(time.Microsecond) // what the column keeps
	var lastAt Time
	var last int64
	err := mapErr(tx.queryRow(ctx, `SELECT sampled_at, counter_bytes FROM egress_samples WHERE vm_id = $1
		ORDER BY sampled_at DESC LIMIT 1`, vmID).Scan(&lastAt, &last))
	switch {
	case errors.Is(err, ErrNotFound):
		last = 0
	case err != nil:
		return 0, fmt.Errorf("egress of vm %s: %w", vmID, err)
	case lastAt.Equal(at) && last == counter:
		return 0, nil
	case !lastAt.Before(at):
		return 0, fmt.Errorf("egress sample of vm %s at %s: not after the latest (%s): %w", vmID, ts(at), ts(lastAt.Time), ErrConflict)
	}
	delta := counter - last
	if counter < last {
		delta = counter
	}
	_, err = tx.exec(ctx, `INSERT INTO egress_samples (vm_id, org_id, sampled_at, counter_bytes, delta_bytes) VALUES ($1, $2, $3, $4, $5)`,
		vmID, orgID, ts(at), counter, delta)
	if err != nil {
		return 0, fmt.Errorf("record egress of vm %s: %w", vmID, err)
	}
	return delta, nil
}

// ListEgress lists the egress samples of organisation orgID (every
// organisation if empty) taken in [from, to), by time then VM.
func (tx *Tx) ListEgress(ctx context.Context, orgID string, from, to time.Time) ([]EgressSample, error) {
	var w where
	if orgID != "" {
		w.add("org_id = ?", orgID)
	}
	w.add("sampled_at >= ?", ts(from))
	w.add("sampled_at < ?", ts(to))
	rows, err := tx.query(ctx, `SELECT vm_id, org_id, sampled_at, counter_bytes, delta_bytes, vdc_id, region_id, allocation_model, vm_name
		FROM egress_samples`+w.String()+` ORDER BY sampled_at, vm_id`, w.args...)
	if err != nil {
		return nil, fmt.Errorf("list egress samples: %w", err)
	}
	return collect(rows, func(sc interface{ Scan(...any) error }) (EgressSample, error) {
		var e EgressSample
		var at Time
		err := sc.Scan(&e.VMID, &e.OrgID, &at, &e.Counter, &e.Delta, &e.VDCID, &e.RegionID, &e.Model, &e.VMName)
		e.SampledAt = at.Time
		return e, mapErr(err)
	})
}

// RecordVMEgress records a reading of VM v's egress counter (as
// RecordEgress) with what prices it: its VDC, region, allocation model and
// name, read now since the VM may be gone when the window is rated.
func (tx *Tx) RecordVMEgress(ctx context.Context, v *VM, at time.Time, counter int64) (int64, error) {
	delta, err := tx.RecordEgress(ctx, v.ID, v.OrgID, at, counter)
	if err != nil {
		return 0, err
	}
	vdc, err := tx.GetVDCByID(ctx, v.VDCID)
	if err != nil {
		return 0, err
	}
	_, err = tx.exec(ctx, `UPDATE egress_samples SET vdc_id = $3, region_id = $4, allocation_model = $5, vm_name = $6
		WHERE vm_id = $1 AND sampled_at = $2`, v.ID, ts(at.UTC().Truncate(time.Microsecond)), vdc.ID, vdc.RegionID, vdc.AllocationModel, v.Name)
	if err != nil {
		return 0, fmt.Errorf("egress of vm %s: %w", v.ID, err)
	}
	return delta, nil
}

// MeteredInventory is what exists that metering bills, for the reconciler
// to compare with the open spans.
type MeteredInventory struct {
	VMs       []VM       // every VM, whatever its state (region filled in)
	Snapshots []Snapshot // every snapshot
	VDCs      []VDC      // every VDC (region filled in; no labels)
}

// MeteringInventory reads every VM, snapshot and VDC of every organisation,
// without labels.
func (tx *Tx) MeteringInventory(ctx context.Context) (*MeteredInventory, error) {
	var inv MeteredInventory
	rows, err := tx.query(ctx, `SELECT `+vmCols+vmFrom+` ORDER BY t.id`)
	if err != nil {
		return nil, fmt.Errorf("metering inventory: %w", err)
	}
	if inv.VMs, err = collect(rows, scanVM); err != nil {
		return nil, fmt.Errorf("metering inventory: %w", err)
	}
	if rows, err = tx.query(ctx, `SELECT `+snapshotCols+` FROM vm_snapshots t ORDER BY t.id`); err != nil {
		return nil, fmt.Errorf("metering inventory: %w", err)
	}
	if inv.Snapshots, err = collect(rows, scanSnapshot); err != nil {
		return nil, fmt.Errorf("metering inventory: %w", err)
	}
	if rows, err = tx.query(ctx, `SELECT `+vdcCols+vdcFrom+` ORDER BY t.id`); err != nil {
		return nil, fmt.Errorf("metering inventory: %w", err)
	}
	if inv.VDCs, err = collect(rows, scanVDC); err != nil {
		return nil, fmt.Errorf("metering inventory: %w", err)
	}
	return &inv, nil
}

// GetSnapshotByID reads a snapshot by ID whatever its VM (the reconciler
// knows only the ID a span names).
func (tx *Tx) GetSnapshotByID(ctx context.Context, id string) (*Snapshot, error) {
	s, err := scanSnapshot(tx.queryRow(ctx, `SELECT `+snapshotCols+` FROM vm_snapshots t WHERE t.id = $1`, id))
	if err != nil {
		return nil, fmt.Errorf("snapshot %s: %w", id, err)
	}
	return &s, nil
}

// GetVDCByID reads a VDC by ID whatever its organisation, without labels.
func (tx *Tx) GetVDCByID(ctx context.Context, id string) (*VDC, error) {
	v, err := scanVDC(tx.queryRow(ctx, `SELECT `+vdcCols+vdcFrom+` WHERE t.id = $1`, id))
	if err != nil {
		return nil, fmt.Errorf("vdc %s: %w", id, err)
	}
	return &v, nil
}
