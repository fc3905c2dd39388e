package scheduler

import (
	"errors"
	"fmt"
	"strings"
)

// ErrNoCapacity matches every *NoCapacityError with errors.Is, for callers
// that need not read the counts.
var ErrNoCapacity = errors.New("no capacity")

// Reason is why a filter removed a host.
type Reason int

// Reasons, in the order NoCapacityError lists them: the ones a user can act
// on first, hosts in zones they did not ask for last.
const (
	ReasonCPU Reason = iota
	ReasonMemory
	ReasonDisk
	ReasonAntiAffinity
	ReasonLabels
	ReasonDraining
	ReasonDown
	ReasonPending
	ReasonResidency
	ReasonZone
	reasonCount
)

// String is the reason as it reads after a host count ("3 hosts ...").
func (r Reason) String() string {
	switch r {
	case ReasonCPU:
		return "out of vCPU"
	case ReasonMemory:
		return "out of memory"
	case ReasonDisk:
		return "out of disk"
	case ReasonAntiAffinity:
		return "already running a VM of the anti-affinity group"
	case ReasonLabels:
		return "without the required labels"
	case ReasonDraining:
		return "draining"
	case ReasonDown:
		return "down"
	case ReasonPending:
		return "not yet ready"
	case ReasonResidency:
		return "outside the residency policy"
	case ReasonZone:
		return "in other zones"
	}
	return fmt.Sprintf("Reason(%d)", int(r))
}

// NoCapacityError says why no host could take a VM: how many hosts each
// filter removed. Every host is counted once, under the first filter that
// removed it, in the order zone, residency, state, labels, anti-affinity,
// vCPU, memory, disk.
type NoCapacityError struct {
	Request Request
	// Count is how many VMs were asked for; Placed how many fitted before
	// this one did not (PlaceMany then placed none).
	Count, Placed int
	// Hosts is the number of hosts in the snapshot.
	Hosts int
	// Filtered counts the hosts each filter removed; reasons that removed
	// none are absent.
	Filtered map[Reason]int
}

// Is makes errors.Is(err, ErrNoCapacity) true.
func (e *NoCapacityError) Is(target error) bool { return target == ErrNoCapacity }

func (e *NoCapacityError) Error() string {
	var b strings.Builder
	b.WriteString("no host can take ")
	if e.Count > 1 {
		fmt.Fprintf(&b, "VM %d of %d (%s)", e.Placed+1, e.Count, describe(e.Request))
	} else {
		b.WriteString(describe(e.Request))
	}
	switch len(e.Request.Zones) {
	case 0:
		b.WriteString(" in any zone")
	case 1:
		fmt.Fprintf(&b, " in zone %s", e.Request.Zones[0])
	default:
		fmt.Fprintf(&b, " in zones %s", strings.Join(e.Request.Zones, ", "))
	}
	if e.Hosts == 0 {
		b.WriteString(": there are no hosts")
		return b.String()
	}
	sep := ": "
	for r := range reasonCount {
		n := e.Filtered[r]
		if n == 0 {
			continue
		}
		noun := "hosts"
		if n == 1 {
			noun = "host"
		}
		fmt.Fprintf(&b, "%s%d %s %s", sep, n, noun, r)
		if r == ReasonAntiAffinity {
			fmt.Fprintf(&b, " %s", e.Request.AntiAffinity)
		}
		sep = ", "
	}
	return b.String()
}
