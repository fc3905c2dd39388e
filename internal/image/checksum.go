package image

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"strings"
)

// Checksum returns the SHA-256 of the file at path as lowercase hex. It
// streams the file and stops early when ctx is cancelled.
func Checksum(ctx context.Context, path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("checksum: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.CopyBuffer(h, ctxReader{ctx, f}, make([]byte, 1<<20)); err != nil {
		return "", fmt.Errorf("checksum %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Verify checks that the file at path has the SHA-256 want (hex, any case).
// A cached image is verified this way before each use; a mismatch is a
// *[Rejected] with code checksum_mismatch.
func Verify(ctx context.Context, path, want string) error {
	want = strings.ToLower(strings.TrimSpace(want))
	if len(want) != sha256.Size*2 {
		return fmt.Errorf("verify %s: %q is not a SHA-256 in hex", path, want)
	}
	if _, err := hex.DecodeString(want); err != nil {
		return fmt.Errorf("verify %s: %q is not a SHA-256 in hex", path, want)
	}
	got, err := Checksum(ctx, path)
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	if got != want {
		return fmt.Errorf("verify %s: %w", path, reject(CodeChecksumMismatch, "got sha256 %s, want %s", got, want))
	}
	return nil
}

// ctxReader fails reads once ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
