package server

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/internal/auth"
	"github.com/sirocco-cloud/sirocco/internal/store"
)

const sessionCookie = "sirocco_session"

// authenticate resolves the caller from a bearer token or a session cookie.
// It never rejects by itself: public endpoints (sign-up, login) need no
// caller, and protected handlers call principal().
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ri := info(r.Context())
		if authz := r.Header.Get("Authorization"); authz != "" {
			scheme, secret, _ := strings.Cut(authz, " ")
			if !strings.EqualFold(scheme, "Bearer") || secret == "" {
				ri.authErr = api.Errorf(http.StatusUnauthorized, api.CodeUnauthenticated, "the Authorization header must be: Bearer <token>")
			} else {
				ri.principal, ri.authErr = s.tokenPrincipal(r.Context(), strings.TrimSpace(secret))
			}
		} else if c, err := r.Cookie(sessionCookie); err == nil && c.Value != "" {
			ri.principal, ri.authErr = s.sessionPrincipal(r.Context(), c.Value)
		}
		next.ServeHTTP(w, r)
	})
}

func badCredentials(what string) *api.Error {
	return api.Errorf(http.StatusUnauthorized, api.CodeUnauthenticated, "%s is invalid, expired or revoked", what)
}

func (s *Server) tokenPrincipal(ctx context.Context, secret string) (*auth.Principal, *api.Error) {
	var p *auth.Principal
	var tok *store.Token
	err := s.store.View(ctx, func(tx *store.Tx) error {
		var err error
		tok, err = tx.GetTokenByHash(ctx, auth.HashSecret(secret))
		if err != nil {
			return err
		}
		if tok.ExpiresAt != nil && !s.cfg.Now().Before(*tok.ExpiresAt) {
			return store.ErrNotFound
		}
		p, err = s.loadPrincipal(ctx, tx, tok.UserID, &auth.TokenScope{Org: tok.OrgID, Role: tok.Role})
		if err != nil {
			return err
		}
		p.TokenID, p.TokenName = tok.ID, tok.Name
		return nil
	})
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			s.log.ErrorContext(ctx, "authenticate token", "err", err)
			return nil, api.Errorf(http.StatusServiceUnavailable, api.CodeUnavailable, "cannot check credentials now")
		}
		return nil, badCredentials("the API token")
	}
	if now := s.cfg.Now(); s.touched.due(tok.ID, now) {
		// Best effort and off the request path's transaction.
		if err := s.store.Tx(ctx, func(tx *store.Tx) error { return tx.TouchToken(ctx, tok.ID, now) }); err != nil {
			s.log.WarnContext(ctx, "record token use", "err", err)
		}
	}
	return p, nil
}

func (s *Server) sessionPrincipal(ctx context.Context, secret string) (*auth.Principal, *api.Error) {
	var p *auth.Principal
	err := s.store.View(ctx, func(tx *store.Tx) error {
		sess, err := tx.GetSessionByHash(ctx, auth.HashSecret(secret))
		if err != nil {
			return err
		}
		if !s.cfg.Now().Before(sess.ExpiresAt) {
			return store.ErrNotFound
		}
		p, err = s.loadPrincipal(ctx, tx, sess.UserID, nil)
		if err != nil {
			return err
		}
		p.SessionID = sess.ID
		return nil
	})
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			s.log.ErrorContext(ctx, "authenticate session", "err", err)
			return nil, api.Errorf(http.StatusServiceUnavailable, api.CodeUnavailable, "cannot check credentials now")
		}
		return nil, badCredentials("the session")
	}
	return p, nil
}

func (s *Server) loadPrincipal(ctx context.Context, tx *store.Tx, userID string, scope *auth.TokenScope) (*auth.Principal, error) {
	u, err := tx.GetUser(ctx, userID)
	if err != nil {
		return nil, err
	}
	rbs, err := tx.ListRoleBindings(ctx, u.ID, "", false)
	if err != nil {
		return nil, err
	}
	bindings := make([]auth.Binding, len(rbs))
	for i, b := range rbs {
		bindings[i] = auth.Binding{Org: b.OrgID, Role: b.Role}
	}
	p := &auth.Principal{UserID: u.ID, Email: u.Email, EmailVerified: u.EmailVerified}
	auth.Resolve(p, bindings, scope)
	return p, nil
}
