package api

import "time"

// List is one page of a collection. NextCursor, when set, fetches the next
// page; an empty NextCursor means this is the last page.
type List[T any] struct {
	Items      []T    `json:"items" nullable:"false"`
	NextCursor string `json:"next_cursor,omitempty" doc:"Opaque cursor for the next page; absent on the last page"`
}

// Labels are free-form key/value pairs on an object, used to filter lists
// (label=key=value).
type Labels map[string]string

// Meta is what every stored object shows about itself.
type Meta struct {
	ID        string    `json:"id" doc:"Stable identifier"`
	Labels    Labels    `json:"labels,omitempty"`
	Version   int64     `json:"version" doc:"Changes on every update; the ETag is derived from it"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Roles. Provider roles apply to the whole installation, organisation roles to
// one organisation.
const (
	RoleProviderAdmin  = "provider-admin"
	RoleProviderViewer = "provider-viewer"
	RoleOrgAdmin       = "org-admin"
	RoleOrgMember      = "org-member"
	RoleOrgViewer      = "org-viewer"
)

// Allocation models of a VDC, as in vCloud Director.
const (
	AllocationPAYG        = "payg"
	AllocationAllocation  = "allocation"
	AllocationReservation = "reservation"
)

// Organisation states, driven by billing enforcement and the provider.
const (
	OrgActive    = "active"
	OrgWarn      = "warn"
	OrgGrace     = "grace"
	OrgSuspended = "suspended"
	OrgClosed    = "closed"
)

// Host states.
const (
	HostPending  = "pending"
	HostReady    = "ready"
	HostDraining = "draining"
	HostDown     = "down"
)

// Operation states.
const (
	OpQueued    = "queued"
	OpRunning   = "running"
	OpSucceeded = "succeeded"
	OpFailed    = "failed"
	OpCancelled = "cancelled"
)
