package qemu

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
)

// img runs qemu-img. Every path given to it is one the driver made (a VM's
// overlay) or a trusted, validated base image from the host's cache, never
// a path a user chose.
type img struct{ bin string }

func (m img) run(ctx context.Context, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, m.bin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("qemu-img %s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(stderr.Bytes()))
	}
	return out, nil
}

func gib(n int64) string { return strconv.FormatInt(n, 10) + "G" }

// createOverlay makes overlay a qcow2 whose backing file is base (a qcow2),
// of sizeGiB, or of base's size when sizeGiB is 0.
func (m img) createOverlay(ctx context.Context, base, overlay string, sizeGiB int64) error {
	args := []string{"create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", base, overlay}
	if sizeGiB > 0 {
		args = append(args, gib(sizeGiB))
	}
	_, err := m.run(ctx, args...)
	return err
}

// createBlank makes an empty qcow2 of sizeGiB.
func (m img) createBlank(ctx context.Context, path string, sizeGiB int64) error {
	_, err := m.run(ctx, "create", "-q", "-f", "qcow2", path, gib(sizeGiB))
	return err
}

// virtualSize is the size the guest sees of the qcow2 at path.
func (m img) virtualSize(ctx context.Context, path string) (int64, error) {
	out, err := m.run(ctx, "info", "-U", "--output=json", "-f", "qcow2", path)
	if err != nil {
		return 0, err
	}
	var info struct {
		VirtualSize int64 `json:"virtual-size"`
	}
	if err := json.Unmarshal(out, &info); err != nil {
		return 0, fmt.Errorf("qemu-img info %s: %w", path, err)
	}
	return info.VirtualSize, nil
}

// grow resizes the qcow2 at path to sizeGiB; it never shrinks. The VM must
// be off.
func (m img) grow(ctx context.Context, path string, sizeGiB int64) error {
	cur, err := m.virtualSize(ctx, path)
	if err != nil {
		return err
	}
	want := sizeGiB << 30
	switch {
	case want == cur:
		return nil
	case want < cur:
		return fmt.Errorf("resize %s: disks only grow (%d bytes now, %d asked)", path, cur, want)
	}
	_, err = m.run(ctx, "resize", "-q", "-f", "qcow2", path, gib(sizeGiB))
	return err
}

// Internal qcow2 snapshots of a stopped VM's disk.

func (m img) snapshot(ctx context.Context, op, path, name string) error {
	_, err := m.run(ctx, "snapshot", op, name, path)
	return err
}

func (m img) snapshots(ctx context.Context, path string) ([]string, error) {
	out, err := m.run(ctx, "info", "-U", "--output=json", "-f", "qcow2", path)
	if err != nil {
		return nil, err
	}
	var info struct {
		Snapshots []struct {
			Name string `json:"name"`
		} `json:"snapshots"`
	}
	if err := json.Unmarshal(out, &info); err != nil {
		return nil, fmt.Errorf("qemu-img info %s: %w", path, err)
	}
	names := make([]string, 0, len(info.Snapshots))
	for _, s := range info.Snapshots {
		names = append(names, s.Name)
	}
	return names, nil
}
