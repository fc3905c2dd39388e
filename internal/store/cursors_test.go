package store

import (
	"context"
	"errors"
	"testing"
)

func TestCursorMovesWithItsTransaction(t *testing.T) {
	engines(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		read := func() string {
			t.Helper()
			var v string
			if err := s.View(ctx, func(tx *Tx) (err error) { v, err = tx.Cursor(ctx, "feed"); return err }); err != nil {
				t.Fatal(err)
			}
			return v
		}
		if v := read(); v != "" {
			t.Fatalf("new cursor = %q, want empty", v)
		}
		for _, v := range []string{"a", "b"} {
			if err := s.Tx(ctx, func(tx *Tx) error { return tx.SetCursor(ctx, "feed", v) }); err != nil {
				t.Fatal(err)
			}
			if got := read(); got != v {
				t.Fatalf("cursor = %q, want %q", got, v)
			}
		}
		// Work that fails leaves the cursor where it was.
		boom := errors.New("boom")
		err := s.Tx(ctx, func(tx *Tx) error {
			if err := tx.SetCursor(ctx, "feed", "c"); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) || read() != "b" {
			t.Fatalf("after a rolled-back move: %v, cursor %q, want b", err, read())
		}
	})
}
