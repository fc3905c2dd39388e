package server

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/sirocco-cloud/sirocco/api"
)

// routes registers every endpoint. Each resource's handlers live in the file
// named after it.
func (s *Server) routes() {
	s.providerRoutes()
	s.regionRoutes()
	s.zoneRoutes()
	s.hostRoutes()
	s.agentRoutes()
	s.sizeRoutes()
	s.orgRoutes()
	s.userRoutes()
	s.identityRoutes()
	s.tokenRoutes()
	s.vdcRoutes()
	s.vmRoutes()
	s.imageRoutes()
	s.ovaRoutes()
	s.invoiceRoutes()
	s.creditRoutes()
	s.priceRoutes()
	s.budgetRoutes()
	s.webhookRoutes()
	s.residencyRoutes()
	s.consoleRoutes()
	s.eventRoutes()
	s.networkRoutes()
	s.publicIPPoolRoutes()
	s.publicIPRoutes()
	s.firewallRoutes()
	s.diskRoutes()
	s.sshKeyRoutes()
	s.reportRoutes()
	s.operationRoutes()
	s.auditRoutes()
	s.docsRoutes()

	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Write([]byte("ok\n"))
	})
	s.mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := s.store.Ping(ctx); err != nil {
			writeProblem(w, r, api.Errorf(http.StatusServiceUnavailable, api.CodeUnavailable, "store not reachable"))
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		w.Write([]byte("ready\n"))
	})
	if s.gatherer != nil {
		s.mux.Handle("GET /metrics", promhttp.HandlerFor(s.gatherer, promhttp.HandlerOpts{}))
	}
	// Unknown API paths get a problem document, not the mux's plain text.
	s.mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/api/v1/") || r.URL.Path == "/api/" {
			writeProblem(w, r, api.Errorf(http.StatusNotFound, api.CodeNotFound, "no such endpoint: %s %s", r.Method, r.URL.Path))
			return
		}
		writeProblem(w, r, api.Errorf(http.StatusNotFound, api.CodeNotFound, "unknown API version in %s (this server speaks /api/v1)", r.URL.Path))
	})
}
