package ipam

import (
	"bytes"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
)

func addrs(ss ...string) []netip.Addr {
	out := make([]netip.Addr, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParseAddr(s)
	}
	return out
}

func TestParsePrefix(t *testing.T) {
	for _, c := range []struct {
		in, err string
	}{
		{"10.0.0.0/24", ""},
		{"10.1.0.0/16", ""},
		{"192.168.7.8/29", ""},
		{"10.0.0.7/24", "did you mean 10.0.0.0/24"},
		{"10.0.0.0/15", "between /16 and /29"},
		{"10.0.0.0/30", "between /16 and /29"},
		{"fd00::/64", "not IPv4"},
		{"10.0.0.0", "not a CIDR"},
	} {
		_, err := ParsePrefix(c.in)
		if c.err == "" && err != nil || c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)) {
			t.Errorf("ParsePrefix(%q) = %v, want error containing %q", c.in, err, c.err)
		}
	}
}

func TestNextIP(t *testing.T) {
	p := netip.MustParsePrefix("10.0.0.0/29") // hosts .1-.6
	gw := Gateway(p)
	if gw.String() != "10.0.0.1" || Broadcast(p).String() != "10.0.0.7" {
		t.Fatalf("gateway %s broadcast %s", gw, Broadcast(p))
	}
	for _, c := range []struct {
		name string
		gw   string
		used []netip.Addr
		want string
	}{
		{"first after the gateway", "10.0.0.1", nil, "10.0.0.2"},
		{"skips used", "10.0.0.1", addrs("10.0.0.2", "10.0.0.3"), "10.0.0.4"},
		{"fills a hole", "10.0.0.1", addrs("10.0.0.2", "10.0.0.4"), "10.0.0.3"},
		{"gateway elsewhere", "10.0.0.6", nil, "10.0.0.1"},
		{"never the broadcast", "10.0.0.1", addrs("10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5"), "10.0.0.6"},
	} {
		got, err := NextIP(p, netip.MustParseAddr(c.gw), c.used)
		if err != nil || got.String() != c.want {
			t.Errorf("%s: got %v, %v; want %s", c.name, got, err, c.want)
		}
	}
	_, err := NextIP(p, gw, addrs("10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.6"))
	if !errors.Is(err, ErrExhausted) {
		t.Fatalf("full /29: %v, want ErrExhausted", err)
	}
}

func TestNextIPLargeSubnet(t *testing.T) {
	p := netip.MustParsePrefix("10.8.0.0/16")
	var used []netip.Addr
	for a := netip.MustParseAddr("10.8.0.2"); a.Compare(netip.MustParseAddr("10.8.1.0")) < 0; a = a.Next() {
		used = append(used, a)
	}
	got, err := NextIP(p, Gateway(p), used)
	if err != nil || got.String() != "10.8.1.0" {
		t.Fatalf("got %v, %v; want 10.8.1.0 (a .0 inside a /16 is a host address)", got, err)
	}
}

func TestValidateFixed(t *testing.T) {
	p := netip.MustParsePrefix("10.0.0.0/24")
	gw := netip.MustParseAddr("10.0.0.1")
	used := addrs("10.0.0.10")
	for _, c := range []struct {
		ip   string
		want error
	}{
		{"10.0.0.20", nil},
		{"10.0.0.10", ErrTaken},
		{"10.0.0.1", ErrReserved},
		{"10.0.0.0", ErrReserved},
		{"10.0.0.255", ErrReserved},
		{"10.0.1.5", ErrOutside},
	} {
		err := ValidateFixed(p, gw, netip.MustParseAddr(c.ip), used)
		if c.want == nil && err != nil || c.want != nil && !errors.Is(err, c.want) {
			t.Errorf("ValidateFixed(%s) = %v, want %v", c.ip, err, c.want)
		}
	}
}

func TestOverlaps(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want bool
	}{
		{"10.0.0.0/24", "10.0.0.0/24", true},
		{"10.0.0.0/16", "10.0.5.0/24", true},
		{"10.0.5.0/24", "10.0.0.0/16", true},
		{"10.0.0.0/24", "10.0.1.0/24", false},
		{"10.0.0.0/25", "10.0.0.128/25", false},
	} {
		if got := Overlaps(netip.MustParsePrefix(c.a), netip.MustParsePrefix(c.b)); got != c.want {
			t.Errorf("Overlaps(%s, %s) = %v", c.a, c.b, got)
		}
	}
}

func TestNewMAC(t *testing.T) {
	mac, err := NewMAC(bytes.NewReader([]byte{0xde, 0xad, 0xbe, 0xef}))
	if err != nil || mac != "02:00:de:ad:be:ef" {
		t.Fatalf("NewMAC = %q, %v", mac, err)
	}
	hw, err := net.ParseMAC(mac)
	if err != nil {
		t.Fatal(err)
	}
	if hw[0]&1 != 0 || hw[0]&2 == 0 {
		t.Fatalf("%s is not a locally administered unicast address", mac)
	}
	if _, err := NewMAC(bytes.NewReader([]byte{1, 2})); err == nil {
		t.Fatal("a short read made a MAC")
	}
}

func TestNextInRange(t *testing.T) {
	got, err := NextInRange(netip.MustParseAddr("203.0.113.10"), netip.MustParseAddr("203.0.113.12"), addrs("203.0.113.10"))
	if err != nil || got.String() != "203.0.113.11" {
		t.Fatalf("got %v, %v", got, err)
	}
	_, err = NextInRange(netip.MustParseAddr("203.0.113.10"), netip.MustParseAddr("203.0.113.11"), addrs("203.0.113.10", "203.0.113.11"))
	if !errors.Is(err, ErrExhausted) {
		t.Fatalf("full range: %v", err)
	}
}
