package store

import "time"

// Meta is what every stored object carries.
type Meta struct {
	ID        string
	Labels    map[string]string
	Version   int64
	CreatedAt time.Time
	UpdatedAt time.Time
}

// created stamps a new object.
func (m *Meta) created(now time.Time) {
	if m.ID == "" {
		m.ID = NewID()
	}
	m.Version = 1
	m.CreatedAt, m.UpdatedAt = now, now
}

// updated stamps a changed object.
func (m *Meta) updated(now time.Time) {
	m.Version++
	m.UpdatedAt = now
}
