package qemu

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"time"
)

// waitQMP connects to the QMP socket of a QEMU that is starting up. QEMU
// creates the socket only after parsing its command line, so a missing or
// refusing socket is retried with a short, growing backoff until ctx ends or
// exited is closed (QEMU died: no point waiting).
func waitQMP(ctx context.Context, path string, exited <-chan struct{}) (*QMP, error) {
	backoff := 2 * time.Millisecond
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("wait for qmp at %s: %w", path, ctx.Err())
		case <-exited:
			return nil, fmt.Errorf("wait for qmp at %s: qemu exited", path)
		case <-timer.C:
		}
		q, err := DialQMP(ctx, path)
		if err == nil {
			return q, nil
		}
		if !errors.Is(err, syscall.ENOENT) && !errors.Is(err, syscall.ECONNREFUSED) {
			return nil, err
		}
		timer.Reset(backoff)
		backoff = min(backoff*2, 50*time.Millisecond)
	}
}
