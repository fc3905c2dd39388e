package storetest_test

import (
	"database/sql"
	"net/url"
	"strings"
	"testing"

	"github.com/sirocco-cloud/sirocco/internal/store/storetest"
)

func TestPostgresURLGivesFreshDatabase(t *testing.T) {
	var names []string
	for range 2 {
		dsn := storetest.PostgresURL(t)
		u, err := url.Parse(dsn)
		if err != nil {
			t.Fatalf("PostgresURL returned %q: %v", dsn, err)
		}
		name := strings.TrimPrefix(u.Path, "/")
		if !strings.HasPrefix(name, "t_") {
			t.Errorf("database name %q, want prefix t_", name)
		}
		names = append(names, name)

		db, err := sql.Open("pgx", dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var current string
		if err := db.QueryRowContext(t.Context(), "SELECT current_database()").Scan(&current); err != nil {
			t.Fatalf("connect to %s: %v", name, err)
		}
		if current != name {
			t.Errorf("current_database() = %q, want %q", current, name)
		}
		// Each database starts empty, so creating the same table twice works.
		if _, err := db.ExecContext(t.Context(), "CREATE TABLE widget (id bigint PRIMARY KEY, name text NOT NULL)"); err != nil {
			t.Fatalf("create table in %s: %v", name, err)
		}
		if _, err := db.ExecContext(t.Context(), "INSERT INTO widget VALUES (1, 'sprocket')"); err != nil {
			t.Fatalf("insert: %v", err)
		}
		var got string
		if err := db.QueryRowContext(t.Context(), "SELECT name FROM widget WHERE id = 1").Scan(&got); err != nil || got != "sprocket" {
			t.Errorf("select = %q, %v; want sprocket", got, err)
		}
	}
	if names[0] == names[1] {
		t.Errorf("two calls returned the same database %q", names[0])
	}
}

func TestPostgresURLDropsDatabase(t *testing.T) {
	var name string
	t.Run("use", func(t *testing.T) {
		u, err := url.Parse(storetest.PostgresURL(t))
		if err != nil {
			t.Fatal(err)
		}
		name = strings.TrimPrefix(u.Path, "/")
	})

	admin, err := sql.Open("pgx", storetest.PostgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	var exists bool
	err = admin.QueryRowContext(t.Context(), "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists)
	if err != nil {
		t.Fatal(err)
	}
	if exists {
		t.Errorf("database %s still exists after its test ended", name)
	}
}
