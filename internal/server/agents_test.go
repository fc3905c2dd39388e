package server

import (
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/api/agentapi"
	"github.com/sirocco-cloud/sirocco/internal/store"
)

type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestAgentJoinAndHeartbeats(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			clk := &testClock{t: time.Now()}
			e := newEnvFor(t, engine, Config{Now: clk.Now, HeartbeatInterval: 10 * time.Second})
			admin := e.providerAdmin()
			_, tenant := e.tenant("acme", store.Residency{})
			e.do("POST", "/api/v1/regions", admin, api.RegionCreate{Name: "au-syd", Jurisdiction: "AU"}).must(t, http.StatusCreated)
			e.do("POST", "/api/v1/zones", admin, api.ZoneCreate{Name: "au-syd-1a", Region: "au-syd"}).must(t, http.StatusCreated)
			e.do("POST", "/api/v1/hosts", admin, api.HostCreate{Name: "hv1", Zone: "au-syd-1a"}).must(t, http.StatusCreated)

			e.do("POST", "/api/v1/hosts/hv1/join-tokens", tenant, nil).must(t, http.StatusForbidden)
			e.do("POST", "/api/v1/hosts/nope/join-tokens", admin, nil).must(t, http.StatusNotFound)
			var jt api.HostJoinToken
			e.do("POST", "/api/v1/hosts/hv1/join-tokens", admin, nil).must(t, http.StatusCreated).decode(t, &jt)
			tok, err := agentapi.ParseJoinToken(jt.Token)
			if err != nil || tok.Fingerprint != testFingerprint {
				t.Fatalf("join token %q: %+v %v", jt.Token, tok, err)
			}

			join := agentapi.JoinRequest{Protocol: agentapi.ProtocolVersion, Secret: tok.Secret, Hostname: "hv1.local",
				Capacity: api.Capacity{VCPU: 32, MemoryMiB: 131072, DiskGiB: 2000}, Acceleration: "kvm", AgentVersion: "0.1.0"}
			bad := join
			bad.Protocol = 99
			if p := e.do("POST", agentapi.PathJoin, "", bad).must(t, http.StatusBadRequest).problem(t); p.Code != agentapi.CodeUnsupportedProtocol {
				t.Fatalf("old protocol: code %q", p.Code)
			}
			var joined agentapi.JoinResponse
			e.do("POST", agentapi.PathJoin, "", join).must(t, http.StatusOK).decode(t, &joined)
			if joined.HostID != "hv1" || joined.Credential == "" || joined.HeartbeatSeconds != 10 {
				t.Fatalf("joined %+v", joined)
			}
			if p := e.do("POST", agentapi.PathJoin, "", join).must(t, http.StatusUnauthorized).problem(t); p.Code != api.CodeInvalidToken {
				t.Fatalf("second use of a join token: code %q", p.Code)
			}

			var h api.Host
			e.do("GET", "/api/v1/hosts/hv1", admin, nil).must(t, http.StatusOK).decode(t, &h)
			if h.State != api.HostPending {
				t.Fatalf("before the first heartbeat the host is %s", h.State)
			}
			hb := agentapi.Heartbeat{Protocol: agentapi.ProtocolVersion, Capacity: join.Capacity, Acceleration: "kvm", AgentVersion: "0.1.0"}
			beat := func(want string) {
				t.Helper()
				var r agentapi.HeartbeatResponse
				e.do("POST", agentapi.PathHeartbeat, joined.Credential, hb).must(t, http.StatusOK).decode(t, &r)
				if r.State != want || r.HostID != "hv1" {
					t.Fatalf("heartbeat answer %+v, want state %s", r, want)
				}
			}
			beat(api.HostReady)
			h = api.Host{}
			e.do("GET", "/api/v1/hosts/hv1", admin, nil).must(t, http.StatusOK).decode(t, &h)
			if h.State != api.HostReady || h.Capacity.VCPU != 32 || h.Acceleration != "kvm" || h.LastHeartbeat == nil {
				t.Fatalf("host after heartbeat %+v", h)
			}
			e.do("POST", agentapi.PathHeartbeat, "sag_forged", hb).must(t, http.StatusUnauthorized)
			e.do("POST", agentapi.PathHeartbeat, tenant, hb).must(t, http.StatusUnauthorized)

			// Silent for less than three beats: still ready. Longer: down,
			// and audited; the next heartbeat brings it back.
			clk.Advance(25 * time.Second)
			if err := e.srv.CheckHeartbeats(t.Context()); err != nil {
				t.Fatal(err)
			}
			e.do("GET", "/api/v1/hosts/hv1", admin, nil).must(t, http.StatusOK).decode(t, &h)
			if h.State != api.HostReady {
				t.Fatalf("host went %s after 25 s of silence", h.State)
			}
			clk.Advance(10 * time.Second)
			if err := e.srv.CheckHeartbeats(t.Context()); err != nil {
				t.Fatal(err)
			}
			e.do("GET", "/api/v1/hosts/hv1", admin, nil).must(t, http.StatusOK).decode(t, &h)
			if h.State != api.HostDown {
				t.Fatalf("host is %s after 35 s of silence, want down", h.State)
			}
			var events api.List[api.AuditEvent]
			e.do("GET", "/api/v1/audit-events?resource=hv1&action=host.state", admin, nil).must(t, http.StatusOK).decode(t, &events)
			if len(events.Items) != 2 || events.Items[1].Detail != "missed heartbeats: down" || events.Items[1].Actor.Type != "system" {
				t.Fatalf("audit of host states: %+v", events.Items)
			}
			hb.Capacity.VCPU = 48
			// The agent's clock is real: its heartbeat is recent again.
			clk.Advance(-35 * time.Second)
			beat(api.HostReady)

			// A draining host stays draining while its agent reports, and
			// after it went down and came back.
			draining := api.HostDraining
			e.do("PATCH", "/api/v1/hosts/hv1", admin, api.HostUpdate{State: &draining}).must(t, http.StatusOK)
			beat(api.HostDraining)
			clk.Advance(time.Minute)
			if err := e.srv.CheckHeartbeats(t.Context()); err != nil {
				t.Fatal(err)
			}
			e.do("GET", "/api/v1/hosts/hv1", admin, nil).must(t, http.StatusOK).decode(t, &h)
			if h.State != api.HostDown {
				t.Fatalf("silent draining host is %s, want down", h.State)
			}
			clk.Advance(-time.Minute)
			beat(api.HostDraining)
			ready := api.HostReady
			e.do("PATCH", "/api/v1/hosts/hv1", admin, api.HostUpdate{State: &ready}).must(t, http.StatusOK)
			beat(api.HostReady)
		})
	}
}
