// Package console is the web console: server-rendered pages for tenants and
// for the provider, over the same API the SDK and the CLI use.
//
// Every page calls the API in process with the visitor's session, so the
// console holds no rules of its own: roles, quotas, residency and tenant
// isolation are the API's, and what a page may show is exactly what the
// visitor's session may read. Pages work without JavaScript; small scripts
// (assets/) add live progress, the price quote and the serial console.
package console

import (
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"time"

	"github.com/sirocco-cloud/sirocco/client"
)

//go:embed templates assets
var files embed.FS

// Config tunes the console.
type Config struct {
	// SecureCookies marks the session cookie Secure (on whenever serving HTTPS).
	SecureCookies bool
	// Mailbox, when set, shows the mails the cloud sent (a demo cloud
	// without SMTP), so a visitor can follow a verification link.
	Mailbox Mailbox
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Log receives errors the visitor does not see in full.
	Log *slog.Logger
}

// Console serves the pages under /console/.
type Console struct {
	cfg   Config
	api   http.Handler
	mux   *http.ServeMux
	pages map[string]*template.Template
}

// New builds the console over api, the control plane's API handler.
func New(api http.Handler, cfg Config) (*Console, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	c := &Console{cfg: cfg, api: api, mux: http.NewServeMux()}
	var err error
	if c.pages, err = parsePages(); err != nil {
		return nil, err
	}
	assets, err := fs.Sub(files, "assets")
	if err != nil {
		return nil, err
	}
	c.mux.Handle("GET /console/assets/", http.StripPrefix("/console/assets/", cacheFor(time.Hour, http.FileServerFS(assets))))
	c.mux.Handle("GET /console/brand.css", c.public(c.brandCSS))
	c.routes()
	return c, nil
}

// routes registers every page. Each area's pages live in the file named
// after it.
func (c *Console) routes() {
	c.authRoutes()
	c.dashboardRoutes()
	c.computeRoutes()
	c.networkRoutes()
	c.billingRoutes()
	c.accountRoutes()
	c.providerRoutes()
}

// Mount serves the console beside api: /console/ and the root redirect go to
// the console, everything else to api.
func Mount(api http.Handler, cfg Config) (http.Handler, error) {
	c, err := New(api, cfg)
	if err != nil {
		return nil, fmt.Errorf("console: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/", api)
	mux.Handle("/console/", c)
	mux.Handle("GET /{$}", http.RedirectHandler("/console/", http.StatusFound))
	return mux, nil
}

// ServeHTTP serves a console page with the security headers every page
// carries and cross-origin protection for its forms.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	c.csrf().ServeHTTP(w, r)
}

// contentSecurityPolicy allows scripts, styles and connections from the
// console's own origin only: no inline script or style can run. Logos may
// come from anywhere over HTTPS.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: https:; " +
	"connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'"

// csrf refuses cross-site form posts (Sec-Fetch-Site and Origin checks).
func (c *Console) csrf() http.Handler {
	p := http.NewCrossOriginProtection()
	p.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "Cross-origin request refused.", http.StatusForbidden)
	}))
	return p.Handler(c.mux)
}

func cacheFor(d time.Duration, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", fmt.Sprintf("public, max-age=%d", int(d.Seconds())))
		h.ServeHTTP(w, r)
	})
}

// sessionClient is an SDK client calling the API in process as the visitor.
func (c *Console) sessionClient(r *http.Request, session string) *client.Client {
	opts := []client.Option{client.WithHTTPClient(&http.Client{Transport: &inProcess{api: c.api, remote: r.RemoteAddr, fwd: r.Header.Get("X-Forwarded-For")}}),
		client.WithUserAgent("sirocco-console")}
	if session != "" {
		opts = append(opts, client.WithSession(session))
	}
	cl, err := client.New("http://console.internal", opts...)
	if err != nil {
		panic(err) // a constant URL: cannot fail
	}
	return cl
}
