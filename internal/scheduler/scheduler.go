// Package scheduler chooses the host for a new VM. Placement is a pure
// function over a Snapshot, as in Nomad: filters (host state, zone,
// residency, labels, anti-affinity, capacity with overcommit) remove the hosts
// that cannot take the VM, then a score (Spread or BinPack) ranks the rest
// and ties go to the lowest host ID. Place reads no clock, draws no random
// numbers, does no I/O and takes no locks, so it is deterministic and can be
// benchmarked on 10,000 simulated hosts (bench/scheduler_test.go).
//
// The Snapshot is the scheduler's own type: the control plane's placement
// code builds it from the store and maps *NoCapacityError to an API problem.
// This package imports only the standard library; anything may import it.
package scheduler

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Strategy ranks the hosts that pass the filters. The zero value is Spread.
type Strategy int

const (
	// Spread prefers the least loaded host, by the larger of its CPU and
	// memory utilisation after the placement.
	Spread Strategy = iota
	// BinPack prefers the most loaded host that still fits, by the same
	// measure, keeping other hosts empty.
	BinPack
)

// String is the strategy's configuration name.
func (s Strategy) String() string {
	switch s {
	case Spread:
		return "spread"
	case BinPack:
		return "bin-pack"
	}
	return fmt.Sprintf("Strategy(%d)", int(s))
}

// ParseStrategy reads a strategy's configuration name.
func ParseStrategy(name string) (Strategy, error) {
	switch name {
	case "spread", "":
		return Spread, nil
	case "bin-pack", "binpack":
		return BinPack, nil
	}
	return 0, fmt.Errorf("unknown placement strategy %q (want spread or bin-pack)", name)
}

// Residency restricts where a VM's data may live. Empty lists mean anywhere;
// when both are set a host must match both.
type Residency struct {
	Jurisdictions []string
	Regions       []string
}

// Request is one VM to place.
type Request struct {
	VCPU      int
	MemoryMiB int64
	DiskGiB   int64
	// Zones are the zones allowed, such as the VDC's zone; empty means any.
	// Residency applies whatever zones are named.
	Zones     []string
	Residency Residency
	// AntiAffinity names a group whose VMs must run on different hosts: a
	// host already running one is filtered out. Empty means no group.
	AntiAffinity string
	// RequireLabels must all be present on the host with equal values.
	RequireLabels map[string]string
}

// Decision is where a VM goes.
type Decision struct {
	HostID string
	Zone   string
	Region string
	host   int32 // index in the snapshot that made it, checked by ID on Commit
}

// ErrInvalidRequest is wrapped by the errors for requests that can never be
// placed whatever the hosts, such as zero vCPU.
var ErrInvalidRequest = errors.New("invalid placement request")

// Place chooses a host for req. It does not change s; use Commit to record
// the placement, or PlaceMany to place several. When no host passes the
// filters the error is a *NoCapacityError saying how many hosts each filter
// removed.
func Place(s *Snapshot, req Request, strategy Strategy) (Decision, error) {
	var q query
	if err := s.compile(&q, req, strategy); err != nil {
		return Decision{}, err
	}
	best := s.scan(&q)
	if best < 0 {
		return Decision{}, s.explain(&q, req, 1, 0)
	}
	return s.decision(best), nil
}

// PlaceMany places count VMs like req one after the other, committing each
// to s so that later ones see the usage and anti-affinity members of earlier
// ones. It places all or none: on failure s is left as it was and the
// *NoCapacityError says which VM could not be placed.
func PlaceMany(s *Snapshot, req Request, count int, strategy Strategy) ([]Decision, error) {
	if count < 1 {
		return nil, fmt.Errorf("%w: count must be at least 1, got %d", ErrInvalidRequest, count)
	}
	var q query
	if err := s.compile(&q, req, strategy); err != nil {
		return nil, err
	}
	out := make([]Decision, 0, min(count, 1024))
	for len(out) < count {
		best := s.scan(&q)
		if best < 0 {
			err := s.explain(&q, req, count, len(out))
			for k := len(out) - 1; k >= 0; k-- {
				s.add(out[k].host, req, -1)
			}
			return nil, err
		}
		s.add(best, req, 1)
		if req.AntiAffinity != "" {
			q.group = s.groupIDs[req.AntiAffinity] // interned by the first add
		}
		out = append(out, s.decision(best))
	}
	return out, nil
}

func (s *Snapshot) decision(i int32) Decision {
	h := &s.hosts[i]
	return Decision{HostID: h.ID, Zone: h.Zone, Region: h.Region, host: i}
}

// query is a Request translated to the snapshot's integers. It holds no
// pointers into itself, so it stays on the caller's stack.
type query struct {
	cpu, mem, disk int64
	binPack        bool

	zones idSet // zones to scan

	anyJuris, anyRegion bool
	juris, regions      idSet

	labels        []int32 // sorted label-pair ids; allocated only when required
	labelsUnknown bool    // some required pair is on no host

	group int32 // -1: no group, or a group with no members yet
}

func validateRequest(req Request) error {
	switch {
	case req.VCPU < 1:
		return fmt.Errorf("%w: vCPU must be at least 1, got %d", ErrInvalidRequest, req.VCPU)
	case req.MemoryMiB < 1:
		return fmt.Errorf("%w: memory must be at least 1 MiB, got %d", ErrInvalidRequest, req.MemoryMiB)
	case req.DiskGiB < 0:
		return fmt.Errorf("%w: disk must not be negative, got %d GiB", ErrInvalidRequest, req.DiskGiB)
	case max(int64(req.VCPU), req.MemoryMiB, req.DiskGiB) > maxAmount:
		return fmt.Errorf("%w: %s is larger than any host", ErrInvalidRequest, describe(req))
	}
	return nil
}

func (s *Snapshot) compile(q *query, req Request, strategy Strategy) error {
	if err := validateRequest(req); err != nil {
		return err
	}
	if strategy != Spread && strategy != BinPack {
		return fmt.Errorf("%w: unknown strategy %v", ErrInvalidRequest, strategy)
	}
	q.cpu, q.mem, q.disk = int64(req.VCPU), req.MemoryMiB, req.DiskGiB
	q.binPack = strategy == BinPack

	if len(req.Zones) == 0 {
		q.zones = s.allZones
	} else {
		q.zones = lookup(s.zoneIDs, req.Zones)
	}
	q.anyJuris = len(req.Residency.Jurisdictions) == 0
	q.juris = lookup(s.jurisIDs, req.Residency.Jurisdictions)
	q.anyRegion = len(req.Residency.Regions) == 0
	q.regions = lookup(s.regionIDs, req.Residency.Regions)

	q.labels, q.labelsUnknown = nil, false
	if len(req.RequireLabels) > 0 {
		q.labels = make([]int32, 0, len(req.RequireLabels))
		for k, v := range req.RequireLabels {
			id, ok := s.labelIDs[labelPair{k, v}]
			if !ok {
				q.labelsUnknown = true
				continue
			}
			q.labels = append(q.labels, id)
		}
		slices.Sort(q.labels)
	}

	q.group = -1
	if req.AntiAffinity != "" {
		if g, ok := s.groupIDs[req.AntiAffinity]; ok {
			q.group = g
		}
	}
	return nil
}

// lookup is the set of ids of names; names the snapshot does not know match
// no host, so they add nothing.
func lookup(ids map[string]int32, names []string) idSet {
	set := newIDSet(len(ids))
	for _, name := range names {
		if id, ok := ids[name]; ok {
			set.add(id)
		}
	}
	return set
}

// subset reports whether every id of want (sorted) is in have (sorted).
func subset(want, have []int32) bool {
	j := 0
	for _, w := range want {
		for j < len(have) && have[j] < w {
			j++
		}
		if j == len(have) || have[j] != w {
			return false
		}
		j++
	}
	return true
}

// residencyOK reports whether host i is inside q's residency policy.
func (s *Snapshot) residencyOK(q *query, i int) bool {
	h := &s.slots[i]
	return (q.anyJuris || q.juris.has(int32(h.juris))) && (q.anyRegion || q.regions.has(int32(h.region)))
}

// scan returns the index of the best host for q, or -1. This is the hot
// loop. The score, the larger of CPU and memory utilisation after the
// placement, is compared exactly as fractions by cross-multiplying (amounts
// are below 2^31, so products fit), which is both cheaper than dividing and
// free of rounding: equal utilisations tie, and ties go to the lowest ID.
func (s *Snapshot) scan(q *query) int32 {
	if q.labelsUnknown || !q.anyJuris && q.juris.empty() || !q.anyRegion && q.regions.empty() {
		return -1
	}
	// The first host that passes beats the initial score: 2 (above any
	// utilisation) for spread, -1 (below any) for bin-pack.
	best, bestRank := int32(-1), int32(0)
	var bestNum, bestDen int64 = 2, 1
	if q.binPack {
		bestNum = -1
	}
	checkLabels := len(q.labels) > 0
	for z := range s.zones {
		zn := &s.zones[z]
		if !q.zones.has(int32(z)) {
			continue
		}
		// Residency per zone when its hosts agree, else per host.
		perHost := false
		if !q.anyJuris {
			if zn.juris < 0 {
				perHost = true
			} else if !q.juris.has(zn.juris) {
				continue
			}
		}
		if !q.anyRegion {
			if zn.region < 0 {
				perHost = true
			} else if !q.regions.has(zn.region) {
				continue
			}
		}
		slots := s.slots[zn.start:zn.end]
		for k := range slots {
			h := &slots[k]
			cpu, mem := h.cpuUsed+q.cpu, h.memUsed+q.mem
			// One branch for three limits: any shortfall makes the OR negative.
			if (h.cpuLimit-cpu)|(h.memLimit-mem)|(h.diskLimit-h.diskUsed-q.disk) < 0 || h.state != stateReady {
				continue
			}
			i := int(zn.start) + k
			if perHost && !s.residencyOK(q, i) ||
				h.grouped && q.group >= 0 && s.groupN(int32(i), q.group) > 0 ||
				checkLabels && !subset(q.labels, s.cold[i].labels) {
				continue
			}
			// Limits are positive here: cpu and mem are at least 1 and fit.
			num, den := cpu, h.cpuLimit
			if mem*h.cpuLimit > cpu*h.memLimit {
				num, den = mem, h.memLimit
			}
			l, r := num*bestDen, bestNum*den // l < r: this host is less loaded
			if q.binPack {
				l, r = r, l
			}
			if l < r || l == r && h.rank < bestRank {
				best, bestRank, bestNum, bestDen = int32(i), h.rank, num, den
			}
		}
	}
	return best
}

// explain counts, for every host, the first filter that removes it, in the
// order zone, residency, state, labels, anti-affinity, vCPU, memory, disk.
// It runs only when a placement fails, so it favours clarity over speed.
func (s *Snapshot) explain(q *query, req Request, count, placed int) *NoCapacityError {
	e := &NoCapacityError{Request: req, Count: count, Placed: placed, Hosts: len(s.hosts), Filtered: map[Reason]int{}}
	for i := range s.slots {
		h := &s.slots[i]
		var r Reason
		switch {
		case !q.zones.has(s.cold[i].zone):
			r = ReasonZone
		case !s.residencyOK(q, i):
			r = ReasonResidency
		case h.state == stateDraining:
			r = ReasonDraining
		case h.state == stateDown:
			r = ReasonDown
		case h.state == statePending:
			r = ReasonPending
		case q.labelsUnknown || !subset(q.labels, s.cold[i].labels):
			r = ReasonLabels
		case q.group >= 0 && s.groupN(int32(i), q.group) > 0:
			r = ReasonAntiAffinity
		case h.cpuUsed+q.cpu > h.cpuLimit:
			r = ReasonCPU
		case h.memUsed+q.mem > h.memLimit:
			r = ReasonMemory
		case h.diskUsed+q.disk > h.diskLimit:
			r = ReasonDisk
		default:
			continue // cannot happen: scan would have chosen it
		}
		e.Filtered[r]++
	}
	return e
}

// describe is a request's size as users read it.
func describe(req Request) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d vCPU / %d MiB", req.VCPU, req.MemoryMiB)
	if req.DiskGiB > 0 {
		fmt.Fprintf(&b, " / %d GiB disk", req.DiskGiB)
	}
	return b.String()
}
