package image

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
)

// bzImage returns a minimal file with a Linux boot header.
func bzImage(version string) []byte {
	b := make([]byte, 0x1000)
	binary.LittleEndian.PutUint16(b[0x1fe:], 0xaa55)
	copy(b[0x202:], "HdrS")
	binary.LittleEndian.PutUint16(b[0x206:], 0x020f)
	b[0x211] = 0x01 // LOADED_HIGH
	binary.LittleEndian.PutUint16(b[0x20e:], 0x200)
	copy(b[0x400:], version+"\x00")
	return b
}

func TestInspectKernel(t *testing.T) {
	tests := []struct {
		name    string
		data    func() []byte
		limits  Limits
		code    string
		version string
	}{
		{"bzImage", func() []byte { return bzImage("6.1.0-test (builder@sirocco) #1 SMP") }, Limits{}, "", "6.1.0-test (builder@sirocco) #1 SMP"},
		{"too large", func() []byte { return bzImage("x") }, Limits{MaxFileBytes: 100}, CodeTooLarge, ""},
		{"empty", func() []byte { return nil }, Limits{}, CodeNotAnImage, ""},
		{"too short", func() []byte { return bzImage("x")[:0x100] }, Limits{}, CodeNotAnImage, ""},
		{"no magic", func() []byte { b := bzImage("x"); copy(b[0x202:], "XXXX"); return b }, Limits{}, CodeNotAnImage, ""},
		{"no boot flag", func() []byte { b := bzImage("x"); b[0x1fe] = 0; return b }, Limits{}, CodeNotAnImage, ""},
		{"old protocol", func() []byte { b := bzImage("x"); b[0x207] = 1; return b }, Limits{}, CodeNotAnImage, ""},
		{"zImage", func() []byte { b := bzImage("x"); b[0x211] = 0; return b }, Limits{}, CodeNotAnImage, ""},
		{"ELF", func() []byte { return append([]byte("\x7fELF"), make([]byte, 4092)...) }, Limits{}, CodeNotAnImage, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := fixture(t, "vmlinuz")
			writeFile(t, path, tt.data())
			k, err := InspectKernel(path, tt.limits)
			if got := RejectionCode(err); got != tt.code {
				t.Fatalf("got code %q (%v), want %q", got, err, tt.code)
			}
			if err == nil && (k.Version != tt.version || k.Protocol != "2.15") {
				t.Errorf("got version %q protocol %q, want %q 2.15", k.Version, k.Protocol, tt.version)
			}
		})
	}
}

// TestInspectRealKernel checks the host's kernels when there are any.
func TestInspectRealKernel(t *testing.T) {
	paths, _ := filepath.Glob("/boot/vmlinuz-*")
	if len(paths) == 0 {
		t.Skip("no /boot/vmlinuz-* on this machine")
	}
	for _, p := range paths {
		k, err := InspectKernel(p, Limits{MaxFileBytes: 256 << 20})
		if err != nil {
			t.Errorf("InspectKernel(%s): %v", p, err)
			continue
		}
		if k.Version == "" {
			t.Errorf("InspectKernel(%s): no version string", p)
		}
	}
}

func TestInspectInitrd(t *testing.T) {
	tests := []struct {
		name, data, format, code string
		limits                   Limits
	}{
		{"cpio newc", "070701000000", "cpio", "", Limits{}},
		{"gzip", "\x1f\x8b\x08\x00", "gzip", "", Limits{}},
		{"zstd", "\x28\xb5\x2f\xfd\x00", "zstd", "", Limits{}},
		{"xz", "\xfd7zXZ\x00\x00", "xz", "", Limits{}},
		{"lz4", "\x02\x21\x4c\x18", "lz4", "", Limits{}},
		{"unknown", "hello world", "", CodeNotAnImage, Limits{}},
		{"empty", "", "", CodeNotAnImage, Limits{}},
		{"too large", "\x1f\x8b\x08\x00", "", CodeTooLarge, Limits{MaxFileBytes: 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := fixture(t, "initrd.img")
			if err := os.WriteFile(path, []byte(tt.data), 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := InspectInitrd(path, tt.limits)
			if code := RejectionCode(err); code != tt.code {
				t.Fatalf("got code %q (%v), want %q", code, err, tt.code)
			}
			if err == nil && got.Format != tt.format {
				t.Errorf("format %q, want %q", got.Format, tt.format)
			}
		})
	}
}
