package api

import "time"

// AuditEvent records who did what to which object, when, from where, and how
// it ended.
type AuditEvent struct {
	ID        string    `json:"id"`
	Time      time.Time `json:"time"`
	Actor     Actor     `json:"actor"`
	Org       string    `json:"org,omitempty"`
	Action    string    `json:"action" example:"vdc.create"`
	Resource  Ref       `json:"resource"`
	Outcome   string    `json:"outcome" enum:"success,failure"`
	Status    int       `json:"status,omitempty" doc:"HTTP status of the request"`
	SourceIP  string    `json:"source_ip,omitempty"`
	RequestID string    `json:"request_id,omitempty"`
	Detail    string    `json:"detail,omitempty"`
}

// Actor is who acted: a user (through a session or a token) or the system.
type Actor struct {
	Type  string `json:"type" enum:"user,system,anonymous"`
	ID    string `json:"id,omitempty"`
	Email string `json:"email,omitempty"`
	Token string `json:"token,omitempty" doc:"ID of the token used, if any"`
}
