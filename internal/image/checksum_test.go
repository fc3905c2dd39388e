package image

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestChecksumVerify(t *testing.T) {
	path := fixture(t, "image.qcow2")
	writeFile(t, path, []byte("hello\n"))
	const sum = "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"

	got, err := Checksum(t.Context(), path)
	if err != nil || got != sum {
		t.Fatalf("Checksum = %q, %v; want %q", got, err, sum)
	}
	tests := []struct {
		name, want, code string
		ok               bool
	}{
		{"match", sum, "", true},
		{"match upper case", strings.ToUpper(sum), "", true},
		{"mismatch", strings.Repeat("0", 64), CodeChecksumMismatch, false},
		{"not hex", strings.Repeat("z", 64), "", false},
		{"short", "abc", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Verify(t.Context(), path, tt.want)
			if (err == nil) != tt.ok || RejectionCode(err) != tt.code {
				t.Errorf("Verify: %v, want ok=%t code %q", err, tt.ok, tt.code)
			}
		})
	}

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := Checksum(ctx, path); !errors.Is(err, context.Canceled) {
		t.Errorf("Checksum with cancelled ctx: %v, want context.Canceled", err)
	}
}
