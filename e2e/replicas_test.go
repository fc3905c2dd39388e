package e2e

import (
	"bufio"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sirocco-cloud/sirocco/internal/store/storetest"
)

// leader reads whether a replica says, on /metrics, that it holds the lease
// of the janitor loop.
func (d *daemon) leader() (bool, bool) {
	res, err := http.Get(d.url + "/metrics")
	if err != nil {
		return false, false
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		if line := sc.Text(); strings.HasPrefix(line, `sirocco_loop_leader{loop="janitor"}`) {
			return strings.HasSuffix(line, " 1"), true
		}
	}
	return false, true
}

// TestSingletonLoopMovesBetweenReplicas runs two siroccod replicas on one
// PostgreSQL: the janitor loop runs on exactly one, and moves to the other
// when that one is killed.
func TestSingletonLoopMovesBetweenReplicas(t *testing.T) {
	db := storetest.PostgresURL(t)
	args := []string{"--db", db, "--lease-ttl", "2s"}
	a := start(t, t.TempDir(), append(args, "--replica-name", "a")...)
	b := start(t, t.TempDir(), append(args, "--replica-name", "b")...)

	// waitFor polls the replicas' metrics until cond holds, for at most 20 s
	// (a lease of 2 s moves within about 3 s).
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting until %s", what)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	var holder, other *daemon
	waitFor("exactly one replica holds the janitor lease", func() bool {
		la, oka := a.leader()
		lb, okb := b.leader()
		if !oka || !okb || la == lb {
			return false
		}
		holder, other = a, b
		if lb {
			holder, other = b, a
		}
		return true
	})
	// For a few renewals, it stays with one replica.
	for range 10 {
		lh, _ := holder.leader()
		lo, _ := other.leader()
		if !lh || lo {
			t.Fatalf("lease flapped: holder %v, other %v", lh, lo)
		}
		time.Sleep(200 * time.Millisecond)
	}
	holder.kill()
	waitFor("the surviving replica takes the lease", func() bool {
		l, _ := other.leader()
		return l
	})
}
