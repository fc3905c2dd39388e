// Package server is Sirocco's HTTP API: routes, handlers, middleware
// (authentication, rate limits, idempotency, metrics) and the rendering of
// every failure as an RFC 9457 problem with a stable code.
//
// Handlers are registered with Huma on a standard http.ServeMux, so the
// OpenAPI 3.1 document served at /api/v1/openapi.json is generated from the
// same Go types the handlers use.
package server

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/internal/billing/rating"
	"github.com/sirocco-cloud/sirocco/internal/image"
	"github.com/sirocco-cloud/sirocco/internal/mail"
	"github.com/sirocco-cloud/sirocco/internal/operation"
	"github.com/sirocco-cloud/sirocco/internal/scheduler"
	"github.com/sirocco-cloud/sirocco/internal/store"
)

// Version is the API's version, shown in the OpenAPI document.
const Version = "1.0.0"

// Config tunes the server. Zero values take the defaults noted.
type Config struct {
	// BaseURL is where users reach this control plane; links in mails point here.
	BaseURL string
	// RateLimit is the sustained requests per second allowed per token,
	// session or anonymous client address. Default 50.
	RateLimit float64
	// RateBurst is the burst above RateLimit. Default 100.
	RateBurst int
	// MaxBodyBytes caps request bodies. Default 1 MiB.
	MaxBodyBytes int64
	// SessionTTL is how long a console login lasts. Default 12h.
	SessionTTL time.Duration
	// SecureCookies marks session cookies Secure (on whenever serving HTTPS).
	SecureCookies bool
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// TLSFingerprint is the fingerprint of the certificate this control plane
	// serves; join tokens carry it so agents can pin it. Empty on plain HTTP.
	TLSFingerprint string
	// HeartbeatInterval is how often agents report. Default 10 s; a host
	// missing three is marked down.
	HeartbeatInterval time.Duration
	// Images keeps the catalog's files. Required for image uploads and
	// imports and for serving images to agents.
	Images *image.Catalog
	// Placement ranks hosts for new VMs. Default spread.
	Placement scheduler.Strategy
}

func (c *Config) defaults() {
	if c.RateLimit == 0 {
		c.RateLimit = 50
	}
	if c.RateBurst == 0 {
		c.RateBurst = 100
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = 1 << 20
	}
	if c.SessionTTL == 0 {
		c.SessionTTL = 12 * time.Hour
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.HeartbeatInterval == 0 {
		c.HeartbeatInterval = 10 * time.Second
	}
}

// Mailer sends mail; internal/mail provides SMTP and log implementations.
type Mailer interface {
	Send(ctx context.Context, m mail.Message) error
}

// Server serves the API.
type Server struct {
	cfg      Config
	store    *store.Store
	mail     Mailer
	ops      *operation.Manager
	log      *slog.Logger
	metrics  *metrics
	limits   *limiter
	mux      *http.ServeMux
	api      huma.API
	touched  *touchTracker
	logins   *loginBrake
	gatherer prometheus.Gatherer
	hub      *hub
	consoles *consoles
}

// New builds a server and registers every route.
// reg receives the server's metrics and is served at /metrics; nil disables both.
func New(cfg Config, st *store.Store, m Mailer, ops *operation.Manager, log *slog.Logger, reg *prometheus.Registry) *Server {
	cfg.defaults()
	s := &Server{
		cfg:     cfg,
		store:   st,
		mail:    m,
		ops:     ops,
		log:     log,
		metrics: newMetrics(reg),
		limits:  newLimiter(cfg.RateLimit, cfg.RateBurst, cfg.Now),
		mux:     http.NewServeMux(),
		touched: newTouchTracker(),
		logins:  newLoginBrake(cfg.Now),
		hub:     newHub(),
	}
	s.consoles = newConsoles()
	if reg != nil {
		s.gatherer = reg
	}
	hc := huma.DefaultConfig("Sirocco API", Version)
	hc.OpenAPIPath = "/api/v1/openapi"
	hc.DocsPath = ""     // the built-in page loads scripts from a CDN; we serve our own
	hc.SchemasPath = ""  // schemas are in the document
	hc.CreateHooks = nil // no $schema links in bodies
	hc.Info.Description = "The REST API of a Sirocco cloud. Errors are RFC 9457 problem documents with a stable `code`."
	hc.Components.SecuritySchemes = map[string]*huma.SecurityScheme{
		"bearer":  {Type: "http", Scheme: "bearer", Description: "An API token from POST /api/v1/tokens"},
		"session": {Type: "apiKey", In: "cookie", Name: sessionCookie, Description: "A console session from POST /api/v1/login"},
	}
	hc.Security = []map[string][]string{{"bearer": {}}, {"session": {}}}
	installErrorModel()
	s.api = humago.New(s.mux, hc)
	s.routes()
	return s
}

// Handler is the whole HTTP surface: API, metrics, health.
func (s *Server) Handler() http.Handler {
	// Cross-origin protection stops a page on another site from making a
	// logged-in browser change anything (CSRF); API clients send neither
	// Origin nor Sec-Fetch-Site and pass.
	csrf := http.NewCrossOriginProtection()
	csrf.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, r, api.Errorf(http.StatusForbidden, api.CodeForbidden, "cross-origin request refused"))
	}))
	return s.observe(csrf.Handler(s.authenticate(s.rateLimit(s.idempotent(s.mux)))))
}

// OpenAPI returns the generated document (for tests and the SDK check).
func (s *Server) OpenAPI() *huma.OpenAPI { return s.api.OpenAPI() }

// register adds an operation, mapping every error its handler returns to an
// *api.Error in one place.
func register[I, O any](s *Server, op huma.Operation, h func(context.Context, *I) (*O, error)) {
	huma.Register(s.api, op, func(ctx context.Context, in *I) (*O, error) {
		out, err := h(ctx, in)
		if err != nil {
			return nil, s.apiError(ctx, err)
		}
		return out, nil
	})
}

// apiError maps errors to the API's error type. Store errors that a handler
// did not translate become generic codes; anything unexpected is logged and
// reported without internals.
func (s *Server) apiError(ctx context.Context, err error) error {
	if ae, ok := errors.AsType[*api.Error](err); ok {
		return ae
	}
	switch {
	case errors.Is(err, store.ErrNotFound):
		return api.Errorf(http.StatusNotFound, api.CodeNotFound, "not found")
	case errors.Is(err, store.ErrConflict):
		return api.Errorf(http.StatusConflict, api.CodeConflict, "the request conflicts with the current state")
	case errors.Is(err, rating.ErrNoPlan):
		// The provider has not priced a region its tenants use: say so
		// rather than guess a price.
		return api.Errorf(http.StatusConflict, api.CodeNoPricePlan, "%v: the provider must add a price plan (POST /api/v1/price-plans)", err)
	case errors.Is(err, store.ErrBadCursor):
		return api.Errorf(http.StatusBadRequest, api.CodeInvalidRequest, "invalid page cursor")
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return api.Errorf(http.StatusServiceUnavailable, api.CodeUnavailable, "the request was cancelled or timed out")
	}
	s.log.ErrorContext(ctx, "request failed", "err", err, "request_id", requestID(ctx))
	return api.Errorf(http.StatusInternalServerError, api.CodeInternal, "internal error (request %s)", requestID(ctx))
}
