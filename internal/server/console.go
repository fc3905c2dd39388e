package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/danielgtaylor/huma/v2"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/api/agentapi"
	"github.com/sirocco-cloud/sirocco/internal/store"
)

// consoleConnectTimeout bounds how long a client waits for the VM's agent
// to connect its end of the console.
const consoleConnectTimeout = 20 * time.Second

// consoleReadLimit caps one WebSocket message of a console.
const consoleReadLimit = 1 << 20

// consoles are the serial console sessions clients asked for on this
// replica. An agent dials out, never in, so a session works backwards: the
// client's request waits here, the agent hears of it in its sync answer and
// connects to PathConsole/<session>, and the two WebSockets are spliced.
type consoles struct {
	mu   sync.Mutex
	byID map[string]*consoleSession
}

type consoleSession struct {
	id, host, vm string
	agent        chan *websocket.Conn // the agent's end, handed over once
	done         chan struct{}        // closed when the client's end is finished
	claimed      bool
}

func newConsoles() *consoles { return &consoles{byID: map[string]*consoleSession{}} }

func (c *consoles) add(host, vm string) *consoleSession {
	b := make([]byte, 16)
	rand.Read(b)
	s := &consoleSession{id: hex.EncodeToString(b), host: host, vm: vm, agent: make(chan *websocket.Conn, 1), done: make(chan struct{})}
	c.mu.Lock()
	c.byID[s.id] = s
	c.mu.Unlock()
	return s
}

func (c *consoles) remove(s *consoleSession) {
	c.mu.Lock()
	delete(c.byID, s.id)
	c.mu.Unlock()
}

// pending reports whether host has a session its agent has not claimed.
func (c *consoles) pending(host string) bool {
	return len(c.forHost(host)) > 0
}

// forHost lists the unclaimed sessions of host.
func (c *consoles) forHost(host string) []agentapi.ConsoleReq {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []agentapi.ConsoleReq
	for _, s := range c.byID {
		if s.host == host && !s.claimed {
			out = append(out, agentapi.ConsoleReq{Session: s.id, VM: s.vm})
		}
	}
	return out
}

// claim gives the session to host's agent, once.
func (c *consoles) claim(id, host string) *consoleSession {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.byID[id]
	if !ok || s.host != host || s.claimed {
		return nil
	}
	s.claimed = true
	return s
}

func (s *Server) consoleRoutes() {
	path := "/api/v1/orgs/{org}/vms/{vm}/console"
	s.mux.HandleFunc("GET "+path, s.vmConsole)
	s.mux.HandleFunc("GET "+agentapi.PathConsole+"/{session}", s.agentConsole)
	s.api.OpenAPI().AddOperation(&huma.Operation{
		OperationID: "connect-vm-console", Method: http.MethodGet, Path: path, Tags: []string{"VMs"},
		Summary: "Connect to a VM's serial console (WebSocket)",
		Description: "Upgrade to a WebSocket. Binary messages from the server carry the console's output, starting with its recent " +
			"history; binary messages from the client are typed into the console. Needs the org-member role or higher. " +
			"504 if the VM's host does not connect within 20 s.",
		Parameters: []*huma.Param{
			{Name: "org", In: "path", Required: true, Description: "Organisation ID or name", Schema: &huma.Schema{Type: "string"}},
			{Name: "vm", In: "path", Required: true, Description: "VM ID or name", Schema: &huma.Schema{Type: "string"}},
		},
		Responses: map[string]*huma.Response{
			"101":     {Description: "Switching to the WebSocket protocol"},
			"default": {Description: "Error", Content: map[string]*huma.MediaType{"application/problem+json": {Schema: &huma.Schema{Ref: "#/components/schemas/ErrorModel"}}}},
		},
	})
}

// vmConsole connects a client to a VM's serial console through its agent.
func (s *Server) vmConsole(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	p, err := principal(ctx)
	if err != nil {
		writeProblem(w, r, s.apiError(ctx, err).(*api.Error))
		return
	}
	var v *store.VM
	err = s.store.View(ctx, func(tx *store.Tx) error {
		o, err := s.orgFor(ctx, tx, p, r.PathValue("org"), canWrite)
		if err != nil {
			return err
		}
		v, err = tx.GetVM(ctx, o.ID, r.PathValue("vm"))
		return notFoundOr(err, "VM", r.PathValue("vm"))
	})
	if err == nil && v.HostState == api.HostDown {
		err = api.Errorf(http.StatusServiceUnavailable, api.CodeUnavailable, "host %s of VM %q is down", v.HostID, v.Name)
	}
	if err == nil && v.Power == store.PowerDeleted {
		err = api.Errorf(http.StatusConflict, api.CodeConflict, "VM %q is being deleted", v.Name)
	}
	if err != nil {
		writeProblem(w, r, s.apiError(ctx, err).(*api.Error))
		return
	}
	if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		writeProblem(w, r, api.Errorf(http.StatusUpgradeRequired, api.CodeInvalidRequest, "the console is a WebSocket: send Upgrade: websocket"))
		return
	}
	sess := s.consoles.add(v.HostID, v.ID)
	defer s.consoles.remove(sess)
	defer close(sess.done)
	s.hub.kickHost(v.HostID)

	var agent *websocket.Conn
	select {
	case agent = <-sess.agent:
	case <-time.After(consoleConnectTimeout):
		writeProblem(w, r, api.Errorf(http.StatusGatewayTimeout, api.CodeUnavailable, "%v within %v", errNoAgent, consoleConnectTimeout))
		return
	case <-ctx.Done():
		return
	}
	defer agent.CloseNow()
	client, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer client.CloseNow()
	s.auditConsole(ctx, v)
	splice(ctx, client, agent)
}

func (s *Server) auditConsole(ctx context.Context, v *store.VM) {
	err := s.store.Tx(ctx, func(tx *store.Tx) error {
		return s.audit(ctx, tx, "vm.console", "vm", v.ID, v.OrgID, v.Name)
	})
	if err != nil {
		s.log.Warn("audit console", "vm", v.ID, "err", err)
	}
}

// agentConsole is the agent's end of a console session.
func (s *Server) agentConsole(w http.ResponseWriter, r *http.Request) {
	h := s.agentHost(w, r)
	if h == nil {
		return
	}
	sess := s.consoles.claim(r.PathValue("session"), h.ID)
	if sess == nil {
		writeProblem(w, r, api.Errorf(http.StatusNotFound, api.CodeNotFound, "no console session %q for host %s", r.PathValue("session"), h.ID))
		return
	}
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	sess.agent <- c
	// The client's handler owns the connection from here; the agent's
	// request lasts as long as it does.
	select {
	case <-sess.done:
	case <-r.Context().Done():
	}
}

// splice copies messages both ways between a and b until either ends.
func splice(ctx context.Context, a, b *websocket.Conn) {
	a.SetReadLimit(consoleReadLimit)
	b.SetReadLimit(consoleReadLimit)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	copyWS := func(dst, src *websocket.Conn) {
		defer cancel()
		for {
			typ, data, err := src.Read(ctx)
			if err != nil {
				var ce websocket.CloseError
				if errors.As(err, &ce) {
					dst.Close(ce.Code, ce.Reason)
				}
				return
			}
			if err := dst.Write(ctx, typ, data); err != nil {
				return
			}
		}
	}
	go copyWS(a, b)
	copyWS(b, a)
	a.Close(websocket.StatusNormalClosure, "")
	b.Close(websocket.StatusNormalClosure, "")
}
