package console

import (
	"bytes"
	"io"
	"net/http"
)

// inProcess is an http.RoundTripper that serves requests with the API's
// handler directly: no socket, no TLS, same answers.
type inProcess struct {
	api    http.Handler
	remote string // the visitor's address, for the audit log and rate limits
	fwd    string
}

func (t *inProcess) RoundTrip(req *http.Request) (*http.Response, error) {
	r := req.Clone(req.Context())
	r.RemoteAddr = t.remote
	r.RequestURI = r.URL.RequestURI()
	r.Host = r.URL.Host
	if t.fwd != "" {
		r.Header.Set("X-Forwarded-For", t.fwd)
	}
	if r.Body == nil {
		r.Body = http.NoBody
	}
	w := &buffered{header: http.Header{}}
	t.api.ServeHTTP(w, r)
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return &http.Response{
		Status: http.StatusText(w.status), StatusCode: w.status,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: w.header, Body: io.NopCloser(&w.body), ContentLength: int64(w.body.Len()),
		Request: req,
	}, nil
}

// buffered is the ResponseWriter an in-process call writes to.
type buffered struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *buffered) Header() http.Header { return b.header }

func (b *buffered) WriteHeader(status int) {
	if b.status == 0 {
		b.status = status
	}
}

func (b *buffered) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b.body.Write(p)
}

// Flush lets streaming handlers flush; the body is read when they return.
func (b *buffered) Flush() {}
