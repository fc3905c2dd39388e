package scheduler

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
)

// Host states. Only StateReady hosts take new placements.
const (
	StateReady    = "ready"
	StateDraining = "draining"
	StateDown     = "down"
	StatePending  = "pending"
)

// Resources is an amount of the three resources the scheduler counts.
type Resources struct {
	VCPU      int
	MemoryMiB int64
	DiskGiB   int64
}

// Overcommit is the ratio of schedulable to physical CPU and memory on a
// host. Zero means 1 (no overcommit); disk is never overcommitted.
type Overcommit struct {
	CPU    float64
	Memory float64
}

// Host is one hypervisor as the scheduler sees it.
type Host struct {
	ID           string
	Zone         string
	Region       string
	Jurisdiction string
	// State is one of StateReady, StateDraining, StateDown, StatePending.
	State      string
	Capacity   Resources
	Overcommit Overcommit
	// Used is what placed VMs reserve, whatever their power state.
	Used   Resources
	Labels map[string]string
}

// Snapshot is the state Place reads: hosts with their usage and the hosts
// that run members of each anti-affinity group. NewSnapshot builds it once:
// it interns zones, regions, jurisdictions, labels and groups into small
// integers and lays the hosts out zone by zone, so that a placement scans
// only the requested zones, reading one 64-byte record per host with
// integer comparisons, no maps and no allocation. Zones whose hosts all share
// a jurisdiction and region have residency decided once for the zone.
//
// Place only reads a snapshot; Commit, Release and PlaceMany change it. A
// snapshot is not safe for concurrent use while it is being changed.
type Snapshot struct {
	hosts []Host // in slot order; Used and Labels live in slots and cold
	slots []slot // hot part, by zone then ID
	cold  []cold // parallel to slots
	byID  map[string]int32

	zoneIDs  map[string]int32
	zones    []zoneRun // by name
	allZones idSet

	regionIDs map[string]int32
	jurisIDs  map[string]int32
	labelIDs  map[labelPair]int32

	groupIDs   map[string]int32
	groupNames []string
}

// slot is the part of a host the hot loop reads: limits precomputed with
// overcommit applied, all on one cache line.
type slot struct {
	cpuUsed, cpuLimit   int64
	memUsed, memLimit   int64
	diskUsed, diskLimit int64
	rank                int32 // position in ID order, for ties
	juris, region       uint16
	state               uint8
	grouped             bool // len(cold.groups) > 0
}

// cold is the rest of a host, read only when a request needs it.
type cold struct {
	labels []int32 // sorted label-pair ids
	groups []groupCount
	zone   int32
}

// zoneRun is a run of slots [start, end); juris and region are the ids all its
// hosts share, or -1 when they differ.
type zoneRun struct {
	name          string
	start, end    int32
	juris, region int32
}

type groupCount struct {
	group int32
	n     int32
}

type labelPair struct{ key, value string }

const (
	stateReady uint8 = iota
	stateDraining
	stateDown
	statePending
)

// maxAmount bounds every capacity, usage and request so that the exact
// integer comparison of utilisations (products of two amounts) cannot
// overflow. 2^31 MiB is 2 PiB of memory.
const maxAmount = 1 << 31

// maxIDs bounds distinct zones, regions and jurisdictions (uint16 in slot).
const maxIDs = 1 << 16

// ErrInvalidSnapshot is wrapped by NewSnapshot's errors for hosts or groups
// that make no sense (duplicate IDs, unknown states, negative amounts).
var ErrInvalidSnapshot = errors.New("invalid snapshot")

// NewSnapshot builds a snapshot from hosts and the current members of
// anti-affinity groups: groups[group][hostID] is how many VMs of the group
// run on that host. Neither argument is retained.
func NewSnapshot(hosts []Host, groups map[string]map[string]int) (*Snapshot, error) {
	s := &Snapshot{
		hosts:     slices.Clone(hosts),
		slots:     make([]slot, len(hosts)),
		cold:      make([]cold, len(hosts)),
		byID:      make(map[string]int32, len(hosts)),
		zoneIDs:   map[string]int32{},
		regionIDs: map[string]int32{},
		jurisIDs:  map[string]int32{},
		labelIDs:  map[labelPair]int32{},
		groupIDs:  map[string]int32{},
	}
	for i := range s.hosts {
		if err := validateHost(&s.hosts[i]); err != nil {
			return nil, err
		}
	}
	// Ranks in ID order break ties; slots run zone by zone.
	slices.SortFunc(s.hosts, func(a, b Host) int { return cmp.Compare(a.ID, b.ID) })
	rank := make(map[string]int32, len(s.hosts))
	for i := range s.hosts {
		if i > 0 && s.hosts[i].ID == s.hosts[i-1].ID {
			return nil, fmt.Errorf("%w: host %q listed twice", ErrInvalidSnapshot, s.hosts[i].ID)
		}
		rank[s.hosts[i].ID] = int32(i)
	}
	slices.SortFunc(s.hosts, func(a, b Host) int {
		return cmp.Or(cmp.Compare(a.Zone, b.Zone), cmp.Compare(a.ID, b.ID))
	})
	for i := range s.hosts {
		h := &s.hosts[i]
		s.byID[h.ID] = int32(i)
		sl, c := &s.slots[i], &s.cold[i]
		sl.rank = rank[h.ID]
		sl.state = stateCode(h.State)
		sl.cpuLimit = limit(int64(h.Capacity.VCPU), h.Overcommit.CPU)
		sl.memLimit = limit(h.Capacity.MemoryMiB, h.Overcommit.Memory)
		sl.diskLimit = h.Capacity.DiskGiB
		if max(sl.cpuLimit, sl.memLimit, sl.diskLimit) > maxAmount {
			return nil, fmt.Errorf("%w: host %q is larger than %d of a resource with overcommit", ErrInvalidSnapshot, h.ID, int64(maxAmount))
		}
		sl.cpuUsed, sl.memUsed, sl.diskUsed = int64(h.Used.VCPU), h.Used.MemoryMiB, h.Used.DiskGiB
		juris, region := intern(s.jurisIDs, h.Jurisdiction), intern(s.regionIDs, h.Region)
		if juris >= maxIDs || region >= maxIDs {
			return nil, fmt.Errorf("%w: more than %d regions or jurisdictions", ErrInvalidSnapshot, maxIDs)
		}
		sl.juris, sl.region = uint16(juris), uint16(region)
		for k, v := range h.Labels {
			c.labels = append(c.labels, intern(s.labelIDs, labelPair{k, v}))
		}
		slices.Sort(c.labels)
		h.Labels = maps.Clone(h.Labels)
		h.Used = Resources{}

		z, ok := s.zoneIDs[h.Zone]
		if !ok {
			z = int32(len(s.zones))
			s.zoneIDs[h.Zone] = z
			s.zones = append(s.zones, zoneRun{name: h.Zone, start: int32(i), juris: juris, region: region})
		}
		c.zone = z
		zn := &s.zones[z]
		zn.end = int32(i + 1)
		if zn.juris != juris {
			zn.juris = -1
		}
		if zn.region != region {
			zn.region = -1
		}
	}
	s.allZones = newIDSet(len(s.zones))
	for z := range s.zones {
		s.allZones.add(int32(z))
	}
	for _, name := range slices.Sorted(maps.Keys(groups)) {
		members := groups[name]
		for _, hostID := range slices.Sorted(maps.Keys(members)) {
			n := members[hostID]
			i, ok := s.byID[hostID]
			switch {
			case !ok:
				return nil, fmt.Errorf("%w: group %q names unknown host %q", ErrInvalidSnapshot, name, hostID)
			case n < 0:
				return nil, fmt.Errorf("%w: group %q has %d VMs on host %q", ErrInvalidSnapshot, name, n, hostID)
			case n > 0:
				s.addGroup(i, s.internGroup(name), int32(n))
			}
		}
	}
	return s, nil
}

func validateHost(h *Host) error {
	switch {
	case h.ID == "":
		return fmt.Errorf("%w: a host has no ID", ErrInvalidSnapshot)
	case h.Zone == "":
		return fmt.Errorf("%w: host %q has no zone", ErrInvalidSnapshot, h.ID)
	case stateCode(h.State) == 255:
		return fmt.Errorf("%w: host %q has unknown state %q", ErrInvalidSnapshot, h.ID, h.State)
	case h.Capacity.VCPU < 0 || h.Capacity.MemoryMiB < 0 || h.Capacity.DiskGiB < 0:
		return fmt.Errorf("%w: host %q has negative capacity", ErrInvalidSnapshot, h.ID)
	case h.Used.VCPU < 0 || h.Used.MemoryMiB < 0 || h.Used.DiskGiB < 0:
		return fmt.Errorf("%w: host %q has negative usage", ErrInvalidSnapshot, h.ID)
	case max(int64(h.Used.VCPU), h.Used.MemoryMiB, h.Used.DiskGiB) > maxAmount:
		return fmt.Errorf("%w: host %q uses more than %d of a resource", ErrInvalidSnapshot, h.ID, int64(maxAmount))
	case !(h.Overcommit.CPU >= 0) || !(h.Overcommit.Memory >= 0) ||
		math.IsInf(h.Overcommit.CPU, 0) || math.IsInf(h.Overcommit.Memory, 0):
		return fmt.Errorf("%w: host %q has overcommit %v", ErrInvalidSnapshot, h.ID, h.Overcommit)
	}
	return nil
}

func stateCode(state string) uint8 {
	switch state {
	case StateReady:
		return stateReady
	case StateDraining:
		return stateDraining
	case StateDown:
		return stateDown
	case StatePending:
		return statePending
	}
	return 255
}

// limit is capacity times the overcommit ratio, rounded down.
func limit(capacity int64, ratio float64) int64 {
	if ratio == 0 {
		return capacity
	}
	return int64(math.Floor(float64(capacity) * ratio))
}

func intern[K comparable](ids map[K]int32, key K) int32 {
	id, ok := ids[key]
	if !ok {
		id = int32(len(ids))
		ids[key] = id
	}
	return id
}

func (s *Snapshot) internGroup(name string) int32 {
	id, ok := s.groupIDs[name]
	if !ok {
		id = int32(len(s.groupNames))
		s.groupIDs[name] = id
		s.groupNames = append(s.groupNames, name)
	}
	return id
}

func (s *Snapshot) groupN(i, group int32) int32 {
	for _, g := range s.cold[i].groups {
		if g.group == group {
			return g.n
		}
	}
	return 0
}

// addGroup adds n (which may be negative) VMs of group to host i.
func (s *Snapshot) addGroup(i, group, n int32) {
	c := &s.cold[i]
	k := slices.IndexFunc(c.groups, func(g groupCount) bool { return g.group == group })
	switch {
	case k < 0 && n > 0:
		c.groups = append(c.groups, groupCount{group, n})
	case k >= 0:
		c.groups[k].n += n
		if c.groups[k].n <= 0 {
			c.groups = slices.Delete(c.groups, k, k+1)
		}
	}
	s.slots[i].grouped = len(c.groups) > 0
}

// idSet is a set of small ids: a word for up to 64 of them, more words
// only for snapshots with more.
type idSet struct {
	small uint64
	big   []uint64
}

func newIDSet(n int) idSet {
	if n <= 64 {
		return idSet{}
	}
	return idSet{big: make([]uint64, (n+63)/64)}
}

func (x *idSet) add(id int32) {
	if x.big != nil {
		x.big[id>>6] |= 1 << (id & 63)
	} else {
		x.small |= 1 << id
	}
}

func (x *idSet) has(id int32) bool {
	if x.big != nil {
		return x.big[id>>6]&(1<<(id&63)) != 0
	}
	return id < 64 && x.small&(1<<id) != 0
}

func (x *idSet) empty() bool {
	return x.small == 0 && !slices.ContainsFunc(x.big, func(w uint64) bool { return w != 0 })
}

// Len is the number of hosts in the snapshot.
func (s *Snapshot) Len() int { return len(s.hosts) }

// Host returns the host with the given ID, its Used reflecting every Commit
// and Release so far.
func (s *Snapshot) Host(id string) (Host, bool) {
	i, ok := s.byID[id]
	if !ok {
		return Host{}, false
	}
	h := s.hosts[i]
	sl := &s.slots[i]
	h.Used = Resources{VCPU: int(sl.cpuUsed), MemoryMiB: sl.memUsed, DiskGiB: sl.diskUsed}
	h.Labels = maps.Clone(h.Labels)
	return h, true
}

// GroupCount is how many VMs of an anti-affinity group run on a host.
func (s *Snapshot) GroupCount(group, hostID string) int {
	g, ok := s.groupIDs[group]
	i, found := s.byID[hostID]
	if !ok || !found {
		return 0
	}
	return int(s.groupN(i, g))
}

// Commit records a VM placed by d: it adds req's resources to the host's
// usage and the host to req's anti-affinity group. It refuses a decision that
// no longer fits, so a snapshot never holds more than a host can take through
// Commit.
func (s *Snapshot) Commit(d Decision, req Request) error {
	i, err := s.index(d)
	if err != nil {
		return err
	}
	if err := validateRequest(req); err != nil {
		return fmt.Errorf("commit to host %s: %w", d.HostID, err)
	}
	sl := &s.slots[i]
	if sl.state != stateReady {
		return fmt.Errorf("commit to host %s: host is %s", d.HostID, s.hosts[i].State)
	}
	if sl.cpuUsed+int64(req.VCPU) > sl.cpuLimit || sl.memUsed+req.MemoryMiB > sl.memLimit ||
		sl.diskUsed+req.DiskGiB > sl.diskLimit {
		return fmt.Errorf("commit to host %s: %s does not fit", d.HostID, describe(req))
	}
	if req.AntiAffinity != "" {
		if g, ok := s.groupIDs[req.AntiAffinity]; ok && s.groupN(i, g) > 0 {
			return fmt.Errorf("commit to host %s: host already runs a VM of group %s", d.HostID, req.AntiAffinity)
		}
	}
	s.add(i, req, 1)
	return nil
}

// Release undoes one Commit of req on the host: a VM was deleted or its
// placement abandoned.
func (s *Snapshot) Release(hostID string, req Request) error {
	i, ok := s.byID[hostID]
	if !ok {
		return fmt.Errorf("release on host %s: no such host", hostID)
	}
	if err := validateRequest(req); err != nil {
		return fmt.Errorf("release on host %s: %w", hostID, err)
	}
	sl := &s.slots[i]
	if sl.cpuUsed < int64(req.VCPU) || sl.memUsed < req.MemoryMiB || sl.diskUsed < req.DiskGiB {
		return fmt.Errorf("release on host %s: %s is more than the host uses", hostID, describe(req))
	}
	if req.AntiAffinity != "" {
		if g, ok := s.groupIDs[req.AntiAffinity]; !ok || s.groupN(i, g) == 0 {
			return fmt.Errorf("release on host %s: host runs no VM of group %s", hostID, req.AntiAffinity)
		}
	}
	s.add(i, req, -1)
	return nil
}

// add applies sign (+1 or -1) times req to host i without checks.
func (s *Snapshot) add(i int32, req Request, sign int64) {
	sl := &s.slots[i]
	sl.cpuUsed += sign * int64(req.VCPU)
	sl.memUsed += sign * req.MemoryMiB
	sl.diskUsed += sign * req.DiskGiB
	if req.AntiAffinity != "" {
		s.addGroup(i, s.internGroup(req.AntiAffinity), int32(sign))
	}
}

func (s *Snapshot) index(d Decision) (int32, error) {
	if i := d.host; i >= 0 && int(i) < len(s.hosts) && s.hosts[i].ID == d.HostID {
		return i, nil
	}
	if i, ok := s.byID[d.HostID]; ok {
		return i, nil
	}
	return 0, fmt.Errorf("commit to host %s: no such host", d.HostID)
}
