// Package dhcp is the DHCPv4 responder of a tenant network's router
// namespace. It hands out only the static leases IPAM decided (one address
// per NIC MAC), so it never allocates anything and keeps no state on disk:
// a restarted server answers exactly as before.
package dhcp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/vishvananda/netns"

	"github.com/sirocco-cloud/sirocco/internal/network"
	"golang.org/x/sys/unix"
)

// DefaultLeaseTime is the lease time when Config.LeaseTime is zero. Leases
// are static, so its only effect is how often guests come back (and so how
// quickly they pick up a changed DNS or MTU).
const DefaultLeaseTime = time.Hour

// Lease is one NIC's static address.
type Lease struct {
	MAC      net.HardwareAddr
	IP       netip.Addr
	Hostname string
}

// Config describes what the server answers and where it listens.
type Config struct {
	// NetNS is the namespace whose interface the server listens on (the
	// network's router namespace); 0 or netns.None() means the current one.
	// The server does not keep or close the handle.
	NetNS     netns.NsHandle
	Interface string // the gateway interface inside NetNS
	ServerIP  netip.Addr
	Prefix    netip.Prefix
	Router    netip.Addr   // optional
	DNS       []netip.Addr // optional
	MTU       int          // optional; sent as option 26
	LeaseTime time.Duration
	Leases    []Lease
	Log       *slog.Logger // optional
}

// Server answers DHCP on one interface until Close or its context ends.
type Server struct {
	cfg    Config
	log    *slog.Logger
	conn   net.PacketConn
	leases atomic.Pointer[map[string]Lease]

	closeOnce sync.Once
	closeErr  error
	done      chan struct{}
	stop      context.CancelFunc
}

// Serve opens the DHCP socket inside cfg.NetNS and answers on it in the
// background until ctx ends or Close is called. It fails when the port is
// already taken on that interface, so two servers never split a network's
// clients between them.
func Serve(ctx context.Context, cfg Config) (*Server, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if cfg.LeaseTime == 0 {
		cfg.LeaseTime = DefaultLeaseTime
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("interface", cfg.Interface)
	idx, err := index(cfg.Prefix, cfg.Leases)
	if err != nil {
		return nil, err
	}
	conn, err := listenIn(cfg.NetNS, cfg.Interface)
	if err != nil {
		return nil, err
	}
	ctx, stop := context.WithCancel(ctx)
	s := &Server{cfg: cfg, log: log, conn: conn, done: make(chan struct{}), stop: stop}
	s.leases.Store(&idx)
	go func() {
		// Closing the socket is the only way to unblock ReadFrom.
		<-ctx.Done()
		s.closeConn()
	}()
	go s.loop()
	return s, nil
}

func (c Config) validate() error {
	if c.Interface == "" {
		return errors.New("dhcp: no interface")
	}
	if !c.ServerIP.Is4() {
		return fmt.Errorf("dhcp: server address %v is not IPv4", c.ServerIP)
	}
	if !c.Prefix.IsValid() || !c.Prefix.Addr().Is4() {
		return fmt.Errorf("dhcp: prefix %v is not an IPv4 prefix", c.Prefix)
	}
	if c.Router.IsValid() && !c.Router.Is4() {
		return fmt.Errorf("dhcp: router %v is not IPv4", c.Router)
	}
	for _, d := range c.DNS {
		if !d.Is4() {
			return fmt.Errorf("dhcp: DNS server %v is not IPv4", d)
		}
	}
	if c.MTU != 0 && (c.MTU < 68 || c.MTU > 65535) {
		return fmt.Errorf("dhcp: MTU %d out of range", c.MTU)
	}
	if c.LeaseTime < 0 || c.LeaseTime/time.Second > 0xfffffffe {
		return fmt.Errorf("dhcp: lease time %v out of range", c.LeaseTime)
	}
	return nil
}

// index maps MAC (lower-case text) to lease, refusing leases a guest could
// not use: the address must be a host address of the network.
func index(prefix netip.Prefix, leases []Lease) (map[string]Lease, error) {
	idx := make(map[string]Lease, len(leases))
	var errs []error
	for _, l := range leases {
		switch {
		case len(l.MAC) != 6:
			errs = append(errs, fmt.Errorf("dhcp: lease %v: MAC %q is not Ethernet", l.IP, l.MAC))
		case !l.IP.Is4() || !prefix.Masked().Contains(l.IP):
			errs = append(errs, fmt.Errorf("dhcp: lease for %v: address %v not in %v", l.MAC, l.IP, prefix))
		default:
			idx[strings.ToLower(l.MAC.String())] = l
		}
	}
	return idx, errors.Join(errs...)
}

// SetLeases replaces the leases in one step: a request is answered from
// either the old or the new set, never a mix. Invalid leases are logged and
// left out; the valid ones still apply.
func (s *Server) SetLeases(leases []Lease) {
	idx, err := index(s.cfg.Prefix, leases)
	if err != nil {
		s.log.Warn("dhcp: leases skipped", "err", err)
	}
	s.leases.Store(&idx)
}

// Close stops the server and releases its socket; it returns once no
// request is being answered any more. Calling it again is harmless.
func (s *Server) Close() error {
	s.stop()
	s.closeConn()
	<-s.done
	return s.closeErr
}

func (s *Server) closeConn() {
	s.closeOnce.Do(func() { s.closeErr = s.conn.Close() })
}

// listenIn creates the UDP socket on port 67 bound to ifname inside ns. A
// socket belongs to the namespace it was created in for its whole life, so
// only the creation needs the thread switched into ns.
func listenIn(ns netns.NsHandle, ifname string) (net.PacketConn, error) {
	var conn net.PacketConn
	err := network.InNamespace(ns, func() (err error) {
		conn, err = listen(ifname)
		return err
	})
	if err != nil && conn != nil {
		conn.Close() // made, but the thread could not come back
		conn = nil
	}
	if err != nil {
		return nil, fmt.Errorf("dhcp: %w", err)
	}
	return conn, nil
}

// listen opens 0.0.0.0:67 bound to ifname. Unlike the library's helper it
// sets neither SO_REUSEADDR nor SO_REUSEPORT: a second server on the same
// interface must fail rather than silently share the clients.
func listen(ifname string) (net.PacketConn, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.IPPROTO_UDP)
	if err != nil {
		return nil, fmt.Errorf("dhcp: socket: %w", err)
	}
	f := os.NewFile(uintptr(fd), "dhcp")
	defer f.Close() // FilePacketConn dups the descriptor
	// Replies to clients without an address go to 255.255.255.255.
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_BROADCAST, 1); err != nil {
		return nil, fmt.Errorf("dhcp: SO_BROADCAST: %w", err)
	}
	// Bound to the device, broadcasts both in and out stay on the gateway
	// interface, whatever else the namespace holds.
	if err := unix.BindToDevice(fd, ifname); err != nil {
		return nil, fmt.Errorf("dhcp: bind to %s: %w", ifname, err)
	}
	if err := unix.Bind(fd, &unix.SockaddrInet4{Port: dhcpv4.ServerPort}); err != nil {
		return nil, fmt.Errorf("dhcp: bind port %d on %s: %w", dhcpv4.ServerPort, ifname, err)
	}
	conn, err := net.FilePacketConn(f)
	if err != nil {
		return nil, fmt.Errorf("dhcp: %w", err)
	}
	return conn, nil
}

func (s *Server) loop() {
	defer close(s.done)
	buf := make([]byte, 4096)
	for {
		n, peer, err := s.conn.ReadFrom(buf)
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				s.log.Error("dhcp: read", "err", err)
			}
			s.closeConn()
			return
		}
		req, err := dhcpv4.FromBytes(buf[:n])
		if err != nil {
			s.log.Debug("dhcp: bad packet", "from", peer, "err", err)
			continue
		}
		// Answering is a map lookup and one send: doing it inline keeps a
		// flood from creating goroutines.
		resp, dst := s.answer(req)
		if resp == nil {
			continue
		}
		if _, err := s.conn.WriteTo(resp.ToBytes(), dst); err != nil {
			s.log.Warn("dhcp: send", "to", dst, "type", resp.MessageType(), "err", err)
		}
	}
}

// answer decides the reply to req and where to send it; nil means stay
// silent (unknown client, or a request meant for another server).
func (s *Server) answer(req *dhcpv4.DHCPv4) (*dhcpv4.DHCPv4, *net.UDPAddr) {
	if req.OpCode != dhcpv4.OpcodeBootRequest || len(req.ClientHWAddr) != 6 {
		return nil, nil
	}
	lease, ok := (*s.leases.Load())[strings.ToLower(req.ClientHWAddr.String())]
	if !ok {
		s.log.Debug("dhcp: unknown client", "mac", req.ClientHWAddr, "type", req.MessageType())
		return nil, nil
	}
	leaseIP := net.IP(lease.IP.AsSlice())
	switch req.MessageType() {
	case dhcpv4.MessageTypeDiscover:
		return s.reply(req, lease, dhcpv4.MessageTypeOffer)
	case dhcpv4.MessageTypeRequest:
		// RFC 2131 4.3.2: with a server identifier the client is selecting
		// an offer (possibly another server's); without one it is
		// rebooting (requested address) or renewing (ciaddr).
		if sid := req.ServerIdentifier(); sid != nil && !sid.Equal(net.IP(s.cfg.ServerIP.AsSlice())) {
			return nil, nil
		}
		want := req.RequestedIPAddress()
		if want == nil || want.IsUnspecified() {
			want = req.ClientIPAddr
		}
		if !want.Equal(leaseIP) {
			s.log.Info("dhcp: NAK", "mac", req.ClientHWAddr, "requested", want, "lease", lease.IP)
			return s.nak(req)
		}
		return s.reply(req, lease, dhcpv4.MessageTypeAck)
	case dhcpv4.MessageTypeInform:
		return s.reply(req, lease, dhcpv4.MessageTypeAck)
	case dhcpv4.MessageTypeDecline:
		// The guest saw our address in use: IPAM handed it out twice or
		// something on the segment squats it. Nothing to do but shout.
		s.log.Warn("dhcp: client declined its address", "mac", req.ClientHWAddr, "ip", lease.IP)
	}
	return nil, nil
}

func (s *Server) reply(req *dhcpv4.DHCPv4, lease Lease, typ dhcpv4.MessageType) (*dhcpv4.DHCPv4, *net.UDPAddr) {
	c := s.cfg
	mods := []dhcpv4.Modifier{
		dhcpv4.WithMessageType(typ),
		dhcpv4.WithOption(dhcpv4.OptServerIdentifier(net.IP(c.ServerIP.AsSlice()))),
		dhcpv4.WithNetmask(net.CIDRMask(c.Prefix.Bits(), 32)),
	}
	// INFORM comes from a configured client: options only, no lease.
	if req.MessageType() != dhcpv4.MessageTypeInform {
		mods = append(mods,
			dhcpv4.WithYourIP(net.IP(lease.IP.AsSlice())),
			dhcpv4.WithLeaseTime(uint32(c.LeaseTime/time.Second)))
	}
	if c.Router.IsValid() {
		mods = append(mods, dhcpv4.WithOption(dhcpv4.OptRouter(net.IP(c.Router.AsSlice()))))
	}
	if len(c.DNS) > 0 {
		dns := make([]net.IP, len(c.DNS))
		for i, d := range c.DNS {
			dns[i] = net.IP(d.AsSlice())
		}
		mods = append(mods, dhcpv4.WithOption(dhcpv4.OptDNS(dns...)))
	}
	if c.MTU > 0 {
		mods = append(mods, dhcpv4.WithGeneric(dhcpv4.OptionInterfaceMTU, []byte{byte(c.MTU >> 8), byte(c.MTU)}))
	}
	if lease.Hostname != "" {
		mods = append(mods, dhcpv4.WithOption(dhcpv4.OptHostName(lease.Hostname)))
	}
	resp, err := dhcpv4.NewReplyFromRequest(req, mods...)
	if err != nil {
		s.log.Error("dhcp: build reply", "err", err)
		return nil, nil
	}
	return resp, destination(req, false)
}

func (s *Server) nak(req *dhcpv4.DHCPv4) (*dhcpv4.DHCPv4, *net.UDPAddr) {
	resp, err := dhcpv4.NewReplyFromRequest(req,
		dhcpv4.WithMessageType(dhcpv4.MessageTypeNak),
		dhcpv4.WithOption(dhcpv4.OptServerIdentifier(net.IP(s.cfg.ServerIP.AsSlice()))))
	if err != nil {
		s.log.Error("dhcp: build NAK", "err", err)
		return nil, nil
	}
	return resp, destination(req, true)
}

// destination follows RFC 2131 4.1: through the relay if there is one,
// unicast to a client that already has its address (renewal, INFORM), else
// broadcast, since a client without an address cannot answer ARP. A NAK is
// always broadcast: the client's address is the thing in doubt.
func destination(req *dhcpv4.DHCPv4, nak bool) *net.UDPAddr {
	if gw := req.GatewayIPAddr; gw != nil && !gw.IsUnspecified() {
		return &net.UDPAddr{IP: gw, Port: dhcpv4.ServerPort}
	}
	if ci := req.ClientIPAddr; !nak && ci != nil && !ci.IsUnspecified() {
		return &net.UDPAddr{IP: ci, Port: dhcpv4.ClientPort}
	}
	return &net.UDPAddr{IP: net.IPv4bcast, Port: dhcpv4.ClientPort}
}
