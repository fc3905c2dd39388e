package network

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"github.com/vishvananda/netns"
)

// InNamespace runs fn on an OS thread switched into ns (0 or negative =
// the current namespace, fn runs as is). Sockets, ioctls and /proc/sys/net
// writes act on the calling thread's namespace, which is why they need this;
// netlink and nftables take the namespace as a handle instead. If the thread
// cannot be switched back it stays locked, so the runtime discards it rather
// than run other goroutines in the wrong namespace.
func InNamespace(ns netns.NsHandle, fn func() error) error {
	if ns <= 0 {
		return fn()
	}
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("current netns: %w", err)
	}
	defer orig.Close()
	if err := netns.Set(ns); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("enter netns: %w", err)
	}
	ferr := fn()
	if err := netns.Set(orig); err != nil {
		// The thread is stuck in the wrong namespace: keep it locked so the
		// runtime discards it when this goroutine ends.
		return errors.Join(ferr, fmt.Errorf("restore netns: %w", err))
	}
	runtime.UnlockOSThread()
	return ferr
}

// netnsDir is where named namespaces live, as `ip netns` expects.
const netnsDir = "/var/run/netns"

// namedNS opens the named namespace, creating it when missing. The caller
// closes the handle.
func namedNS(name string) (netns.NsHandle, error) {
	if h, err := netns.GetFromName(name); err == nil {
		return h, nil
	}
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return 0, fmt.Errorf("current netns: %w", err)
	}
	defer orig.Close()
	// NewNamed unshares the calling thread into the new namespace.
	h, err := netns.NewNamed(name)
	if rerr := netns.Set(orig); rerr != nil {
		if h > 0 {
			h.Close()
		}
		return 0, errors.Join(err, fmt.Errorf("restore netns: %w", rerr))
	}
	runtime.UnlockOSThread()
	if err != nil {
		return 0, fmt.Errorf("create netns %s: %w", name, err)
	}
	return h, nil
}

// deleteNamedNS removes a named namespace; a missing one is not an error.
func deleteNamedNS(name string) error {
	if _, err := os.Stat(filepath.Join(netnsDir, name)); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err := netns.DeleteNamed(name); err != nil {
		return fmt.Errorf("delete netns %s: %w", name, err)
	}
	return nil
}

// writeSysctl writes a /proc/sys value inside ns.
func writeSysctl(ns netns.NsHandle, path, value string) error {
	return InNamespace(ns, func() error {
		if err := os.WriteFile(filepath.Join("/proc/sys", path), []byte(value), 0o644); err != nil {
			return fmt.Errorf("sysctl %s=%s: %w", path, value, err)
		}
		return nil
	})
}
