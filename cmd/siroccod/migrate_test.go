package main

import (
	"bytes"
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sirocco-cloud/sirocco/internal/auth"
	"github.com/sirocco-cloud/sirocco/internal/seed"
	"github.com/sirocco-cloud/sirocco/internal/store"
	"github.com/sirocco-cloud/sirocco/internal/store/storetest"
)

// TestMigrateStore moves a demo provider's SQLite store to PostgreSQL: every
// row of every table arrives, the provider admin logs in with the same
// password, booleans stay booleans, and a second copy into the now used
// database is refused.
func TestMigrateStore(t *testing.T) {
	ctx := context.Background()
	from := filepath.Join(t.TempDir(), "sirocco.db")
	to := storetest.PostgresURL(t)
	src, err := store.Open(ctx, from, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := seed.Demo(ctx, src); err != nil {
		t.Fatal(err)
	}
	password, _, err := seed.Admin(ctx, src, "admin@sirocco.local")
	if err != nil {
		t.Fatal(err)
	}
	src.Close()

	var out bytes.Buffer
	if code := runMigrateStore(ctx, []string{"--from", from, "--to", to}, &out); code != 0 {
		t.Fatalf("migrate-store: exit %d\n%s", code, out.String())
	}
	if !strings.Contains(out.String(), "Copied ") {
		t.Errorf("output:\n%s", out.String())
	}

	// Every table holds as many rows on both sides.
	lite, err := sql.Open("sqlite", from)
	if err != nil {
		t.Fatal(err)
	}
	defer lite.Close()
	pg, err := sql.Open("pgx", to)
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	rows, err := lite.QueryContext(ctx, "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> 'goose_db_version'")
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var n string
		rows.Scan(&n)
		tables = append(tables, n)
	}
	rows.Close()
	var total int64
	for _, table := range tables {
		var a, b int64
		if err := lite.QueryRowContext(ctx, `SELECT count(*) FROM "`+table+`"`).Scan(&a); err != nil {
			t.Fatal(err)
		}
		if err := pg.QueryRowContext(ctx, `SELECT count(*) FROM "`+table+`"`).Scan(&b); err != nil {
			t.Fatalf("table %s in PostgreSQL: %v", table, err)
		}
		if a != b {
			t.Errorf("table %s: %d rows in SQLite, %d in PostgreSQL", table, a, b)
		}
		total += a
	}
	if total == 0 {
		t.Fatal("the demo store is empty: nothing was checked")
	}

	// What siroccod reads from the new store is what it read from the old.
	dst, err := store.Open(ctx, to, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	err = dst.Tx(ctx, func(tx *store.Tx) error {
		u, err := tx.GetUserByEmail(ctx, "admin@sirocco.local")
		if err != nil {
			return err
		}
		if !u.EmailVerified || !auth.CheckPassword(u.PasswordHash, password) {
			t.Errorf("provider admin after the move: verified %v, password accepted %v", u.EmailVerified, auth.CheckPassword(u.PasswordHash, password))
		}
		sizes, _, err := tx.ListSizes(ctx, store.SizeFilter{}, store.Page{})
		if err != nil {
			return err
		}
		if len(sizes) == 0 {
			t.Error("no sizes after the move")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	out.Reset()
	if code := runMigrateStore(ctx, []string{"--from", from, "--to", to}, &out); code != 1 {
		t.Errorf("second migrate-store into the same database: exit %d, want 1", code)
	}
	if code := runMigrateStore(ctx, []string{"--from", filepath.Join(t.TempDir(), "typo.db"), "--to", storetest.PostgresURL(t)}, &out); code != 1 {
		t.Errorf("migrate-store from a missing file: exit %d, want 1", code)
	}
}
