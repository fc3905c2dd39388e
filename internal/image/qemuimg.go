package image

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Defaults for [QemuImg].
const (
	DefaultTimeout        = 30 * time.Second
	DefaultConvertTimeout = 30 * time.Minute
	DefaultMemoryLimit    = 2 << 30 // address space of one qemu-img process
)

// QemuImg runs qemu-img on images under resource limits. The zero value
// uses "qemu-img" and "prlimit" from PATH and the defaults above.
//
// Every run goes through prlimit(1) (util-linux, always present on Debian):
// --as caps the address space so a crafted header cannot make qemu-img
// allocate the host's memory, --cpu caps CPU seconds, --core=0 stops core
// dumps of a crashed qemu-img, and convert also gets --fsize so the output
// cannot grow past what the validated virtual size allows. A context timeout
// kills a qemu-img that hangs (for example on a file that blocks on open).
// qemu-img runs with an empty environment apart from PATH, LC_ALL=C and
// MALLOC_ARENA_MAX=2.
//
// The address-space cap counts reservations, not use: each of qemu-img's up
// to 64 I/O threads reserves an 8 MiB stack, and glibc reserves a 64 MiB
// malloc arena per thread up to 8 per core. Measured with qemu-img 7.2
// converting a 64 MiB VMDK: with default arenas, 2 runs in 10 aborted under a
// 600 MiB cap, and one aborted under 1 GiB in a loaded test run; with two
// arenas none of 10 aborted under 600 MiB. Two arenas and a 2 GiB cap leave
// ample room for real work while still stopping a header that asks for
// gigabytes of tables.
type QemuImg struct {
	Binary         string        // qemu-img; default "qemu-img"
	Prlimit        string        // prlimit; default "prlimit"
	Timeout        time.Duration // per info/check run; default DefaultTimeout
	ConvertTimeout time.Duration // per convert; default DefaultConvertTimeout
	MemoryLimit    int64         // bytes of address space; default DefaultMemoryLimit
}

// qemuInfo is the subset of `qemu-img info --output=json` we read.
type qemuInfo struct {
	Format              string `json:"format"`
	VirtualSize         int64  `json:"virtual-size"`
	ActualSize          int64  `json:"actual-size"`
	BackingFilename     string `json:"backing-filename"`
	FullBackingFilename string `json:"full-backing-filename"`
	Encrypted           bool   `json:"encrypted"`
	FormatSpecific      *struct {
		Type string `json:"type"`
		Data struct {
			// qcow2
			Compat      string          `json:"compat"`
			DataFile    string          `json:"data-file"`
			DataFileRaw bool            `json:"data-file-raw"`
			Corrupt     bool            `json:"corrupt"`
			Encrypt     json.RawMessage `json:"encrypt"`
			// vmdk
			CreateType string  `json:"create-type"`
			ParentCID  *uint32 `json:"parent-cid"`
			Extents    []struct {
				Filename    string `json:"filename"`
				Format      string `json:"format"`
				VirtualSize int64  `json:"virtual-size"`
			} `json:"extents"`
		} `json:"data"`
	} `json:"format-specific"`
}

// qemuCheck is the subset of `qemu-img check --output=json` we read.
type qemuCheck struct {
	Corruptions int `json:"corruptions"`
	CheckErrors int `json:"check-errors"`
}

// Inspect probes the image at path and asks qemu-img about it. path must be
// an absolute path to a regular file the caller created (see the package
// documentation); it is never a path a user chose. A header that would make
// qemu-img open another file is rejected before qemu-img runs. For qcow2,
// `qemu-img check` also runs so that truncated or damaged metadata is found.
// Inspect does not apply limits or rules beyond that: call [Validate].
func (q *QemuImg) Inspect(ctx context.Context, path string) (*Info, error) {
	f, err := openOwned(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("inspect %s: %w", path, err)
	}
	format, err := probe(f)
	if err != nil {
		return nil, fmt.Errorf("inspect %s: %w", path, err)
	}
	out, err := q.run(ctx, q.timeout(), 0, "info", "-U", "--output=json", "-f", format, path)
	if ee, ok := errors.AsType[*exitError](err); ok {
		err = &Rejected{Code: CodeNotAnImage, Detail: ee.stderr, Err: ee}
	}
	if err != nil {
		return nil, fmt.Errorf("inspect %s: %w", path, err)
	}
	var qi qemuInfo
	if err := json.Unmarshal(out, &qi); err != nil {
		return nil, fmt.Errorf("inspect %s: parse qemu-img info: %w", path, err)
	}
	if qi.Format != format {
		return nil, fmt.Errorf("inspect %s: %w", path, reject(CodeFormatMismatch, "probed %s, qemu-img reports %q", format, qi.Format))
	}
	info := &Info{
		Path:        path,
		Format:      qi.Format,
		VirtualSize: qi.VirtualSize,
		FileSize:    st.Size(),
		ActualSize:  qi.ActualSize,
		BackingFile: cmp.Or(qi.FullBackingFilename, qi.BackingFilename),
		Encrypted:   qi.Encrypted,
		ParentCID:   vmdkNoParent,
	}
	if fs := qi.FormatSpecific; fs != nil {
		d := fs.Data
		info.Compat, info.DataFile, info.DataFileRaw, info.Corrupt = d.Compat, d.DataFile, d.DataFileRaw, d.Corrupt
		if len(d.Encrypt) > 0 && string(d.Encrypt) != "null" {
			info.Encrypted = true
		}
		info.CreateType = d.CreateType
		if d.ParentCID != nil {
			info.ParentCID = *d.ParentCID
		}
		for _, e := range d.Extents {
			fn := e.Filename
			if fn != "" && !filepath.IsAbs(fn) {
				fn = filepath.Join(filepath.Dir(path), fn)
			}
			info.Extents = append(info.Extents, Extent{Filename: fn, Format: e.Format, VirtualSize: e.VirtualSize})
		}
	}
	if format == FormatQcow2 && info.BackingFile == "" && info.DataFile == "" && !info.Encrypted {
		c, err := q.check(ctx, path)
		if err != nil {
			return nil, fmt.Errorf("inspect %s: %w", path, err)
		}
		info.Corruptions, info.CheckErrors = c.Corruptions, c.CheckErrors
	}
	return info, nil
}

// check runs `qemu-img check`. Its exit status is 2 for corruptions and 3
// for leaks, both of which still print a report.
func (q *QemuImg) check(ctx context.Context, path string) (*qemuCheck, error) {
	out, err := q.run(ctx, q.timeout(), 0, "check", "-U", "--output=json", "-f", FormatQcow2, path)
	if ee, ok := errors.AsType[*exitError](err); ok {
		if ee.code != 2 && ee.code != 3 {
			return nil, &Rejected{Code: CodeCorrupt, Detail: ee.stderr, Err: ee}
		}
		err = nil
	}
	if err != nil {
		return nil, err
	}
	var c qemuCheck
	if err := json.Unmarshal(out, &c); err != nil {
		return nil, fmt.Errorf("parse qemu-img check: %w", err)
	}
	return &c, nil
}

// Convert writes src, inspected by [QemuImg.Inspect] and accepted by
// [Validate], to dst as qcow2 (compat 1.1). It writes a temporary file next
// to dst, checks the result with Inspect (self-contained, same virtual size,
// clean) and renames it into place, so dst is either absent or complete.
// dst must be absolute and in a directory the caller owns.
func (q *QemuImg) Convert(ctx context.Context, src string, info *Info, dst string) error {
	if err := validateStructure(info); err != nil {
		return fmt.Errorf("convert %s: %w", src, err)
	}
	if info.Path != src {
		return fmt.Errorf("convert %s: info is for %s", src, info.Path)
	}
	if !filepath.IsAbs(dst) {
		return fmt.Errorf("convert %s: destination %q is not absolute", src, dst)
	}
	// Probe again: the format must be the one that was validated.
	f, err := openOwned(src)
	if err != nil {
		return err
	}
	format, err := probe(f)
	f.Close()
	if err != nil {
		return fmt.Errorf("convert %s: %w", src, err)
	}
	if format != info.Format {
		return fmt.Errorf("convert %s: %w", src, reject(CodeFormatMismatch, "validated as %s, now probes as %s", info.Format, format))
	}

	tmp := filepath.Join(filepath.Dir(dst), "."+filepath.Base(dst)+".tmp-"+randomHex())
	defer os.Remove(tmp) // a no-op after the rename
	// qcow2 metadata for a fully allocated disk is well under 1% plus a few
	// MiB; the cap only stops a runaway write.
	maxOut := info.VirtualSize + info.VirtualSize/64 + 64<<20
	if _, err := q.run(ctx, q.convertTimeout(), maxOut,
		"convert", "-U", "-f", info.Format, "-O", FormatQcow2, "-o", "compat=1.1", src, tmp); err != nil {
		return fmt.Errorf("convert %s: %w", src, err)
	}
	if err := syncFile(tmp); err != nil {
		return fmt.Errorf("convert %s: %w", src, err)
	}
	out, err := q.Inspect(ctx, tmp)
	if err != nil {
		return fmt.Errorf("convert %s: check output: %w", src, err)
	}
	if err := validateStructure(out); err != nil {
		return fmt.Errorf("convert %s: check output: %w", src, err)
	}
	want := (info.VirtualSize + 511) &^ 511
	if out.Format != FormatQcow2 || out.VirtualSize != want {
		return fmt.Errorf("convert %s: output is %s of %d bytes, want qcow2 of %d", src, out.Format, out.VirtualSize, want)
	}
	if err := os.Rename(tmp, dst); err != nil {
		return fmt.Errorf("convert %s: %w", src, err)
	}
	if err := syncFile(filepath.Dir(dst)); err != nil {
		return fmt.Errorf("convert %s: %w", src, err)
	}
	return nil
}

// openOwned opens path for reading after checking it is absolute and a
// regular file, not a symlink, device or FIFO.
func openOwned(path string) (*os.File, error) {
	if !filepath.IsAbs(path) || filepath.Clean(path) != path {
		return nil, fmt.Errorf("image path %q must be absolute and clean", path)
	}
	st, err := os.Lstat(path)
	if err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("image %s: not a regular file (%s)", path, st.Mode().Type())
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	return f, nil
}

func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", path, err)
	}
	return nil
}

func randomHex() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return hex.EncodeToString(b[:])
}

type exitError struct {
	code   int
	stderr string
}

func (e *exitError) Error() string {
	return fmt.Sprintf("qemu-img exited with status %d: %s", e.code, e.stderr)
}

// maxOutput bounds what is kept of qemu-img's stdout and stderr.
const maxOutput = 1 << 20

// run runs qemu-img with args under prlimit and a timeout. fsize, if not
// zero, caps the size of any file qemu-img writes. A failure of qemu-img on
// the file, including being killed by a limit, is a *Rejected not_an_image
// (wrapping the cause); a cancelled ctx or a missing tool is a plain error.
func (q *QemuImg) run(ctx context.Context, timeout time.Duration, fsize int64, args ...string) ([]byte, error) {
	bin, prl := q.Binary, q.Prlimit
	if bin == "" {
		bin = "qemu-img"
	}
	if prl == "" {
		prl = "prlimit"
	}
	mem := q.MemoryLimit
	if mem <= 0 {
		mem = DefaultMemoryLimit
	}
	cpu := int64(timeout/time.Second) + 1
	argv := []string{
		"--as=" + strconv.FormatInt(mem, 10),
		"--cpu=" + strconv.FormatInt(cpu, 10),
		"--core=0",
	}
	if fsize > 0 {
		argv = append(argv, "--fsize="+strconv.FormatInt(fsize, 10))
	}
	argv = append(argv, "--", bin)
	argv = append(argv, args...)

	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(rctx, prl, argv...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "LC_ALL=C", "MALLOC_ARENA_MAX=2"}
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr limitedBuffer
	stdout.max, stderr.max = maxOutput, 4096
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err == nil {
		if stdout.truncated {
			return nil, reject(CodeNotAnImage, "qemu-img %s printed more than %d bytes", args[0], maxOutput)
		}
		return stdout.Bytes(), nil
	}
	if ctx.Err() != nil {
		return nil, fmt.Errorf("qemu-img %s: %w", args[0], ctx.Err())
	}
	if rctx.Err() != nil {
		return nil, &Rejected{Code: CodeNotAnImage, Detail: fmt.Sprintf("qemu-img %s did not finish within %s", args[0], timeout), Err: rctx.Err()}
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return nil, fmt.Errorf("run qemu-img %s: %w", args[0], err)
	}
	msg := strings.TrimSpace(stderr.String())
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = msg[:i]
	}
	if code := ee.ExitCode(); code >= 0 {
		if strings.HasPrefix(msg, "prlimit:") {
			return nil, fmt.Errorf("run qemu-img %s: %s", args[0], msg)
		}
		if code == 127 || strings.Contains(msg, "failed to execute") {
			return nil, fmt.Errorf("run qemu-img %s: %s", args[0], msg)
		}
		return stdout.Bytes(), &exitError{code: code, stderr: msg}
	}
	// Killed by a signal: a resource limit (SIGKILL from the timeout is
	// handled above; SIGXCPU, SIGXFSZ, SIGSEGV/SIGABRT on failed allocation).
	return nil, &Rejected{Code: CodeNotAnImage, Detail: fmt.Sprintf("qemu-img %s was killed (%s) by a resource limit: %s", args[0], ee.ProcessState, msg), Err: err}
}

// limitedBuffer keeps the first max bytes written to it.
type limitedBuffer struct {
	bytes.Buffer
	max       int
	truncated bool
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.Len(); room < len(p) {
		b.truncated = true
		if room > 0 {
			b.Buffer.Write(p[:room])
		}
		return len(p), nil
	}
	return b.Buffer.Write(p)
}

func (q *QemuImg) timeout() time.Duration {
	if q.Timeout > 0 {
		return q.Timeout
	}
	return DefaultTimeout
}

func (q *QemuImg) convertTimeout() time.Duration {
	if q.ConvertTimeout > 0 {
		return q.ConvertTimeout
	}
	return DefaultConvertTimeout
}

// Import runs the whole import of an untrusted image: [QemuImg.Inspect],
// [CheckDeclared], [Validate] and [QemuImg.Convert] from src to dst. Both
// paths are the caller's own (see the package documentation). It returns the
// report on src.
func (q *QemuImg) Import(ctx context.Context, src, declared string, limits Limits, dst string) (*Info, error) {
	info, err := q.Inspect(ctx, src)
	if err != nil {
		return nil, err
	}
	if err := CheckDeclared(declared, info); err != nil {
		return nil, fmt.Errorf("import %s: %w", src, err)
	}
	if err := Validate(info, limits); err != nil {
		return nil, fmt.Errorf("import %s: %w", src, err)
	}
	if err := q.Convert(ctx, src, info, dst); err != nil {
		return nil, err
	}
	return info, nil
}
