// Package agent is the Sirocco hypervisor agent: it joins the control plane
// with a one-time token (pinning the control plane's certificate from the
// fingerprint in the token), keeps its credential in a state directory, and
// reports its host's capacity and acceleration in heartbeats. With a compute
// driver it also reconciles the host's VMs: it long-polls the control plane
// for their desired state, applies it through the driver and reports what it
// observes (sync.go, reconcile.go), fetching images into a verified cache
// (cache.go) and serving serial consoles over WebSocket (console.go).
package agent

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/api/agentapi"
	"github.com/sirocco-cloud/sirocco/internal/certs"
	"github.com/sirocco-cloud/sirocco/internal/compute"
	"github.com/sirocco-cloud/sirocco/internal/network"
)

// Version is reported to the control plane.
const Version = "0.1.0"

// stateFile holds what the agent needs to come back after a restart.
const stateFile = "agent.json"

// State is the agent's identity, kept in its state directory (0600).
type State struct {
	Server      string `json:"server"`
	Fingerprint string `json:"fingerprint"`
	HostID      string `json:"host_id"`
	Credential  string `json:"credential"`
}

// Options configure an Agent.
type Options struct {
	// StateDir keeps the agent's identity and, later, its VMs' files.
	StateDir string
	// Accel overrides acceleration detection ("kvm" or "tcg"); empty detects.
	Accel string
	// Capacity, when set, is reported instead of this machine's (simulated
	// hosts only).
	Capacity *api.Capacity
	// Driver runs the host's VMs. Nil only heartbeats (simulated fleets).
	Driver compute.Driver
	// ImageDir is the host's image cache. Default StateDir/images. QEMU
	// must be able to read it when it runs as another user.
	ImageDir string
	// Network is the host's tenant dataplane; nil runs VMs without NICs.
	Network *network.Host
	// TapOwner is the UID QEMU runs as, which must be able to open the
	// VMs' taps.
	TapOwner int
	// DNSUpstreams are the resolvers tenant networks' routers forward DNS
	// to (see Networking.DNSUpstreams); none: no forwarder.
	DNSUpstreams []netip.AddrPort
	// UnderlayIP is the host's VXLAN address, reported in heartbeats so
	// that the other hosts' agents peer with it.
	UnderlayIP string
	Log        *slog.Logger
}

// Agent is one host's agent.
type Agent struct {
	opts   Options
	state  State
	client *http.Client
	every  time.Duration
}

// Join spends a join token and saves the identity the control plane gives
// back. It refuses a server whose certificate is not the one in the token.
func Join(ctx context.Context, server, token string, opts Options) (*Agent, error) {
	jt, err := agentapi.ParseJoinToken(token)
	if err != nil {
		return nil, err
	}
	a := &Agent{opts: opts, state: State{Server: strings.TrimRight(server, "/"), Fingerprint: jt.Fingerprint}}
	a.client = pinnedClient(jt.Fingerprint)
	req := agentapi.JoinRequest{Protocol: agentapi.ProtocolVersion, Secret: jt.Secret, Capacity: a.capacity(),
		Acceleration: compute.HostAccel(opts.Accel), AgentVersion: Version}
	req.Hostname, _ = os.Hostname()
	var resp agentapi.JoinResponse
	if err := a.call(ctx, agentapi.PathJoin, "", req, &resp); err != nil {
		return nil, fmt.Errorf("join %s: %w", server, err)
	}
	a.state.HostID, a.state.Credential = resp.HostID, resp.Credential
	a.every = time.Duration(resp.HeartbeatSeconds) * time.Second
	if err := a.save(); err != nil {
		return nil, err
	}
	return a, nil
}

// Load brings back an agent that joined before.
func Load(opts Options) (*Agent, error) {
	b, err := os.ReadFile(filepath.Join(opts.StateDir, stateFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: no %s in %s (join first with --join and --token)", ErrNotJoined, stateFile, opts.StateDir)
	}
	if err != nil {
		return nil, fmt.Errorf("agent state: %w", err)
	}
	a := &Agent{opts: opts}
	if err := json.Unmarshal(b, &a.state); err != nil {
		return nil, fmt.Errorf("agent state %s: %w", filepath.Join(opts.StateDir, stateFile), err)
	}
	a.client = pinnedClient(a.state.Fingerprint)
	return a, nil
}

// HostID is the host this agent runs for.
func (a *Agent) HostID() string { return a.state.HostID }

func (a *Agent) save() error {
	if err := os.MkdirAll(a.opts.StateDir, 0o700); err != nil {
		return err
	}
	b, _ := json.MarshalIndent(a.state, "", "  ")
	tmp := filepath.Join(a.opts.StateDir, stateFile+".tmp")
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(a.opts.StateDir, stateFile))
}

// Heartbeat reports once and returns the control plane's answer.
func (a *Agent) Heartbeat(ctx context.Context) (*agentapi.HeartbeatResponse, error) {
	hb := agentapi.Heartbeat{Protocol: agentapi.ProtocolVersion, Capacity: a.capacity(),
		Acceleration: compute.HostAccel(a.opts.Accel), AgentVersion: Version, UnderlayIP: a.opts.UnderlayIP}
	var resp agentapi.HeartbeatResponse
	if err := a.call(ctx, agentapi.PathHeartbeat, a.state.Credential, hb, &resp); err != nil {
		return nil, err
	}
	if resp.HeartbeatSeconds > 0 {
		a.every = time.Duration(resp.HeartbeatSeconds) * time.Second
	}
	return &resp, nil
}

// Run heartbeats and, with a Driver, reconciles the host's VMs until ctx
// ends. A control plane that cannot be reached is retried: the host's VMs
// never depend on it.
func (a *Agent) Run(ctx context.Context) error {
	if a.opts.Log == nil {
		a.opts.Log = slog.New(slog.DiscardHandler)
	}
	if a.opts.Driver == nil {
		return a.heartbeats(ctx)
	}
	s, err := a.newSyncer()
	if err != nil {
		return err
	}
	done := make(chan struct{})
	go func() { defer close(done); a.heartbeats(ctx) }()
	s.run(ctx)
	<-done
	return nil
}

// heartbeats reports at the pace the control plane asks for until ctx ends.
func (a *Agent) heartbeats(ctx context.Context) error {
	if a.every == 0 {
		a.every = 10 * time.Second
	}
	for {
		resp, err := a.Heartbeat(ctx)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			a.opts.Log.Warn("heartbeat failed", "err", err)
		default:
			a.opts.Log.Debug("heartbeat", "host", resp.HostID, "state", resp.State)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(a.every):
		}
	}
}

func (a *Agent) call(ctx context.Context, path, credential string, in, out any) error {
	return a.callWith(ctx, a.client, 1<<20, path, credential, in, out)
}

// callWith POSTs in as JSON to path with client and decodes an answer of up
// to limit bytes into out.
func (a *Agent) callWith(ctx context.Context, client *http.Client, limit int64, path, credential string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.state.Server+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "sirocco-agent/"+Version)
	if credential != "" {
		req.Header.Set("Authorization", "Bearer "+credential)
	}
	res, err := client.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, limit))
	if err != nil {
		return err
	}
	if res.StatusCode/100 != 2 {
		var e api.Error
		if json.Unmarshal(b, &e) == nil && e.Code != "" {
			return &e
		}
		return fmt.Errorf("%s: HTTP %d", path, res.StatusCode)
	}
	return json.Unmarshal(b, out)
}

func pinnedClient(fingerprint string) *http.Client {
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: certs.PinnedTLSConfig(fingerprint)}}
}

// capacity measures what this host offers: its CPUs, memory and the space in
// the state directory's filesystem.
func (a *Agent) capacity() api.Capacity {
	if a.opts.Capacity != nil {
		return *a.opts.Capacity
	}
	c := api.Capacity{VCPU: runtime.NumCPU(), MemoryMiB: memTotalMiB()}
	var st syscall.Statfs_t
	dir := a.opts.StateDir
	if _, err := os.Stat(dir); err != nil {
		dir = filepath.Dir(dir)
	}
	if syscall.Statfs(dir, &st) == nil {
		c.DiskGiB = int64(st.Blocks) * st.Bsize >> 30
	}
	return c
}

func memTotalMiB() int64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:"); ok {
			kb, err := strconv.ParseInt(strings.Fields(rest)[0], 10, 64)
			if err == nil {
				return kb / 1024
			}
		}
	}
	return 0
}

// ErrNotJoined is returned by Load when the agent has no identity yet.
var ErrNotJoined = errors.New("agent has not joined a control plane")
