package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/sirocco-cloud/sirocco/internal/store/storetest"
)

// TestKillDuringWritesLosesNothing kills siroccod with SIGKILL in the middle
// of a burst of concurrent writes, restarts it, and checks that every write
// it acknowledged is there in full (labels included, which commit in the same
// transaction), and nothing half-written is.
func TestKillDuringWritesLosesNothing(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			dataDir := t.TempDir()
			var extra []string
			if engine == "postgres" {
				extra = []string{"--db", storetest.PostgresURL(t)}
			}
			d := start(t, dataDir, extra...)
			token := d.adminToken(dataDir)

			ctx, stop := context.WithCancel(context.Background())
			var mu sync.Mutex
			acked := map[string]bool{}
			var wg sync.WaitGroup
			for w := range 8 {
				wg.Go(func() {
					for i := 0; ctx.Err() == nil; i++ {
						name := fmt.Sprintf("r%d-%d", w, i)
						status, _, err := call(ctx, "POST", d.url+"/api/v1/regions", token, map[string]any{
							"name": name, "jurisdiction": "AU", "labels": map[string]string{"writer": fmt.Sprint(w), "seq": fmt.Sprint(i)},
						})
						if err != nil {
							return // the server died under us
						}
						if status == http.StatusCreated {
							mu.Lock()
							acked[name] = true
							mu.Unlock()
						}
					}
				})
			}
			// Let writes flow, then pull the plug mid-burst.
			deadline := time.Now().Add(10 * time.Second)
			for {
				mu.Lock()
				n := len(acked)
				mu.Unlock()
				if n >= 100 || time.Now().After(deadline) {
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
			d.kill()
			stop()
			wg.Wait()
			if len(acked) == 0 {
				t.Fatal("no write was acknowledged before the kill")
			}

			d = start(t, dataDir, extra...)
			seen := map[string]bool{}
			cursor := ""
			for {
				status, body, err := call(context.Background(), "GET", d.url+"/api/v1/regions?limit=1000&cursor="+cursor, token, nil)
				if err != nil || status != http.StatusOK {
					t.Fatalf("list after restart: %d %v %s", status, err, body)
				}
				var page struct {
					Items []struct {
						Name   string
						Labels map[string]string
					}
					NextCursor string `json:"next_cursor"`
				}
				if err := json.Unmarshal(body, &page); err != nil {
					t.Fatal(err)
				}
				for _, r := range page.Items {
					seen[r.Name] = true
					if r.Labels["writer"] == "" || r.Labels["seq"] == "" {
						t.Errorf("region %s is half-written: labels %v", r.Name, r.Labels)
					}
				}
				if page.NextCursor == "" {
					break
				}
				cursor = page.NextCursor
			}
			for name := range acked {
				if !seen[name] {
					t.Errorf("acknowledged region %s is gone after kill -9 and restart", name)
				}
			}
			t.Logf("%d writes acknowledged before kill -9, %d regions after restart", len(acked), len(seen))
		})
	}
}
