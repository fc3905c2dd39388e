package agent_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/api/agentapi"
	"github.com/sirocco-cloud/sirocco/internal/agent"
	"github.com/sirocco-cloud/sirocco/internal/certs"
	"github.com/sirocco-cloud/sirocco/internal/compute/simulated"
)

// controlPlane stands in for the control plane's agent endpoints (sync,
// images, console) over TLS, so that the agent's loop runs against the
// protocol as specified in agentapi: it holds a waiting sync until its
// desired state changes, as the real one does.
type controlPlane struct {
	*httptest.Server
	reports chan agentapi.SyncRequest
	// imageGate, until closed, holds image downloads.
	imageGate chan struct{}
	image     []byte
	// consoleClosed receives the close status and reason of the console
	// sessions the agent connected.
	consoleClosed chan websocket.CloseError

	mu        sync.Mutex
	desired   agentapi.SyncResponse
	bumped    chan struct{} // closed when desired changes
	cancelled int           // held syncs the agent gave up on
	down      atomic.Bool   // answer 503 to everything
}

func newControlPlane(t *testing.T) *controlPlane {
	c := &controlPlane{reports: make(chan agentapi.SyncRequest, 100), imageGate: make(chan struct{}),
		image: []byte("disk bytes"), consoleClosed: make(chan websocket.CloseError, 1), bumped: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+agentapi.PathSync, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+testCredential {
			http.Error(w, "unauthorised", http.StatusUnauthorized)
			return
		}
		var req agentapi.SyncRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		c.reports <- req
		c.mu.Lock()
		resp, bumped := c.desired, c.bumped
		c.mu.Unlock()
		if req.Wait && req.Generation >= resp.Generation {
			select {
			case <-bumped:
			case <-time.After(25 * time.Second):
			case <-r.Context().Done():
				c.mu.Lock()
				c.cancelled++
				c.mu.Unlock()
				return
			}
			c.mu.Lock()
			resp = c.desired
			c.mu.Unlock()
		}
		json.NewEncoder(w).Encode(resp)
	})
	mux.HandleFunc("GET "+agentapi.PathImageFile+"/{image}/{file}", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-c.imageGate:
		case <-r.Context().Done():
			return
		}
		w.Write(c.image)
	})
	mux.HandleFunc("GET "+agentapi.PathConsole+"/{session}", func(w http.ResponseWriter, r *http.Request) {
		ws, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer ws.CloseNow()
		_, _, err = ws.Read(r.Context())
		var ce websocket.CloseError
		if errors.As(err, &ce) {
			c.consoleClosed <- ce
		}
	})
	c.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c.down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(c.Close)
	return c
}

func (c *controlPlane) set(resp agentapi.SyncResponse) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.desired = resp
	close(c.bumped)
	c.bumped = make(chan struct{})
}

func (c *controlPlane) imageFile() agentapi.ImageFile {
	sum := sha256.Sum256(c.image)
	return agentapi.ImageFile{Name: api.ImageFileDisk, Size: int64(len(c.image)), SHA256: hex.EncodeToString(sum[:])}
}

// next returns the next report that satisfies ok, failing after timeout.
func (c *controlPlane) next(t *testing.T, timeout time.Duration, ok func(agentapi.SyncRequest) bool) agentapi.SyncRequest {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case r := <-c.reports:
			if ok(r) {
				return r
			}
		case <-deadline:
			t.Fatalf("no matching report within %v", timeout)
		}
	}
}

// joinedAgent is an agent that joined cp before (its state directory holds
// the identity Join would have written) running drv.
func joinedAgent(t *testing.T, cp *controlPlane, opts agent.Options) *agent.Agent {
	t.Helper()
	st := agent.State{Server: cp.URL, Fingerprint: certs.Fingerprint(cp.Certificate()), HostID: "hv1", Credential: testCredential}
	b, _ := json.Marshal(st)
	if err := os.WriteFile(filepath.Join(opts.StateDir, "agent.json"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	a, err := agent.Load(opts)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func vmState(r agentapi.SyncRequest, id string) string {
	for _, v := range r.VMs {
		if v.ID == id {
			return v.State
		}
	}
	return ""
}

func TestSyncReportsAFinishedWorkerAtOnce(t *testing.T) {
	cp := newControlPlane(t)
	cp.set(agentapi.SyncResponse{Generation: 1, VMs: []agentapi.DesiredVM{{ID: "vm-1", Generation: 1, Power: api.PowerRunning,
		VCPU: 1, MemoryMiB: 512, Image: agentapi.Image{ID: "img-1", Kind: api.ImageKindDisk, Files: []agentapi.ImageFile{cp.imageFile()}}}}})
	a := joinedAgent(t, cp, agent.Options{StateDir: t.TempDir(), Accel: "tcg", Capacity: &api.Capacity{VCPU: 4, MemoryMiB: 4096},
		Driver: simulated.NewDriver(), Log: quietLog()})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- a.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()

	first := cp.next(t, 10*time.Second, func(agentapi.SyncRequest) bool { return true })
	if first.Wait || len(first.VMs) != 0 || first.Protocol != agentapi.ProtocolVersion {
		t.Fatalf("first report %+v: want an immediate report of no VMs", first)
	}
	// While the image downloads the VM is reported as being created, and
	// then the agent waits for news.
	cp.next(t, 10*time.Second, func(r agentapi.SyncRequest) bool { return vmState(r, "vm-1") == api.VMCreating })
	cp.next(t, 10*time.Second, func(r agentapi.SyncRequest) bool { return r.Wait && r.Generation == 1 })

	// The VM comes up while the control plane holds the agent's sync: the
	// agent gives up the long poll and reports at once.
	time.Sleep(50 * time.Millisecond) // let the held sync be held
	start := time.Now()
	close(cp.imageGate)
	r := cp.next(t, 5*time.Second, func(r agentapi.SyncRequest) bool { return vmState(r, "vm-1") == api.VMRunning })
	took := time.Since(start)
	t.Logf("running reported %v after the image arrived", took)
	if took > 2*time.Second {
		t.Fatalf("running reported after %v: the long poll was not cut short", took)
	}
	if r.Wait || r.VMs[0].Generation != 1 || len(r.Images) != 1 || r.Images[0] != "img-1" {
		t.Fatalf("report %+v", r)
	}
	cp.mu.Lock()
	cancelled := cp.cancelled
	cp.mu.Unlock()
	if cancelled == 0 {
		t.Fatal("the held sync was not cancelled")
	}

	// A console asked of a host whose driver has none: the session is
	// closed with a reason the user can read.
	cp.set(agentapi.SyncResponse{Generation: 2, VMs: cp.desired.VMs, Consoles: []agentapi.ConsoleReq{{Session: "sess-1", VM: "vm-1"}}})
	select {
	case ce := <-cp.consoleClosed:
		if ce.Code != websocket.StatusPolicyViolation || ce.Reason == "" {
			t.Fatalf("console closed with %v", ce)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the agent did not connect the console session")
	}
}

func TestSyncBacksOffWithoutTouchingVMs(t *testing.T) {
	cp := newControlPlane(t)
	drv := simulated.NewDriver()
	opts := agent.Options{StateDir: t.TempDir(), Accel: "tcg", Capacity: &api.Capacity{VCPU: 4, MemoryMiB: 4096}, Driver: drv, Log: quietLog()}
	a := joinedAgent(t, cp, opts)
	close(cp.imageGate)
	cp.set(agentapi.SyncResponse{Generation: 1, VMs: []agentapi.DesiredVM{{ID: "vm-1", Generation: 1, Power: api.PowerRunning,
		VCPU: 1, MemoryMiB: 512, Image: agentapi.Image{ID: "img-1", Kind: api.ImageKindDisk, Files: []agentapi.ImageFile{cp.imageFile()}}}}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- a.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()
	cp.next(t, 10*time.Second, func(r agentapi.SyncRequest) bool { return vmState(r, "vm-1") == api.VMRunning })

	// The control plane goes away: the VM keeps running, and the agent
	// reports again once it is back.
	cp.down.Store(true)
	cp.CloseClientConnections()
	time.Sleep(2 * time.Second)
	if st, err := drv.State(context.Background(), "vm-1"); err != nil || st != "running" {
		t.Fatalf("vm while the control plane is down: %s %v", st, err)
	}
	for len(cp.reports) > 0 {
		<-cp.reports
	}
	cp.down.Store(false)
	cp.next(t, 10*time.Second, func(r agentapi.SyncRequest) bool { return vmState(r, "vm-1") == api.VMRunning })
}
