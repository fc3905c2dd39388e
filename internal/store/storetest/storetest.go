// Package storetest gives each test its own empty PostgreSQL database on the
// throwaway server that make test starts (scripts/test-postgres.sh), so the
// PostgreSQL half of the store is tested for real and tests never share
// state.
//
// Only tests import storetest. It imports no other Sirocco package, so any
// package's tests can use it without an import cycle.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
)

// EnvPostgres names the environment variable holding the URL of the test
// server, e.g. postgres://postgres@127.0.0.1:55432/postgres?sslmode=disable.
const EnvPostgres = "SIROCCO_TEST_POSTGRES"

// adminTimeout bounds creating or dropping a test database.
const adminTimeout = time.Minute

// PostgresURL creates a fresh, empty database on the server named by
// SIROCCO_TEST_POSTGRES, drops it when the test ends, and returns its URL.
// It fails the test when the variable is unset: the PostgreSQL tests must
// run, never skip silently.
func PostgresURL(t testing.TB) string {
	t.Helper()
	server := os.Getenv(EnvPostgres)
	if server == "" {
		t.Fatal(EnvPostgres + " is not set: run the tests with `make test`, which starts a throwaway PostgreSQL")
	}
	u, err := url.Parse(server)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		t.Fatalf("%s=%q is not a postgres:// URL (err: %v)", EnvPostgres, server, err)
	}

	admin, err := sql.Open("pgx", server)
	if err != nil {
		t.Fatalf("storetest: open %s: %v", u.Redacted(), err)
	}
	defer admin.Close()

	name := "t_" + randomHex(t, 12)
	ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
	defer cancel()
	// The name is ours and made of [t_0-9a-f], so it needs no quoting.
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("storetest: create database %s on %s: %v", name, u.Redacted(), err)
	}
	t.Cleanup(func() { drop(t, server, name) })

	db := *u
	db.Path = "/" + name
	db.RawPath = ""
	return db.String()
}

// drop removes database name, disconnecting any sessions a test left open.
// Cleanup has no caller context, so it uses its own timeout.
func drop(t testing.TB, server, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
	defer cancel()
	admin, err := sql.Open("pgx", server)
	if err != nil {
		t.Errorf("storetest: drop database %s: %v", name, err)
		return
	}
	defer admin.Close()
	if _, err := admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
		t.Errorf("storetest: drop database %s: %v", name, err)
	}
}

func randomHex(t testing.TB, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("storetest: random name: %v", err)
	}
	return hex.EncodeToString(b)
}
