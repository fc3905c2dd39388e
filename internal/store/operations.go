package store

import (
	"context"
	"fmt"
	"time"
)

// Operation is a stored long-running action.
type Operation struct {
	ID              string
	OrgID           string
	Kind            string
	TargetKind      string
	TargetID        string
	State           string
	Progress        int
	Message         string
	Error           string // JSON of an api.Error, when failed
	Input           string // JSON input for the runner
	CreatedBy       string
	CancelRequested bool
	Attempts        int
	LeaseHolder     string
	LeaseUntil      string
	CreatedAt       time.Time
	UpdatedAt       time.Time
	FinishedAt      *time.Time
}

// Done reports whether the operation has finished.
func (o *Operation) Done() bool {
	return o.State == "succeeded" || o.State == "failed" || o.State == "cancelled"
}

const opCols = `t.id, t.org_id, t.kind, t.target_kind, t.target_id, t.state, t.progress, t.message, t.error, t.input,
	t.created_by, t.cancel_requested, t.attempts, t.lease_holder, t.lease_until, t.created_at, t.updated_at, t.finished_at`

func scanOp(sc interface{ Scan(...any) error }) (Operation, error) {
	var o Operation
	var created, updated Time
	var finished NullTime
	err := sc.Scan(&o.ID, &o.OrgID, &o.Kind, &o.TargetKind, &o.TargetID, &o.State, &o.Progress, &o.Message, &o.Error, &o.Input,
		&o.CreatedBy, &o.CancelRequested, &o.Attempts, &o.LeaseHolder, &o.LeaseUntil, &created, &updated, &finished)
	o.CreatedAt, o.UpdatedAt, o.FinishedAt = created.Time, updated.Time, finished.T
	return o, mapErr(err)
}

// CreateOperation stores a new queued operation.
func (tx *Tx) CreateOperation(ctx context.Context, o *Operation) error {
	if o.ID == "" {
		o.ID = NewID()
	}
	now := tx.Now()
	o.State, o.CreatedAt, o.UpdatedAt = "queued", now, now
	if o.Input == "" {
		o.Input = "{}"
	}
	_, err := tx.exec(ctx, `INSERT INTO operations (id, org_id, kind, target_kind, target_id, state, input, created_by, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		o.ID, o.OrgID, o.Kind, o.TargetKind, o.TargetID, o.State, o.Input, o.CreatedBy, ts(now), ts(now))
	if err != nil {
		return fmt.Errorf("create operation: %w", err)
	}
	return nil
}

// GetOperation reads one operation.
func (tx *Tx) GetOperation(ctx context.Context, id string) (*Operation, error) {
	o, err := scanOp(tx.queryRow(ctx, `SELECT `+opCols+` FROM operations t WHERE t.id = $1`, id))
	if err != nil {
		return nil, fmt.Errorf("operation %s: %w", id, err)
	}
	return &o, nil
}

// OperationFilter narrows an operation listing.
type OperationFilter struct {
	// OrgIDs, when not nil, keeps operations of these organisations only
	// (an empty, non-nil slice keeps none).
	OrgIDs     []string
	State      string
	Kind       string
	TargetKind string
	TargetID   string
}

// ListOperations lists operations oldest first.
func (tx *Tx) ListOperations(ctx context.Context, f OperationFilter, p Page) ([]Operation, string, error) {
	var w where
	if f.OrgIDs != nil {
		if len(f.OrgIDs) == 0 {
			return nil, "", nil
		}
		in := ""
		for i, id := range f.OrgIDs {
			if i > 0 {
				in += ","
			}
			in += w.arg(id)
		}
		w.conds = append(w.conds, "t.org_id IN ("+in+")")
	}
	if f.State != "" {
		w.add("t.state = ?", f.State)
	}
	if f.Kind != "" {
		w.add("t.kind = ?", f.Kind)
	}
	if f.TargetKind != "" {
		w.add("t.target_kind = ?", f.TargetKind)
	}
	if f.TargetID != "" {
		w.add("t.target_id = ?", f.TargetID)
	}
	p.Labels = nil
	tail, err := w.page("operation", p)
	if err != nil {
		return nil, "", err
	}
	rows, err := tx.query(ctx, `SELECT `+opCols+` FROM operations t`+w.String()+tail, w.args...)
	if err != nil {
		return nil, "", fmt.Errorf("list operations: %w", err)
	}
	out, err := collect(rows, scanOp)
	if err != nil {
		return nil, "", err
	}
	out, next := trimPage(out, p, func(o Operation) string { return o.ID })
	return out, next, nil
}

// ClaimOperation takes the oldest queued operation, or a running one whose
// holder's lease ran out (its replica died), for holder until leaseUntil.
func (tx *Tx) ClaimOperation(ctx context.Context, holder string, leaseUntil time.Time) (*Operation, error) {
	now := ts(tx.Now())
	o, err := scanOp(tx.queryRow(ctx, `UPDATE operations SET state = 'running', lease_holder = $1, lease_until = $2,
		attempts = attempts + 1, updated_at = $3
		WHERE id = (SELECT id FROM operations WHERE state = 'queued' OR (state = 'running' AND lease_until < $3) ORDER BY id LIMIT 1)
		RETURNING `+stripAlias(opCols), holder, ts(leaseUntil), now))
	if err != nil {
		return nil, fmt.Errorf("claim operation: %w", err)
	}
	return &o, nil
}

// ProgressOperation records progress and renews holder's lease. It reports
// whether a cancel was requested. ErrNotFound means holder lost the operation.
func (tx *Tx) ProgressOperation(ctx context.Context, id, holder string, progress int, message string, leaseUntil time.Time) (cancel bool, err error) {
	err = mapErr(tx.queryRow(ctx, `UPDATE operations SET progress = $3, message = $4, lease_until = $5, updated_at = $6
		WHERE id = $1 AND lease_holder = $2 AND state = 'running' RETURNING cancel_requested`,
		id, holder, progress, message, ts(leaseUntil), ts(tx.Now())).Scan(&cancel))
	return cancel, err
}

// FinishOperation records the end of an operation held by holder.
func (tx *Tx) FinishOperation(ctx context.Context, id, holder, state, message, errJSON string) error {
	now := ts(tx.Now())
	progress := 0
	if state == "succeeded" {
		progress = 100
	}
	return expectOne(tx.exec(ctx, `UPDATE operations SET state = $3, message = $4, error = $5, updated_at = $6, finished_at = $6,
		lease_holder = '', lease_until = '', progress = CASE WHEN $7 = 100 THEN 100 ELSE progress END
		WHERE id = $1 AND lease_holder = $2 AND state = 'running'`, id, holder, state, message, errJSON, now, progress))
}

// RequestCancel cancels a queued operation at once, or asks the runner of a
// running one to stop. It returns the operation as it now stands.
func (tx *Tx) RequestCancel(ctx context.Context, id string) (*Operation, error) {
	now := ts(tx.Now())
	if _, err := tx.exec(ctx, `UPDATE operations SET state = 'cancelled', finished_at = $2, updated_at = $2, message = 'cancelled before it started'
		WHERE id = $1 AND state = 'queued'`, id, now); err != nil {
		return nil, err
	}
	if _, err := tx.exec(ctx, `UPDATE operations SET cancel_requested = TRUE, updated_at = $2 WHERE id = $1 AND state = 'running'`, id, now); err != nil {
		return nil, err
	}
	return tx.GetOperation(ctx, id)
}

func stripAlias(cols string) string {
	out := make([]byte, 0, len(cols))
	for i := 0; i < len(cols); i++ {
		if cols[i] == 't' && i+1 < len(cols) && cols[i+1] == '.' && (i == 0 || cols[i-1] == ' ' || cols[i-1] == '\t' || cols[i-1] == '\n') {
			i++
			continue
		}
		out = append(out, cols[i])
	}
	return string(out)
}
