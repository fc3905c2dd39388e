package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// CopyResult counts the rows Copy moved, per table.
type CopyResult map[string]int64

// Copy moves every row of an SQLite store into an empty PostgreSQL store:
// how an installation that started on SQLite moves to PostgreSQL to run
// several replicas. Both stores must have been opened by this release, so
// their schemas are at the same migration; the two schemas have the same
// tables and columns, and only values whose representation differs
// (booleans are integers in SQLite) are converted.
//
// The copy is one PostgreSQL transaction: it lands whole or not at all. src
// must not change meanwhile, so stop siroccod first.
func Copy(ctx context.Context, src, dst *Store) (CopyResult, error) {
	if src.dialect != SQLite || dst.dialect != Postgres {
		return nil, fmt.Errorf("copy store: only from SQLite to PostgreSQL, not from %s to %s", src.dialect, dst.dialect)
	}
	if err := sameVersion(ctx, src, dst); err != nil {
		return nil, err
	}
	tables, err := sqliteTablesInOrder(ctx, src.read)
	if err != nil {
		return nil, fmt.Errorf("copy store: %w", err)
	}
	res := CopyResult{}
	err = dst.runTx(ctx, dst.write, &sql.TxOptions{}, func(tx *Tx) error {
		for _, table := range tables {
			var has bool
			if err := tx.tx.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM "+quoteIdent(table)+")").Scan(&has); err != nil {
				return fmt.Errorf("table %s in the target: %w", table, err)
			}
			if has {
				return fmt.Errorf("the target store is not empty: table %s has rows (copy only into a new database)", table)
			}
		}
		for _, table := range tables {
			n, err := copyTable(ctx, src.read, tx.tx, table)
			if err != nil {
				return fmt.Errorf("table %s: %w", table, err)
			}
			res[table] = n
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("copy store: %w", err)
	}
	return res, nil
}

// sameVersion refuses stores at different schema migrations, which Open
// rules out unless one of them was opened by another release.
func sameVersion(ctx context.Context, src, dst *Store) error {
	var a, b int64
	const q = "SELECT COALESCE(MAX(version_id), 0) FROM goose_db_version"
	if err := src.read.QueryRowContext(ctx, q).Scan(&a); err != nil {
		return fmt.Errorf("copy store: schema version of the source: %w", err)
	}
	if err := dst.read.QueryRowContext(ctx, q).Scan(&b); err != nil {
		return fmt.Errorf("copy store: schema version of the target: %w", err)
	}
	if a != b {
		return fmt.Errorf("copy store: the source is at schema version %d and the target at %d: open both with the same release", a, b)
	}
	return nil
}

// sqliteTablesInOrder lists the store's tables (not the migration table)
// with every table after the tables its foreign keys point to, so that
// inserting in this order satisfies the constraints.
func sqliteTablesInOrder(ctx context.Context, db *sql.DB) ([]string, error) {
	rows, err := db.QueryContext(ctx, `SELECT name FROM sqlite_master
		WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> 'goose_db_version' ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return nil, err
		}
		names = append(names, n)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	deps := map[string][]string{}
	for _, n := range names {
		r, err := db.QueryContext(ctx, `SELECT DISTINCT "table" FROM pragma_foreign_key_list(?)`, n)
		if err != nil {
			return nil, fmt.Errorf("foreign keys of %s: %w", n, err)
		}
		for r.Next() {
			var to string
			if err := r.Scan(&to); err != nil {
				r.Close()
				return nil, err
			}
			if to != n { // a row pointing at its own table: rows go in rowid order
				deps[n] = append(deps[n], to)
			}
		}
		r.Close()
		if err := r.Err(); err != nil {
			return nil, err
		}
	}
	var order []string
	state := map[string]int{} // 1 visiting, 2 done
	var visit func(string) error
	visit = func(n string) error {
		switch state[n] {
		case 1:
			return fmt.Errorf("foreign keys form a cycle through %s", n)
		case 2:
			return nil
		}
		state[n] = 1
		for _, d := range deps[n] {
			if slices.Contains(names, d) {
				if err := visit(d); err != nil {
					return err
				}
			}
		}
		state[n] = 2
		order = append(order, n)
		return nil
	}
	for _, n := range names {
		if err := visit(n); err != nil {
			return nil, err
		}
	}
	return order, nil
}

// copyTable inserts every row of table from src into the PostgreSQL
// transaction, column by column as the target names them.
func copyTable(ctx context.Context, src *sql.DB, dst *sql.Tx, table string) (int64, error) {
	cols, err := dst.QueryContext(ctx, `SELECT column_name, data_type FROM information_schema.columns
		WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position`, table)
	if err != nil {
		return 0, fmt.Errorf("columns: %w", err)
	}
	var names, types []string
	for cols.Next() {
		var n, t string
		if err := cols.Scan(&n, &t); err != nil {
			cols.Close()
			return 0, err
		}
		names, types = append(names, n), append(types, t)
	}
	cols.Close()
	if err := cols.Err(); err != nil {
		return 0, err
	}
	if len(names) == 0 {
		return 0, errors.New("missing in the target store")
	}
	quoted := make([]string, len(names))
	params := make([]string, len(names))
	for i, n := range names {
		quoted[i], params[i] = quoteIdent(n), fmt.Sprintf("$%d", i+1)
	}
	list := strings.Join(quoted, ", ")
	rows, err := src.QueryContext(ctx, "SELECT "+list+" FROM "+quoteIdent(table)+" ORDER BY rowid")
	if err != nil {
		return 0, fmt.Errorf("read: %w", err)
	}
	defer rows.Close()
	insert, err := dst.PrepareContext(ctx, "INSERT INTO "+quoteIdent(table)+" ("+list+") VALUES ("+strings.Join(params, ", ")+")")
	if err != nil {
		return 0, fmt.Errorf("prepare insert: %w", err)
	}
	defer insert.Close()
	vals := make([]any, len(names))
	ptrs := make([]any, len(names))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	var n int64
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return n, err
		}
		for i, v := range vals {
			if types[i] == "boolean" {
				if x, ok := v.(int64); ok {
					vals[i] = x != 0
				}
			}
		}
		if _, err := insert.ExecContext(ctx, vals...); err != nil {
			return n, fmt.Errorf("row %d: %w", n+1, err)
		}
		n++
	}
	return n, rows.Err()
}

// quoteIdent quotes a table or column name for either engine.
func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
