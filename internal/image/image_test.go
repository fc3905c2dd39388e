package image

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

const mib = 1 << 20

// TestInspectRejectsHostile feeds crafted hostile images to Inspect and
// Validate. Each points at a decoy host file; the decoy must not be opened,
// read or written, by the probe or by qemu-img.
func TestInspectRejectsHostile(t *testing.T) {
	q := needQemuImg(t)
	limits := Limits{MaxVirtualBytes: 10 << 30, MaxFileBytes: 10 << 30}
	tests := []struct {
		name string
		// build writes the image at img; decoy is a path in the same
		// directory that the image may refer to. It returns the decoy to
		// watch (nil for none).
		build func(t *testing.T, img, decoyPath string) *decoy
		want  string
	}{
		{"qcow2 backing file", func(t *testing.T, img, dp string) *decoy {
			d := newDecoy(t, dp)
			newQcow2(t, img, "1M")
			setQcow2Backing(t, img, dp)
			return d
		}, CodeBackingFile},
		{"qcow2 backing file that does not exist", func(t *testing.T, img, dp string) *decoy {
			newQcow2(t, img, "1M")
			setQcow2Backing(t, img, dp+".missing")
			return nil
		}, CodeBackingFile},
		{"qcow2 made by qemu-img create -b", func(t *testing.T, img, dp string) *decoy {
			newQcow2(t, dp, "1M")
			qemuImgRun(t, "create", "-q", "-f", "qcow2", "-b", dp, "-F", "qcow2", img)
			return watchDecoy(t, dp)
		}, CodeBackingFile},
		{"qcow2 external data file", func(t *testing.T, img, dp string) *decoy {
			qemuImgRun(t, "create", "-q", "-f", "qcow2", "-o", "data_file="+dp, img, "1M")
			return watchDecoy(t, dp)
		}, CodeExternalDataFile},
		{"qcow2 external raw data file", func(t *testing.T, img, dp string) *decoy {
			qemuImgRun(t, "create", "-q", "-f", "qcow2", "-o", "data_file="+dp+",data_file_raw=on", img, "1M")
			return watchDecoy(t, dp)
		}, CodeExternalDataFile},
		{"qcow2 crafted data file extension", func(t *testing.T, img, dp string) *decoy {
			d := newDecoy(t, dp)
			newQcow2(t, img, "1M")
			setQcow2DataFile(t, img, dp)
			return d
		}, CodeExternalDataFile},
		{"qcow2 encrypted", func(t *testing.T, img, dp string) *decoy {
			qemuImgRun(t, "create", "-q", "-f", "qcow2", "--object", "secret,id=s0,data=pw",
				"-o", "encrypt.format=luks,encrypt.key-secret=s0,encrypt.iter-time=10", img, "1M")
			return nil
		}, CodeEncrypted},
		{"qcow2 corrupt bit", func(t *testing.T, img, dp string) *decoy {
			newQcow2(t, img, "1M")
			patch(t, img, 72, be64(qcow2IncompatCorrupt))
			return nil
		}, CodeCorrupt},
		{"qcow2 truncated header", func(t *testing.T, img, dp string) *decoy {
			newQcow2(t, img, "1M")
			if err := os.Truncate(img, 100); err != nil {
				t.Fatal(err)
			}
			return nil
		}, CodeNotAnImage},
		{"qcow2 truncated data", func(t *testing.T, img, dp string) *decoy {
			full := img + ".full"
			newQcow2(t, full, "64M")
			raw := img + ".raw"
			writeFile(t, raw, bytes.Repeat([]byte{0xab}, 8*mib))
			qemuImgRun(t, "convert", "-f", "raw", "-O", "qcow2", raw, full)
			writeFile(t, img, readFile(t, full)[:300000])
			return nil
		}, CodeCorrupt},
		{"qcow version 1", func(t *testing.T, img, dp string) *decoy {
			newQcow2(t, img, "1M")
			patch(t, img, 4, be32(1))
			return nil
		}, CodeUnsupportedFormat},
		{"vmdk descriptor file with a flat extent", func(t *testing.T, img, dp string) *decoy {
			d := newDecoy(t, dp)
			writeFile(t, img, []byte("# Disk DescriptorFile\nversion=1\nCID=12345678\nparentCID=ffffffff\n"+
				"createType=\"monolithicFlat\"\nRW 2048 FLAT \""+dp+"\" 0\n"))
			return d
		}, CodeExternalDataFile},
		{"vmdk sparse of capacity 0 deferring to its descriptor", func(t *testing.T, img, dp string) *decoy {
			d := newDecoy(t, dp)
			newVMDK(t, img, "# Disk DescriptorFile\nversion=1\nCID=12345678\nparentCID=ffffffff\n"+
				"createType=\"monolithicFlat\"\nRW 2048 FLAT \""+dp+"\" 0\n", true)
			return d
		}, CodeExternalDataFile},
		{"vmdk sparse naming a parent", func(t *testing.T, img, dp string) *decoy {
			d := newDecoy(t, dp)
			newVMDK(t, img, "# Disk DescriptorFile\nversion=1\nCID=12345678\nparentCID=87654321\n"+
				"createType=\"monolithicSparse\"\nparentFileNameHint=\""+dp+"\"\nRW 2048 SPARSE \"x.vmdk\"\n", false)
			return d
		}, CodeBackingFile},
		{"vmdk split into extents by qemu-img", func(t *testing.T, img, dp string) *decoy {
			qemuImgRun(t, "create", "-q", "-f", "vmdk", "-o", "subformat=twoGbMaxExtentSparse", img, "1M")
			return watchDecoy(t, strings.TrimSuffix(img, ".img")+"-s001.img")
		}, CodeExternalDataFile},
		{"vhdx", func(t *testing.T, img, dp string) *decoy {
			qemuImgRun(t, "create", "-q", "-f", "vhdx", img, "1M")
			return nil
		}, CodeUnsupportedFormat},
		{"luks", func(t *testing.T, img, dp string) *decoy {
			writeFile(t, img, append([]byte("LUKS\xba\xbe\x00\x01"), make([]byte, 4088)...))
			return nil
		}, CodeUnsupportedFormat},
		{"empty file", func(t *testing.T, img, dp string) *decoy {
			writeFile(t, img, nil)
			return nil
		}, CodeNotAnImage},
		{"garbage of an odd size", func(t *testing.T, img, dp string) *decoy {
			b := make([]byte, 1000)
			rand.Read(b)
			b[0] = 0 // never a magic number by chance
			writeFile(t, img, b)
			return nil
		}, CodeNotAnImage},
		{"huge virtual size", func(t *testing.T, img, dp string) *decoy {
			newQcow2(t, img, "1P")
			return nil
		}, CodeTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			img := filepath.Join(dir, "upload.img")
			d := tt.build(t, img, filepath.Join(dir, "decoy"))
			info, err := q.Inspect(t.Context(), img)
			if err == nil {
				err = Validate(info, limits)
			}
			if got := RejectionCode(err); got != tt.want {
				t.Fatalf("got code %q (err %v), want %q", got, err, tt.want)
			}
			if err != nil && !strings.Contains(err.Error(), tt.want) {
				t.Errorf("message %q does not name the code", err)
			}
			if d != nil {
				d.untouched(t)
			}
		})
	}
}

// TestBackingFileEtcPasswd is the example: a qcow2 whose backing file
// is /etc/passwd is rejected, and neither Inspect nor Convert changes it.
func TestBackingFileEtcPasswd(t *testing.T) {
	q := needQemuImg(t)
	before, err := os.ReadFile("/etc/passwd")
	if err != nil {
		t.Skipf("no /etc/passwd: %v", err)
	}
	dir := t.TempDir()
	img := filepath.Join(dir, "evil.qcow2")
	newQcow2(t, img, "1M")
	setQcow2Backing(t, img, "/etc/passwd")

	_, err = q.Inspect(t.Context(), img)
	if got := RejectionCode(err); got != CodeBackingFile {
		t.Fatalf("Inspect: got code %q (%v), want %q", got, err, CodeBackingFile)
	}
	// Convert refuses too, even when handed an Info that hides the backing
	// file: it probes the header again.
	forged := &Info{Path: img, Format: FormatQcow2, VirtualSize: mib, FileSize: mib}
	err = q.Convert(t.Context(), img, forged, filepath.Join(dir, "out.qcow2"))
	if got := RejectionCode(err); got != CodeBackingFile {
		t.Fatalf("Convert: got code %q (%v), want %q", got, err, CodeBackingFile)
	}
	if after := readFile(t, "/etc/passwd"); !bytes.Equal(before, after) {
		t.Fatal("/etc/passwd changed")
	}
	if _, err := os.Stat(filepath.Join(dir, "out.qcow2")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("output exists after a refused convert: %v", err)
	}
}

// TestFormatConfusion: a file declared raw that carries a qcow2 header is
// probed as qcow2 and CheckDeclared rejects it; a hostile one never reaches
// qemu-img.
func TestFormatConfusion(t *testing.T) {
	q := needQemuImg(t)
	dir := t.TempDir()

	img := filepath.Join(dir, "disk.raw")
	newQcow2(t, img, "1M")
	info, err := q.Inspect(t.Context(), img)
	if err != nil {
		t.Fatal(err)
	}
	if info.Format != FormatQcow2 {
		t.Errorf("format %q, want qcow2", info.Format)
	}
	for _, tt := range []struct {
		declared, want string
	}{
		{"raw", CodeFormatMismatch},
		{"RAW", CodeFormatMismatch},
		{"vmdk", CodeFormatMismatch},
		{"qcow2", ""},
		{"", ""},
		{"auto", ""},
	} {
		if got := RejectionCode(CheckDeclared(tt.declared, info)); got != tt.want {
			t.Errorf("CheckDeclared(%q): got %q, want %q", tt.declared, got, tt.want)
		}
	}
	_, err = q.Import(t.Context(), img, "raw", Limits{}, filepath.Join(dir, "out.qcow2"))
	if got := RejectionCode(err); got != CodeFormatMismatch {
		t.Errorf("Import declared raw: got %q (%v), want %q", got, err, CodeFormatMismatch)
	}

	evil := filepath.Join(dir, "evil.raw")
	d := newDecoy(t, filepath.Join(dir, "decoy"))
	newQcow2(t, evil, "1M")
	setQcow2Backing(t, evil, d.path)
	_, err = q.Import(t.Context(), evil, "raw", Limits{}, filepath.Join(dir, "out2.qcow2"))
	if got := RejectionCode(err); got != CodeBackingFile {
		t.Errorf("Import hostile declared raw: got %q (%v), want %q", got, err, CodeBackingFile)
	}
	d.untouched(t)
}

// TestConvert converts good images to qcow2 and checks the output is clean
// and holds the same data.
func TestConvert(t *testing.T) {
	q := needQemuImg(t)
	pattern := func(t *testing.T, path string) {
		b := make([]byte, 4*mib)
		for i := range b {
			b[i] = byte(i / 4096)
		}
		writeFile(t, path, b)
	}
	tests := []struct {
		name   string
		build  func(t *testing.T, src string)
		format string
	}{
		{"raw", pattern, FormatRaw},
		{"raw of random bytes", func(t *testing.T, src string) {
			b := make([]byte, 64*1024)
			rand.Read(b)
			b[0], b[0x40] = 0, 0
			writeFile(t, src, b)
		}, FormatRaw},
		{"qcow2", func(t *testing.T, src string) {
			pattern(t, src+".raw")
			qemuImgRun(t, "convert", "-f", "raw", "-O", "qcow2", "-o", "compat=0.10", src+".raw", src)
		}, FormatQcow2},
		{"qcow2 sparse", func(t *testing.T, src string) { newQcow2(t, src, "8G") }, FormatQcow2},
		{"vmdk monolithicSparse", func(t *testing.T, src string) {
			pattern(t, src+".raw")
			qemuImgRun(t, "convert", "-f", "raw", "-O", "vmdk", src+".raw", src)
		}, FormatVMDK},
		{"vmdk streamOptimized", func(t *testing.T, src string) {
			pattern(t, src+".raw")
			qemuImgRun(t, "convert", "-f", "raw", "-O", "vmdk", "-o", "subformat=streamOptimized", src+".raw", src)
		}, FormatVMDK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			src := filepath.Join(dir, "upload")
			dst := filepath.Join(dir, "image.qcow2")
			tt.build(t, src)
			info, err := q.Import(t.Context(), src, "", Limits{MaxVirtualBytes: 10 << 30, MaxFileBytes: 64 * mib}, dst)
			if err != nil {
				t.Fatalf("Import: %v", err)
			}
			if info.Format != tt.format {
				t.Errorf("format %q, want %q", info.Format, tt.format)
			}
			out, err := q.Inspect(t.Context(), dst)
			if err != nil {
				t.Fatalf("Inspect output: %v", err)
			}
			if err := Validate(out, Limits{}); err != nil {
				t.Errorf("output does not validate: %v", err)
			}
			if out.Format != FormatQcow2 || out.Compat != "1.1" || out.VirtualSize != info.VirtualSize {
				t.Errorf("output %s compat %s of %d bytes, want qcow2 compat 1.1 of %d", out.Format, out.Compat, out.VirtualSize, info.VirtualSize)
			}
			if cmd := exec.Command("qemu-img", "compare", "-q", "-f", tt.format, "-F", "qcow2", src, dst); cmd.Run() != nil {
				t.Error("qemu-img compare: output differs from source")
			}
			entries, _ := os.ReadDir(dir)
			for _, e := range entries {
				if strings.Contains(e.Name(), ".tmp-") {
					t.Errorf("temporary file %s left behind", e.Name())
				}
			}
		})
	}
}

func TestValidateLimits(t *testing.T) {
	base := Info{Path: "/x", Format: FormatRaw, VirtualSize: 10 * mib, FileSize: 10 * mib, ParentCID: vmdkNoParent}
	tests := []struct {
		name   string
		edit   func(*Info)
		limits Limits
		want   string
	}{
		{"within limits", func(*Info) {}, Limits{MaxVirtualBytes: 10 * mib, MaxFileBytes: 10 * mib}, ""},
		{"no limits", func(*Info) {}, Limits{}, ""},
		{"file too large", func(*Info) {}, Limits{MaxFileBytes: 10*mib - 1}, CodeTooLarge},
		{"virtual too large", func(i *Info) { i.Format = FormatQcow2; i.FileSize = mib }, Limits{MaxVirtualBytes: mib, MaxFileBytes: mib}, CodeTooLarge},
		{"unsupported", func(i *Info) { i.Format = "vpc" }, Limits{}, CodeUnsupportedFormat},
		{"backing file", func(i *Info) { i.BackingFile = "/etc/passwd" }, Limits{}, CodeBackingFile},
		{"data file", func(i *Info) { i.DataFile = "/dev/sda" }, Limits{}, CodeExternalDataFile},
		{"encrypted", func(i *Info) { i.Encrypted = true }, Limits{}, CodeEncrypted},
		{"corrupt bit", func(i *Info) { i.Corrupt = true }, Limits{}, CodeCorrupt},
		{"check found corruption", func(i *Info) { i.Corruptions = 3 }, Limits{}, CodeCorrupt},
		{"zero size", func(i *Info) { i.VirtualSize = 0 }, Limits{}, CodeNotAnImage},
		{"raw not whole sectors", func(i *Info) { i.FileSize, i.VirtualSize = 1000, 1000 }, Limits{}, CodeNotAnImage},
		{"vmdk with a parent", func(i *Info) {
			i.Format, i.CreateType, i.ParentCID = FormatVMDK, "monolithicSparse", 7
			i.Extents = []Extent{{Filename: "/x"}}
		}, Limits{}, CodeBackingFile},
		{"vmdk flat", func(i *Info) {
			i.Format, i.CreateType = FormatVMDK, "monolithicFlat"
			i.Extents = []Extent{{Filename: "/x"}}
		}, Limits{}, CodeExternalDataFile},
		{"vmdk extent elsewhere", func(i *Info) {
			i.Format, i.CreateType = FormatVMDK, "streamOptimized"
			i.Extents = []Extent{{Filename: "/etc/shadow"}}
		}, Limits{}, CodeExternalDataFile},
		{"vmdk single file", func(i *Info) {
			i.Format, i.CreateType = FormatVMDK, "streamOptimized"
			i.Extents = []Extent{{Filename: "/x"}}
		}, Limits{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			info := base
			tt.edit(&info)
			err := Validate(&info, tt.limits)
			if got := RejectionCode(err); got != tt.want {
				t.Errorf("got %q (%v), want %q", got, err, tt.want)
			}
		})
	}
}

func TestProbe(t *testing.T) {
	tests := []struct {
		name   string
		data   string
		format string
		code   string
	}{
		{"zeros", strings.Repeat("\x00", 1024), FormatRaw, ""},
		{"text", "hello world\n", FormatRaw, ""},
		{"qed", "QED\x00" + strings.Repeat("\x00", 60), "", CodeUnsupportedFormat},
		{"vpc", "conectix" + strings.Repeat("\x00", 60), "", CodeUnsupportedFormat},
		{"vdi", strings.Repeat("\x00", 0x40) + "\x7f\x10\xda\xbe", "", CodeUnsupportedFormat},
		{"parallels", "WithoutFreeSpace" + strings.Repeat("\x00", 60), "", CodeUnsupportedFormat},
		{"bochs", "Bochs Virtual HD Image\x00", "", CodeUnsupportedFormat},
		{"cloop", "#!/bin/sh\n#V2.0 Format\nmodprobe cloop\n", "", CodeUnsupportedFormat},
		{"vmdk3", "COWD" + strings.Repeat("\x00", 60), "", CodeUnsupportedFormat},
		{"vmdk descriptor", "# Disk DescriptorFile\nversion=1\n", "", CodeExternalDataFile},
		{"vmdk descriptor crlf after blank lines", "#c\r\n  \r\n\nversion=2\r\n", "", CodeExternalDataFile},
		{"not a descriptor", "# comment\nhello\nversion=1\n", FormatRaw, ""},
		{"qcow2 truncated", "QFI\xfb\x00\x00\x00\x03", "", CodeNotAnImage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := fixture(t, "f")
			writeFile(t, path, []byte(tt.data))
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			format, err := probe(f)
			if got := RejectionCode(err); got != tt.code {
				t.Fatalf("got code %q (%v), want %q", got, err, tt.code)
			}
			if tt.code == "" && format != tt.format {
				t.Errorf("format %q, want %q", format, tt.format)
			}
		})
	}
}

// TestInspectPaths: only absolute paths to regular files reach qemu-img.
func TestInspectPaths(t *testing.T) {
	q := needQemuImg(t)
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(dir, "good.raw")
	writeFile(t, good, make([]byte, 4096))
	link := filepath.Join(dir, "link")
	if err := os.Symlink(good, link); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"good.raw", "nbd://127.0.0.1/x", "json:{}", dir + "/../" + filepath.Base(dir) + "/good.raw", fifo, link, filepath.Join(dir, "missing")} {
		if _, err := q.Inspect(t.Context(), path); err == nil {
			t.Errorf("Inspect(%q) succeeded, want an error", path)
		}
	}
	if _, err := q.Inspect(t.Context(), good); err != nil {
		t.Errorf("Inspect(%q): %v", good, err)
	}
}

// TestQemuImgLimits shows the resource limits are applied to qemu-img: a
// tiny address space or timeout makes it fail with a rejection, not hang.
func TestQemuImgLimits(t *testing.T) {
	needQemuImg(t)
	img := fixture(t, "disk.qcow2")
	newQcow2(t, img, "1M")

	small := &QemuImg{MemoryLimit: 32 * mib}
	_, err := small.Inspect(t.Context(), img)
	if err == nil {
		t.Fatal("Inspect with a 32 MiB address space succeeded; is the limit applied?")
	}
	if got := RejectionCode(err); got != CodeNotAnImage {
		t.Errorf("memory limit: got %q (%v), want %q", got, err, CodeNotAnImage)
	}

	quick := &QemuImg{Timeout: 1}
	_, err = quick.Inspect(t.Context(), img)
	if !errors.Is(err, context.DeadlineExceeded) || RejectionCode(err) != CodeNotAnImage {
		t.Errorf("timeout: got %v, want not_an_image wrapping a deadline", err)
	}

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err = (&QemuImg{}).Inspect(ctx, img)
	if !errors.Is(err, context.Canceled) || RejectionCode(err) != "" {
		t.Errorf("cancelled: got %v, want context.Canceled and no rejection", err)
	}
}
