//go:build unix

package bench

import (
	"fmt"
	"math/rand/v2"
	"syscall"
	"testing"
	"time"

	"github.com/sirocco-cloud/sirocco/internal/scheduler"
)

// schedulerHosts is the DESIGN goal's cluster: "placements on 10,000
// simulated hosts", >= 5,000 per second on one core.
const schedulerHosts = 10000

// clusterZones are 10 zones in 3 regions, one jurisdiction each.
var clusterZones = []struct{ zone, region, jurisdiction string }{
	{"au-syd-1a", "au-syd", "AU"}, {"au-syd-1b", "au-syd", "AU"}, {"au-syd-1c", "au-syd", "AU"}, {"au-syd-1d", "au-syd", "AU"},
	{"eu-fra-1a", "eu-fra", "EU"}, {"eu-fra-1b", "eu-fra", "EU"}, {"eu-fra-1c", "eu-fra", "EU"},
	{"us-east-1a", "us-east", "US"}, {"us-east-1b", "us-east", "US"}, {"us-east-1c", "us-east", "US"},
}

// simulatedHosts is a seeded cluster: three host sizes, CPU overcommit 2 or
// 4, memory overcommit 1 or 1.2, 0-50% already used, 3% not ready, a tenth
// with GPUs.
func simulatedHosts() []scheduler.Host {
	rng := rand.New(rand.NewPCG(10000, 1))
	sizes := []scheduler.Resources{
		{VCPU: 32, MemoryMiB: 256 << 10, DiskGiB: 4096},
		{VCPU: 64, MemoryMiB: 512 << 10, DiskGiB: 8192},
		{VCPU: 128, MemoryMiB: 1024 << 10, DiskGiB: 16384},
	}
	notReady := []string{scheduler.StateDraining, scheduler.StateDown, scheduler.StatePending}
	hosts := make([]scheduler.Host, schedulerHosts)
	for i := range hosts {
		z := clusterZones[i%len(clusterZones)]
		size := sizes[rng.IntN(len(sizes))]
		h := scheduler.Host{
			ID: fmt.Sprintf("host-%05d", i), Zone: z.zone, Region: z.region, Jurisdiction: z.jurisdiction,
			State: scheduler.StateReady, Capacity: size,
			Overcommit: scheduler.Overcommit{CPU: []float64{2, 4}[rng.IntN(2)], Memory: []float64{1, 1.2}[rng.IntN(2)]},
			Used: scheduler.Resources{
				VCPU:      rng.IntN(size.VCPU/2 + 1),
				MemoryMiB: rng.Int64N(size.MemoryMiB/2 + 1),
				DiskGiB:   rng.Int64N(size.DiskGiB/2 + 1),
			},
			Labels: map[string]string{"cpu": []string{"amd", "intel"}[rng.IntN(2)]},
		}
		if rng.IntN(100) < 3 {
			h.State = notReady[rng.IntN(len(notReady))]
		}
		if rng.IntN(10) == 0 {
			h.Labels["gpu"] = "a100"
		}
		hosts[i] = h
	}
	return hosts
}

// requestMix is 4,096 seeded requests of 1-16 vCPU with 2-8 GiB per vCPU:
// oneZone of them in one zone (a VDC's) with its jurisdiction as residency,
// anyZone in any zone of one jurisdiction, the rest anywhere (a scan of all
// 10,000 hosts); a tenth in anti-affinity groups of 5, one in twenty
// needing a GPU.
func requestMix(oneZone, anyZone float64) []scheduler.Request {
	rng := rand.New(rand.NewPCG(10000, 2))
	reqs := make([]scheduler.Request, 4096)
	for i := range reqs {
		vcpu := 1 << rng.IntN(5)
		r := scheduler.Request{
			VCPU:      vcpu,
			MemoryMiB: int64(vcpu) * (2048 << rng.IntN(3)),
			DiskGiB:   []int64{20, 50, 100}[rng.IntN(3)],
		}
		z := clusterZones[rng.IntN(len(clusterZones))]
		switch p := rng.Float64(); {
		case p < oneZone:
			r.Zones = []string{z.zone}
			r.Residency.Jurisdictions = []string{z.jurisdiction}
		case p < oneZone+anyZone:
			r.Residency.Jurisdictions = []string{z.jurisdiction}
		}
		if rng.IntN(10) == 0 {
			r.AntiAffinity = fmt.Sprintf("group-%d", i/50) // ~5 members each
		}
		if rng.IntN(20) == 0 {
			r.RequireLabels = map[string]string{"gpu": "a100"}
		}
		reqs[i] = r
	}
	return reqs
}

// BenchmarkPlace10000Hosts places b.N VMs, committing each so the cluster
// fills; when a placement finds no room the cluster is rebuilt outside the
// timer. placements/s counts successful placements per second of timed work
// on one goroutine; placements/cpu-s per second of the process's CPU time,
// which a busy machine disturbs less than wall time.
func BenchmarkPlace10000Hosts(b *testing.B) {
	hosts := simulatedHosts()
	mixes := []struct {
		name             string
		oneZone, anyZone float64
	}{
		{"mixed", 0.7, 0.2},    // 70% one zone, 20% one jurisdiction, 10% anywhere
		{"one-zone", 1, 0},     // ~1,000 hosts scanned
		{"jurisdiction", 0, 1}, // 3,000-4,000 hosts scanned
		{"anywhere", 0, 0},     // all 10,000 hosts scanned
	}
	for _, mix := range mixes {
		reqs := requestMix(mix.oneZone, mix.anyZone)
		for _, strategy := range []scheduler.Strategy{scheduler.Spread, scheduler.BinPack} {
			b.Run(mix.name+"/"+strategy.String(), func(b *testing.B) {
				s, err := scheduler.NewSnapshot(hosts, nil)
				if err != nil {
					b.Fatal(err)
				}
				placed, rebuilds := 0, 0
				var rebuildCPU time.Duration
				b.ReportAllocs()
				b.ResetTimer()
				startCPU := cpuTime(b)
				for i := range b.N {
					req := reqs[i%len(reqs)]
					d, err := scheduler.Place(s, req, strategy)
					if err != nil {
						b.StopTimer()
						before := cpuTime(b)
						if s, err = scheduler.NewSnapshot(hosts, nil); err != nil {
							b.Fatal(err)
						}
						rebuilds++
						rebuildCPU += cpuTime(b) - before
						b.StartTimer()
						continue
					}
					if err := s.Commit(d, req); err != nil {
						b.Fatal(err)
					}
					placed++
				}
				cpu := cpuTime(b) - startCPU - rebuildCPU
				b.ReportMetric(float64(placed)/b.Elapsed().Seconds(), "placements/s")
				b.ReportMetric(float64(placed)/cpu.Seconds(), "placements/cpu-s")
				b.ReportMetric(float64(rebuilds), "rebuilds")
			})
		}
	}
}

// cpuTime is the user and system CPU time the process has used.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatalf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
