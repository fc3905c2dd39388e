package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/sirocco-cloud/sirocco/internal/agent"
)

// runAgent is `siroccod agent`: join with --join/--token the first time,
// then (and on every later start) heartbeat until stopped.
func runAgent(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("agent", flag.ContinueOnError)
	join := fs.String("join", "", "control plane URL to join (first start only)")
	token := fs.String("token", "", "join token from 'sirocco host add' (first start only)")
	stateDir := fs.String("state-dir", filepath.Join(defaultDataDir(), "agent"), "where the agent keeps its identity and VM files")
	accel := fs.String("accel", "", "force the accelerator: kvm or tcg (default: kvm only where the CPU shows vmx/svm and /dev/kvm works)")
	level := fs.String("log-level", "info", "debug, info, warn or error")
	vmDir := fs.String("vm-dir", "", "where VM disks and the image cache live (default /var/lib/sirocco/hypervisor for root, else the state directory)")
	qemuUser := fs.String("qemu-user", defaultQEMUUser(), "the unprivileged user QEMU runs as (empty: the agent's own user)")
	underlay := fs.String("underlay", "", "this host's IPv4 address for VXLAN between hosts; turns tenant networking on (needs root)")
	uplink := fs.String("uplink", "", "interface on the provider's external network, for public addresses and egress (with --underlay)")
	dnsUpstream := fs.String("dns-upstream", "", "resolvers (IPv4, comma-separated) the networks' routers forward DNS to (default: the non-loopback nameservers of /etc/resolv.conf)")
	routerPrefix := fs.String("router-prefix", "", "name prefix of the networks' router namespaces (default srtr-); only for several hosts in one kernel")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if (*join == "") != (*token == "") {
		fmt.Fprintln(os.Stderr, "siroccod agent: --join and --token go together")
		return 2
	}
	if *accel != "" && *accel != "kvm" && *accel != "tcg" {
		fmt.Fprintf(os.Stderr, "siroccod agent: --accel %q: want kvm or tcg\n", *accel)
		return 2
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*level)); err != nil {
		fmt.Fprintf(os.Stderr, "siroccod agent: --log-level %q: %v\n", *level, err)
		return 2
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl}))
	dir := *vmDir
	if dir == "" {
		dir = defaultVMDir(*stateDir)
	}
	hv := hypervisor{dir: dir, qemuUser: *qemuUser, accel: *accel, underlay: *underlay, uplink: *uplink, routerPrefix: *routerPrefix, dnsUpstreams: *dnsUpstream}
	opts, err := hv.agentOptions(*stateDir, log)
	if err != nil {
		fmt.Fprintf(os.Stderr, "siroccod agent: %v\n", err)
		return 1
	}
	var a *agent.Agent
	if *join != "" {
		a, err = agent.Join(ctx, *join, *token, opts)
		if err == nil {
			log.Info("joined the control plane", "server", *join, "host", a.HostID())
		}
	} else {
		a, err = agent.Load(opts)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "siroccod agent: %v\n", err)
		return 1
	}
	log.Info("agent running", "host", a.HostID(), "state_dir", *stateDir)
	if err := a.Run(ctx); err != nil {
		fmt.Fprintf(os.Stderr, "siroccod agent: %v\n", err)
		return 1
	}
	return 0
}
