package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"strings"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/internal/store"
)

// idempotent makes a POST with an Idempotency-Key safe to retry: the same key
// with the same request replays the first response; the same key with a
// different request is refused with 409. Keys are per caller and kept 24 h.
func (s *Server) idempotent(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := r.Header.Get("Idempotency-Key")
		if r.Method != http.MethodPost || key == "" || !strings.HasPrefix(r.URL.Path, "/api/") {
			next.ServeHTTP(w, r)
			return
		}
		if len(key) > 255 {
			writeProblem(w, r, api.Errorf(http.StatusBadRequest, api.CodeInvalidRequest, "Idempotency-Key is longer than 255 characters"))
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
		if err != nil {
			writeProblem(w, r, api.Errorf(http.StatusRequestEntityTooLarge, api.CodePayloadTooLarge, "request body is larger than %d bytes", s.cfg.MaxBodyBytes))
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		ri := info(r.Context())
		owner := "ip:" + ri.sourceIP
		if p := ri.principal; p != nil {
			owner = "user:" + p.UserID + ":" + p.TokenID
		}
		sum := sha256.New()
		io.WriteString(sum, r.Method+" "+r.URL.RequestURI()+"\n")
		sum.Write(body)
		hash := hex.EncodeToString(sum.Sum(nil))

		ctx := r.Context()
		var prev *store.IdempotentResponse
		var fresh bool
		if err := s.store.Tx(ctx, func(tx *store.Tx) error {
			prev, fresh, err = tx.ClaimIdempotencyKey(ctx, owner, key, hash)
			return err
		}); err != nil {
			writeProblem(w, r, s.apiError(ctx, err).(*api.Error))
			return
		}
		if !fresh {
			switch {
			case prev.RequestHash != hash:
				writeProblem(w, r, api.Errorf(http.StatusConflict, api.CodeIdempotencyConflict,
					"Idempotency-Key %q was already used with a different request", key))
			case prev.Status == 0:
				writeProblem(w, r, api.Errorf(http.StatusConflict, api.CodeConflict,
					"a request with Idempotency-Key %q is still in progress", key))
			default:
				h := w.Header()
				if prev.ContentType != "" {
					h.Set("Content-Type", prev.ContentType)
				}
				if prev.Location != "" {
					h.Set("Location", prev.Location)
				}
				h.Set("Idempotent-Replayed", "true")
				w.WriteHeader(prev.Status)
				io.WriteString(w, prev.Body)
			}
			return
		}

		cw := &captureWriter{ResponseWriter: w}
		next.ServeHTTP(cw, r)
		status := cw.status
		if status == 0 {
			status = http.StatusOK
		}
		// Responses a retry could change (server errors, rate limits) are not
		// kept, so the retry really runs; nor are responses marked no-store,
		// which carry a secret (a new API token) that must not be stored.
		err = s.store.Tx(context.WithoutCancel(ctx), func(tx *store.Tx) error {
			if status >= 500 || status == http.StatusTooManyRequests || strings.Contains(w.Header().Get("Cache-Control"), "no-store") {
				return tx.ReleaseIdempotencyKey(ctx, owner, key)
			}
			return tx.CompleteIdempotencyKey(ctx, owner, key, &store.IdempotentResponse{
				Status:      status,
				ContentType: w.Header().Get("Content-Type"),
				Location:    w.Header().Get("Location"),
				Body:        cw.body.String(),
			})
		})
		if err != nil {
			s.log.ErrorContext(ctx, "store idempotent response", "err", err, "request_id", ri.id)
		}
	})
}

// captureWriter passes a response through while keeping a copy.
type captureWriter struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (c *captureWriter) WriteHeader(code int) {
	if c.status == 0 {
		c.status = code
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *captureWriter) Write(b []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	c.body.Write(b)
	return c.ResponseWriter.Write(b)
}
