package qemu

import (
	"context"
	"flag"
	"os"
	"os/exec"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata golden files")

// requireTool fails under CI when a tool is missing and skips locally.
func requireTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is required under CI (apt-get install qemu-system-x86 qemu-utils): %v", name, err)
		}
		t.Skipf("%s not installed", name)
	}
	return p
}

// startBareQEMU runs QEMU with no machine and a QMP socket; it is killed
// when the test ends.
func startBareQEMU(t *testing.T) (sock string, exited <-chan struct{}) {
	t.Helper()
	bin := requireTool(t, "qemu-system-x86_64")
	dir := t.TempDir()
	sock = dir + "/qmp.sock"
	cmd := exec.Command(bin, "-machine", "none", "-nodefaults", "-display", "none",
		"-qmp", "unix:"+sock+",server=on,wait=off")
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
	})
	return sock, done
}

func testCtx(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}
