package bench

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/internal/certs"
	"github.com/sirocco-cloud/sirocco/internal/compute/simulated"
	"github.com/sirocco-cloud/sirocco/internal/servertest"
	"github.com/sirocco-cloud/sirocco/internal/store"
)

// BenchmarkHeartbeats1000Hosts joins 1,000 simulated hosts to a real control
// plane (embedded SQLite, TLS on loopback) over the real agent protocol, then
// measures heartbeat rounds: one op is every host reporting once. With the
// default 10 s interval, a round must take well under 10 s for the control
// plane to keep up.
func BenchmarkHeartbeats1000Hosts(b *testing.B) {
	const hosts = 1000
	e := servertest.New(b, true)
	ctx := context.Background()
	err := e.Store.Tx(ctx, func(tx *store.Tx) error {
		if err := tx.CreateRegion(ctx, &store.Region{Meta: store.Meta{ID: "au-syd"}, Jurisdiction: "AU"}); err != nil {
			return err
		}
		return tx.CreateZone(ctx, &store.Zone{Meta: store.Meta{ID: "au-syd-1a"}, RegionID: "au-syd"})
	})
	if err != nil {
		b.Fatal(err)
	}
	f, err := simulated.JoinFleet(ctx, e.Store, e.URL, certs.Fingerprint(e.HTTP.Certificate()), simulated.FleetOptions{
		Hosts: hosts, Zone: "au-syd-1a", Capacity: api.Capacity{VCPU: 64, MemoryMiB: 262144, DiskGiB: 4000},
		StateDir: b.TempDir(), Workers: 32, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		if err := f.HeartbeatAll(ctx, 32); err != nil {
			b.Fatal(err)
		}
	}
	elapsed := time.Since(start)
	b.ReportMetric(float64(hosts*b.N)/elapsed.Seconds(), "heartbeats/s")
	b.ReportMetric(elapsed.Seconds()/float64(b.N)*1000, "ms/round")
}
