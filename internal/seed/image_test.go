package seed

import (
	"bytes"
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/internal/image"
	"github.com/sirocco-cloud/sirocco/internal/store"
)

func TestPublicImage(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "s.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cat := &image.Catalog{Dir: filepath.Join(t.TempDir(), "images")}
	dir := t.TempDir()
	kernel := make([]byte, 0x1000)
	binary.LittleEndian.PutUint16(kernel[0x1fe:], 0xaa55)
	copy(kernel[0x202:], "HdrS")
	binary.LittleEndian.PutUint16(kernel[0x206:], 0x020f)
	kernel[0x211] = 0x01
	initrd := append([]byte("\x1f\x8b\x08\x00"), make([]byte, 60)...)
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	kp, ip, bad := write("vmlinuz", kernel), write("initrd.img", initrd), write("not-a-kernel", []byte("hello"))

	// A file the catalog refuses leaves the image unpublished.
	if _, err := PublicImage(ctx, st, cat, "testguest", bad, ip, "console=ttyS0"); image.RejectionCode(err) != image.CodeNotAnImage {
		t.Fatalf("bad kernel: %v", err)
	}
	im, err := PublicImage(ctx, st, cat, "testguest", kp, ip, "console=ttyS0")
	if err != nil {
		t.Fatal(err)
	}
	if im.State != api.ImageAvailable || im.OrgID != "" || im.Kind != api.ImageKindKernel || im.Cmdline != "console=ttyS0" || len(im.Files) != 2 {
		t.Fatalf("published %+v", im)
	}
	for _, f := range im.Files {
		if err := image.Verify(ctx, cat.Path(im.ID, f.Name), f.SHA256); err != nil {
			t.Errorf("%s: %v", f.Name, err)
		}
	}
	if got, _ := os.ReadFile(cat.Path(im.ID, api.ImageFileKernel)); !bytes.Equal(got, kernel) {
		t.Error("stored kernel differs from the local file")
	}

	// A second run keeps the published image, even with other files.
	again, err := PublicImage(ctx, st, cat, "testguest", bad, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if again.ID != im.ID || again.Version != im.Version || len(again.Files) != 2 {
		t.Errorf("second run gave %+v, want %+v", again, im)
	}
}
