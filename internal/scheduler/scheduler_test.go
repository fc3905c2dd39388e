package scheduler

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"unsafe"
)

// host is a ready 16 vCPU / 64 GiB / 1 TiB host in au-syd-1a, without
// overcommit, for tests to adjust.
func host(id string, adjust ...func(*Host)) Host {
	h := Host{
		ID: id, Zone: "au-syd-1a", Region: "au-syd", Jurisdiction: "AU", State: StateReady,
		Capacity: Resources{VCPU: 16, MemoryMiB: 65536, DiskGiB: 1024},
	}
	for _, f := range adjust {
		f(&h)
	}
	return h
}

func used(vcpu int, mem, disk int64) func(*Host) {
	return func(h *Host) { h.Used = Resources{vcpu, mem, disk} }
}

func zone(z, region, juris string) func(*Host) {
	return func(h *Host) { h.Zone, h.Region, h.Jurisdiction = z, region, juris }
}

func state(s string) func(*Host) { return func(h *Host) { h.State = s } }

func labels(kv ...string) func(*Host) {
	return func(h *Host) {
		h.Labels = map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			h.Labels[kv[i]] = kv[i+1]
		}
	}
}

func overcommit(cpu, mem float64) func(*Host) {
	return func(h *Host) { h.Overcommit = Overcommit{cpu, mem} }
}

func snapshot(t *testing.T, hosts []Host, groups map[string]map[string]int) *Snapshot {
	t.Helper()
	s, err := NewSnapshot(hosts, groups)
	if err != nil {
		t.Fatalf("NewSnapshot: %v", err)
	}
	return s
}

var small = Request{VCPU: 4, MemoryMiB: 8192, DiskGiB: 20}

// TestFilters gives each filter a host it must remove ("bad") and one it
// must keep ("ok", sorting after "bad" so a missing filter shows as the wrong
// choice), then removes "ok" and checks the count in the error.
func TestFilters(t *testing.T) {
	withZone := small
	withZone.Zones = []string{"au-syd-1a"}
	au := small
	au.Residency.Jurisdictions = []string{"AU"}
	syd := small
	syd.Residency.Regions = []string{"au-syd"}
	gpu := small
	gpu.RequireLabels = map[string]string{"gpu": "a100"}
	web := small
	web.AntiAffinity = "web"

	tests := []struct {
		name   string
		bad    func(*Host)
		req    Request
		groups map[string]map[string]int
		reason Reason
	}{
		{"draining", state(StateDraining), small, nil, ReasonDraining},
		{"down", state(StateDown), small, nil, ReasonDown},
		{"pending", state(StatePending), small, nil, ReasonPending},
		{"zone", zone("au-syd-1b", "au-syd", "AU"), withZone, nil, ReasonZone},
		{"vcpu", used(13, 0, 0), small, nil, ReasonCPU},
		{"vcpu with overcommit", func(h *Host) { overcommit(1.5, 1)(h); used(21, 0, 0)(h) }, small, nil, ReasonCPU},
		{"memory", used(0, 65536-8191, 0), small, nil, ReasonMemory},
		{"memory with overcommit", func(h *Host) { overcommit(1, 1.25)(h); used(0, 81920-8191, 0)(h) }, small, nil, ReasonMemory},
		{"disk", used(0, 0, 1024-19), small, nil, ReasonDisk},
		{"disk ignores overcommit", func(h *Host) { overcommit(4, 4)(h); used(0, 0, 1024-19)(h) }, small, nil, ReasonDisk},
		{"jurisdiction", zone("au-syd-1a", "au-syd", "NZ"), au, nil, ReasonResidency},
		{"region", zone("au-syd-1a", "au-mel", "AU"), syd, nil, ReasonResidency},
		{"labels missing", func(*Host) {}, gpu, nil, ReasonLabels},
		{"labels differ", labels("gpu", "t4"), gpu, nil, ReasonLabels},
		{"anti-affinity", func(*Host) {}, web, map[string]map[string]int{"web": {"bad": 1}}, ReasonAntiAffinity},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok := host("ok", used(8, 32768, 512), labels("gpu", "a100"))
			bad := host("bad", tt.bad)
			for _, strategy := range []Strategy{Spread, BinPack} {
				s := snapshot(t, []Host{ok, bad}, tt.groups)
				d, err := Place(s, tt.req, strategy)
				if err != nil || d.HostID != "ok" {
					t.Fatalf("%v: Place = %+v, %v; want host ok", strategy, d, err)
				}
			}
			s := snapshot(t, []Host{bad}, tt.groups)
			_, err := Place(s, tt.req, Spread)
			nce, isNoCap := errors.AsType[*NoCapacityError](err)
			if !isNoCap {
				t.Fatalf("Place on bad host = %v; want *NoCapacityError", err)
			}
			if want := map[Reason]int{tt.reason: 1}; !maps.Equal(nce.Filtered, want) {
				t.Errorf("Filtered = %v; want %v", nce.Filtered, want)
			}
		})
	}
}

// TestCapacityBoundary checks that a request filling a host exactly fits,
// with overcommit rounded down.
func TestCapacityBoundary(t *testing.T) {
	tests := []struct {
		name string
		h    Host
		fits bool
	}{
		{"exactly full", host("h", used(12, 65536-8192, 1024-20)), true},
		{"one vCPU over", host("h", used(13, 0, 0)), false},
		{"overcommit 1.5 exactly", host("h", overcommit(1.5, 1), used(20, 0, 0)), true},
		{"overcommit rounds down", host("h", overcommit(1.03, 1), used(13, 0, 0)), false}, // 16*1.03 = 16.48 -> 16
		{"memory overcommit exactly", host("h", overcommit(1, 1.5), used(0, 98304-8192, 0)), true},
		{"zero overcommit means none", host("h", overcommit(0, 0), used(12, 65536-8192, 0)), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Place(snapshot(t, []Host{tt.h}, nil), small, Spread)
			if got := err == nil; got != tt.fits {
				t.Errorf("fits = %v (%v); want %v", got, err, tt.fits)
			}
		})
	}
}

func TestStrategy(t *testing.T) {
	hosts := []Host{
		host("a-empty"),
		host("b-half", used(8, 32768, 0)),
		host("c-cpu-busy", used(12, 0, 0)),    // cpu 16/16 after placement
		host("d-mem-busy", used(0, 49152, 0)), // memory 57344/65536 after
		host("e-bigger", func(h *Host) { h.Capacity = Resources{64, 262144, 4096}; h.Used = Resources{16, 65536, 0} }),
	}
	tests := []struct {
		strategy Strategy
		want     string
	}{
		// after placement: a 0.25, b 0.75, c 1.0, d 0.875, e 0.3125
		{Spread, "a-empty"},
		{BinPack, "c-cpu-busy"},
	}
	for _, tt := range tests {
		t.Run(tt.strategy.String(), func(t *testing.T) {
			d, err := Place(snapshot(t, hosts, nil), small, tt.strategy)
			if err != nil || d.HostID != tt.want {
				t.Errorf("Place = %+v, %v; want %s", d, err, tt.want)
			}
		})
	}
}

// TestSpreadUsesOvercommittedLimit: utilisation is measured against what the
// host can schedule, so a host with CPU overcommit looks less loaded.
func TestSpreadUsesOvercommittedLimit(t *testing.T) {
	hosts := []Host{host("a", used(8, 0, 0)), host("b", overcommit(4, 1), used(8, 0, 0))}
	d, err := Place(snapshot(t, hosts, nil), Request{VCPU: 4, MemoryMiB: 1024}, Spread)
	if err != nil || d.HostID != "b" {
		t.Errorf("Place = %+v, %v; want b", d, err)
	}
}

func TestTiesGoToLowestID(t *testing.T) {
	hosts := []Host{
		host("h3", zone("z1", "r", "AU")), host("h1", zone("z2", "r", "AU")), host("h2", zone("z1", "r", "AU")),
	}
	for _, strategy := range []Strategy{Spread, BinPack} {
		for _, zones := range [][]string{nil, {"z1", "z2"}, {"z2", "z1"}} {
			req := small
			req.Zones = zones
			d, err := Place(snapshot(t, hosts, nil), req, strategy)
			if err != nil || d.HostID != "h1" {
				t.Errorf("%v zones %v: Place = %+v, %v; want h1", strategy, zones, d, err)
			}
		}
	}
}

// TestResidencyCannotBeBypassed: naming a foreign zone never places outside
// the residency policy, whatever the strategy and however empty the foreign
// hosts are.
func TestResidencyCannotBeBypassed(t *testing.T) {
	hosts := []Host{
		host("au-1", used(15, 0, 0)), // full for 4 vCPU
		host("us-1", zone("us-east-1a", "us-east", "US")),
		host("us-2", zone("us-east-1a", "us-east", "US")),
	}
	tests := []struct {
		name  string
		zones []string
	}{
		{"foreign zone only", []string{"us-east-1a"}},
		{"foreign zone first", []string{"us-east-1a", "au-syd-1a"}},
		{"any zone", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := small
			req.Zones = tt.zones
			req.Residency = Residency{Jurisdictions: []string{"AU"}}
			for _, strategy := range []Strategy{Spread, BinPack} {
				s := snapshot(t, hosts, nil)
				d, err := Place(s, req, strategy)
				if err == nil {
					t.Fatalf("%v: placed on %s; want no placement", strategy, d.HostID)
				}
				nce, _ := errors.AsType[*NoCapacityError](err)
				if nce == nil || nce.Filtered[ReasonResidency] != 2 {
					t.Fatalf("%v: err = %v; want 2 hosts outside the residency policy", strategy, err)
				}
				if _, err := PlaceMany(s, req, 2, strategy); err == nil {
					t.Fatalf("%v: PlaceMany placed outside the residency policy", strategy)
				}
			}
		})
	}
	// An unknown jurisdiction matches no host rather than every host.
	req := small
	req.Residency = Residency{Jurisdictions: []string{"XX"}}
	if d, err := Place(snapshot(t, hosts, nil), req, Spread); err == nil {
		t.Errorf("unknown jurisdiction placed on %s", d.HostID)
	}
}

func TestPlaceManyAntiAffinity(t *testing.T) {
	hosts := []Host{host("h1"), host("h2"), host("h3"), host("h4", state(StateDraining))}
	req := small
	req.AntiAffinity = "web"
	for _, strategy := range []Strategy{Spread, BinPack} {
		t.Run(strategy.String(), func(t *testing.T) {
			s := snapshot(t, hosts, nil)
			ds, err := PlaceMany(s, req, 3, strategy)
			if err != nil {
				t.Fatalf("PlaceMany 3: %v", err)
			}
			got := []string{ds[0].HostID, ds[1].HostID, ds[2].HostID}
			if slices.Sort(got); !slices.Equal(got, []string{"h1", "h2", "h3"}) {
				t.Errorf("hosts = %v; want one VM on each of h1, h2, h3", got)
			}
			for _, id := range got {
				if n := s.GroupCount("web", id); n != 1 {
					t.Errorf("GroupCount(web, %s) = %d; want 1", id, n)
				}
			}

			// A fourth does not fit, and a failed PlaceMany changes nothing.
			s = snapshot(t, hosts, nil)
			_, err = PlaceMany(s, req, 4, strategy)
			want := "no host can take VM 4 of 4 (4 vCPU / 8192 MiB / 20 GiB disk) in any zone: " +
				"3 hosts already running a VM of the anti-affinity group web, 1 host draining"
			if err == nil || err.Error() != want {
				t.Fatalf("PlaceMany 4 = %v;\nwant %s", err, want)
			}
			for _, id := range []string{"h1", "h2", "h3"} {
				h, _ := s.Host(id)
				if h.Used != (Resources{}) || s.GroupCount("web", id) != 0 {
					t.Errorf("after failed PlaceMany host %s uses %+v, group count %d; want nothing", id, h.Used, s.GroupCount("web", id))
				}
			}
		})
	}
}

// TestPlaceManyFills places without a group: usage between placements is
// seen, so bin-pack fills one host before the next.
func TestPlaceManyFills(t *testing.T) {
	s := snapshot(t, []Host{host("h1"), host("h2")}, nil)
	ds, err := PlaceMany(s, small, 6, BinPack)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range ds {
		got = append(got, d.HostID)
	}
	if want := []string{"h1", "h1", "h1", "h1", "h2", "h2"}; !slices.Equal(got, want) {
		t.Errorf("bin-pack = %v; want %v", got, want)
	}
	s = snapshot(t, []Host{host("h1"), host("h2")}, nil)
	ds, _ = PlaceMany(s, small, 4, Spread)
	got = got[:0]
	for _, d := range ds {
		got = append(got, d.HostID)
	}
	if want := []string{"h1", "h2", "h1", "h2"}; !slices.Equal(got, want) {
		t.Errorf("spread = %v; want %v", got, want)
	}
}

func TestErrorMessages(t *testing.T) {
	hosts := []Host{
		host("a1", used(14, 0, 0)),
		host("a2", used(14, 0, 0)),
		host("a3", used(0, 60000, 0)),
		host("a4", state(StateDraining)),
		host("a5", zone("au-syd-1a", "au-syd", "US")),
		host("a6", zone("au-syd-1a", "au-syd", "US")),
		host("b1", zone("au-syd-1b", "au-syd", "AU")),
	}
	tests := []struct {
		name string
		req  Request
		want string
	}{
		{
			"zone",
			Request{VCPU: 4, MemoryMiB: 8192, Zones: []string{"au-syd-1a"}, Residency: Residency{Jurisdictions: []string{"AU"}}},
			"no host can take 4 vCPU / 8192 MiB in zone au-syd-1a: 2 hosts out of vCPU, 1 host out of memory, " +
				"1 host draining, 2 hosts outside the residency policy, 1 host in other zones",
		},
		{
			"labels and zones",
			Request{VCPU: 1, MemoryMiB: 512, DiskGiB: 10, Zones: []string{"au-syd-1b", "nowhere"}, RequireLabels: map[string]string{"ssd": "yes"}},
			"no host can take 1 vCPU / 512 MiB / 10 GiB disk in zones au-syd-1b, nowhere: " +
				"1 host without the required labels, 6 hosts in other zones",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Place(snapshot(t, hosts, nil), tt.req, Spread)
			if err == nil || err.Error() != tt.want {
				t.Errorf("err = %v\nwant  %s", err, tt.want)
			}
			if !errors.Is(err, ErrNoCapacity) {
				t.Errorf("errors.Is(%v, ErrNoCapacity) = false", err)
			}
		})
	}
	_, err := Place(snapshot(t, nil, nil), small, Spread)
	if want := "no host can take 4 vCPU / 8192 MiB / 20 GiB disk in any zone: there are no hosts"; err == nil || err.Error() != want {
		t.Errorf("empty snapshot: err = %v; want %s", err, want)
	}
}

func TestInvalid(t *testing.T) {
	s := snapshot(t, []Host{host("h")}, nil)
	requests := []Request{
		{VCPU: 0, MemoryMiB: 1}, {VCPU: 1, MemoryMiB: 0}, {VCPU: 1, MemoryMiB: 1, DiskGiB: -1},
		{VCPU: 1, MemoryMiB: 1 << 40}, // would overflow the exact comparison
	}
	for _, req := range requests {
		if _, err := Place(s, req, Spread); !errors.Is(err, ErrInvalidRequest) {
			t.Errorf("Place(%+v) = %v; want ErrInvalidRequest", req, err)
		}
	}
	if _, err := Place(s, small, Strategy(7)); !errors.Is(err, ErrInvalidRequest) {
		t.Errorf("unknown strategy: err = %v", err)
	}
	if _, err := PlaceMany(s, small, 0, Spread); !errors.Is(err, ErrInvalidRequest) {
		t.Errorf("count 0: err = %v", err)
	}

	snapshots := []struct {
		name   string
		hosts  []Host
		groups map[string]map[string]int
	}{
		{"duplicate", []Host{host("h"), host("h")}, nil},
		{"no id", []Host{host("")}, nil},
		{"no zone", []Host{host("h", zone("", "r", "AU"))}, nil},
		{"unknown state", []Host{host("h", state("busy"))}, nil},
		{"negative capacity", []Host{host("h", func(h *Host) { h.Capacity.VCPU = -1 })}, nil},
		{"negative overcommit", []Host{host("h", overcommit(-1, 1))}, nil},
		{"NaN overcommit", []Host{host("h", overcommit(math.NaN(), 1))}, nil},
		{"group on unknown host", []Host{host("h")}, map[string]map[string]int{"g": {"x": 1}}},
		{"negative group count", []Host{host("h")}, map[string]map[string]int{"g": {"h": -1}}},
		{"too large", []Host{host("h", func(h *Host) { h.Capacity.MemoryMiB = 1 << 40 })}, nil},
		{"too much used", []Host{host("h", used(0, 0, 1<<40))}, nil},
	}
	for _, tt := range snapshots {
		if _, err := NewSnapshot(tt.hosts, tt.groups); !errors.Is(err, ErrInvalidSnapshot) {
			t.Errorf("NewSnapshot %s: err = %v; want ErrInvalidSnapshot", tt.name, err)
		}
	}
}

func TestCommitRelease(t *testing.T) {
	s := snapshot(t, []Host{host("h1"), host("h2", state(StateDown))}, nil)
	req := small
	req.AntiAffinity = "db"
	d, err := Place(s, req, Spread)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(d, req); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(d, req); err == nil {
		t.Error("second commit of an anti-affinity member on the same host succeeded")
	}
	if err := s.Commit(Decision{HostID: "h2"}, small); err == nil {
		t.Error("commit to a down host succeeded")
	}
	if err := s.Commit(Decision{HostID: "nope"}, small); err == nil {
		t.Error("commit to an unknown host succeeded")
	}
	big := Request{VCPU: 13, MemoryMiB: 1}
	if err := s.Commit(Decision{HostID: "h1"}, big); err == nil {
		t.Error("commit beyond capacity succeeded")
	}
	if h, _ := s.Host("h1"); h.Used != (Resources{4, 8192, 20}) {
		t.Errorf("used = %+v after commit", h.Used)
	}
	if err := s.Release("h1", req); err != nil {
		t.Fatal(err)
	}
	if err := s.Release("h1", req); err == nil {
		t.Error("release of more than is used succeeded")
	}
	if h, _ := s.Host("h1"); h.Used != (Resources{}) || s.GroupCount("db", "h1") != 0 {
		t.Errorf("after release used = %+v, group %d", h.Used, s.GroupCount("db", "h1"))
	}
}

// reference is the specification of Place written the slow, obvious way
// over Host values.
func reference(hosts []Host, groups map[string]map[string]int, req Request, strategy Strategy) (string, bool) {
	best, bestScore := "", 0.0
	for _, h := range hosts {
		cpuLimit := int64(h.Capacity.VCPU)
		if h.Overcommit.CPU != 0 {
			cpuLimit = int64(math.Floor(float64(h.Capacity.VCPU) * h.Overcommit.CPU))
		}
		memLimit := h.Capacity.MemoryMiB
		if h.Overcommit.Memory != 0 {
			memLimit = int64(math.Floor(float64(h.Capacity.MemoryMiB) * h.Overcommit.Memory))
		}
		switch {
		case h.State != StateReady,
			len(req.Zones) > 0 && !slices.Contains(req.Zones, h.Zone),
			len(req.Residency.Jurisdictions) > 0 && !slices.Contains(req.Residency.Jurisdictions, h.Jurisdiction),
			len(req.Residency.Regions) > 0 && !slices.Contains(req.Residency.Regions, h.Region),
			req.AntiAffinity != "" && groups[req.AntiAffinity][h.ID] > 0,
			int64(h.Used.VCPU+req.VCPU) > cpuLimit,
			h.Used.MemoryMiB+req.MemoryMiB > memLimit,
			h.Used.DiskGiB+req.DiskGiB > h.Capacity.DiskGiB:
			continue
		}
		missing := false
		for k, v := range req.RequireLabels {
			if got, ok := h.Labels[k]; !ok || got != v {
				missing = true
			}
		}
		if missing {
			continue
		}
		score := max(float64(h.Used.VCPU+req.VCPU)/float64(cpuLimit), float64(h.Used.MemoryMiB+req.MemoryMiB)/float64(memLimit))
		if strategy == BinPack {
			score = -score
		}
		if best == "" || score < bestScore || score == bestScore && h.ID < best {
			best, bestScore = h.ID, score
		}
	}
	return best, best != ""
}

// TestAgainstReference places thousands of random requests on random
// clusters, committing each, and checks every decision against reference and
// that no host ever exceeds its capacity with overcommit.
func TestAgainstReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	zones := []struct{ zone, region, juris string }{
		{"au-syd-1a", "au-syd", "AU"}, {"au-syd-1b", "au-syd", "AU"}, {"au-mel-1a", "au-mel", "AU"},
		{"eu-fra-1a", "eu-fra", "DE"}, {"us-east-1a", "us-east", "US"},
	}
	states := []string{StateReady, StateReady, StateReady, StateReady, StateDraining, StateDown, StatePending}
	placed, refused := 0, 0
	for round := range 20 {
		var hosts []Host
		for i := range 40 + rng.IntN(60) {
			z := zones[rng.IntN(len(zones))]
			size := Resources{VCPU: 8 << rng.IntN(4), MemoryMiB: 16384 << rng.IntN(4), DiskGiB: 500 << rng.IntN(3)}
			h := Host{
				ID: fmt.Sprintf("h%03d", rng.IntN(1000)*1000+i), Zone: z.zone, Region: z.region, Jurisdiction: z.juris,
				State: states[rng.IntN(len(states))], Capacity: size,
				Overcommit: Overcommit{[]float64{0, 1, 1.5, 4}[rng.IntN(4)], []float64{0, 1, 1.2}[rng.IntN(3)]},
				Used:       Resources{rng.IntN(size.VCPU + 1), rng.Int64N(size.MemoryMiB / 2), rng.Int64N(size.DiskGiB / 2)},
			}
			if rng.IntN(3) == 0 {
				h.Labels = map[string]string{"gpu": []string{"a100", "t4"}[rng.IntN(2)]}
			}
			if rng.IntN(10) == 0 { // zones whose hosts disagree on residency
				h.Region, h.Jurisdiction = "nz-akl", "NZ"
			}
			hosts = append(hosts, h)
		}
		groups := map[string]map[string]int{}
		s := snapshot(t, hosts, nil)
		type vm struct {
			host string
			req  Request
		}
		var vms []vm
		apply := func(v vm, sign int) {
			k := slices.IndexFunc(hosts, func(h Host) bool { return h.ID == v.host })
			hosts[k].Used.VCPU += sign * v.req.VCPU
			hosts[k].Used.MemoryMiB += int64(sign) * v.req.MemoryMiB
			hosts[k].Used.DiskGiB += int64(sign) * v.req.DiskGiB
			if g := v.req.AntiAffinity; g != "" {
				if groups[g] == nil {
					groups[g] = map[string]int{}
				}
				groups[g][v.host] += sign
			}
		}
		for step := range 600 {
			if len(vms) > 0 && rng.IntN(8) == 0 { // a VM is deleted
				k := rng.IntN(len(vms))
				if err := s.Release(vms[k].host, vms[k].req); err != nil {
					t.Fatalf("round %d step %d: Release: %v", round, step, err)
				}
				apply(vms[k], -1)
				vms = slices.Delete(vms, k, k+1)
			}
			req := Request{VCPU: 1 << rng.IntN(4), MemoryMiB: 1024 << rng.IntN(5), DiskGiB: int64(rng.IntN(100))}
			if rng.IntN(2) == 0 {
				z := zones[rng.IntN(len(zones))]
				req.Zones = []string{z.zone}
			}
			switch rng.IntN(4) {
			case 0:
				req.Residency.Jurisdictions = []string{"AU"}
			case 1:
				req.Residency.Regions = []string{"eu-fra", "us-east"}
			case 2:
				req.Residency = Residency{Jurisdictions: []string{"AU", "NZ"}, Regions: []string{"au-syd", "nz-akl"}}
			}
			if rng.IntN(4) == 0 {
				req.AntiAffinity = fmt.Sprintf("g%d", rng.IntN(3))
			}
			if rng.IntN(6) == 0 {
				req.RequireLabels = map[string]string{"gpu": "a100"}
			}
			strategy := Strategy(rng.IntN(2))
			want, wantOK := reference(hosts, groups, req, strategy)
			d, err := Place(s, req, strategy)
			if wantOK != (err == nil) || d.HostID != want {
				t.Fatalf("round %d step %d %v %+v: Place = %q, %v; reference %q", round, step, strategy, req, d.HostID, err, want)
			}
			if err != nil {
				refused++
				continue
			}
			placed++
			if err := s.Commit(d, req); err != nil {
				t.Fatalf("round %d step %d: Commit: %v", round, step, err)
			}
			vms = append(vms, vm{d.HostID, req})
			apply(vms[len(vms)-1], 1)
			for _, h := range hosts {
				got, _ := s.Host(h.ID)
				if got.Used != h.Used {
					t.Fatalf("host %s used %+v; want %+v", h.ID, got.Used, h.Used)
				}
				if float64(got.Used.VCPU) > float64(h.Capacity.VCPU)*ratio(h.Overcommit.CPU) ||
					float64(got.Used.MemoryMiB) > float64(h.Capacity.MemoryMiB)*ratio(h.Overcommit.Memory) ||
					got.Used.DiskGiB > h.Capacity.DiskGiB {
					t.Fatalf("round %d step %d: host %s uses %+v, beyond %+v with overcommit %+v", round, step, h.ID, got.Used, h.Capacity, h.Overcommit)
				}
			}
		}
	}
	// Both outcomes must be common for the comparison to mean anything.
	if placed < 2000 || refused < 2000 {
		t.Errorf("placed %d, refused %d; want at least 2000 of each", placed, refused)
	}
}

func ratio(r float64) float64 {
	if r == 0 {
		return 1
	}
	return r
}

// TestDeterministic: the same hosts in any input order, the same requests,
// give the same decisions.
func TestDeterministic(t *testing.T) {
	var hosts []Host
	for i := range 60 {
		z := fmt.Sprintf("z%d", i%3)
		hosts = append(hosts, host(fmt.Sprintf("h%02d", i), zone(z, "r", "AU")))
	}
	run := func(order []Host) []string {
		s := snapshot(t, order, nil)
		var out []string
		for i := range 400 {
			req := Request{VCPU: 1 + i%4, MemoryMiB: 2048, AntiAffinity: fmt.Sprintf("g%d", i%7)}
			if i%2 == 0 {
				req.Zones = []string{fmt.Sprintf("z%d", i%3)}
			}
			ds, err := PlaceMany(s, req, 1+i%3, Strategy(i%2))
			if err != nil {
				out = append(out, err.Error())
				continue
			}
			for _, d := range ds {
				out = append(out, d.HostID)
			}
		}
		return out
	}
	want := run(hosts)
	rng := rand.New(rand.NewPCG(3, 4))
	for range 5 {
		shuffled := slices.Clone(hosts)
		rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		if got := run(shuffled); !slices.Equal(got, want) {
			t.Fatal("decisions depend on the order hosts were given in")
		}
	}
}

// TestManyZones covers snapshots with more than 64 zones, jurisdictions and
// regions, where id sets take more than one word.
func TestManyZones(t *testing.T) {
	var hosts []Host
	for i := range 100 {
		j := fmt.Sprintf("J%02d", i)
		hosts = append(hosts, host(fmt.Sprintf("h%02d", i), zone(fmt.Sprintf("z%02d", i), "r"+j, j)))
	}
	s := snapshot(t, hosts, nil)
	tests := []struct {
		zones []string
		res   Residency
		want  string
	}{
		{[]string{"z80"}, Residency{}, "h80"},
		{[]string{"z99", "z70"}, Residency{Jurisdictions: []string{"J70"}}, "h70"},
		{nil, Residency{Regions: []string{"rJ65", "rJ90"}}, "h65"},
		{[]string{"z80"}, Residency{Jurisdictions: []string{"J81"}}, ""},
	}
	for _, tt := range tests {
		req := small
		req.Zones, req.Residency = tt.zones, tt.res
		d, err := Place(s, req, Spread)
		if d.HostID != tt.want || (err == nil) != (tt.want != "") {
			t.Errorf("zones %v residency %+v: Place = %q, %v; want %q", tt.zones, tt.res, d.HostID, err, tt.want)
		}
	}
}

// TestSlotSize keeps the hot per-host record on one cache line.
func TestSlotSize(t *testing.T) {
	if size := unsafe.Sizeof(slot{}); size != 64 {
		t.Errorf("slot is %d bytes; want 64", size)
	}
}

func TestParseStrategy(t *testing.T) {
	tests := []struct {
		name string
		want Strategy
		ok   bool
	}{
		{"spread", Spread, true}, {"", Spread, true}, {"bin-pack", BinPack, true}, {"binpack", BinPack, true}, {"random", 0, false},
	}
	for _, tt := range tests {
		got, err := ParseStrategy(tt.name)
		if got != tt.want || (err == nil) != tt.ok {
			t.Errorf("ParseStrategy(%q) = %v, %v; want %v (ok %v)", tt.name, got, err, tt.want, tt.ok)
		}
		if tt.ok && tt.name != "" && tt.name != "binpack" && got.String() != tt.name {
			t.Errorf("%v.String() = %q; want %q", got, got.String(), tt.name)
		}
	}
}

// TestSnapshotCopies: changing the caller's hosts after NewSnapshot, or the
// Host it returns, changes nothing in the snapshot.
func TestSnapshotCopies(t *testing.T) {
	hosts := []Host{host("h1", labels("gpu", "a100"))}
	groups := map[string]map[string]int{"g": {"h1": 1}}
	s := snapshot(t, hosts, groups)
	hosts[0].Labels["gpu"] = "t4"
	hosts[0].State = StateDown
	groups["g"]["h1"] = 0
	h, _ := s.Host("h1")
	h.Labels["gpu"] = "t4"
	req := small
	req.RequireLabels = map[string]string{"gpu": "a100"}
	if _, err := Place(s, req, Spread); err != nil {
		t.Errorf("Place after changing inputs: %v", err)
	}
	if s.GroupCount("g", "h1") != 1 || s.Len() != 1 {
		t.Errorf("GroupCount = %d, Len = %d; want 1, 1", s.GroupCount("g", "h1"), s.Len())
	}
	if _, ok := s.Host("nope"); ok {
		t.Error("Host(nope) found a host")
	}
}
