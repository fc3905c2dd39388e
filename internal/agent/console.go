package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"

	"github.com/coder/websocket"

	"github.com/sirocco-cloud/sirocco/api/agentapi"
	"github.com/sirocco-cloud/sirocco/internal/compute"
)

// consoleTail is how much of the console log a new session is sent first, so
// that the user sees the screen as it was before they connected.
const consoleTail = 64 << 10

// consoles connects the serial consoles the control plane asks for: the
// agent dials out (the host needs no inbound port) and pipes the VM's serial
// port to the WebSocket both ways.
type consoles struct {
	server     string
	client     *http.Client
	credential string
	driver     compute.Driver
	log        *slog.Logger

	wg     sync.WaitGroup
	mu     sync.Mutex
	active map[string]bool // sessions being served
}

func newConsoles(server string, client *http.Client, credential string, driver compute.Driver, log *slog.Logger) *consoles {
	return &consoles{server: server, client: client, credential: credential, driver: driver, log: log, active: map[string]bool{}}
}

// serve starts a connection for each request not already being served.
func (c *consoles) serve(ctx context.Context, reqs []agentapi.ConsoleReq) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range reqs {
		if c.active[r.Session] || r.Session == "" {
			continue
		}
		c.active[r.Session] = true
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			if err := c.connect(ctx, r); err != nil && ctx.Err() == nil {
				c.log.Warn("console", "vm", r.VM, "session", r.Session, "err", err)
			}
			c.mu.Lock()
			delete(c.active, r.Session)
			c.mu.Unlock()
		}()
	}
}

func (c *consoles) wait() { c.wg.Wait() }

// connect serves one console session until either side closes.
func (c *consoles) connect(ctx context.Context, r agentapi.ConsoleReq) error {
	ws, _, err := websocket.Dial(ctx, c.server+agentapi.PathConsole+"/"+r.Session, &websocket.DialOptions{
		HTTPClient: c.client,
		HTTPHeader: http.Header{"Authorization": {"Bearer " + c.credential}, "User-Agent": {"sirocco-agent/" + Version}},
	})
	if err != nil {
		return fmt.Errorf("dial console session: %w", err)
	}
	defer ws.CloseNow()
	con, ok := c.driver.(compute.Console)
	if !ok {
		return ws.Close(websocket.StatusPolicyViolation, "this host offers no serial console")
	}
	if !compute.ValidID(r.VM) {
		return ws.Close(websocket.StatusPolicyViolation, "no such VM on this host")
	}
	tail, err := logTail(ctx, con, r.VM)
	if err != nil {
		ws.Close(websocket.StatusInternalError, "console log unavailable")
		return err
	}
	port, err := con.AttachConsole(ctx, r.VM)
	if err != nil {
		ws.Close(websocket.StatusInternalError, "the VM's serial port is not available (is it running?)")
		return err
	}
	defer port.Close()
	if err := ws.Write(ctx, websocket.MessageBinary, tail); err != nil {
		return err
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make(chan error, 2)
	go func() { // VM -> user
		buf := make([]byte, 32<<10)
		for {
			n, err := port.Read(buf)
			if n > 0 {
				if werr := ws.Write(ctx, websocket.MessageBinary, buf[:n]); werr != nil {
					errs <- werr
					return
				}
			}
			if err != nil {
				errs <- err
				return
			}
		}
	}()
	go func() { // user -> VM
		for {
			_, b, err := ws.Read(ctx)
			if err != nil {
				errs <- err
				return
			}
			if _, err := port.Write(b); err != nil {
				errs <- err
				return
			}
		}
	}()
	err = <-errs
	cancel()
	port.Close()
	switch {
	case errors.Is(err, io.EOF):
		ws.Close(websocket.StatusNormalClosure, "the VM's serial port closed")
		return nil
	case websocket.CloseStatus(err) != -1:
		return nil // the user (or the control plane) closed the session
	}
	return err
}

// logTail returns the last consoleTail bytes of the VM's console log.
func logTail(ctx context.Context, con compute.Console, id string) ([]byte, error) {
	rc, err := con.ConsoleLog(ctx, id)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	if s, ok := rc.(io.Seeker); ok {
		if end, err := s.Seek(0, io.SeekEnd); err == nil && end > consoleTail {
			if _, err := s.Seek(end-consoleTail, io.SeekStart); err != nil {
				return nil, err
			}
		} else if err == nil {
			s.Seek(0, io.SeekStart)
		}
	}
	// A log that cannot seek is read through, keeping only its end.
	ring := make([]byte, 0, consoleTail)
	buf := make([]byte, 32<<10)
	for {
		n, err := rc.Read(buf)
		ring = append(ring, buf[:n]...)
		if len(ring) > consoleTail {
			ring = append(ring[:0], ring[len(ring)-consoleTail:]...)
		}
		if errors.Is(err, io.EOF) {
			return ring, nil
		}
		if err != nil {
			return nil, err
		}
	}
}
