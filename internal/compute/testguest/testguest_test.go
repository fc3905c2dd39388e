package testguest

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	diskfs "github.com/diskfs/go-diskfs"
	"github.com/diskfs/go-diskfs/disk"
	"github.com/diskfs/go-diskfs/filesystem"
	"github.com/diskfs/go-diskfs/filesystem/iso9660"
)

const qemuBinary = "qemu-system-x86_64"

// needQEMU skips without QEMU locally and fails in CI.
func needQEMU(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath(qemuBinary)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s not found (CI is set): run make deps", qemuBinary)
		}
		t.Skipf("%s not found: run make deps", qemuBinary)
	}
	return p
}

func TestEnsureIsIdempotent(t *testing.T) {
	if _, err := exec.LookPath("apt-get"); err != nil && os.Getenv("CI") == "" {
		t.Skip("not a Debian host")
	}
	kernel, initrd := Path(t)
	dir := filepath.Dir(kernel)
	m, err := ReadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(m.KernelPackage, "linux-image-") || !strings.HasSuffix(m.KernelPackage, "-cloud-amd64") {
		t.Errorf("kernel package %q, want linux-image-*-cloud-amd64", m.KernelPackage)
	}
	if m.Cmdline != Cmdline {
		t.Errorf("manifest cmdline %q, want %q", m.Cmdline, Cmdline)
	}
	for _, mod := range []string{"virtio_pci.ko", "virtio_blk.ko", "virtio_net.ko", "isofs.ko", "button.ko", "evdev.ko"} {
		if !contains(m.Modules, mod) {
			t.Errorf("initrd lacks %s; modules: %v", mod, m.Modules)
		}
	}
	before := modTimes(t, kernel, initrd)
	built, err := Ensure(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	if built {
		t.Error("Ensure rebuilt an up-to-date guest")
	}
	if after := modTimes(t, kernel, initrd); after != before {
		t.Errorf("files changed: %v -> %v", before, after)
	}
}

func TestVerify(t *testing.T) {
	if _, err := exec.LookPath("apt-get"); err != nil && os.Getenv("CI") == "" {
		t.Skip("not a Debian host")
	}
	kernel, initrd := Path(t)
	src := filepath.Dir(kernel)
	script, err := buildScript()
	if err != nil {
		t.Fatal(err)
	}
	recipe, err := recipeHash(filepath.Dir(script))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		recipe  string
		damage  func(dir string) error
		wantErr string
	}{
		{name: "intact", recipe: recipe},
		{name: "other recipe", recipe: "0123", wantErr: "another recipe"},
		{
			name: "corrupt initrd", recipe: recipe, wantErr: "initrd.img: sha256",
			damage: func(dir string) error {
				return os.WriteFile(filepath.Join(dir, "initrd.img"), []byte("x"), 0o644)
			},
		},
		{
			name: "no manifest", recipe: recipe, wantErr: "manifest",
			damage: func(dir string) error { return os.Remove(filepath.Join(dir, "manifest.json")) },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for _, f := range []string{kernel, initrd, filepath.Join(src, "manifest.json")} {
				b, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, filepath.Base(f)), b, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if tt.damage != nil {
				if err := tt.damage(dir); err != nil {
					t.Fatal(err)
				}
			}
			err := verify(dir, tt.recipe)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("verify: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("verify: %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func modTimes(t *testing.T, paths ...string) string {
	t.Helper()
	var b strings.Builder
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s=%d ", filepath.Base(p), fi.ModTime().UnixNano())
	}
	return b.String()
}

func TestBootsAndPrintsReady(t *testing.T) {
	const key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGx0c2lyb2Njb3Rlc3RndWVzdGtleTAwMDAwMDAw tg@test"
	tests := []struct {
		name     string
		metaData string
		userData string
		nic      bool
		want     string
		// console, if set, is typed on the serial console after the ready
		// line; a line starting with reply must follow.
		console, reply string
	}{
		{
			name:     "hostname",
			metaData: "instance-id: i-tg-test\nlocal-hostname: tg-test\n",
			want:     "SIROCCO-READY hostname=tg-test ip=none",
		},
		{
			name:     "user-data script",
			metaData: "instance-id: i-tg-script\nlocal-hostname: tg-script\n",
			userData: "#!/bin/sh\necho user-data-ran-$(hostname)\n",
			want:     "SIROCCO-READY hostname=tg-script ip=none",
			console:  "dmesg -n 1",
		},
		{
			name:     "cloud-config keys",
			metaData: "instance-id: i-tg-keys\nlocal-hostname: 'tg-keys'\n",
			userData: "#cloud-config\nssh_authorized_keys:\n  - " + key + "\nhostname: ignored\n",
			want:     "SIROCCO-READY hostname=tg-keys ip=none",
			console:  "cat /root/.ssh/authorized_keys",
			reply:    key,
		},
		{
			name:     "dhcp",
			metaData: "instance-id: i-tg-dhcp\nlocal-hostname: tg-dhcp\n",
			nic:      true,
			// QEMU's user-mode network leases 10.0.2.15 to the first guest.
			want: "SIROCCO-READY hostname=tg-dhcp ip=10.0.2.15",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nics := 0
			if tt.nic {
				nics = 1
			}
			vm := boot(t, tt.metaData, tt.userData, nics)
			line, lines, elapsed := vm.waitFor(t, ReadyPrefix, 60*time.Second)
			t.Logf("ready after %v: %q", elapsed.Round(time.Millisecond), line)
			if line != tt.want {
				t.Errorf("ready line %q, want %q", line, tt.want)
			}
			if strings.HasPrefix(tt.userData, "#!") && !containsLine(lines, "user-data-ran-tg-script") {
				t.Errorf("user-data script output not on the console:\n%s", strings.Join(lines, "\n"))
			}
			if tt.console != "" {
				vm.send(t, tt.console)
			}
			if tt.reply != "" {
				vm.waitFor(t, tt.reply, 30*time.Second)
			}
			if tt.nic {
				vm.checkHTTP(t, "tg-dhcp")
			}
		})
	}
}

// TestDHCPOnEveryNIC: a guest with two NICs takes an address on each, and
// only the first sets the default route (QEMU's user-mode networks both
// offer one: 10.0.2.2 and 10.0.3.2).
func TestDHCPOnEveryNIC(t *testing.T) {
	vm := boot(t, "instance-id: i-tg-two\nlocal-hostname: tg-two\n", "", 2)
	line, _, elapsed := vm.waitFor(t, ReadyPrefix, 60*time.Second)
	t.Logf("ready after %v: %q", elapsed.Round(time.Millisecond), line)
	if want := "SIROCCO-READY hostname=tg-two ip=10.0.2.15"; line != want {
		t.Errorf("ready line %q, want %q (the first NIC's address)", line, want)
	}
	vm.send(t, "echo eth1=$(cat /run/ip.eth1); ip route | sed 's/^/ROUTE /'; echo END")
	_, lines, _ := vm.waitFor(t, "END", 30*time.Second)
	var routes []string
	for _, l := range lines {
		if r, ok := strings.CutPrefix(l, "ROUTE "); ok && strings.HasPrefix(r, "default") {
			routes = append(routes, strings.TrimSpace(r))
		}
	}
	if !containsLine(lines, "eth1=10.0.3.15") {
		t.Errorf("the second NIC has no DHCP address; console:\n%s", strings.Join(lines, "\n"))
	}
	if len(routes) != 1 || !strings.HasPrefix(routes[0], "default via 10.0.2.2 dev eth0") {
		t.Errorf("default routes %q, want one, via 10.0.2.2 on eth0", routes)
	}
	vm.checkHTTP(t, "tg-two")
}

func containsLine(lines []string, s string) bool {
	for _, l := range lines {
		if strings.Contains(l, s) {
			return true
		}
	}
	return false
}

func TestPowerdownPowersOff(t *testing.T) {
	vm := boot(t, "instance-id: i-tg-off\nlocal-hostname: tg-off\n", "", 0)
	vm.waitFor(t, ReadyPrefix, 60*time.Second)

	qmp, err := net.DialTimeout("unix", vm.qmpPath, 5*time.Second)
	if err != nil {
		t.Fatalf("dial QMP: %v", err)
	}
	defer qmp.Close()
	qmp.SetDeadline(time.Now().Add(30 * time.Second))
	dec := json.NewDecoder(qmp)
	// execute sends cmd and returns its reply, passing over events.
	execute := func(cmd string) {
		t.Helper()
		if _, err := fmt.Fprintf(qmp, `{"execute":%q}`+"\n", cmd); err != nil {
			t.Fatalf("QMP %s: %v", cmd, err)
		}
		for {
			var msg map[string]json.RawMessage
			if err := dec.Decode(&msg); err != nil {
				t.Fatalf("QMP %s: %v", cmd, err)
			}
			if _, ok := msg["return"]; ok {
				return
			}
			if e, ok := msg["error"]; ok {
				t.Fatalf("QMP %s: %s", cmd, e)
			}
		}
	}
	var greeting map[string]json.RawMessage
	if err := dec.Decode(&greeting); err != nil {
		t.Fatalf("QMP greeting: %v", err)
	}
	execute("qmp_capabilities")
	start := time.Now()
	execute("system_powerdown")

	select {
	case <-vm.exited:
		t.Logf("powered off %v after system_powerdown", time.Since(start).Round(time.Millisecond))
	case <-time.After(20 * time.Second):
		t.Fatal("guest still running 20s after system_powerdown")
	}
}

type guest struct {
	qmpPath  string
	httpPort int
	stdin    io.WriteCloser
	lines    chan string
	exited   chan struct{}
	start    time.Time
	seen     []string
}

// boot starts the test guest with a NoCloud seed and nics virtio NICs, each
// on its own QEMU user-mode network (10.0.2.0/24, 10.0.3.0/24, ...); port
// 8080 of the first is forwarded from 127.0.0.1. QEMU is killed at the end
// of the test.
func boot(t *testing.T, metaData, userData string, nics int) *guest {
	t.Helper()
	qemu := needQEMU(t)
	kernel, initrd := Path(t)
	dir := t.TempDir()
	seed := filepath.Join(dir, "seed.iso")
	writeSeed(t, seed, map[string]string{"meta-data": metaData, "user-data": userData})
	g := &guest{
		// Unix socket paths are short; TempDir names can be long.
		qmpPath: filepath.Join(dir, "qmp"),
		lines:   make(chan string, 256),
		exited:  make(chan struct{}),
	}
	if len(g.qmpPath) > 100 {
		d, err := os.MkdirTemp("", "tg")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(d) })
		g.qmpPath = filepath.Join(d, "qmp")
	}
	args := []string{
		"-machine", "q35", "-accel", "tcg", "-m", "256",
		"-nodefaults", "-display", "none", "-serial", "stdio",
		"-kernel", kernel, "-initrd", initrd, "-append", Cmdline,
		"-drive", "file=" + seed + ",if=virtio,format=raw,readonly=on",
		"-no-reboot",
		"-qmp", "unix:" + g.qmpPath + ",server=on,wait=off",
	}
	if nics == 0 {
		args = append(args, "-nic", "none")
	}
	// A restricted user-mode network offers no router; with several NICs
	// the test needs both to offer one (to see that only the first is
	// taken), and the guest sends nothing beyond DHCP, answered by QEMU.
	restrict := "on"
	if nics > 1 {
		restrict = "off"
	}
	for i := range nics {
		netdev := fmt.Sprintf("user,model=virtio-net-pci,restrict=%s,net=10.0.%d.0/24", restrict, i+2)
		if i == 0 {
			g.httpPort = freePort(t)
			netdev += fmt.Sprintf(",hostfwd=tcp:127.0.0.1:%d-:%d", g.httpPort, Port)
		}
		args = append(args, "-nic", netdev)
	}
	cmd := exec.Command(qemu, args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if g.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	g.start = time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", qemu, err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			g.lines <- strings.TrimRight(sc.Text(), "\r")
		}
		io.Copy(io.Discard, stdout)
		cmd.Wait()
		close(g.lines)
		close(g.exited)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		// Drain what the reader still holds, so it can reach cmd.Wait.
		for range g.lines {
		}
		<-g.exited
		if t.Failed() {
			t.Logf("qemu stderr: %s", stderr.String())
		}
	})
	return g
}

// waitFor reads console lines until one starts with prefix and returns it,
// the lines before it and the time since QEMU started.
func (g *guest) waitFor(t *testing.T, prefix string, timeout time.Duration) (string, []string, time.Duration) {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case line, ok := <-g.lines:
			if !ok {
				t.Fatalf("QEMU exited before %q; console:\n%s", prefix, strings.Join(g.seen, "\n"))
			}
			g.seen = append(g.seen, line)
			if strings.HasPrefix(line, prefix) {
				return line, g.seen, time.Since(g.start)
			}
		case <-deadline:
			t.Fatalf("no %q within %v; console:\n%s", prefix, timeout, strings.Join(g.seen, "\n"))
		}
	}
}

// send types line on the serial console.
func (g *guest) send(t *testing.T, line string) {
	t.Helper()
	if _, err := io.WriteString(g.stdin, line+"\n"); err != nil {
		t.Fatalf("console: %v", err)
	}
}

// checkHTTP fetches the guest's page through the forwarded port.
func (g *guest) checkHTTP(t *testing.T, hostname string) {
	t.Helper()
	c := http.Client{Timeout: 20 * time.Second}
	resp, err := c.Get(fmt.Sprintf("http://127.0.0.1:%d/", g.httpPort))
	if err != nil {
		t.Fatalf("guest HTTP: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("guest HTTP: %v", err)
	}
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "hostname="+hostname) {
		t.Errorf("guest HTTP: %s %q, want 200 naming %s", resp.Status, body, hostname)
	}
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// writeSeed writes a NoCloud seed: an ISO 9660 image labelled cidata with
// Rock Ridge and Joliet, holding files (empty contents are written as empty
// files).
func writeSeed(t *testing.T, path string, files map[string]string) {
	t.Helper()
	d, err := diskfs.Create(path, 1<<20, diskfs.SectorSizeDefault)
	if err != nil {
		t.Fatalf("seed: %v", err)
	}
	d.LogicalBlocksize = 2048
	fs, err := d.CreateFilesystem(disk.FilesystemSpec{
		Partition: 0, FSType: filesystem.TypeISO9660, VolumeLabel: "cidata", WorkDir: t.TempDir(),
	})
	if err != nil {
		t.Fatalf("seed: %v", err)
	}
	for name, content := range files {
		f, err := fs.OpenFile("/"+name, os.O_CREATE|os.O_RDWR)
		if err != nil {
			t.Fatalf("seed %s: %v", name, err)
		}
		if _, err := f.Write([]byte(content)); err != nil {
			t.Fatalf("seed %s: %v", name, err)
		}
	}
	iso, ok := fs.(*iso9660.FileSystem)
	if !ok {
		t.Fatalf("seed: %T is not ISO 9660", fs)
	}
	if err := iso.Finalize(iso9660.FinalizeOptions{RockRidge: true, Joliet: true, VolumeIdentifier: "cidata"}); err != nil {
		t.Fatalf("seed: finalize: %v", err)
	}
	if err := d.Close(); err != nil {
		t.Fatalf("seed: %v", err)
	}
}
