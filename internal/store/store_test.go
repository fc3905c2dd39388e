package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/sirocco-cloud/sirocco/internal/store/storetest"
)

// engines opens a fresh store on each engine; every store test runs on both.
func engines(t *testing.T, fn func(t *testing.T, s *Store)) {
	t.Helper()
	for _, e := range []struct {
		name string
		dsn  func(t *testing.T) string
	}{
		{"sqlite", func(t *testing.T) string { return filepath.Join(t.TempDir(), "sirocco.db") }},
		{"postgres", func(t *testing.T) string { return storetest.PostgresURL(t) }},
	} {
		t.Run(e.name, func(t *testing.T) {
			s, err := Open(context.Background(), e.dsn(t), Options{})
			if err != nil {
				t.Fatalf("open: %v", err)
			}
			t.Cleanup(func() { s.Close() })
			fn(t, s)
		})
	}
}

func TestOpenIsIdempotent(t *testing.T) {
	dsn := filepath.Join(t.TempDir(), "s.db")
	for range 2 { // the second open finds the schema migrated and keeps data
		s, err := Open(context.Background(), dsn, Options{})
		if err != nil {
			t.Fatal(err)
		}
		err = s.Tx(context.Background(), func(tx *Tx) error {
			_, err := tx.GetRegion(context.Background(), "keep")
			if errors.Is(err, ErrNotFound) {
				return tx.CreateRegion(context.Background(), &Region{Meta: Meta{ID: "keep"}, Jurisdiction: "AU"})
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
	}
}

func TestTxRollsBackOnError(t *testing.T) {
	engines(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		boom := errors.New("boom")
		err := s.Tx(ctx, func(tx *Tx) error {
			if err := tx.CreateRegion(ctx, &Region{Meta: Meta{ID: "au-syd", Labels: map[string]string{"a": "b"}}, Jurisdiction: "AU"}); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("err %v, want boom", err)
		}
		err = s.View(ctx, func(tx *Tx) error {
			_, err := tx.GetRegion(ctx, "au-syd")
			return err
		})
		if !errors.Is(err, ErrNotFound) {
			t.Fatalf("region after rollback: %v, want ErrNotFound", err)
		}
	})
}

func TestConstraintErrorsAreConflicts(t *testing.T) {
	engines(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		r := &Region{Meta: Meta{ID: "au-syd"}, Jurisdiction: "AU"}
		if err := s.Tx(ctx, func(tx *Tx) error { return tx.CreateRegion(ctx, r) }); err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			name string
			fn   func(tx *Tx) error
		}{
			{"duplicate key", func(tx *Tx) error { return tx.CreateRegion(ctx, &Region{Meta: Meta{ID: "au-syd"}, Jurisdiction: "AU"}) }},
			{"missing reference", func(tx *Tx) error { return tx.CreateZone(ctx, &Zone{Meta: Meta{ID: "x-1a"}, RegionID: "nowhere"}) }},
			{"still referenced", func(tx *Tx) error {
				if err := tx.CreateZone(ctx, &Zone{Meta: Meta{ID: "au-syd-1a"}, RegionID: "au-syd"}); err != nil {
					return err
				}
				return tx.DeleteRegion(ctx, "au-syd")
			}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				if err := s.Tx(ctx, tt.fn); !errors.Is(err, ErrConflict) {
					t.Fatalf("err %v, want ErrConflict", err)
				}
			})
		}
	})
}

func TestPaginationAndLabels(t *testing.T) {
	engines(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		err := s.Tx(ctx, func(tx *Tx) error {
			for i := range 25 {
				labels := map[string]string{"n": fmt.Sprint(i)}
				if i%5 == 0 {
					labels["tier"] = "gold"
				}
				if err := tx.CreateRegion(ctx, &Region{Meta: Meta{ID: fmt.Sprintf("r%02d", i), Labels: labels}, Jurisdiction: "AU"}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		var all []string
		p := Page{Limit: 10}
		for pages := 0; ; pages++ {
			var rows []Region
			var next string
			if err := s.View(ctx, func(tx *Tx) error {
				var err error
				rows, next, err = tx.ListRegions(ctx, p)
				return err
			}); err != nil {
				t.Fatal(err)
			}
			for _, r := range rows {
				all = append(all, r.ID)
				if r.Labels["n"] == "" {
					t.Errorf("region %s lost its labels in a list", r.ID)
				}
			}
			if next == "" {
				if pages != 2 {
					t.Errorf("%d pages, want 3", pages+1)
				}
				break
			}
			p.Cursor = next
		}
		if len(all) != 25 || all[0] != "r00" || all[24] != "r24" {
			t.Fatalf("walked %v", all)
		}
		var gold []Region
		s.View(ctx, func(tx *Tx) error {
			var err error
			gold, _, err = tx.ListRegions(ctx, Page{Labels: []LabelSelector{{Key: "tier", Value: "gold", HasValue: true}}})
			return err
		})
		if len(gold) != 5 {
			t.Fatalf("label filter: %d regions, want 5", len(gold))
		}
		err = s.View(ctx, func(tx *Tx) error {
			_, _, err := tx.ListRegions(ctx, Page{Cursor: "!!not-a-cursor"})
			return err
		})
		if !errors.Is(err, ErrBadCursor) {
			t.Fatalf("bad cursor: %v", err)
		}
	})
}

// TestConcurrentWritersDoNotLoseUpdates runs many read-modify-write
// transactions at once: on PostgreSQL serialization failures are retried,
// on SQLite writers are serialised; either way no increment is lost.
func TestConcurrentWritersDoNotLoseUpdates(t *testing.T) {
	engines(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		if err := s.Tx(ctx, func(tx *Tx) error {
			return tx.CreateRegion(ctx, &Region{Meta: Meta{ID: "counter"}, Jurisdiction: "AU", DisplayName: "0"})
		}); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for range 20 {
			wg.Go(func() {
				err := s.Tx(ctx, func(tx *Tx) error {
					r, err := tx.GetRegion(ctx, "counter")
					if err != nil {
						return err
					}
					var n int
					fmt.Sscan(r.DisplayName, &n)
					r.DisplayName = fmt.Sprint(n + 1)
					return tx.UpdateRegion(ctx, r)
				})
				if err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		var r *Region
		s.View(ctx, func(tx *Tx) error { r, _ = tx.GetRegion(ctx, "counter"); return nil })
		if r.DisplayName != "20" || r.Version != 21 {
			t.Fatalf("counter %s at version %d, want 20 at 21", r.DisplayName, r.Version)
		}
	})
}

func TestIdempotencyKeys(t *testing.T) {
	engines(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		claim := func(hash string) (*IdempotentResponse, bool) {
			var prev *IdempotentResponse
			var fresh bool
			if err := s.Tx(ctx, func(tx *Tx) error {
				var err error
				prev, fresh, err = tx.ClaimIdempotencyKey(ctx, "user:1", "k1", hash)
				return err
			}); err != nil {
				t.Fatal(err)
			}
			return prev, fresh
		}
		if _, fresh := claim("h1"); !fresh {
			t.Fatal("first claim not fresh")
		}
		if prev, fresh := claim("h1"); fresh || prev.Status != 0 {
			t.Fatalf("second claim while in flight: fresh %v, %+v", fresh, prev)
		}
		s.Tx(ctx, func(tx *Tx) error {
			return tx.CompleteIdempotencyKey(ctx, "user:1", "k1", &IdempotentResponse{Status: 201, Body: `{"id":"x"}`, ContentType: "application/json"})
		})
		prev, fresh := claim("h2")
		if fresh || prev.RequestHash != "h1" || prev.Status != 201 || prev.Body != `{"id":"x"}` {
			t.Fatalf("claim after completion: fresh %v, %+v", fresh, prev)
		}
		// Keys expire after a day.
		s.Tx(ctx, func(tx *Tx) error {
			_, err := tx.DeleteExpired(ctx, time.Now(), time.Now().Add(time.Hour))
			return err
		})
		if _, fresh := claim("h3"); !fresh {
			t.Fatal("expired key not reusable")
		}
	})
}

func TestLeases(t *testing.T) {
	engines(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		acquire := func(holder string, ttl time.Duration) bool {
			var ok bool
			if err := s.Tx(ctx, func(tx *Tx) error {
				var err error
				ok, err = tx.AcquireLease(ctx, "loop", holder, time.Now().Add(ttl))
				return err
			}); err != nil {
				t.Fatal(err)
			}
			return ok
		}
		if !acquire("a", time.Minute) {
			t.Fatal("a could not take a free lease")
		}
		if acquire("b", time.Minute) {
			t.Fatal("b took a lease a holds")
		}
		if !acquire("a", -time.Second) { // renew, but already expired
			t.Fatal("a could not renew")
		}
		if !acquire("b", time.Minute) {
			t.Fatal("b could not take an expired lease")
		}
		s.Tx(ctx, func(tx *Tx) error { return tx.ReleaseLease(ctx, "loop", "a") }) // not a's any more: no effect
		if acquire("a", time.Minute) {
			t.Fatal("a's release removed b's lease")
		}
	})
}
