// Package ipam hands out addresses and MAC addresses: the next free IPv4
// address of a subnet or a range, checks on fixed addresses, and prefix
// overlap. It is pure: callers pass in what is used, read from the store in
// the same transaction that records the choice.
package ipam

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
)

// Errors callers match with errors.Is.
var (
	// ErrExhausted is a subnet or range with no free address left.
	ErrExhausted = errors.New("no free address left")
	// ErrTaken is a fixed address another interface holds.
	ErrTaken = errors.New("address already in use")
	// ErrReserved is a fixed address that cannot be handed out: the
	// network address, the broadcast address or the gateway.
	ErrReserved = errors.New("address is reserved")
	// ErrOutside is a fixed address outside the subnet.
	ErrOutside = errors.New("address outside the subnet")
)

// Prefix lengths a tenant network may have: a /16 is 65,534 hosts, a /29 the
// smallest subnet that still leaves room for a few VMs next to the gateway.
const (
	MinBits = 16
	MaxBits = 29
)

// ParsePrefix reads a tenant network's CIDR: IPv4, /16 to /29, and written
// as its network address (10.0.0.0/24, not 10.0.0.7/24), so what is stored
// is what the user meant.
func ParsePrefix(s string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not a CIDR such as 10.0.0.0/24", s)
	}
	if !p.Addr().Is4() {
		return netip.Prefix{}, fmt.Errorf("%q is not IPv4: only IPv4 networks are supported", s)
	}
	if p.Bits() < MinBits || p.Bits() > MaxBits {
		return netip.Prefix{}, fmt.Errorf("%q: the prefix length must be between /%d and /%d", s, MinBits, MaxBits)
	}
	if p.Masked() != p {
		return netip.Prefix{}, fmt.Errorf("%q has host bits set: did you mean %s?", s, p.Masked())
	}
	return p, nil
}

// Gateway is a subnet's default gateway: its first host address.
func Gateway(p netip.Prefix) netip.Addr {
	return p.Masked().Addr().Next()
}

// Broadcast is the last address of an IPv4 subnet.
func Broadcast(p netip.Prefix) netip.Addr {
	a := p.Masked().Addr().As4()
	host := uint32(1)<<(32-p.Bits()) - 1
	v := (uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])) | host
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// Overlaps reports whether two prefixes share any address.
func Overlaps(a, b netip.Prefix) bool {
	return a.Overlaps(b)
}

// NextIP returns the lowest address of subnet p that is not the network
// address, the broadcast address, the gateway or in used. ErrExhausted when
// none is left.
func NextIP(p netip.Prefix, gateway netip.Addr, used []netip.Addr) (netip.Addr, error) {
	p = p.Masked()
	first, last := p.Addr().Next(), Broadcast(p).Prev()
	a, err := NextInRange(first, last, append([]netip.Addr{gateway}, used...))
	if err != nil {
		return netip.Addr{}, fmt.Errorf("subnet %s: %w", p, err)
	}
	return a, nil
}

// NextInRange returns the lowest address from first to last (inclusive) not
// in used. ErrExhausted when none is left.
func NextInRange(first, last netip.Addr, used []netip.Addr) (netip.Addr, error) {
	taken := make(map[netip.Addr]bool, len(used))
	for _, u := range used {
		taken[u] = true
	}
	for a := first; a.IsValid() && a.Compare(last) <= 0; a = a.Next() {
		if !taken[a] {
			return a, nil
		}
	}
	return netip.Addr{}, fmt.Errorf("range %s-%s: %w", first, last, ErrExhausted)
}

// ValidateFixed checks that ip may be given to a new interface on subnet p:
// inside it, not reserved, not in used.
func ValidateFixed(p netip.Prefix, gateway, ip netip.Addr, used []netip.Addr) error {
	p = p.Masked()
	switch {
	case !p.Contains(ip):
		return fmt.Errorf("%s: %w %s", ip, ErrOutside, p)
	case ip == p.Addr():
		return fmt.Errorf("%s is the network address of %s: %w", ip, p, ErrReserved)
	case ip == Broadcast(p):
		return fmt.Errorf("%s is the broadcast address of %s: %w", ip, p, ErrReserved)
	case ip == gateway:
		return fmt.Errorf("%s is the gateway of %s: %w", ip, p, ErrReserved)
	}
	for _, u := range used {
		if u == ip {
			return fmt.Errorf("%s: %w", ip, ErrTaken)
		}
	}
	return nil
}

// MACPrefix starts every MAC address NewMAC makes. 02 marks a locally
// administered unicast address, so it never clashes with a vendor's; the
// zero second byte leaves exactly the last four bytes random. The agent
// names a NIC's tap "st" + those four bytes in hex, and the store keeps MACs
// unique, so tap names are unique on every host too. QEMU's own 52:54:00
// prefix is avoided: it leaves only three bytes to tell NICs apart.
const MACPrefix = "02:00"

// NewMAC returns a random MAC address 02:00:xx:xx:xx:xx read from r (use
// crypto/rand.Reader). The caller checks it is not in use yet.
func NewMAC(r io.Reader) (string, error) {
	var b [4]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return "", fmt.Errorf("random MAC: %w", err)
	}
	return fmt.Sprintf("%s:%02x:%02x:%02x:%02x", MACPrefix, b[0], b[1], b[2], b[3]), nil
}
