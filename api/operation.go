package api

import "time"

// Operation tracks a long-running action. It can be read, waited on and
// cancelled until it finishes.
type Operation struct {
	ID         string     `json:"id"`
	Org        string     `json:"org,omitempty"`
	Kind       string     `json:"kind" example:"vdc.delete"`
	Target     Ref        `json:"target"`
	State      string     `json:"state" enum:"queued,running,succeeded,failed,cancelled"`
	Progress   int        `json:"progress" minimum:"0" maximum:"100"`
	Message    string     `json:"message,omitempty"`
	Error      *Error     `json:"error,omitempty"`
	CreatedBy  string     `json:"created_by,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
	UpdatedAt  time.Time  `json:"updated_at"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
}

// Done reports whether the operation has finished, one way or another.
func (o *Operation) Done() bool {
	return o.State == OpSucceeded || o.State == OpFailed || o.State == OpCancelled
}

// Ref names an object.
type Ref struct {
	Kind string `json:"kind" example:"vdc"`
	ID   string `json:"id"`
}
