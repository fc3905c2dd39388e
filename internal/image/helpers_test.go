package image

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// needQemuImg returns a QemuImg for tests that run the real qemu-img. In CI
// a missing qemu-img is a failure; locally the test is skipped.
func needQemuImg(t *testing.T) *QemuImg {
	t.Helper()
	for _, tool := range []string{"qemu-img", "prlimit"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s is required in CI (apt-get install qemu-utils util-linux): %v", tool, err)
			}
			t.Skipf("%s is not installed: %v", tool, err)
		}
	}
	return &QemuImg{}
}

// qemuImgRun runs qemu-img to build or compare test fixtures (never on a
// hostile file).
func qemuImgRun(t *testing.T, args ...string) {
	t.Helper()
	// LUKS key setup times PBKDF iterations by CPU time, which fails on a
	// loaded machine ("Unable to get accurate CPU usage"): try again.
	for attempt := 1; ; attempt++ {
		out, err := exec.Command("qemu-img", args...).CombinedOutput()
		if err == nil {
			return
		}
		if attempt == 5 || !bytes.Contains(out, []byte("accurate CPU usage")) {
			t.Fatalf("qemu-img %v: %v\n%s", args, err, out)
		}
	}
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// patch overwrites bytes of a file in place.
func patch(t *testing.T, path string, off int64, data []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(data, off); err != nil {
		t.Fatal(err)
	}
}

func be32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }
func be64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }
func le64(v uint64) []byte { return binary.LittleEndian.AppendUint64(nil, v) }

// newQcow2 creates a clean qcow2 with qemu-img.
func newQcow2(t *testing.T, path, size string) {
	t.Helper()
	qemuImgRun(t, "create", "-q", "-f", "qcow2", path, size)
}

// setQcow2Backing writes a backing file name into a clean qcow2's header,
// as `qemu-img create -b` would, without qemu-img ever opening the target.
func setQcow2Backing(t *testing.T, path, backing string) {
	t.Helper()
	const off = 0xe00 // inside the first cluster, after the extensions
	patch(t, path, off, []byte(backing))
	patch(t, path, 8, be64(off))
	patch(t, path, 16, be32(uint32(len(backing))))
}

// setQcow2DataFile replaces a clean qcow2 v3's header extensions with an
// external data file name and sets the incompatible "external data file" bit.
func setQcow2DataFile(t *testing.T, path, dataFile string) {
	t.Helper()
	b := readFile(t, path)
	hdrLen := int64(binary.BigEndian.Uint32(b[100:]))
	var ext bytes.Buffer
	ext.Write(be32(qcow2ExtDataFileName))
	ext.Write(be32(uint32(len(dataFile))))
	ext.WriteString(dataFile)
	for ext.Len()%8 != 0 {
		ext.WriteByte(0)
	}
	ext.Write(make([]byte, 8)) // end of extensions
	patch(t, path, hdrLen, ext.Bytes())
	incompat := binary.BigEndian.Uint64(b[72:]) | qcow2IncompatDataFile
	patch(t, path, 72, be64(incompat))
}

// newVMDK creates a monolithicSparse VMDK with qemu-img and replaces its
// embedded descriptor with desc; capacity0 also zeroes the header capacity,
// which makes qemu read the embedded descriptor as a descriptor file.
func newVMDK(t *testing.T, path, desc string, capacity0 bool) {
	t.Helper()
	qemuImgRun(t, "create", "-q", "-f", "vmdk", path, "1M")
	b := readFile(t, path)
	descOff := int64(binary.LittleEndian.Uint64(b[28:])) * 512
	descLen := int64(binary.LittleEndian.Uint64(b[36:])) * 512
	if desc != "" {
		d := make([]byte, descLen)
		copy(d, desc)
		patch(t, path, descOff, d)
	}
	if capacity0 {
		patch(t, path, 12, le64(0))
	}
}

// decoy is a host file a hostile image points at. It records the file's
// content and mtime and watches it with inotify, so a test can prove that
// nothing opened, read or wrote it.
type decoy struct {
	path    string
	content []byte
	mtime   time.Time
	fd      int
}

func newDecoy(t *testing.T, path string) *decoy {
	t.Helper()
	writeFile(t, path, bytes.Repeat([]byte("host secret\n"), 100))
	return watchDecoy(t, path)
}

func watchDecoy(t *testing.T, path string) *decoy {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	content := readFile(t, path) // before the watch, which would see this read
	fd, err := syscall.InotifyInit1(syscall.IN_CLOEXEC | syscall.IN_NONBLOCK)
	if err != nil {
		t.Fatalf("inotify: %v", err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	mask := uint32(syscall.IN_OPEN | syscall.IN_ACCESS | syscall.IN_MODIFY | syscall.IN_ATTRIB)
	if _, err := syscall.InotifyAddWatch(fd, path, mask); err != nil {
		t.Fatalf("inotify watch %s: %v", path, err)
	}
	return &decoy{path: path, content: content, mtime: st.ModTime(), fd: fd}
}

// untouched fails the test if the decoy was opened, read, written or had
// its attributes changed since newDecoy. inotify queues events when they
// happen, so once the operation has returned every event is already there.
func (d *decoy) untouched(t *testing.T) {
	t.Helper()
	buf := make([]byte, 4096)
	n, err := syscall.Read(d.fd, buf)
	switch {
	case errors.Is(err, syscall.EAGAIN):
	case err != nil:
		t.Fatalf("read inotify: %v", err)
	case n > 0:
		t.Errorf("%s was accessed (inotify mask %#x)", d.path, binary.LittleEndian.Uint32(buf[4:]))
	}
	st, err := os.Stat(d.path)
	if err != nil {
		t.Fatal(err)
	}
	if !st.ModTime().Equal(d.mtime) || !bytes.Equal(readFile(t, d.path), d.content) {
		t.Errorf("%s was modified", d.path)
	}
}

func fixture(t *testing.T, name string) string {
	t.Helper()
	return filepath.Join(t.TempDir(), name)
}
