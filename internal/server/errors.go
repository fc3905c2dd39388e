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
	e := &api.Error{Status: status, Title: http.StatusText(status), Detail: msg, Code: api.CodeForStatus(status)}
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
