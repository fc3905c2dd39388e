// Package events turns the audit log into a feed of resource changes: the
// successful audit events, in ID order, each once.
//
// Audit event IDs are UUIDv7 and sort by the wall clock at which they were
// made, but a transaction can commit after one that made a later ID (on
// PostgreSQL, or with several replicas), so "everything after the last ID
// seen" would skip it for good. Readers therefore read again the last
// [Lookback] of IDs on every poll and drop what they already had.
package events

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/internal/store"
)

// Lookback is how late an audit event may commit, after the clock in its
// ID, and still reach readers who polled in between. Sirocco's
// transactions last milliseconds; this covers them and clock skew between
// replicas.
const Lookback = 10 * time.Second

// pageSize is how many audit events one query reads.
const pageSize = 500

// MaxBatch is the most new events one [Feed.Next] returns; a reader far
// behind catches up over several calls.
const MaxBatch = 1000

// Of is the API form of a resource change. It leaves out what only the
// audit log shows (source address, request ID).
func Of(e *store.AuditEvent) api.ResourceEvent {
	return api.ResourceEvent{
		ID:           e.ID,
		Time:         e.Time,
		Org:          e.OrgID,
		Action:       e.Action,
		ResourceKind: e.ResourceKind,
		ResourceID:   e.ResourceID,
		Actor:        api.Actor{Type: e.ActorType, ID: e.ActorID, Email: e.ActorEmail, Token: e.ActorToken},
		Detail:       e.Detail,
	}
}

// IDAt is the smallest ID [store.NewID] can make at t: every audit event
// made at or after t sorts after it. IDs carry the wall clock in their
// first 48 bits (Unix milliseconds).
func IDAt(t time.Time) string {
	ms := max(t.UnixMilli(), 0)
	return fmt.Sprintf("%08x-%04x-0000-0000-000000000000", uint64(ms)>>16, uint64(ms)&0xffff)
}

// Scope is which organisations' events a reader gets: all of them and the
// provider-wide ones (All), or those of Orgs.
type Scope struct {
	All  bool
	Orgs []string
}

// Feed follows the audit log for one reader (one stream). It is not safe
// for concurrent use.
type Feed struct {
	store *store.Store
	// after is where the reader started: nothing at or before it is read.
	after string
	// last is the highest ID read so far.
	last string
	// seen holds the successful events returned that a later poll may read
	// again (those after the poll's lower bound).
	seen map[string]bool
}

// NewFeed follows st from just after the audit event ID after ("" for the
// beginning of the log).
func NewFeed(st *store.Store, after string) *Feed {
	return &Feed{store: st, after: after, last: after, seen: map[string]bool{}}
}

// Next returns the successful audit events in scope not returned before,
// in ID order, at most MaxBatch of those made after the previous call's
// last. now is the clock the lookback is measured on.
func (f *Feed) Next(ctx context.Context, now time.Time, sc Scope) ([]store.AuditEvent, error) {
	lo := max(f.after, min(f.last, IDAt(now.Add(-Lookback))))
	var filters []store.AuditFilter
	if sc.All {
		filters = []store.AuditFilter{{}}
	}
	for _, org := range sc.Orgs {
		filters = append(filters, store.AuditFilter{OrgID: org})
	}
	var read []store.AuditEvent
	err := f.store.View(ctx, func(tx *store.Tx) error {
		for _, flt := range filters {
			rows, err := readFrom(ctx, tx, flt, lo, f.last)
			if err != nil {
				return err
			}
			read = append(read, rows...)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("follow audit log: %w", err)
	}
	slices.SortFunc(read, func(a, b store.AuditEvent) int { return strings.Compare(a.ID, b.ID) })

	var out []store.AuditEvent
	fresh, last := 0, f.last
	for i := range read {
		e := &read[i]
		if i > 0 && e.ID == read[i-1].ID {
			continue // two scopes overlapping
		}
		if e.ID > f.last {
			// Every scope read at least MaxBatch new events or all there
			// were, so the first MaxBatch of the merge have no gaps.
			if fresh == MaxBatch {
				break
			}
			fresh++
			last = e.ID
		}
		if e.Outcome != "success" || f.seen[e.ID] {
			continue
		}
		f.seen[e.ID] = true
		out = append(out, *e)
	}
	f.last = last
	for id := range f.seen {
		if id <= lo {
			delete(f.seen, id)
		}
	}
	return out, nil
}

// readFrom reads the events of flt after lo: all those up to last (the
// lookback, already read once) and up to MaxBatch after it.
func readFrom(ctx context.Context, tx *store.Tx, flt store.AuditFilter, lo, last string) ([]store.AuditEvent, error) {
	var out []store.AuditEvent
	fresh := 0
	for after := lo; ; {
		p := store.Page{Limit: pageSize}
		if after != "" {
			p.Cursor = store.EncodeCursor(after)
		}
		rows, next, err := tx.ListAudit(ctx, flt, p)
		if err != nil {
			return nil, err
		}
		for _, e := range rows {
			if e.ID > last {
				fresh++
			}
		}
		out = append(out, rows...)
		if next == "" || fresh >= MaxBatch {
			return out, nil
		}
		after = rows[len(rows)-1].ID
	}
}

// WriteSSE writes one Server-Sent Event. data must not hold a carriage
// return; each of its lines becomes a data field.
func WriteSSE(w io.Writer, id, event string, data []byte) error {
	var b strings.Builder
	if id != "" {
		b.WriteString("id: " + oneLine(id) + "\n")
	}
	if event != "" {
		b.WriteString("event: " + oneLine(event) + "\n")
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		b.WriteString("data: " + line + "\n")
	}
	b.WriteString("\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteComment writes an SSE comment, which clients ignore: a heartbeat
// that keeps proxies from closing an idle stream.
func WriteComment(w io.Writer, text string) error {
	_, err := io.WriteString(w, ": "+oneLine(text)+"\n\n")
	return err
}

// oneLine keeps a field value from ending its line early.
func oneLine(s string) string {
	return strings.NewReplacer("\r", " ", "\n", " ").Replace(s)
}
