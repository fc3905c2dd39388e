package store

import (
	"context"
	"fmt"
	"time"
)

// AuditEvent is a stored audit record. Audit events are append-only.
type AuditEvent struct {
	ID           string
	Time         time.Time
	ActorType    string
	ActorID      string
	ActorEmail   string
	ActorToken   string
	OrgID        string
	Action       string
	ResourceKind string
	ResourceID   string
	Outcome      string
	Status       int
	SourceIP     string
	RequestID    string
	Detail       string
}

// AuditFilter narrows an audit listing. Empty fields do not filter.
type AuditFilter struct {
	Actor        string // actor ID or e-mail
	OrgID        string
	ResourceKind string
	ResourceID   string
	Action       string
	Since, Until time.Time
}

// InsertAudit appends an audit event.
func (tx *Tx) InsertAudit(ctx context.Context, e *AuditEvent) error {
	if e.ID == "" {
		e.ID = NewID()
	}
	if e.Time.IsZero() {
		e.Time = tx.Now()
	}
	_, err := tx.exec(ctx, `INSERT INTO audit_events (id, time, actor_type, actor_id, actor_email, actor_token, org_id, action,
		resource_kind, resource_id, outcome, status, source_ip, request_id, detail)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
		e.ID, ts(e.Time), e.ActorType, e.ActorID, e.ActorEmail, e.ActorToken, e.OrgID, e.Action,
		e.ResourceKind, e.ResourceID, e.Outcome, e.Status, e.SourceIP, e.RequestID, e.Detail)
	if err != nil {
		return fmt.Errorf("insert audit event: %w", err)
	}
	return nil
}

// ListAudit lists audit events oldest first.
func (tx *Tx) ListAudit(ctx context.Context, f AuditFilter, p Page) ([]AuditEvent, string, error) {
	var w where
	if f.Actor != "" {
		w.add("(t.actor_id = ? OR t.actor_email = ?)", f.Actor, NormalizeEmail(f.Actor))
	}
	if f.OrgID != "" {
		w.add("t.org_id = ?", f.OrgID)
	}
	if f.ResourceKind != "" {
		w.add("t.resource_kind = ?", f.ResourceKind)
	}
	if f.ResourceID != "" {
		w.add("t.resource_id = ?", f.ResourceID)
	}
	if f.Action != "" {
		w.add("t.action = ?", f.Action)
	}
	if !f.Since.IsZero() {
		w.add("t.time >= ?", ts(f.Since))
	}
	if !f.Until.IsZero() {
		w.add("t.time < ?", ts(f.Until))
	}
	p.Labels = nil // audit events carry no labels
	tail, err := w.page("audit", p)
	if err != nil {
		return nil, "", err
	}
	rows, err := tx.query(ctx, `SELECT t.id, t.time, t.actor_type, t.actor_id, t.actor_email, t.actor_token, t.org_id, t.action,
		t.resource_kind, t.resource_id, t.outcome, t.status, t.source_ip, t.request_id, t.detail FROM audit_events t`+w.String()+tail, w.args...)
	if err != nil {
		return nil, "", fmt.Errorf("list audit events: %w", err)
	}
	defer rows.Close()
	var out []AuditEvent
	for rows.Next() {
		var e AuditEvent
		var at Time
		if err := rows.Scan(&e.ID, &at, &e.ActorType, &e.ActorID, &e.ActorEmail, &e.ActorToken, &e.OrgID, &e.Action,
			&e.ResourceKind, &e.ResourceID, &e.Outcome, &e.Status, &e.SourceIP, &e.RequestID, &e.Detail); err != nil {
			return nil, "", err
		}
		e.Time = at.Time
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, "", err
	}
	out, next := trimPage(out, p, func(e AuditEvent) string { return e.ID })
	return out, next, nil
}
