package api

import (
	"strings"
	"time"
)

// PathEvents is the Server-Sent Events stream of resource changes.
const PathEvents = "/api/v1/events"

// ResourceEvent is one change to a resource: the data of an event on the
// events stream, and of a resource-change webhook event (whose type is
// Action). ID is the ID of the audit event that records the change, so the
// stream, the webhooks and the audit log name a change alike.
type ResourceEvent struct {
	ID           string    `json:"id" doc:"Audit event ID; IDs sort in time order"`
	Time         time.Time `json:"time"`
	Org          string    `json:"org,omitempty" doc:"Organisation ID; empty for provider-wide objects"`
	Action       string    `json:"action" example:"vm.create"`
	ResourceKind string    `json:"resource_kind" example:"vm"`
	ResourceID   string    `json:"resource_id,omitempty"`
	Actor        Actor     `json:"actor"`
	Detail       string    `json:"detail,omitempty"`
}

// IsResourceEventType reports whether t has the shape of a resource-change
// event type: an audit action, "<kind>.<verb>" in lower case such as
// vm.create or price-plan.delete. The shape, not a list, is checked: every
// new kind of resource brings its own actions.
func IsResourceEventType(t string) bool {
	kind, verb, ok := strings.Cut(t, ".")
	return ok && len(t) <= 100 && isWord(kind) && isWord(verb)
}

func isWord(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '_' && r != '-' {
			return false
		}
	}
	return true
}
