package network

import (
	"context"
	"os/exec"
	"regexp"
	"strconv"
	"testing"
	"time"
)

// BenchmarkThroughput compares VM-to-VM TCP throughput over the bare
// bridge/VXLAN path (two hosts, one network) with traffic through the
// router (VM to the internet namespace via NAT), using iperf3 for 3 s per
// iteration; run with -benchtime=1x.
func BenchmarkThroughput(b *testing.B) {
	if _, err := exec.LookPath("iperf3"); err != nil {
		b.Skip("iperf3 not installed")
	}
	l := newLab(b)
	l.network(b, 100)
	l.vm(b, "vmA", l.a, l.hostA, 100, "10.10.0.2", mac(0xa))
	l.vm(b, "vmB", l.b, l.hostB, 100, "10.10.0.3", mac(0xb))
	l.vm(b, "vmE", l.a, l.hostA, 100, "10.10.0.4", mac(0xe))
	for _, c := range []struct {
		name, client, server, to string
	}{
		{"bridge-same-host", "vmA", "vmE", "10.10.0.4"},
		{"vxlan-two-hosts", "vmA", "vmB", "10.10.0.3"},
		{"router-nat", "vmA", "inet", "203.0.113.1"},
	} {
		b.Run(c.name, func(b *testing.B) {
			server := l.prefix + "-" + c.server
			srv := exec.Command("ip", "netns", "exec", server, "iperf3", "-s")
			if err := srv.Start(); err != nil {
				b.Fatal(err)
			}
			defer func() { _ = srv.Process.Kill(); _ = srv.Wait() }()
			time.Sleep(300 * time.Millisecond)
			var gbits float64
			for i := 0; i < b.N; i++ {
				out, err := exec.CommandContext(context.Background(), "ip", "netns", "exec", l.prefix+"-"+c.client,
					"iperf3", "-c", c.to, "-t", "3", "-f", "g").CombinedOutput()
				if err != nil {
					b.Fatalf("iperf3: %v\n%s", err, out)
				}
				m := regexp.MustCompile(`([0-9.]+) Gbits/sec\s+\S*\s*receiver`).FindSubmatch(out)
				if m == nil {
					b.Fatalf("no receiver rate in:\n%s", out)
				}
				gbits, _ = strconv.ParseFloat(string(m[1]), 64)
			}
			b.ReportMetric(gbits, "Gbit/s")
		})
	}
}
