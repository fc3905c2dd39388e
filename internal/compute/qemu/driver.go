// Package qemu is the QEMU driver of compute: one qemu-system-x86_64 per VM,
// detached from the agent so that VMs outlive it, controlled over QMP, with
// a qcow2 overlay on the image, a cloud-init NoCloud seed and a serial
// console kept in a log and on a socket.
//
// Each VM lives in its own directory, <root>/<vm-id>/:
//
//	spec.json     the compute.Spec it was created with (0600)
//	disk.qcow2    root disk, an overlay on the cached image
//	seed.iso      NoCloud seed, volume id cidata
//	qmp.sock      QMP monitor
//	console.sock  live serial console
//	console.log   everything the guest wrote on its serial port
//	qemu.pid      written by QEMU
//	qemu.log      QEMU's stdout and stderr
//
// Data disks live apart, in <disks>/<disk-id>.qcow2 (datadisk.go), so that
// they outlive the VMs they are attached to.
//
// The directory is all the state there is: a new Driver on the same root
// (an agent restart) finds running VMs from their pidfiles and reconnects to
// their QMP sockets without disturbing them.
package qemu

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sirocco-cloud/sirocco/internal/compute"
)

// Credential is the unprivileged user QEMU runs as.
type Credential struct{ UID, GID uint32 }

// Config configures a Driver.
type Config struct {
	// Root holds one directory per VM. It is created if missing.
	Root string
	// Disks holds the data disks, <Disks>/<disk-id>.qcow2: apart from the
	// VMs' directories, so that deleting a VM never deletes a disk.
	// Default: "disks" beside Root.
	Disks string
	// QEMU and QEMUImg are the programs to run; defaults
	// qemu-system-x86_64 and qemu-img, looked up in PATH.
	QEMU, QEMUImg string
	// Accel is "kvm" or "tcg"; empty detects it (compute.HostAccel).
	Accel string
	// RunAs, when set, is the user QEMU runs as; VM directories and the
	// files QEMU opens are given to it. The images, kernels and initrds it
	// boots must be readable by it. Nil runs QEMU as the agent's user.
	RunAs *Credential
}

// Timeouts of the driver's own steps.
const (
	qmpTimeout  = 5 * time.Second // one QMP command on a live VM
	quitTimeout = 5 * time.Second // quit before SIGKILL in ForceOff
)

// Driver runs VMs with QEMU. It implements compute.Driver and the optional
// compute.Resizer, compute.Snapshotter, compute.Console and
// compute.DataDisks.
type Driver struct {
	cfg   Config
	accel string
	img   img

	mu  sync.Mutex
	vms map[string]*vm

	diskMu    sync.Mutex       // serialises data disk operations
	diskSizes map[string]int64 // data disk ID -> virtual size in bytes, as last seen
}

var (
	_ compute.Driver      = (*Driver)(nil)
	_ compute.Resizer     = (*Driver)(nil)
	_ compute.Snapshotter = (*Driver)(nil)
	_ compute.Console     = (*Driver)(nil)
)

// vm is one VM directory and, when it runs, its process.
type vm struct {
	id    string
	paths Paths

	mu   sync.Mutex // serialises operations on this VM
	proc *process   // nil when not running (or not yet adopted)
}

// process is a running QEMU, started by this Driver or adopted.
type process struct {
	pid    int
	pidfd  int           // closed by release, after exited
	exited chan struct{} // closed when the process has exited
	qmp    *QMP          // nil if its monitor did not answer at adoption
}

// New returns a Driver keeping VMs under cfg.Root.
func New(cfg Config) (*Driver, error) {
	if cfg.Root == "" {
		return nil, errors.New("qemu driver: root directory not set")
	}
	if cfg.QEMU == "" {
		cfg.QEMU = "qemu-system-x86_64"
	}
	if cfg.QEMUImg == "" {
		cfg.QEMUImg = "qemu-img"
	}
	var err error
	if cfg.QEMU, err = exec.LookPath(cfg.QEMU); err != nil {
		return nil, fmt.Errorf("qemu driver: %w", err)
	}
	if cfg.QEMUImg, err = exec.LookPath(cfg.QEMUImg); err != nil {
		return nil, fmt.Errorf("qemu driver: %w", err)
	}
	if err := os.MkdirAll(cfg.Root, 0o755); err != nil {
		return nil, fmt.Errorf("qemu driver: %w", err)
	}
	if cfg.Disks == "" {
		cfg.Disks = filepath.Join(filepath.Dir(filepath.Clean(cfg.Root)), "disks")
	}
	// Absolute: the paths go into VM specs and QEMU's command line.
	if cfg.Disks, err = filepath.Abs(cfg.Disks); err != nil {
		return nil, fmt.Errorf("qemu driver: %w", err)
	}
	return &Driver{
		cfg:       cfg,
		accel:     compute.HostAccel(cfg.Accel),
		img:       img{bin: cfg.QEMUImg},
		vms:       make(map[string]*vm),
		diskSizes: make(map[string]int64),
	}, nil
}

// Accel is the accelerator VMs are started with.
func (d *Driver) Accel() string { return d.accel }

// Close lets go of the driver's connections to running VMs; the VMs keep
// running and a new Driver adopts them.
func (d *Driver) Close() error {
	d.mu.Lock()
	vms := make([]*vm, 0, len(d.vms))
	for _, v := range d.vms {
		vms = append(vms, v)
	}
	d.vms = make(map[string]*vm)
	d.mu.Unlock()
	for _, v := range vms {
		v.mu.Lock()
		if v.proc != nil && v.proc.qmp != nil {
			v.proc.qmp.Close()
		}
		if p := v.proc; p != nil {
			go func() { <-p.exited; unix.Close(p.pidfd) }()
		}
		v.proc = nil
		v.mu.Unlock()
	}
	return nil
}

// lookup returns the VM with id, ErrNotFound if it has no directory.
func (d *Driver) lookup(id string) (*vm, error) {
	if !compute.ValidID(id) {
		return nil, fmt.Errorf("vm %q: %w", id, compute.ErrNotFound)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if v := d.vms[id]; v != nil {
		return v, nil
	}
	p := PathsFor(filepath.Join(d.cfg.Root, id))
	if _, err := os.Stat(p.Spec); err != nil {
		return nil, fmt.Errorf("vm %s: %w", id, compute.ErrNotFound)
	}
	v := &vm{id: id, paths: p}
	d.vms[id] = v
	return v, nil
}

func readSpec(path string) (compute.Spec, error) {
	var s compute.Spec
	b, err := os.ReadFile(path)
	if err != nil {
		return s, err
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return s, fmt.Errorf("%s: %w", path, err)
	}
	return s, s.Validate()
}

func writeSpec(path string, s compute.Spec) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// Create prepares the VM's directory: spec, root disk overlay and seed.
func (d *Driver) Create(ctx context.Context, spec compute.Spec) (err error) {
	if err := spec.Validate(); err != nil {
		return fmt.Errorf("create vm %s: %w", spec.ID, err)
	}
	p := PathsFor(filepath.Join(d.cfg.Root, spec.ID))
	if err := os.Mkdir(p.Dir, 0o750); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("create vm %s: %w", spec.ID, compute.ErrExists)
		}
		return fmt.Errorf("create vm %s: %w", spec.ID, err)
	}
	defer func() {
		if err != nil {
			os.RemoveAll(p.Dir)
		}
	}()
	switch {
	case spec.Image.Disk != "":
		err = d.img.createOverlay(ctx, spec.Image.Disk, p.Disk, spec.DiskGiB)
	case spec.DiskGiB > 0:
		err = d.img.createBlank(ctx, p.Disk, spec.DiskGiB)
	}
	if err != nil {
		return fmt.Errorf("create vm %s: %w", spec.ID, err)
	}
	if err := WriteSeed(p.Seed, spec); err != nil {
		return fmt.Errorf("create vm %s: %w", spec.ID, err)
	}
	if err := d.giveToQEMU(p.Dir, p.Disk, p.Seed); err != nil {
		return fmt.Errorf("create vm %s: %w", spec.ID, err)
	}
	// The spec is written last: a directory without it is not a VM.
	if err := writeSpec(p.Spec, spec); err != nil {
		return fmt.Errorf("create vm %s: %w", spec.ID, err)
	}
	return nil
}

// giveToQEMU makes paths owned by the user QEMU runs as, when one is set.
func (d *Driver) giveToQEMU(paths ...string) error {
	if d.cfg.RunAs == nil {
		return nil
	}
	for _, p := range paths {
		err := os.Lchown(p, int(d.cfg.RunAs.UID), int(d.cfg.RunAs.GID))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

// Start launches QEMU for the VM and returns when QMP answers. Starting a
// running VM does nothing.
//
// QEMU is detached by hand rather than with -daemonize (which forks, and
// -sandbox spawn=deny kills a forking QEMU): it runs in its own session
// (setsid), with stdin closed and stdout/stderr appended to qemu.log, and
// the driver does not kill it when ctx ends or the agent exits.
func (d *Driver) Start(ctx context.Context, id string) error {
	v, err := d.lookup(id)
	if err != nil {
		return fmt.Errorf("start: %w", err)
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if d.running(ctx, v) {
		return nil
	}
	spec, err := readSpec(v.paths.Spec)
	if err != nil {
		return fmt.Errorf("start vm %s: %w", id, err)
	}
	for _, f := range []string{v.paths.QMP, v.paths.ConsoleSock, v.paths.Pidfile} {
		if err := os.Remove(f); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("start vm %s: %w", id, err)
		}
	}
	logf, err := os.OpenFile(v.paths.QEMULog, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return fmt.Errorf("start vm %s: %w", id, err)
	}
	logStart, _ := logf.Seek(0, io.SeekEnd)
	cmd := exec.Command(d.cfg.QEMU, Args(spec, v.paths, d.accel)...)
	cmd.Dir = v.paths.Dir
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	cmd.Stdout, cmd.Stderr = logf, logf
	pidfd := -1
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, PidFD: &pidfd}
	if c := d.cfg.RunAs; c != nil {
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: c.UID, Gid: c.GID, Groups: []uint32{}}
	}
	err = cmd.Start()
	logf.Close()
	if err != nil {
		return fmt.Errorf("start vm %s: %w", id, err)
	}
	if pidfd < 0 {
		cmd.Process.Kill()
		cmd.Wait()
		return fmt.Errorf("start vm %s: kernel without pidfd support", id)
	}
	p := watch(cmd.Process.Pid, pidfd)
	go func() { <-p.exited; cmd.Wait() }() // reap our child
	q, err := waitQMP(ctx, v.paths.QMP, p.exited)
	if err != nil {
		unix.PidfdSendSignal(p.pidfd, unix.SIGKILL, nil, 0)
		<-p.exited
		p.release()
		return fmt.Errorf("start vm %s: %w%s", id, err, logTail(v.paths.QEMULog, logStart))
	}
	p.qmp = q
	v.proc = p
	return nil
}

// logTail is what QEMU wrote to its log since offset, for error messages.
func logTail(path string, offset int64) string {
	b, err := os.ReadFile(path)
	if err != nil || int64(len(b)) <= offset {
		return ""
	}
	b = bytes.TrimSpace(b[offset:])
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return ": qemu.log: " + string(b)
}

// watch follows the process behind pidfd: exited closes when it ends.
func watch(pid, pidfd int) *process {
	p := &process{pid: pid, pidfd: pidfd, exited: make(chan struct{})}
	go func() {
		fds := []unix.PollFd{{Fd: int32(pidfd), Events: unix.POLLIN}}
		for {
			_, err := unix.Poll(fds, -1)
			if err == nil || !errors.Is(err, unix.EINTR) {
				break
			}
		}
		close(p.exited)
	}()
	return p
}

// release frees what the process held once it has exited.
func (p *process) release() {
	<-p.exited
	if p.qmp != nil {
		p.qmp.Close()
	}
	unix.Close(p.pidfd)
}

func (p *process) alive() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// running adopts v's process if needed and reports whether it runs. It
// clears a process that has exited. v.mu must be held.
func (d *Driver) running(ctx context.Context, v *vm) bool {
	if v.proc == nil {
		v.proc = d.adopt(ctx, v)
	}
	if v.proc == nil {
		return false
	}
	if !v.proc.alive() {
		d.cleanup(v)
		return false
	}
	return true
}

// adopt finds the QEMU of v from its pidfile, checks that the process is
// really that VM's QEMU (its command line names the VM's QMP socket, so a
// reused pid is not mistaken for it) and connects to its QMP. It returns nil
// if the VM does not run.
func (d *Driver) adopt(ctx context.Context, v *vm) *process {
	b, err := os.ReadFile(v.paths.Pidfile)
	if err != nil {
		return nil
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 {
		return nil
	}
	pidfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return nil
	}
	// Checked after opening the pidfd, so the pidfd is this process.
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || !bytes.Contains(cmdline, []byte("unix:"+optValue(v.paths.QMP)+",")) {
		unix.Close(pidfd)
		return nil
	}
	p := watch(pid, pidfd)
	if !p.alive() {
		p.release()
		return nil
	}
	qctx, cancel := context.WithTimeout(ctx, qmpTimeout)
	defer cancel()
	if q, err := DialQMP(qctx, v.paths.QMP); err == nil {
		p.qmp = q
	}
	return p
}

// cleanup forgets v's exited process and removes its runtime files.
func (d *Driver) cleanup(v *vm) {
	if v.proc != nil {
		v.proc.release()
		v.proc = nil
	}
	for _, f := range []string{v.paths.QMP, v.paths.ConsoleSock, v.paths.Pidfile} {
		os.Remove(f)
	}
}

// State reports the VM's power state from QMP query-status; a VM without a
// process is stopped.
func (d *Driver) State(ctx context.Context, id string) (compute.State, error) {
	v, err := d.lookup(id)
	if err != nil {
		return compute.StateUnknown, fmt.Errorf("state: %w", err)
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	return d.state(ctx, v), nil
}

func (d *Driver) state(ctx context.Context, v *vm) compute.State {
	if !d.running(ctx, v) {
		return compute.StateStopped
	}
	if v.proc.qmp == nil {
		return compute.StateUnknown
	}
	qctx, cancel := context.WithTimeout(ctx, qmpTimeout)
	defer cancel()
	st, err := v.proc.qmp.QueryStatus(qctx)
	if err != nil {
		if !v.proc.alive() {
			d.cleanup(v)
			return compute.StateStopped
		}
		return compute.StateUnknown
	}
	switch st.Status {
	case "running":
		return compute.StateRunning
	case "shutdown":
		return compute.StateShutdown
	case "internal-error", "guest-panicked", "io-error":
		return compute.StateCrashed
	default: // paused, prelaunch, inmigrate, suspended, debug, ...
		return compute.StatePaused
	}
}

// Stop asks the guest to power off (ACPI system_powerdown, repeated every
// few seconds) and waits for QEMU to exit, up to timeout; then it forces the
// VM off. Stopping a
// stopped VM does nothing.
func (d *Driver) Stop(ctx context.Context, id string, timeout time.Duration) error {
	v, err := d.lookup(id)
	if err != nil {
		return fmt.Errorf("stop: %w", err)
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if !d.running(ctx, v) {
		return nil
	}
	p := v.proc
	if p.qmp != nil && d.powerdown(ctx, p, timeout) {
		d.cleanup(v)
		return nil
	}
	if ctx.Err() != nil {
		return fmt.Errorf("stop vm %s: %w", id, ctx.Err())
	}
	if err := d.forceOff(ctx, v); err != nil {
		return fmt.Errorf("stop vm %s: %w", id, err)
	}
	return nil
}

// powerdownRetry is how often Stop presses the ACPI power button again: a
// press the guest was not ready for (early in boot, before its ACPI daemon
// listens) is lost, as on real hardware.
const powerdownRetry = 3 * time.Second

// powerdown presses the ACPI power button (system_powerdown) every
// powerdownRetry until QEMU exits (true) or timeout or ctx ends (false).
func (d *Driver) powerdown(ctx context.Context, p *process, timeout time.Duration) bool {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	retry := time.NewTicker(powerdownRetry)
	defer retry.Stop()
	for {
		qctx, cancel := context.WithTimeout(ctx, qmpTimeout)
		err := p.qmp.Execute(qctx, "system_powerdown", nil, nil)
		cancel()
		if err != nil && p.alive() {
			return false
		}
		select {
		case <-p.exited:
			return true
		case <-ctx.Done():
			return false
		case <-deadline.C:
			return false
		case <-retry.C:
		}
	}
}

// ForceOff ends QEMU at once: QMP quit, then SIGKILL if it has not exited
// within a few seconds.
func (d *Driver) ForceOff(ctx context.Context, id string) error {
	v, err := d.lookup(id)
	if err != nil {
		return fmt.Errorf("force off: %w", err)
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if !d.running(ctx, v) {
		return nil
	}
	if err := d.forceOff(ctx, v); err != nil {
		return fmt.Errorf("force off vm %s: %w", id, err)
	}
	return nil
}

func (d *Driver) forceOff(ctx context.Context, v *vm) error {
	p := v.proc
	if p.qmp != nil {
		qctx, cancel := context.WithTimeout(ctx, qmpTimeout)
		p.qmp.Execute(qctx, "quit", nil, nil) // its reply may be lost as QEMU exits
		cancel()
	}
	t := time.NewTimer(quitTimeout)
	defer t.Stop()
	select {
	case <-p.exited:
	case <-t.C:
		if err := unix.PidfdSendSignal(p.pidfd, unix.SIGKILL, nil, 0); err != nil && !errors.Is(err, unix.ESRCH) {
			return fmt.Errorf("kill qemu %d: %w", p.pid, err)
		}
		select {
		case <-p.exited:
		case <-ctx.Done():
			return ctx.Err()
		}
	case <-ctx.Done():
		return ctx.Err()
	}
	d.cleanup(v)
	return nil
}

// Reboot resets the VM (QMP system_reset). ErrNotRunning if it is off.
func (d *Driver) Reboot(ctx context.Context, id string) error {
	v, err := d.lookup(id)
	if err != nil {
		return fmt.Errorf("reboot: %w", err)
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if !d.running(ctx, v) || v.proc.qmp == nil {
		return fmt.Errorf("reboot vm %s: %w", id, compute.ErrNotRunning)
	}
	qctx, cancel := context.WithTimeout(ctx, qmpTimeout)
	defer cancel()
	if err := v.proc.qmp.Execute(qctx, "system_reset", nil, nil); err != nil {
		return fmt.Errorf("reboot vm %s: %w", id, err)
	}
	return nil
}

// Delete forces the VM off and removes its directory.
func (d *Driver) Delete(ctx context.Context, id string) error {
	v, err := d.lookup(id)
	if errors.Is(err, compute.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if d.running(ctx, v) {
		if err := d.forceOff(ctx, v); err != nil {
			return fmt.Errorf("delete vm %s: %w", id, err)
		}
	}
	if err := os.RemoveAll(v.paths.Dir); err != nil {
		return fmt.Errorf("delete vm %s: %w", id, err)
	}
	d.mu.Lock()
	if d.vms[id] == v {
		delete(d.vms, id)
	}
	d.mu.Unlock()
	return nil
}

// List returns every VM under the root with its state, adopting running
// VMs a previous Driver started.
func (d *Driver) List(ctx context.Context) ([]compute.VM, error) {
	entries, err := os.ReadDir(d.cfg.Root)
	if err != nil {
		return nil, fmt.Errorf("list vms: %w", err)
	}
	var out []compute.VM
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		v, err := d.lookup(e.Name())
		if err != nil {
			continue // not a VM directory
		}
		spec, err := readSpec(v.paths.Spec)
		if err != nil {
			return nil, fmt.Errorf("list vms: %w", err)
		}
		v.mu.Lock()
		st := d.state(ctx, v)
		v.mu.Unlock()
		out = append(out, compute.VM{Spec: spec, State: st})
	}
	return out, nil
}

// Resize sets a stopped VM's vCPU and memory and grows its root disk.
func (d *Driver) Resize(ctx context.Context, id string, vcpu int, memoryMiB, diskGiB int64) error {
	v, err := d.lookup(id)
	if err != nil {
		return fmt.Errorf("resize: %w", err)
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if d.running(ctx, v) {
		return fmt.Errorf("resize vm %s: %w", id, compute.ErrRunning)
	}
	spec, err := readSpec(v.paths.Spec)
	if err != nil {
		return fmt.Errorf("resize vm %s: %w", id, err)
	}
	spec.VCPU, spec.MemoryMiB = vcpu, memoryMiB
	if diskGiB > 0 {
		spec.DiskGiB = diskGiB
	}
	if err := spec.Validate(); err != nil {
		return fmt.Errorf("resize vm %s: %w", id, err)
	}
	if diskGiB > 0 {
		if _, err := os.Stat(v.paths.Disk); err != nil {
			return fmt.Errorf("resize vm %s: no root disk: %w", id, err)
		}
		if err := d.img.grow(ctx, v.paths.Disk, diskGiB); err != nil {
			return fmt.Errorf("resize vm %s: %w", id, err)
		}
	}
	if err := writeSpec(v.paths.Spec, spec); err != nil {
		return fmt.Errorf("resize vm %s: %w", id, err)
	}
	return nil
}

// snapshotOp runs a qemu-img snapshot operation on a stopped VM's disk.
func (d *Driver) snapshotOp(ctx context.Context, id, op, name string) error {
	v, err := d.lookup(id)
	if err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	if !compute.ValidID(name) {
		return fmt.Errorf("snapshot %q of vm %s: %w: bad name", name, id, compute.ErrInvalidSpec)
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if d.running(ctx, v) {
		return fmt.Errorf("snapshot %s of vm %s: %w", name, id, compute.ErrRunning)
	}
	if err := d.img.snapshot(ctx, op, v.paths.Disk, name); err != nil {
		return fmt.Errorf("snapshot %s of vm %s: %w", name, id, err)
	}
	return nil
}

// Snapshot takes an internal qcow2 snapshot of the stopped VM's root disk.
func (d *Driver) Snapshot(ctx context.Context, id, name string) error {
	return d.snapshotOp(ctx, id, "-c", name)
}

// RestoreSnapshot returns the stopped VM's root disk to snapshot name.
func (d *Driver) RestoreSnapshot(ctx context.Context, id, name string) error {
	return d.snapshotOp(ctx, id, "-a", name)
}

// DeleteSnapshot removes snapshot name.
func (d *Driver) DeleteSnapshot(ctx context.Context, id, name string) error {
	return d.snapshotOp(ctx, id, "-d", name)
}

// ListSnapshots names the snapshots of the VM's root disk.
func (d *Driver) ListSnapshots(ctx context.Context, id string) ([]string, error) {
	v, err := d.lookup(id)
	if err != nil {
		return nil, fmt.Errorf("snapshots: %w", err)
	}
	names, err := d.img.snapshots(ctx, v.paths.Disk)
	if err != nil {
		return nil, fmt.Errorf("snapshots of vm %s: %w", id, err)
	}
	return names, nil
}

// ConsoleLog opens the VM's console log.
func (d *Driver) ConsoleLog(ctx context.Context, id string) (io.ReadCloser, error) {
	v, err := d.lookup(id)
	if err != nil {
		return nil, fmt.Errorf("console log: %w", err)
	}
	f, err := os.Open(v.paths.ConsoleLog)
	if err != nil {
		return nil, fmt.Errorf("console log of vm %s: %w", id, err)
	}
	return f, nil
}

// AttachConsole connects to the running VM's serial port. QEMU serves one
// client at a time.
func (d *Driver) AttachConsole(ctx context.Context, id string) (io.ReadWriteCloser, error) {
	v, err := d.lookup(id)
	if err != nil {
		return nil, fmt.Errorf("attach console: %w", err)
	}
	var dl net.Dialer
	c, err := dl.DialContext(ctx, "unix", v.paths.ConsoleSock)
	if err != nil {
		return nil, fmt.Errorf("attach console of vm %s: %w", id, err)
	}
	return c, nil
}
