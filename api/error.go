package api

import (
	"fmt"
	"net/http"
	"strconv"
)

// Error codes. They are part of the API contract: clients match on Code, never
// on Title or Detail, so a code never changes meaning once released.
const (
	CodeInvalidRequest      = "invalid_request"
	CodeValidation          = "validation_failed"
	CodeUnauthenticated     = "unauthenticated"
	CodeForbidden           = "forbidden"
	CodeNotFound            = "not_found"
	CodeMethodNotAllowed    = "method_not_allowed"
	CodeConflict            = "conflict"
	CodeAlreadyExists       = "already_exists"
	CodePreconditionFailed  = "precondition_failed"
	CodePreconditionMissing = "precondition_required"
	CodeIdempotencyConflict = "idempotency_key_reused"
	CodePayloadTooLarge     = "payload_too_large"
	CodeUnsupportedMedia    = "unsupported_media_type"
	CodeRateLimited         = "rate_limited"
	CodeResidency           = "residency_violation"
	CodeQuotaExceeded       = "quota_exceeded"
	CodeSignupDisabled      = "signup_disabled"
	CodeEmailNotVerified    = "email_not_verified"
	CodeInvalidToken        = "invalid_or_expired_token"
	CodeNotEmpty            = "not_empty"
	CodeNotCancellable      = "not_cancellable"
	CodeOrgRestricted       = "organisation_restricted"
	CodeUnavailable         = "unavailable"
	CodeInternal            = "internal_error"
)

// Error is an RFC 9457 problem detail with a stable machine-readable Code.
// The server renders every failure as one, served as application/problem+json;
// the SDK returns one for every non-2xx answer.
type Error struct {
	Type     string        `json:"type,omitempty" doc:"A URI naming the problem type"`
	Title    string        `json:"title,omitempty" doc:"Short summary of the problem type"`
	Status   int           `json:"status,omitempty" doc:"HTTP status code"`
	Code     string        `json:"code" doc:"Stable machine-readable error code"`
	Detail   string        `json:"detail,omitempty" doc:"What went wrong in this request"`
	Instance string        `json:"instance,omitempty" doc:"The request path"`
	Errors   []ErrorDetail `json:"errors,omitempty" doc:"Field-level validation errors"`
	// RetryAfter, in seconds, goes out as the Retry-After header of a 429 or 503.
	RetryAfter int `json:"-"`
}

// ErrorDetail points at one invalid part of a request.
type ErrorDetail struct {
	Location string `json:"location,omitempty" doc:"Where the error is, e.g. body.name"`
	Message  string `json:"message" doc:"What is wrong with it"`
	Value    any    `json:"value,omitempty" doc:"The offending value"`
}

func (e *Error) Error() string {
	msg := e.Detail
	if msg == "" {
		msg = e.Title
	}
	if len(e.Errors) > 0 {
		d := e.Errors[0]
		if d.Location != "" {
			msg = fmt.Sprintf("%s: %s: %s", msg, d.Location, d.Message)
		} else {
			msg = fmt.Sprintf("%s: %s", msg, d.Message)
		}
		if len(e.Errors) > 1 {
			msg += fmt.Sprintf(" (and %d more)", len(e.Errors)-1)
		}
	}
	return msg
}

// GetStatus reports the HTTP status; the server's error renderer uses it.
func (e *Error) GetStatus() int { return e.Status }

// GetHeaders gives the response headers the error carries; the server sends
// them with the problem document.
func (e *Error) GetHeaders() http.Header {
	if e.RetryAfter <= 0 {
		return nil
	}
	return http.Header{"Retry-After": {strconv.Itoa(e.RetryAfter)}}
}

// ContentType makes the problem document go out as application/problem+json.
func (e *Error) ContentType(string) string { return "application/problem+json" }

// Errorf builds an Error with the given status, code and formatted detail.
func Errorf(status int, code, format string, args ...any) *Error {
	return &Error{
		Status: status,
		Code:   code,
		Title:  http.StatusText(status),
		Detail: fmt.Sprintf(format, args...),
	}
}

// NotFound is the error for a missing object, or one the caller may not see:
// the two are indistinguishable on purpose, so existence does not leak.
func NotFound(kind, id string) *Error {
	return Errorf(http.StatusNotFound, CodeNotFound, "%s %q not found", kind, id)
}

// CodeForStatus is the code for an HTTP status when nothing more specific
// is known: the server uses it for its framework's own errors, the SDK for
// answers without a problem document (from a proxy in front, say).
func CodeForStatus(status int) string {
	switch status {
	case http.StatusBadRequest:
		return CodeInvalidRequest
	case http.StatusUnprocessableEntity:
		return CodeValidation
	case http.StatusUnauthorized:
		return CodeUnauthenticated
	case http.StatusForbidden:
		return CodeForbidden
	case http.StatusNotFound:
		return CodeNotFound
	case http.StatusMethodNotAllowed:
		return CodeMethodNotAllowed
	case http.StatusConflict:
		return CodeConflict
	case http.StatusPreconditionFailed:
		return CodePreconditionFailed
	case http.StatusPreconditionRequired:
		return CodePreconditionMissing
	case http.StatusRequestEntityTooLarge:
		return CodePayloadTooLarge
	case http.StatusUnsupportedMediaType:
		return CodeUnsupportedMedia
	case http.StatusTooManyRequests:
		return CodeRateLimited
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return CodeUnavailable
	}
	return CodeInternal
}
