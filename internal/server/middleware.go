package server

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/sirocco-cloud/sirocco/api"
)

func jsonEncode(w io.Writer, v any) error { return json.NewEncoder(w).Encode(v) }

func newRequestID() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// recorder captures the status and size of a response.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += n
	return n, err
}

// Flush lets long-poll and streaming handlers flush through the recorder.
func (r *recorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Hijack lets WebSocket handlers take over the connection.
func (r *recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if h, ok := r.ResponseWriter.(http.Hijacker); ok {
		return h.Hijack()
	}
	return nil, nil, errors.New("hijack not supported")
}

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// observe assigns a request ID, recovers panics, logs and counts requests,
// and writes failure audit events for mutating calls.
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := s.cfg.Now()
		ri := &reqInfo{id: r.Header.Get("X-Request-ID"), sourceIP: clientIP(r)}
		if ri.id == "" || len(ri.id) > 64 {
			ri.id = newRequestID()
		}
		w.Header().Set("X-Request-ID", ri.id)
		rec := &recorder{ResponseWriter: w}
		r = withReqInfo(r, ri)
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.Error("panic serving request", "panic", v, "path", r.URL.Path, "request_id", ri.id)
				if rec.status == 0 {
					writeProblem(rec, r, api.Errorf(http.StatusInternalServerError, api.CodeInternal, "internal error (request %s)", ri.id))
				}
			}
			if rec.status == 0 {
				rec.status = http.StatusOK
			}
			route := r.Pattern
			if route == "" {
				route = "unmatched"
			}
			elapsed := s.cfg.Now().Sub(start)
			s.metrics.observe(route, r.Method, rec.status, elapsed)
			s.log.Debug("request", "method", r.Method, "path", r.URL.Path, "route", route, "status", rec.status,
				"duration", elapsed, "bytes", rec.bytes, "request_id", ri.id)
			if rec.status >= 400 && isMutating(r.Method) && strings.HasPrefix(r.URL.Path, "/api/") && !ri.audited {
				s.auditFailure(r, ri, rec.status)
			}
		}()
		next.ServeHTTP(rec, r)
	})
}

func isMutating(method string) bool {
	return method == http.MethodPost || method == http.MethodPut || method == http.MethodPatch || method == http.MethodDelete
}

// clientIP is the peer address. X-Forwarded-For is not trusted: a provider
// running a proxy in front configures the proxy to connect from loopback and
// we honour it only then.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		if fwd := r.Header.Get("X-Forwarded-For"); fwd != "" {
			first, _, _ := strings.Cut(fwd, ",")
			if ip := net.ParseIP(strings.TrimSpace(first)); ip != nil {
				return ip.String()
			}
		}
	}
	return host
}

// rateLimit applies per-token (or per-session, or per-address) limits.
func (s *Server) rateLimit(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/api/") {
			next.ServeHTTP(w, r)
			return
		}
		ri := info(r.Context())
		key := "ip:" + ri.sourceIP
		if p := ri.principal; p != nil {
			switch {
			case p.TokenID != "":
				key = "token:" + p.TokenID
			case p.SessionID != "":
				key = "session:" + p.SessionID
			}
		}
		if wait, ok := s.limits.allow(key); !ok {
			secs := int(wait/time.Second) + 1
			e := api.Errorf(http.StatusTooManyRequests, api.CodeRateLimited, "too many requests: retry after %d s", secs)
			e.RetryAfter = secs
			writeProblem(w, r, e)
			return
		}
		next.ServeHTTP(w, r)
	})
}
