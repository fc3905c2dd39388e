package image

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// entries lists what is under dir (recursively), for checking that a
// refused upload left nothing behind.
func entries(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != dir {
			out = append(out, strings.TrimPrefix(p, dir+"/"))
		}
		return nil
	})
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return out
}

func TestCatalogPutDisk(t *testing.T) {
	q := needQemuImg(t)
	ctx := context.Background()
	c := &Catalog{Dir: t.TempDir(), Img: q, Limits: Limits{MaxVirtualBytes: 1 << 30, MaxFileBytes: 1 << 30}}

	tests := []struct {
		name  string
		build func(t *testing.T, path string)
	}{
		{"qcow2", func(t *testing.T, p string) { newQcow2(t, p, "3M") }},
		{"raw", func(t *testing.T, p string) { writeFile(t, p, bytes.Repeat([]byte{0x5a}, 3*mib)) }},
		{"vmdk", func(t *testing.T, p string) { qemuImgRun(t, "create", "-q", "-f", "vmdk", p, "3M") }},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := fixture(t, "upload")
			tt.build(t, src)
			data := readFile(t, src)
			id := "img" + string(rune('a'+i))
			sf, err := c.Put(ctx, id, FileDisk, bytes.NewReader(data), sha(data))
			if err != nil {
				t.Fatalf("Put: %v", err)
			}
			stored := c.Path(id, FileDisk)
			info, err := q.Inspect(ctx, stored)
			if err != nil {
				t.Fatal(err)
			}
			if info.Format != FormatQcow2 || info.VirtualSize != 3*mib {
				t.Errorf("stored %s of %d bytes, want qcow2 of %d", info.Format, info.VirtualSize, 3*mib)
			}
			// The checksum and size are of the stored file, which is what
			// hosts fetch and verify.
			if err := Verify(ctx, stored, sf.SHA256); err != nil {
				t.Errorf("stored file does not match the reported checksum: %v", err)
			}
			if st, _ := os.Stat(stored); st.Size() != sf.Size {
				t.Errorf("reported size %d, stored %d", sf.Size, st.Size())
			}
			if sf.VirtualSize != 3*mib || sf.Name != FileDisk {
				t.Errorf("stored file %+v", sf)
			}
			if got := entries(t, c.Dir); len(got) != 2 { // <id>/ and <id>/disk
				t.Errorf("catalog holds %v, want only %s/disk", got, id)
			}
			if err := c.Remove(id); err != nil {
				t.Fatal(err)
			}
			if got := entries(t, c.Dir); len(got) != 0 {
				t.Errorf("after Remove the catalog holds %v", got)
			}
		})
	}
}

func TestCatalogPutKernelAndInitrd(t *testing.T) {
	ctx := context.Background()
	c := &Catalog{Dir: t.TempDir()}
	kernel := bzImage("6.1.0-test")
	initrd := append([]byte("\x1f\x8b\x08\x00"), bytes.Repeat([]byte{1}, 100)...)

	k, err := c.Put(ctx, "img1", FileKernel, bytes.NewReader(kernel), "")
	if err != nil {
		t.Fatal(err)
	}
	i, err := c.Put(ctx, "img1", FileInitrd, bytes.NewReader(initrd), strings.ToUpper(sha(initrd)))
	if err != nil {
		t.Fatal(err)
	}
	// Kernels and initrds are kept byte for byte.
	if !bytes.Equal(readFile(t, c.Path("img1", FileKernel)), kernel) || k.SHA256 != sha(kernel) || k.Size != int64(len(kernel)) {
		t.Errorf("kernel stored as %+v", k)
	}
	if !bytes.Equal(readFile(t, c.Path("img1", FileInitrd)), initrd) || i.SHA256 != sha(initrd) {
		t.Errorf("initrd stored as %+v", i)
	}
	if st, err := os.Stat(c.Path("img1", FileKernel)); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("kernel file mode %v (%v), want 0600", st.Mode(), err)
	}
}

func TestCatalogPutRefusesAndLeavesNothing(t *testing.T) {
	q := needQemuImg(t)
	ctx := context.Background()
	limits := Limits{MaxVirtualBytes: 1 << 30, MaxFileBytes: 4 * mib}

	backing := func(t *testing.T) []byte {
		p := fixture(t, "b.qcow2")
		newQcow2(t, p, "1M")
		setQcow2Backing(t, p, "/etc/passwd")
		return readFile(t, p)
	}
	qcow2 := func(t *testing.T) []byte {
		p := fixture(t, "q.qcow2")
		newQcow2(t, p, "1M")
		return readFile(t, p)
	}
	tests := []struct {
		name string
		file string
		data func(t *testing.T) []byte
		want func(data []byte) string // checksum to ask for
		code string
	}{
		{"backing file", FileDisk, backing, nil, CodeBackingFile},
		{"checksum mismatch", FileDisk, qcow2, func([]byte) string { return strings.Repeat("ab", 32) }, CodeChecksumMismatch},
		{"larger than the limit", FileDisk, func(*testing.T) []byte { return make([]byte, 5*mib) }, nil, CodeTooLarge},
		{"not an image", FileDisk, func(*testing.T) []byte { return []byte("hello, world\n") }, nil, CodeNotAnImage},
		{"empty", FileInitrd, func(*testing.T) []byte { return nil }, nil, CodeNotAnImage},
		{"kernel that is not a kernel", FileKernel, qcow2, nil, CodeNotAnImage},
		{"kernel checksum mismatch", FileKernel, func(*testing.T) []byte { return bzImage("x") },
			func(b []byte) string { return sha(append(b, 0)) }, CodeChecksumMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &Catalog{Dir: t.TempDir(), Img: q, Limits: limits}
			data := tt.data(t)
			want := ""
			if tt.want != nil {
				want = tt.want(data)
			}
			_, err := c.Put(ctx, "img1", tt.file, bytes.NewReader(data), want)
			if got := RejectionCode(err); got != tt.code {
				t.Fatalf("Put: code %q (%v), want %q", got, err, tt.code)
			}
			if got := entries(t, c.Dir); len(got) != 0 {
				t.Errorf("a refused upload left %v in the catalog", got)
			}
		})
	}
}

func TestCatalogRefusesBadNames(t *testing.T) {
	c := &Catalog{Dir: t.TempDir()}
	for _, n := range []struct{ id, file string }{
		{"../x", FileKernel}, {"", FileKernel}, {"..", FileKernel}, {"a/b", FileKernel}, {"img1", "vmlinuz"}, {"img1", "../disk"},
	} {
		if _, err := c.Put(context.Background(), n.id, n.file, bytes.NewReader(bzImage("x")), ""); err == nil || RejectionCode(err) != "" {
			t.Errorf("Put(%q, %q): %v, want a plain error", n.id, n.file, err)
		}
	}
	if err := c.Remove(".."); err == nil {
		t.Error("Remove(..) succeeded")
	}
	if got := entries(t, c.Dir); len(got) != 0 {
		t.Errorf("catalog holds %v", got)
	}
}
