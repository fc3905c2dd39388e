package qemu

import (
	"context"
	"errors"
	"testing"
	"time"
)

func nextEvent(t *testing.T, q *QMP, name string) Event {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case ev, ok := <-q.Events():
			if !ok {
				t.Fatalf("events closed before %s", name)
			}
			if ev.Name == name {
				return ev
			}
		case <-timeout:
			t.Fatalf("no %s event", name)
		}
	}
}

func TestQMP(t *testing.T) {
	sock, exited := startBareQEMU(t)
	ctx := testCtx(t, 20*time.Second)
	q, err := waitQMP(ctx, sock, exited)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()

	if v := q.Version(); v.Major < 7 {
		t.Errorf("greeting version = %+v", v)
	}
	var ver struct {
		Qemu struct{ Major, Minor, Micro int }
	}
	if err := q.Execute(ctx, "query-version", nil, &ver); err != nil {
		t.Fatal(err)
	}
	if ver.Qemu.Major != q.Version().Major {
		t.Errorf("query-version %+v, greeting %+v", ver, q.Version())
	}

	st, err := q.QueryStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Running || st.Status != "running" {
		t.Errorf("status = %+v, want running", st)
	}

	if err := q.Execute(ctx, "stop", nil, nil); err != nil {
		t.Fatal(err)
	}
	nextEvent(t, q, "STOP")
	if st, _ := q.QueryStatus(ctx); st.Status != "paused" {
		t.Errorf("after stop: %+v", st)
	}
	if err := q.Execute(ctx, "cont", nil, nil); err != nil {
		t.Fatal(err)
	}
	if ev := nextEvent(t, q, "RESUME"); ev.Timestamp.IsZero() {
		t.Error("event without timestamp")
	}

	err = q.Execute(ctx, "no-such-command", nil, nil)
	var ce *CommandError
	if !errors.As(err, &ce) || ce.Class != "CommandNotFound" || ce.Command != "no-such-command" {
		t.Fatalf("unknown command: err = %#v", err)
	}

	// Arguments are passed through.
	if err := q.Execute(ctx, "human-monitor-command", map[string]string{"command-line": "info version"}, nil); err != nil {
		t.Fatal(err)
	}

	// Concurrent commands are matched to their replies by id.
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			_, err := q.QueryStatus(ctx)
			errs <- err
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}

	if err := q.Execute(ctx, "quit", nil, nil); err != nil && !errors.Is(err, ErrClosed) {
		t.Fatalf("quit: %v", err)
	}
	nextEvent(t, q, "SHUTDOWN")
	select {
	case <-q.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("connection not closed after quit")
	}
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		t.Fatal("qemu did not exit after quit")
	}
	if _, err := q.QueryStatus(ctx); !errors.Is(err, ErrClosed) {
		t.Errorf("after quit: err = %v, want ErrClosed", err)
	}
	if err := q.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
}

func TestQMPDeadlines(t *testing.T) {
	sock, exited := startBareQEMU(t)
	q, err := waitQMP(testCtx(t, 20*time.Second), sock, exited)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	// An expired context fails the command but leaves the connection usable.
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := q.QueryStatus(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: err = %v", err)
	}
	if _, err := q.QueryStatus(testCtx(t, 5*time.Second)); err != nil {
		t.Errorf("after cancelled command: %v", err)
	}
	// Dialing a socket nobody serves fails at once.
	if _, err := DialQMP(testCtx(t, time.Second), t.TempDir()+"/none.sock"); err == nil {
		t.Error("dial of missing socket succeeded")
	}
}
