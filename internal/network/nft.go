package network

import (
	"encoding/binary"
	"net"
	"net/netip"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// Small builders for nftables expressions. Each returns the expressions of
// one match so rules read like their nft(8) equivalents, written above them.

// ifname is an interface name as nftables compares it: NUL padded to IFNAMSIZ.
func ifname(n string) []byte {
	b := make([]byte, unix.IFNAMSIZ)
	copy(b, n)
	return b
}

func metaIs(key expr.MetaKey, op expr.CmpOp, data []byte) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: key, Register: 1},
		&expr.Cmp{Op: op, Register: 1, Data: data},
	}
}

// iif: iifname == name.
func iif(name string) []expr.Any { return metaIs(expr.MetaKeyIIFNAME, expr.CmpOpEq, ifname(name)) }

// oif: oifname == name.
func oif(name string) []expr.Any { return metaIs(expr.MetaKeyOIFNAME, expr.CmpOpEq, ifname(name)) }

func payloadIs(base expr.PayloadBase, offset, length uint32, op expr.CmpOp, data []byte) []expr.Any {
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: base, Offset: offset, Len: length},
		&expr.Cmp{Op: op, Register: 1, Data: data},
	}
}

// Offsets in the Ethernet, ARP (for Ethernet/IPv4), IPv4 and TCP/UDP headers.
const (
	ethDst       = 0
	ethSrc       = 6
	ethType      = 12
	arpSHA       = 8
	arpSPA       = 14
	arpTPA       = 24
	ipProto      = 9
	ipSrc        = 12
	ipDst        = 16
	thSport      = 0
	thDport      = 2
	etherTypeIP  = 0x0800
	etherTypeARP = 0x0806
)

func be16(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }

func etherType(t uint16) []expr.Any {
	return payloadIs(expr.PayloadBaseLLHeader, ethType, 2, expr.CmpOpEq, be16(t))
}

func etherAddr(offset uint32, op expr.CmpOp, mac net.HardwareAddr) []expr.Any {
	return payloadIs(expr.PayloadBaseLLHeader, offset, 6, op, []byte(mac))
}

func arpAddr(offset uint32, op expr.CmpOp, a netip.Addr) []expr.Any {
	return payloadIs(expr.PayloadBaseNetworkHeader, offset, 4, op, a.AsSlice())
}

func ipAddr(offset uint32, op expr.CmpOp, a netip.Addr) []expr.Any {
	return payloadIs(expr.PayloadBaseNetworkHeader, offset, 4, op, a.AsSlice())
}

// ipPrefix: ip saddr/daddr in p (op Eq) or not in p (op Neq). A /0 matches
// everything, so it adds nothing when op is Eq.
func ipPrefix(offset uint32, op expr.CmpOp, p netip.Prefix) []expr.Any {
	if p.Bits() == 0 && op == expr.CmpOpEq {
		return nil
	}
	mask := net.CIDRMask(p.Bits(), 32)
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: offset, Len: 4},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: mask, Xor: make([]byte, 4)},
		&expr.Cmp{Op: op, Register: 1, Data: p.Masked().Addr().AsSlice()},
	}
}

func ipProtocol(proto byte) []expr.Any {
	return payloadIs(expr.PayloadBaseNetworkHeader, ipProto, 1, expr.CmpOpEq, []byte{proto})
}

// portRange: th dport from-to.
func portRange(offset uint32, from, to uint16) []expr.Any {
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: offset, Len: 2},
		&expr.Cmp{Op: expr.CmpOpGte, Register: 1, Data: be16(from)},
		&expr.Cmp{Op: expr.CmpOpLte, Register: 1, Data: be16(to)},
	}
}

// ctState: ct state & bits != 0.
func ctState(bits uint32) []expr.Any {
	return []expr.Any{
		&expr.Ct{Register: 1, Key: expr.CtKeySTATE},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(bits), Xor: make([]byte, 4)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: make([]byte, 4)},
	}
}

func verdict(k expr.VerdictKind) []expr.Any { return []expr.Any{&expr.Verdict{Kind: k}} }

func accept() []expr.Any { return verdict(expr.VerdictAccept) }
func drop() []expr.Any   { return verdict(expr.VerdictDrop) }

// vmapLookup: <loaded value> vmap @set, the value loaded by load into register 1.
func vmapLookup(load expr.Any, set string) []expr.Any {
	return []expr.Any{load, &expr.Lookup{SourceRegister: 1, DestRegister: 0, IsDestRegSet: true, SetName: set}}
}

// natMap: snat/dnat to <loaded address> map @set.
func natMap(t expr.NATType, load expr.Any, set string) []expr.Any {
	return []expr.Any{
		load,
		&expr.Lookup{SourceRegister: 1, DestRegister: 1, IsDestRegSet: true, SetName: set},
		&expr.NAT{Type: t, Family: unix.NFPROTO_IPV4, RegAddrMin: 1, RegAddrMax: 1},
	}
}

func rule(parts ...[]expr.Any) []expr.Any {
	var out []expr.Any
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// addRules appends rules to chain c.
func addRules(nc *nftables.Conn, c *nftables.Chain, rules ...[]expr.Any) {
	for _, r := range rules {
		nc.AddRule(&nftables.Rule{Table: c.Table, Chain: c, Exprs: r})
	}
}

// jumpTo is a verdict map value jumping to chain.
func jumpTo(chain string) *expr.Verdict { return &expr.Verdict{Kind: expr.VerdictJump, Chain: chain} }

// ruleMatches turns a firewall Rule into the expressions matching it, the
// remote side being the source (ingress) or destination (egress).
func ruleMatches(r Rule, remoteOffset uint32) ([]expr.Any, error) {
	var parts [][]expr.Any
	if r.CIDR.IsValid() {
		parts = append(parts, ipPrefix(remoteOffset, expr.CmpOpEq, r.CIDR))
	}
	var proto byte
	switch r.Protocol {
	case "", "any":
	case "tcp":
		proto = unix.IPPROTO_TCP
	case "udp":
		proto = unix.IPPROTO_UDP
	case "icmp":
		proto = unix.IPPROTO_ICMP
	default:
		return nil, errUnknownProtocol(r.Protocol)
	}
	if proto != 0 {
		parts = append(parts, ipProtocol(proto))
	}
	if (proto == unix.IPPROTO_TCP || proto == unix.IPPROTO_UDP) && (r.PortFrom > 0 || r.PortTo > 0) {
		from, to := r.PortFrom, r.PortTo
		if to == 0 {
			to = from
		}
		if from == 0 {
			from = 1
		}
		parts = append(parts, portRange(thDport, uint16(from), uint16(to)))
	}
	return rule(parts...), nil
}
