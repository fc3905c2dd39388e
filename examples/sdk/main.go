// Command sdk is the Go SDK example: it lists the sizes and public images,
// creates a VM, waits for the operation that starts it, prints the VM and
// deletes it again.
//
//	SIROCCO_URL=https://cloud.example.com SIROCCO_TOKEN=sirocco_… \
//	SIROCCO_FINGERPRINT=sha256:… SIROCCO_ORG=example go run ./examples/sdk
//
// SIROCCO_FINGERPRINT is only for a server with a self-signed certificate.
// SIROCCO_ORG is the organisation (default example); SIROCCO_VDC may be left
// out when it has exactly one VDC. SIROCCO_IMAGE, SIROCCO_SIZE and SIROCCO_VM
// default to sirocco-testguest, s1.small and sdk-example.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/client"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "sdk example:", err)
		os.Exit(1)
	}
}

func env(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}

func run(ctx context.Context, out io.Writer) error {
	opts := []client.Option{client.WithToken(os.Getenv("SIROCCO_TOKEN"))}
	if fp := os.Getenv("SIROCCO_FINGERPRINT"); fp != "" {
		opts = append(opts, client.WithFingerprint(fp))
	}
	c, err := client.New(os.Getenv("SIROCCO_URL"), opts...)
	if err != nil {
		return err
	}
	org, vdc := env("SIROCCO_ORG", "example"), os.Getenv("SIROCCO_VDC")
	image, size, name := env("SIROCCO_IMAGE", "sirocco-testguest"), env("SIROCCO_SIZE", "s1.small"), env("SIROCCO_VM", "sdk-example")

	// Lists come a page at a time; the All* iterators walk every page.
	fmt.Fprintln(out, "Sizes:")
	for s, err := range c.AllSizes(ctx, client.SizeListOptions{ExcludeDeprecated: true}) {
		if err != nil {
			return fmt.Errorf("list sizes: %w", err)
		}
		fmt.Fprintf(out, "  %-12s %d vCPU  %6d MiB  %4d GiB\n", s.Name, s.VCPU, s.MemoryMiB, s.DiskGiB)
	}
	fmt.Fprintln(out, "Public images:")
	for img, err := range c.AllPublicImages(ctx, client.ListOptions{}) {
		if err != nil {
			return fmt.Errorf("list images: %w", err)
		}
		fmt.Fprintf(out, "  %-20s %-8s %s\n", img.Name, img.Kind, img.State)
	}

	// A create answers at once with the placed VM and one operation per VM
	// that ends when it runs. The idempotency key makes a retry of this very
	// request (after a timeout, say) return the same VM instead of a second.
	key := fmt.Sprintf("sdk-example-%d", time.Now().UnixNano())
	created, err := c.CreateVMs(ctx, org, api.VMCreate{Name: name, VDC: vdc, Image: image, Size: size}, client.IdempotencyKey(key))
	if e, ok := errors.AsType[*api.Error](err); ok && e.Code == api.CodeNotFound {
		return fmt.Errorf("create VM: %w (does organisation %q have a VDC? run examples/curl/first-vm.sh first, or set SIROCCO_ORG)", err, org)
	}
	if err != nil {
		return fmt.Errorf("create VM: %w", err)
	}
	vm := created.VMs[0]
	fmt.Fprintf(out, "Creating VM %s (%s) on host %s\n", vm.Name, vm.ID, vm.Host)
	progress := func(op api.Operation) { fmt.Fprintf(out, "  %s: %s %d%%\n", op.Kind, op.State, op.Progress) }
	if _, err := c.WaitOperation(ctx, created.Operations[0].ID, progress); err != nil {
		return fmt.Errorf("VM %s did not start: %w", vm.Name, err)
	}

	got, err := c.GetVM(ctx, org, vm.ID)
	if err != nil {
		return err
	}
	b, err := json.MarshalIndent(got, "", "  ")
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "%s\n", b)
	if got.State != api.VMRunning {
		return fmt.Errorf("VM %s is %s, not running", got.Name, got.State)
	}

	op, err := c.DeleteVM(ctx, org, vm.ID)
	if err != nil {
		return fmt.Errorf("delete VM: %w", err)
	}
	if _, err := c.WaitOperation(ctx, op.ID, progress); err != nil {
		return fmt.Errorf("delete VM: %w", err)
	}
	fmt.Fprintf(out, "Deleted VM %s\n", vm.Name)
	return nil
}
