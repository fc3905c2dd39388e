package server

import (
	"errors"
	"net/http"
	"sync"

	"github.com/danielgtaylor/huma/v2"

	"github.com/sirocco-cloud/sirocco/api"
)

var installOnce sync.Once

// installErrorModel makes Huma report its own errors (validation, body size,
// unknown fields) as *api.Error. Huma only offers a package-level hook for
// this; the function set is the same for every server, so setting it once is
// safe.
func installErrorModel() {
	installOnce.Do(func() {
		huma.NewError = newHumaError
	})
}

func newHumaError(status int, msg string, errs ...error) huma.StatusError {
	e := &api.Error{Status: status, Title: http.StatusText(status), Detail: msg, Code: codeFor(status)}
	if status >= 500 {
		// Never echo internals; handlers log them with the request ID.
		e.Detail = "internal error"
		return e
	}
	for _, err := range errs {
		if err == nil {
			continue
		}
		var d *huma.ErrorDetail
		if errors.As(err, &d) {
			e.Errors = append(e.Errors, api.ErrorDetail{Location: d.Location, Message: d.Message, Value: d.Value})
		} else {
			e.Errors = append(e.Errors, api.ErrorDetail{Message: err.Error()})
		}
	}
	if status == http.StatusRequestEntityTooLarge {
		e.Errors = nil
	}
	return e
}

func codeFor(status int) string {
	switch status {
	case http.StatusBadRequest:
		return api.CodeInvalidRequest
	case http.StatusUnprocessableEntity:
		return api.CodeValidation
	case http.StatusUnauthorized:
		return api.CodeUnauthenticated
	case http.StatusForbidden:
		return api.CodeForbidden
	case http.StatusNotFound:
		return api.CodeNotFound
	case http.StatusMethodNotAllowed:
		return api.CodeMethodNotAllowed
	case http.StatusConflict:
		return api.CodeConflict
	case http.StatusPreconditionFailed:
		return api.CodePreconditionFailed
	case http.StatusRequestEntityTooLarge:
		return api.CodePayloadTooLarge
	case http.StatusUnsupportedMediaType:
		return api.CodeUnsupportedMedia
	case http.StatusTooManyRequests:
		return api.CodeRateLimited
	case http.StatusServiceUnavailable:
		return api.CodeUnavailable
	}
	return api.CodeInternal
}

// writeProblem writes an error from middleware, outside Huma.
func writeProblem(w http.ResponseWriter, r *http.Request, e *api.Error) {
	e.Instance = r.URL.Path
	for k, v := range e.GetHeaders() {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(e.Status)
	_ = jsonEncode(w, e)
}
