package image

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"os"
)

// Kernel describes a Linux kernel image for direct boot (-kernel).
type Kernel struct {
	Protocol string // boot protocol version, for example "2.15"
	Version  string // kernel version string from the header, if any
	Size     int64
}

// InspectKernel checks that the file at path is a Linux bzImage no larger
// than limits.MaxFileBytes: boot flag 0xAA55 at 0x1FE, "HdrS" at 0x202, boot
// protocol 2.00 or later, and the LOADED_HIGH flag that marks a bzImage.
// The file is only read; QEMU loads it into the guest, never runs it on the
// host. Failures are a *[Rejected] with code not_an_image or too_large.
func InspectKernel(path string, limits Limits) (*Kernel, error) {
	f, size, err := openLimited(path, limits)
	if err != nil {
		return nil, fmt.Errorf("inspect kernel: %w", err)
	}
	defer f.Close()
	hdr := make([]byte, 0x268)
	if _, err := f.ReadAt(hdr, 0); err != nil {
		return nil, fmt.Errorf("inspect kernel %s: %w", path, reject(CodeNotAnImage, "%d bytes is too short for a Linux kernel", size))
	}
	le := binary.LittleEndian
	if le.Uint16(hdr[0x1fe:]) != 0xaa55 || string(hdr[0x202:0x206]) != "HdrS" {
		return nil, fmt.Errorf("inspect kernel %s: %w", path, reject(CodeNotAnImage, "no Linux boot header (HdrS at 0x202); a bzImage kernel is needed"))
	}
	proto := le.Uint16(hdr[0x206:])
	if proto < 0x0200 {
		return nil, fmt.Errorf("inspect kernel %s: %w", path, reject(CodeNotAnImage, "boot protocol %d.%02d is too old", proto>>8, proto&0xff))
	}
	if hdr[0x211]&0x01 == 0 {
		return nil, fmt.Errorf("inspect kernel %s: %w", path, reject(CodeNotAnImage, "a zImage, not a bzImage"))
	}
	k := &Kernel{Protocol: fmt.Sprintf("%d.%02d", proto>>8, proto&0xff), Size: size}
	if off := int64(le.Uint16(hdr[0x20e:])); off != 0 {
		buf := make([]byte, 256)
		n, _ := f.ReadAt(buf, off+0x200)
		buf = buf[:n]
		if i := bytes.IndexByte(buf, 0); i >= 0 {
			k.Version = string(buf[:i])
		}
	}
	return k, nil
}

// Initrd describes an initial RAM disk.
type Initrd struct {
	Format string // gzip, zstd, xz, lzma, bzip2, lz4, lzo or cpio
	Size   int64
}

// InspectInitrd checks that the file at path looks like an initrd: a cpio
// archive or one of the compressions Linux unpacks, no larger than
// limits.MaxFileBytes. It is permissive beyond the first bytes: the guest
// kernel, not the host, unpacks it.
func InspectInitrd(path string, limits Limits) (*Initrd, error) {
	f, size, err := openLimited(path, limits)
	if err != nil {
		return nil, fmt.Errorf("inspect initrd: %w", err)
	}
	defer f.Close()
	head := make([]byte, 8)
	n, err := f.ReadAt(head, 0)
	if err != nil && err != io.EOF {
		return nil, fmt.Errorf("inspect initrd %s: %w", path, err)
	}
	head = head[:n]
	for _, m := range []struct{ magic, name string }{
		{"070701", "cpio"}, {"070702", "cpio"}, {"070707", "cpio"},
		{"\x1f\x8b", "gzip"},
		{"\x28\xb5\x2f\xfd", "zstd"},
		{"\xfd7zXZ\x00", "xz"},
		{"\x5d\x00\x00", "lzma"},
		{"BZh", "bzip2"},
		{"\x02\x21\x4c\x18", "lz4"},
		{"\x89LZO", "lzo"},
	} {
		if bytes.HasPrefix(head, []byte(m.magic)) {
			return &Initrd{Format: m.name, Size: size}, nil
		}
	}
	return nil, fmt.Errorf("inspect initrd %s: %w", path, reject(CodeNotAnImage, "not a cpio archive nor gzip, zstd, xz, lzma, bzip2, lz4 or lzo data"))
}

// openLimited opens a regular file and checks its size against limits.
func openLimited(path string, limits Limits) (*os.File, int64, error) {
	f, err := openOwned(path)
	if err != nil {
		return nil, 0, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	if st.Size() == 0 {
		f.Close()
		return nil, 0, reject(CodeNotAnImage, "%s is empty", path)
	}
	if limits.MaxFileBytes > 0 && st.Size() > limits.MaxFileBytes {
		f.Close()
		return nil, 0, reject(CodeTooLarge, "%s is %d bytes, the limit is %d", path, st.Size(), limits.MaxFileBytes)
	}
	return f, st.Size(), nil
}
