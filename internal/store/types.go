package store

import (
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// timeLayout is fixed-width, so text order is time order in both engines.
const timeLayout = "2006-01-02T15:04:05.000000Z"

// ts formats a time for storage.
func ts(t time.Time) string { return t.UTC().Format(timeLayout) }

// tsPtr formats an optional time; nil stays NULL.
func tsPtr(t *time.Time) any {
	if t == nil || t.IsZero() {
		return nil
	}
	return ts(*t)
}

// Time scans a stored timestamp.
type Time struct{ time.Time }

// Scan implements sql.Scanner.
func (t *Time) Scan(v any) error {
	switch v := v.(type) {
	case string:
		return t.parse(v)
	case []byte:
		return t.parse(string(v))
	case time.Time:
		t.Time = v.UTC()
		return nil
	}
	return fmt.Errorf("scan time from %T", v)
}

func (t *Time) parse(s string) error {
	p, err := time.Parse(timeLayout, s)
	if err != nil {
		p, err = time.Parse(time.RFC3339Nano, s)
	}
	t.Time = p.UTC()
	return err
}

// NullTime scans an optional stored timestamp.
type NullTime struct{ T *time.Time }

// Scan implements sql.Scanner.
func (n *NullTime) Scan(v any) error {
	if v == nil {
		n.T = nil
		return nil
	}
	var t Time
	if err := t.Scan(v); err != nil {
		return err
	}
	n.T = &t.Time
	return nil
}

// jsonText stores a value as JSON text in both engines.
type jsonText struct{ v any }

// Value implements driver.Valuer.
func (j jsonText) Value() (driver.Value, error) {
	b, err := json.Marshal(j.v)
	return string(b), err
}

// jsonScan decodes a JSON text column into v.
type jsonScan struct{ v any }

// Scan implements sql.Scanner.
func (j jsonScan) Scan(src any) error {
	var b []byte
	switch s := src.(type) {
	case string:
		b = []byte(s)
	case []byte:
		b = s
	case nil:
		return nil
	default:
		return fmt.Errorf("scan json from %T", src)
	}
	if len(b) == 0 {
		return nil
	}
	return json.Unmarshal(b, j.v)
}

// NewID returns a new time-ordered identifier (UUIDv7), so that listing by ID
// lists in creation order and cursors stay stable.
func NewID() string {
	return uuid.Must(uuid.NewV7()).String()
}

// IsID reports whether s has the shape of an ID from NewID (rather than a name).
func IsID(s string) bool {
	_, err := uuid.Parse(s)
	return err == nil && len(s) == 36
}
