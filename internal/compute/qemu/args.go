package qemu

import (
	"path/filepath"
	"strconv"
	"strings"

	"github.com/sirocco-cloud/sirocco/internal/compute"
)

// Paths are the files of one VM, all inside its directory.
type Paths struct {
	Dir         string
	Spec        string // spec.json: the compute.Spec the VM was created with
	Disk        string // disk.qcow2: the root disk (an overlay on the image)
	Seed        string // seed.iso: the cloud-init NoCloud seed
	QMP         string // qmp.sock
	ConsoleSock string // console.sock: the live serial port
	ConsoleLog  string // console.log: everything the guest wrote to it
	Pidfile     string // qemu.pid, written by QEMU
	QEMULog     string // qemu.log: QEMU's own stdout and stderr
}

// PathsFor returns the paths of a VM living in dir.
func PathsFor(dir string) Paths {
	return Paths{
		Dir:         dir,
		Spec:        filepath.Join(dir, "spec.json"),
		Disk:        filepath.Join(dir, "disk.qcow2"),
		Seed:        filepath.Join(dir, "seed.iso"),
		QMP:         filepath.Join(dir, "qmp.sock"),
		ConsoleSock: filepath.Join(dir, "console.sock"),
		ConsoleLog:  filepath.Join(dir, "console.log"),
		Pidfile:     filepath.Join(dir, "qemu.pid"),
		QEMULog:     filepath.Join(dir, "qemu.log"),
	}
}

// hasDisk reports whether a VM of spec has a root disk: disk images always,
// kernel images when they name a disk or a size.
func hasDisk(spec compute.Spec) bool {
	return spec.Image.Kind == compute.ImageDisk || spec.Image.Disk != "" || spec.DiskGiB > 0
}

// defaultCmdline is the kernel command line of kernel images that give none.
const defaultCmdline = "console=ttyS0"

// Args is the command line (without the program name) of the QEMU process
// running spec, with its files at p and the accelerator accel ("kvm" or
// "tcg"). It is a pure function: same input, same output.
//
// QEMU does not daemonize itself (-daemonize forks, which -sandbox
// spawn=deny forbids); the driver detaches it instead (own session, stdio to
// qemu.log). Every disk is virtio: cloud-init finds the seed as a virtio
// disk, while a q35 CD-ROM was not found. The root disk boots
// (bootindex=1); data disks follow it, then the seed, which cloud-init finds
// by its label wherever it is. The serial console is a socket
// (live) with a log file (appended across restarts).
func Args(spec compute.Spec, p Paths, accel string) []string {
	cpu := "max"
	if accel == compute.AccelKVM {
		cpu = "host"
	}
	a := []string{
		"-name", optValue(spec.ID),
		"-machine", "q35,accel=" + accel,
		"-cpu", cpu,
		"-smp", strconv.Itoa(spec.VCPU),
		"-m", strconv.FormatInt(spec.MemoryMiB, 10) + "M",
		"-nodefaults", "-no-user-config", "-display", "none",
		"-sandbox", "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny",
		"-pidfile", p.Pidfile,
		"-qmp", "unix:" + optValue(p.QMP) + ",server=on,wait=off",
		"-chardev", "socket,id=serial0,path=" + optValue(p.ConsoleSock) + ",server=on,wait=off,logfile=" + optValue(p.ConsoleLog) + ",logappend=on",
		"-serial", "chardev:serial0",
	}
	if hasDisk(spec) {
		a = append(a,
			"-drive", "if=none,id=root,format=qcow2,discard=unmap,file="+optValue(p.Disk),
			"-device", "virtio-blk-pci,drive=root,serial=root,bootindex=1",
		)
	}
	for i, d := range spec.Disks {
		id := diskDrive(i)
		a = append(a,
			"-drive", "if=none,id="+id+",format=qcow2,discard=unmap,file="+optValue(d.Path),
			"-device", "virtio-blk-pci,drive="+id+",serial="+optValue(diskSerial(d.ID)),
		)
	}
	a = append(a,
		"-drive", "if=none,id=seed,format=raw,readonly=on,file="+optValue(p.Seed),
		"-device", "virtio-blk-pci,drive=seed,serial=cidata",
	)
	// One NIC after another, so that they take PCI slots in spec order and
	// the guest names them eth0, eth1, ... in that order.
	for i, n := range spec.NICs {
		id := "net" + strconv.Itoa(i)
		a = append(a,
			"-netdev", "tap,id="+id+",ifname="+optValue(n.Tap)+",script=no,downscript=no",
			"-device", "virtio-net-pci,netdev="+id+",mac="+optValue(n.MAC),
		)
	}
	a = append(a, "-device", "virtio-rng-pci")
	if spec.Image.Kind == compute.ImageKernel {
		a = append(a, "-kernel", spec.Image.Kernel)
		if spec.Image.Initrd != "" {
			a = append(a, "-initrd", spec.Image.Initrd)
		}
		cmdline := spec.Image.Cmdline
		if cmdline == "" {
			cmdline = defaultCmdline
		}
		a = append(a, "-append", cmdline)
	}
	return a
}

// diskDrive is the QEMU drive id of a VM's i-th data disk (the device QMP
// names in query-block and block_resize).
func diskDrive(i int) string { return "disk-" + strconv.Itoa(i) }

// maxSerial is the longest serial a virtio-blk disk carries.
const maxSerial = 20

// diskSerial is what the guest sees as a data disk's serial
// (/dev/disk/by-id/virtio-<serial>): the disk's ID, cut to its first 20
// characters.
func diskSerial(id string) string {
	if len(id) > maxSerial {
		return id[:maxSerial]
	}
	return id
}

// optValue escapes a value inside a QEMU option string, where a comma
// separates options and a doubled comma stands for one.
func optValue(s string) string {
	return strings.ReplaceAll(s, ",", ",,")
}
