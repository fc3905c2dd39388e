package qemu

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"
)

// ErrClosed is returned by commands on a QMP connection that was closed or
// lost (QEMU exited).
var ErrClosed = errors.New("qmp: connection closed")

// CommandError is QEMU's answer to a command that failed, e.g. class
// "CommandNotFound" for an unknown command.
type CommandError struct {
	Command string
	Class   string
	Desc    string
}

func (e *CommandError) Error() string {
	return fmt.Sprintf("qmp %s: %s: %s", e.Command, e.Class, e.Desc)
}

// Event is an asynchronous QMP event such as SHUTDOWN, STOP or RESUME.
type Event struct {
	Name      string
	Data      json.RawMessage
	Timestamp time.Time
}

// Version is QEMU's version from the QMP greeting.
type Version struct {
	Major, Minor, Micro int
	Package             string
}

// QMP is a client of QEMU's machine protocol on a unix socket. Commands may
// be sent from several goroutines; replies are matched to commands by id.
// Events are delivered, in order, on the channel returned by Events,
// separately from replies: an event may arrive before the reply of the
// command that caused it (SHUTDOWN before quit's reply).
type QMP struct {
	conn    net.Conn
	version Version

	writeMu sync.Mutex

	mu      sync.Mutex
	nextID  uint64
	pending map[string]chan reply
	err     error // set once the reader stops

	events chan Event
	done   chan struct{}
}

type reply struct {
	ret json.RawMessage
	err *CommandError
}

// message is any object QEMU sends.
type message struct {
	QMP *struct {
		Version struct {
			Qemu    Version
			Package string
		}
	} `json:"QMP"`
	Return json.RawMessage `json:"return"`
	Error  *struct {
		Class string `json:"class"`
		Desc  string `json:"desc"`
	} `json:"error"`
	Event     string          `json:"event"`
	Data      json.RawMessage `json:"data"`
	ID        json.RawMessage `json:"id"`
	Timestamp *struct {
		Seconds      int64 `json:"seconds"`
		Microseconds int64 `json:"microseconds"`
	} `json:"timestamp"`
}

// eventBuffer is how many events wait for a reader before new ones are
// dropped. Nobody must rely on events alone to learn that QEMU exited: the
// Done channel says so.
const eventBuffer = 256

// DialQMP connects to the QMP socket at path, reads the greeting and
// negotiates capabilities. ctx bounds the whole handshake.
func DialQMP(ctx context.Context, path string) (*QMP, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return nil, fmt.Errorf("qmp dial %s: %w", path, err)
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	r := bufio.NewReaderSize(conn, 64*1024)
	line, err := r.ReadBytes('\n')
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("qmp greeting: %w", ctxErr(ctx, err))
	}
	var g message
	if err := json.Unmarshal(line, &g); err != nil || g.QMP == nil {
		conn.Close()
		return nil, fmt.Errorf("qmp greeting: unexpected %q", line)
	}
	q := &QMP{
		conn:    conn,
		version: g.QMP.Version.Qemu,
		pending: make(map[string]chan reply),
		events:  make(chan Event, eventBuffer),
		done:    make(chan struct{}),
	}
	q.version.Package = g.QMP.Version.Package
	if !stop() {
		conn.Close()
		return nil, fmt.Errorf("qmp greeting: %w", ctx.Err())
	}
	go q.read(r)
	if err := q.Execute(ctx, "qmp_capabilities", nil, nil); err != nil {
		q.Close()
		return nil, err
	}
	return q, nil
}

func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// Version is QEMU's version from the greeting.
func (q *QMP) Version() Version { return q.version }

// Events delivers QMP events in the order QEMU sent them. It is closed when
// the connection ends. If nobody reads it, events past a buffer of 256 are
// dropped.
func (q *QMP) Events() <-chan Event { return q.events }

// Done is closed when the connection ends (Close, or QEMU exited).
func (q *QMP) Done() <-chan struct{} { return q.done }

// Close ends the connection; commands in flight fail with ErrClosed.
func (q *QMP) Close() error {
	err := q.conn.Close()
	<-q.done
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

// Execute runs command with args (nil for none) and decodes its return
// value into out (nil to ignore it). A failed command gives a
// *CommandError. ctx bounds the wait for the reply; the connection stays
// usable if ctx ends first.
func (q *QMP) Execute(ctx context.Context, command string, args, out any) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("qmp %s: %w", command, err)
	}
	q.mu.Lock()
	if q.err != nil {
		q.mu.Unlock()
		return fmt.Errorf("qmp %s: %w", command, ErrClosed)
	}
	q.nextID++
	id := strconv.FormatUint(q.nextID, 10)
	ch := make(chan reply, 1)
	q.pending[id] = ch
	q.mu.Unlock()
	defer func() {
		q.mu.Lock()
		delete(q.pending, id)
		q.mu.Unlock()
	}()

	req := struct {
		Execute   string `json:"execute"`
		Arguments any    `json:"arguments,omitempty"`
		ID        string `json:"id"`
	}{command, args, id}
	b, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("qmp %s: %w", command, err)
	}
	b = append(b, '\n')
	if err := q.write(ctx, b); err != nil {
		return fmt.Errorf("qmp %s: %w", command, err)
	}

	select {
	case rep := <-ch:
		if rep.err != nil {
			rep.err.Command = command
			return rep.err
		}
		if out != nil && len(rep.ret) > 0 {
			if err := json.Unmarshal(rep.ret, out); err != nil {
				return fmt.Errorf("qmp %s: decode reply: %w", command, err)
			}
		}
		return nil
	case <-q.done:
		// The reply may have been delivered just before the reader stopped.
		select {
		case rep := <-ch:
			if rep.err != nil {
				rep.err.Command = command
				return rep.err
			}
			if out != nil && len(rep.ret) > 0 {
				return json.Unmarshal(rep.ret, out)
			}
			return nil
		default:
		}
		return fmt.Errorf("qmp %s: %w", command, ErrClosed)
	case <-ctx.Done():
		return fmt.Errorf("qmp %s: %w", command, ctx.Err())
	}
}

func (q *QMP) write(ctx context.Context, b []byte) error {
	q.writeMu.Lock()
	defer q.writeMu.Unlock()
	if dl, ok := ctx.Deadline(); ok {
		q.conn.SetWriteDeadline(dl)
		defer q.conn.SetWriteDeadline(time.Time{})
	}
	_, err := q.conn.Write(b)
	if err != nil {
		if errors.Is(err, net.ErrClosed) {
			return ErrClosed
		}
		return ctxErr(ctx, err)
	}
	return nil
}

// read demultiplexes everything QEMU sends until the connection ends.
func (q *QMP) read(r *bufio.Reader) {
	var err error
	for {
		var line []byte
		line, err = r.ReadBytes('\n')
		if err != nil {
			break
		}
		var m message
		if json.Unmarshal(line, &m) != nil {
			continue // not ours to fail on; QEMU only sends JSON objects
		}
		switch {
		case m.Event != "":
			ev := Event{Name: m.Event, Data: m.Data}
			if m.Timestamp != nil {
				ev.Timestamp = time.Unix(m.Timestamp.Seconds, m.Timestamp.Microseconds*1000)
			}
			select {
			case q.events <- ev:
			default: // nobody reads: drop (documented on Events)
			}
		case len(m.ID) > 0:
			var id string
			if json.Unmarshal(m.ID, &id) != nil {
				continue
			}
			rep := reply{ret: m.Return}
			if m.Error != nil {
				rep.err = &CommandError{Class: m.Error.Class, Desc: m.Error.Desc}
			}
			q.mu.Lock()
			ch := q.pending[id]
			q.mu.Unlock()
			if ch != nil {
				ch <- rep
			}
		}
	}
	q.mu.Lock()
	q.err = err
	q.mu.Unlock()
	close(q.events)
	close(q.done)
}

// Status is the answer of query-status.
type Status struct {
	Running    bool   `json:"running"`
	Singlestep bool   `json:"singlestep"`
	Status     string `json:"status"` // running, paused, shutdown, internal-error, guest-panicked, ...
}

// QueryStatus runs query-status.
func (q *QMP) QueryStatus(ctx context.Context) (Status, error) {
	var s Status
	err := q.Execute(ctx, "query-status", nil, &s)
	return s, err
}
