package dnsfwd

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/vishvananda/netns"

	"github.com/sirocco-cloud/sirocco/internal/network"
)

func ipCmd(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %v: %v\n%s", args, err, out)
	}
}

// Queries from a client namespace to the router's gateway are answered by
// the upstream resolver, each client getting its own answer even when two
// choose the same query ID.
func TestForwarderRelaysQueries(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("needs root for network namespaces (run make test as root)")
	}
	router, client := fmt.Sprintf("sdns%d-r", os.Getpid()), fmt.Sprintf("sdns%d-c", os.Getpid())
	for _, ns := range []string{router, client} {
		ipCmd(t, "netns", "add", ns)
		t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	}
	ipCmd(t, "-n", router, "link", "set", "lo", "up")
	ipCmd(t, "-n", router, "link", "add", "r0", "type", "veth", "peer", "name", "c0", "netns", client)
	ipCmd(t, "-n", router, "addr", "add", "10.0.0.1/24", "dev", "r0")
	ipCmd(t, "-n", router, "link", "set", "r0", "up")
	ipCmd(t, "-n", client, "addr", "add", "10.0.0.2/24", "dev", "c0")
	ipCmd(t, "-n", client, "link", "set", "c0", "up")
	rns, err := netns.GetFromName(router)
	if err != nil {
		t.Fatal(err)
	}
	defer rns.Close()
	cns, err := netns.GetFromName(client)
	if err != nil {
		t.Fatal(err)
	}
	defer cns.Close()

	// The upstream resolver: answers with the query, marked as a response.
	var upstream *net.UDPConn
	if err := network.InNamespace(rns, func() (err error) {
		upstream, err = net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5300})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer upstream.Close()
	go func() {
		buf := make([]byte, 512)
		for {
			n, from, err := upstream.ReadFromUDP(buf)
			if err != nil {
				return
			}
			buf[2] |= 0x80
			upstream.WriteToUDP(buf[:n], from)
		}
	}()
	f, err := Start(context.Background(), Config{NetNS: rns, Listen: netip.MustParseAddrPort("10.0.0.1:53"),
		Upstreams: []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:5300")}})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()

	// Two clients ask at once with the same query ID: each gets its own
	// answer back, with its own ID.
	dial := func() *net.UDPConn {
		t.Helper()
		var conn *net.UDPConn
		if err := network.InNamespace(cns, func() (err error) {
			conn, err = net.DialUDP("udp", nil, &net.UDPAddr{IP: net.IPv4(10, 0, 0, 1), Port: 53})
			return err
		}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		return conn
	}
	questions := []string{"first.example", "second.example"}
	conns := []*net.UDPConn{dial(), dial()}
	for i, q := range questions {
		if _, err := conns[i].Write(append([]byte{0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0}, q...)); err != nil {
			t.Fatal(err)
		}
	}
	for i, q := range questions {
		conns[i].SetReadDeadline(time.Now().Add(3 * time.Second))
		buf := make([]byte, 512)
		n, err := conns[i].Read(buf)
		if err != nil {
			t.Fatalf("no answer to %q: %v", q, err)
		}
		if got := buf[:n]; got[0] != 0x12 || got[1] != 0x34 || got[2]&0x80 == 0 || !bytes.HasSuffix(got, []byte(q)) {
			t.Fatalf("answer to %q: % x", q, got)
		}
	}
	// Closed, it answers no more.
	f.Close()
	var conn *net.UDPConn
	if err := network.InNamespace(cns, func() (err error) {
		conn, err = net.DialUDP("udp", nil, &net.UDPAddr{IP: net.IPv4(10, 0, 0, 1), Port: 53})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.Write(append([]byte{0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0}, "x"...))
	conn.SetReadDeadline(time.Now().Add(time.Second))
	if _, err := conn.Read(make([]byte, 512)); err == nil {
		t.Fatal("a closed forwarder answered")
	}
}
