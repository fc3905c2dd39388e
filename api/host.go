package api

import "time"

// Host is a hypervisor machine running the Sirocco agent.
type Host struct {
	Meta
	Name          string     `json:"name"`
	Zone          string     `json:"zone"`
	State         string     `json:"state" enum:"pending,ready,draining,down" doc:"pending until its agent first joins"`
	Capacity      Capacity   `json:"capacity"`
	Overcommit    Overcommit `json:"overcommit"`
	Acceleration  string     `json:"acceleration,omitempty" doc:"kvm or tcg, as reported by the agent"`
	AgentVersion  string     `json:"agent_version,omitempty"`
	LastHeartbeat *time.Time `json:"last_heartbeat,omitempty"`
}

// Capacity is what a host offers before overcommit.
type Capacity struct {
	VCPU      int   `json:"vcpu" minimum:"0"`
	MemoryMiB int64 `json:"memory_mib" minimum:"0"`
	DiskGiB   int64 `json:"disk_gib" minimum:"0"`
}

// Overcommit ratios: how many virtual units a physical unit may back.
type Overcommit struct {
	CPU    float64 `json:"cpu" minimum:"1" maximum:"64" example:"4"`
	Memory float64 `json:"memory" minimum:"1" maximum:"4" example:"1"`
}

// HostCreate registers a host ahead of its agent joining.
type HostCreate struct {
	Name       string      `json:"name" pattern:"^[a-z0-9][a-z0-9.-]{0,62}$"`
	Zone       string      `json:"zone"`
	Capacity   Capacity    `json:"capacity,omitempty"`
	Overcommit *Overcommit `json:"overcommit,omitempty"`
	Labels     Labels      `json:"labels,omitempty"`
}

// HostUpdate changes a host. Setting state to draining stops new placements
// on it; setting it back to ready resumes them.
type HostUpdate struct {
	State      *string     `json:"state,omitempty" enum:"ready,draining"`
	Overcommit *Overcommit `json:"overcommit,omitempty"`
	Labels     *Labels     `json:"labels,omitempty"`
}

// HostJoinToken lets the agent of a registered host join the control plane.
type HostJoinToken struct {
	Host      string    `json:"host"`
	Token     string    `json:"token" doc:"One-time token; carries the control plane's certificate fingerprint, which the agent pins"`
	ExpiresAt time.Time `json:"expires_at"`
	Command   string    `json:"command" doc:"What to run on the host"`
}
