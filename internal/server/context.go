package server

import (
	"context"
	"net/http"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/internal/auth"
)

// reqInfo is what middleware learns about a request and handlers read back.
// It is request-scoped data, never a service.
type reqInfo struct {
	id        string
	sourceIP  string
	principal *auth.Principal
	// authErr is set when credentials were presented but are invalid, so that
	// protected handlers can say why instead of just "unauthenticated".
	authErr *api.Error
	// audited is set when a handler wrote its own audit event in its
	// transaction, so middleware does not write a second one.
	audited bool
}

type reqInfoKey struct{}

func withReqInfo(r *http.Request, ri *reqInfo) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), reqInfoKey{}, ri))
}

func info(ctx context.Context) *reqInfo {
	if ri, ok := ctx.Value(reqInfoKey{}).(*reqInfo); ok {
		return ri
	}
	return &reqInfo{}
}

func requestID(ctx context.Context) string { return info(ctx).id }

// principal returns the authenticated caller or an unauthenticated error.
func principal(ctx context.Context) (*auth.Principal, error) {
	ri := info(ctx)
	if ri.principal != nil {
		return ri.principal, nil
	}
	if ri.authErr != nil {
		return nil, ri.authErr
	}
	return nil, api.Errorf(http.StatusUnauthorized, api.CodeUnauthenticated, "authentication required: send an API token (Authorization: Bearer ...) or log in")
}

// forbidden is the error for a caller who may see an object but not do this to it.
func forbidden(format string, args ...any) *api.Error {
	return api.Errorf(http.StatusForbidden, api.CodeForbidden, format, args...)
}

// requireProviderRead returns the caller if they hold a provider role.
func requireProviderRead(ctx context.Context) (*auth.Principal, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	if !p.CanReadProvider() {
		return nil, forbidden("this needs a provider role")
	}
	return p, nil
}

// requireProviderAdmin returns the caller if they are a provider admin.
func requireProviderAdmin(ctx context.Context) (*auth.Principal, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	if !p.CanAdminProvider() {
		return nil, forbidden("this needs the provider-admin role")
	}
	return p, nil
}
