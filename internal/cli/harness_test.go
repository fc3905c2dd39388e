package cli_test

import (
	"testing"

	"github.com/sirocco-cloud/sirocco/internal/servertest"
)

// password is every seeded user's password.
const password = servertest.Password

// env is a real API server on a fresh SQLite store (internal/servertest).
type env struct {
	*servertest.Env
	t testing.TB
}

func newEnv(t testing.TB, tls bool) *env {
	t.Helper()
	return &env{Env: servertest.New(t, tls), t: t}
}
