package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/sirocco-cloud/sirocco/internal/store"
)

// runMigrateStore is `siroccod migrate-store`: it copies an SQLite store
// into a new PostgreSQL database, the way from one control plane to several
// replicas. siroccod must be stopped meanwhile.
func runMigrateStore(ctx context.Context, args []string, out io.Writer) int {
	fs := flag.NewFlagSet("migrate-store", flag.ContinueOnError)
	from := fs.String("from", filepath.Join(defaultDataDir(), "sirocco.db"), "the SQLite store to copy (siroccod stopped)")
	to := fs.String("to", "", "postgres://user:pass@host/db of an empty database (required)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if !strings.HasPrefix(*to, "postgres://") && !strings.HasPrefix(*to, "postgresql://") {
		fmt.Fprintln(os.Stderr, "siroccod migrate-store: --to must be a postgres:// URL")
		return 2
	}
	if err := migrateStore(ctx, *from, *to, out); err != nil {
		fmt.Fprintf(os.Stderr, "siroccod migrate-store: %v\n", err)
		return 1
	}
	return 0
}

func migrateStore(ctx context.Context, from, to string, out io.Writer) error {
	// Open would create a missing SQLite file: a typo must not copy an
	// empty store.
	if _, err := os.Stat(from); err != nil {
		return fmt.Errorf("source: %w", err)
	}
	src, err := store.Open(ctx, from, store.Options{})
	if err != nil {
		return fmt.Errorf("source: %w", err)
	}
	defer src.Close()
	dst, err := store.Open(ctx, to, store.Options{})
	if err != nil {
		return fmt.Errorf("target: %w", err)
	}
	defer dst.Close()
	res, err := store.Copy(ctx, src, dst)
	if err != nil {
		return err
	}
	var total int64
	tables := make([]string, 0, len(res))
	for t, n := range res {
		tables = append(tables, t)
		total += n
	}
	slices.Sort(tables)
	for _, t := range tables {
		fmt.Fprintf(out, "  %-28s %d rows\n", t, res[t])
	}
	fmt.Fprintf(out, "Copied %d rows in %d tables from %s to PostgreSQL.\n", total, len(tables), from)
	return nil
}
