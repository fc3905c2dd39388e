package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/api/agentapi"
	"github.com/sirocco-cloud/sirocco/internal/auth"
	"github.com/sirocco-cloud/sirocco/internal/store"
)

// joinTokenTTL is how long a join token works.
const joinTokenTTL = 24 * time.Hour

// Secret prefixes of the agent side.
const (
	prefixJoin  = "sjt_"
	prefixAgent = "sag_"
)

// agentRoutes serves hosts' agents: join tokens for operators (public API),
// and the agent protocol itself (plain handlers under /api/agent/v1, not part
// of the public OpenAPI document).
func (s *Server) agentRoutes() {
	register(s, huma.Operation{OperationID: "create-host-join-token", Method: http.MethodPost, Path: "/api/v1/hosts/{id}/join-tokens",
		Summary: "Make a join token for a host's agent",
		Description: "Provider admins. The one-time token (valid 24 h) carries this control plane's certificate fingerprint; " +
			"run the returned command on the host.",
		Tags: []string{"Hosts"}, DefaultStatus: http.StatusCreated},
		func(ctx context.Context, in *idPath) (*bodyOut[api.HostJoinToken], error) {
			p, err := requireProviderAdmin(ctx)
			if err != nil {
				return nil, err
			}
			if s.cfg.TLSFingerprint == "" {
				return nil, api.Errorf(http.StatusConflict, api.CodeConflict,
					"this control plane serves plain HTTP: agents join only over TLS (start siroccod without --insecure-http)")
			}
			secret, hash := auth.NewSecret(prefixJoin)
			expires := s.cfg.Now().Add(joinTokenTTL).UTC()
			err = s.store.Tx(ctx, func(tx *store.Tx) error {
				if _, err := tx.GetHost(ctx, in.ID); err != nil {
					return notFoundOr(err, "host", in.ID)
				}
				if err := tx.CreateJoinToken(ctx, hash, in.ID, p.UserID, expires); err != nil {
					return err
				}
				return s.audit(ctx, tx, "host.join-token", "host", in.ID, "", "")
			})
			if err != nil {
				return nil, err
			}
			tok := agentapi.JoinToken{Secret: secret, Fingerprint: s.cfg.TLSFingerprint}.String()
			return &bodyOut[api.HostJoinToken]{Body: api.HostJoinToken{Host: in.ID, Token: tok, ExpiresAt: expires,
				Command: fmt.Sprintf("siroccod agent --join %s --token %s", s.cfg.BaseURL, tok)}}, nil
		})

	s.mux.HandleFunc("POST "+agentapi.PathJoin, s.agentJoin)
	s.mux.HandleFunc("POST "+agentapi.PathHeartbeat, s.agentHeartbeat)
	s.mux.HandleFunc("POST "+agentapi.PathSync, s.agentSync)
	s.mux.HandleFunc("GET "+agentapi.PathImageFile+"/{image}/{file}", s.agentImageFile)
}

// readAgent decodes an agent message, checking its protocol version.
func readAgent(r *http.Request, v any, protocol func() int) *api.Error {
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return api.Errorf(http.StatusBadRequest, api.CodeInvalidRequest, "bad agent message: %v", err)
	}
	if p := protocol(); p != agentapi.ProtocolVersion {
		return api.Errorf(http.StatusBadRequest, agentapi.CodeUnsupportedProtocol,
			"agent speaks protocol %d, this control plane speaks %d: install the matching siroccod on the host", p, agentapi.ProtocolVersion)
	}
	return nil
}

func writeAgent(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

func (s *Server) heartbeatSeconds() int { return int(s.cfg.HeartbeatInterval / time.Second) }

func (s *Server) agentJoin(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	var req agentapi.JoinRequest
	if e := readAgent(r, &req, func() int { return req.Protocol }); e != nil {
		writeProblem(w, r, e)
		return
	}
	credential, hash := auth.NewSecret(prefixAgent)
	var hostID string
	err := s.store.Tx(ctx, func(tx *store.Tx) error {
		var err error
		if hostID, err = tx.UseJoinToken(ctx, auth.HashSecret(req.Secret)); err != nil {
			return err
		}
		if err := tx.SetAgentCredential(ctx, hostID, hash, req.Protocol); err != nil {
			return err
		}
		return s.auditAsSystem(ctx, tx, "host.join", "host", hostID, "",
			fmt.Sprintf("agent %s on %s (%s) joined from %s", req.AgentVersion, req.Hostname, req.Acceleration, info(ctx).sourceIP))
	})
	if errors.Is(err, store.ErrTokenUsed) {
		writeProblem(w, r, api.Errorf(http.StatusUnauthorized, api.CodeInvalidToken,
			"the join token is unknown, used or expired: make a new one with 'sirocco host join-token'"))
		return
	}
	if err != nil {
		writeProblem(w, r, s.apiError(ctx, err).(*api.Error))
		return
	}
	writeAgent(w, agentapi.JoinResponse{HostID: hostID, Credential: credential, HeartbeatSeconds: s.heartbeatSeconds()})
}

// agentCredential is the hash of the agent credential a request carries, or
// a problem to answer with.
func agentCredential(r *http.Request) (string, *api.Error) {
	scheme, cred, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if !strings.EqualFold(scheme, "Bearer") || !strings.HasPrefix(cred, prefixAgent) {
		return "", api.Errorf(http.StatusUnauthorized, api.CodeUnauthenticated, "agent credential required")
	}
	return auth.HashSecret(cred), nil
}

// agentHost authenticates an agent request and returns its host. On failure
// it has already written the problem and returns nil.
func (s *Server) agentHost(w http.ResponseWriter, r *http.Request) *store.Host {
	hash, e := agentCredential(r)
	if e != nil {
		writeProblem(w, r, e)
		return nil
	}
	var h *store.Host
	err := s.store.View(r.Context(), func(tx *store.Tx) error {
		var err error
		h, err = tx.HostByAgentCredential(r.Context(), hash)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		writeProblem(w, r, api.Errorf(http.StatusUnauthorized, api.CodeUnauthenticated, "unknown agent credential: join the host again"))
		return nil
	}
	if err != nil {
		writeProblem(w, r, s.apiError(r.Context(), err).(*api.Error))
		return nil
	}
	return h
}

func (s *Server) agentHeartbeat(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	credHash, e := agentCredential(r)
	if e != nil {
		writeProblem(w, r, e)
		return
	}
	var hb agentapi.Heartbeat
	if e := readAgent(r, &hb, func() int { return hb.Protocol }); e != nil {
		writeProblem(w, r, e)
		return
	}
	var resp agentapi.HeartbeatResponse
	kickAll := false
	err := s.store.Tx(ctx, func(tx *store.Tx) error {
		h, err := tx.HostByAgentCredential(ctx, credHash)
		if err != nil {
			return err
		}
		before := h.State
		state, err := tx.RecordHeartbeat(ctx, h.ID, store.Heartbeat{VCPU: hb.Capacity.VCPU, MemoryMiB: hb.Capacity.MemoryMiB,
			DiskGiB: hb.Capacity.DiskGiB, Acceleration: hb.Acceleration, AgentVersion: hb.AgentVersion})
		if err != nil {
			return err
		}
		if hb.UnderlayIP != "" {
			// Peers reach the host's VXLAN there: the other hosts learn a
			// change at their next sync that names this host.
			if _, err := netip.ParseAddr(hb.UnderlayIP); err != nil {
				return api.Errorf(http.StatusBadRequest, api.CodeValidation, "underlay_ip %q is not an IP address", hb.UnderlayIP)
			}
			had, err := tx.HostUnderlayIPs(ctx, []string{h.ID})
			if err != nil {
				return err
			}
			if had[h.ID] != hb.UnderlayIP {
				if err := tx.SetHostUnderlayIP(ctx, h.ID, hb.UnderlayIP); err != nil {
					return err
				}
				// The hosts sharing a network with it must point their
				// VXLAN at the new address: tell them all (rare).
				if err := tx.BumpAllHostGenerations(ctx); err != nil {
					return err
				}
				kickAll = true
			}
		}
		if state != before {
			if err := s.auditAsSystem(ctx, tx, "host.state", "host", h.ID, "", before+" -> "+state); err != nil {
				return err
			}
		}
		resp = agentapi.HeartbeatResponse{HostID: h.ID, State: state, HeartbeatSeconds: s.heartbeatSeconds()}
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		writeProblem(w, r, api.Errorf(http.StatusUnauthorized, api.CodeUnauthenticated, "unknown agent credential: join the host again"))
		return
	}
	if err != nil {
		writeProblem(w, r, s.apiError(ctx, err).(*api.Error))
		return
	}
	if kickAll {
		s.hub.kickAllHosts()
	}
	writeAgent(w, resp)
}

// CheckHeartbeats marks hosts whose agents missed three heartbeats down. It
// is the body of the control plane's host-monitor loop. Their VMs are left
// alone: they are unknown, not gone, until the agent reports again.
func (s *Server) CheckHeartbeats(ctx context.Context) error {
	return s.store.Tx(ctx, func(tx *store.Tx) error {
		ids, err := tx.MarkSilentHostsDown(ctx, s.cfg.Now().Add(-3*s.cfg.HeartbeatInterval))
		if err != nil {
			return err
		}
		for _, id := range ids {
			if err := s.auditAsSystem(ctx, tx, "host.state", "host", id, "", "missed heartbeats: down"); err != nil {
				return err
			}
		}
		return nil
	})
}
