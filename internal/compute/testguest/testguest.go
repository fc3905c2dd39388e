// Package testguest gives tests Sirocco's busybox test guest: the Debian cloud
// kernel and an initramfs built by images/testguest/build.sh (`make image`).
// The guest reads a NoCloud seed, takes an address by DHCP, prints ReadyPrefix
// on its serial console and serves TCP on port 8080; boot it with Cmdline.
package testguest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"
)

const (
	// Cmdline is the kernel command line the guest expects.
	Cmdline = "console=ttyS0 panic=-1"
	// ReadyPrefix starts the single line the guest prints on its console once
	// it is up: "SIROCCO-READY hostname=<hostname> ip=<address or none>".
	ReadyPrefix = "SIROCCO-READY "
	// Port is the TCP port on which the guest serves a page naming its host.
	Port = 8080
)

// buildTimeout bounds one run of build.sh, downloads included.
const buildTimeout = 10 * time.Minute

// Manifest is OUT_DIR/manifest.json as build.sh writes it.
type Manifest struct {
	KernelPackage  string   `json:"kernel_package"`
	KernelVersion  string   `json:"kernel_version"`
	KernelRelease  string   `json:"kernel_release"`
	BusyboxPackage string   `json:"busybox_package"`
	BusyboxVersion string   `json:"busybox_version"`
	RecipeSHA256   string   `json:"recipe_sha256"`
	Cmdline        string   `json:"cmdline"`
	Modules        []string `json:"modules"`
	VmlinuzSHA256  string   `json:"vmlinuz_sha256"`
	InitrdSHA256   string   `json:"initrd_sha256"`
}

// Path returns the kernel and initrd of the test guest, building them into
// CacheDir first if they are missing or were built from another recipe. A file
// lock keeps parallel test binaries from building at the same time. It fails t
// when the guest cannot be built.
func Path(t testing.TB) (kernel, initrd string) {
	t.Helper()
	dir, err := CacheDir()
	if err != nil {
		t.Fatalf("testguest: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	defer cancel()
	start := time.Now()
	built, err := Ensure(ctx, dir)
	if err != nil {
		t.Fatalf("testguest: cannot build the test guest (make image, or images/testguest/build.sh %s): %v", dir, err)
	}
	if built {
		t.Logf("testguest: built the test guest in %s (%v)", dir, time.Since(start).Round(time.Millisecond))
	}
	return filepath.Join(dir, "vmlinuz"), filepath.Join(dir, "initrd.img")
}

// CacheDir is where Path keeps the guest:
// ${XDG_CACHE_HOME:-$HOME/.cache}/sirocco/testguest.
func CacheDir() (string, error) {
	base := os.Getenv("XDG_CACHE_HOME")
	if base == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("cache dir: %w", err)
		}
		base = filepath.Join(home, ".cache")
	}
	return filepath.Join(base, "sirocco", "testguest"), nil
}

// Ensure makes dir hold a test guest built from the current recipe, running
// build.sh under an exclusive lock on dir.lock when it does not. It reports
// whether it built.
func Ensure(ctx context.Context, dir string) (built bool, err error) {
	script, err := buildScript()
	if err != nil {
		return false, err
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return false, fmt.Errorf("cache dir: %w", err)
	}
	unlock, err := lock(dir + ".lock")
	if err != nil {
		return false, err
	}
	defer unlock()

	recipe, err := recipeHash(filepath.Dir(script))
	if err != nil {
		return false, err
	}
	if err := verify(dir, recipe); err == nil {
		return false, nil
	}
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, "bash", script, dir)
	// build.sh would otherwise wait for the lock held here.
	cmd.Env = append(os.Environ(), "TESTGUEST_LOCK_HELD=1")
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Run(); err != nil {
		return false, fmt.Errorf("%s %s: %w\n%s", script, dir, err, out.Bytes())
	}
	if err := verify(dir, recipe); err != nil {
		return false, fmt.Errorf("after %s: %w", script, err)
	}
	return true, nil
}

// ReadManifest reads dir/manifest.json.
func ReadManifest(dir string) (Manifest, error) {
	var m Manifest
	b, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		return m, fmt.Errorf("manifest: %w", err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("manifest %s: %w", filepath.Join(dir, "manifest.json"), err)
	}
	return m, nil
}

// verify checks that dir holds a guest built from recipe, intact.
func verify(dir, recipe string) error {
	m, err := ReadManifest(dir)
	if err != nil {
		return err
	}
	if m.RecipeSHA256 != recipe {
		return errors.New("built from another recipe")
	}
	for name, want := range map[string]string{"vmlinuz": m.VmlinuzSHA256, "initrd.img": m.InitrdSHA256} {
		got, err := fileHash(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		if got != want {
			return fmt.Errorf("%s: sha256 %s, manifest says %s", name, got, want)
		}
	}
	return nil
}

// recipeHash is build.sh's recipe_sha256: SHA-256 of build.sh, init and
// udhcpc.script, concatenated.
func recipeHash(dir string) (string, error) {
	h := sha256.New()
	for _, name := range []string{"build.sh", "init", "udhcpc.script"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return "", fmt.Errorf("recipe: %w", err)
		}
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func fileHash(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := f.WriteTo(h); err != nil {
		return "", fmt.Errorf("hash %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// buildScript finds images/testguest/build.sh in the source tree this package
// was compiled from.
func buildScript() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", errors.New("cannot locate the source tree")
	}
	script := filepath.Join(filepath.Dir(file), "..", "..", "..", "images", "testguest", "build.sh")
	if _, err := os.Stat(script); err != nil {
		return "", fmt.Errorf("build script: %w", err)
	}
	return filepath.Clean(script), nil
}

// lock takes an exclusive flock on path, blocking until it is free.
func lock(path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
