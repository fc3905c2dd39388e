package cli

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/client"
)

// imageImportOVACmd is `sirocco image import-ova`: the on-ramp from VMware.
func (a *app) imageImportOVACmd() *cobra.Command {
	var file, description, osName string
	var public bool
	cmd := &cobra.Command{
		Use:   "import-ova NAME --file FILE.ova",
		Short: "Create a disk image from a VMware OVA, showing the bytes sent and the size that fits it",
		Long: "Import a virtual machine exported from vSphere, ESXi or VirtualBox as an OVA: its one disk becomes a\n" +
			"disk image, and the CPUs and memory its descriptor asks for are matched to the smallest size on\n" +
			"offer. The server checks the OVA's manifest, refuses OVAs with several disks and checks the disk\n" +
			"like any upload. An OVF exported as separate files can be packed first: tar -cf vm.ova vm.ovf vm.mf vm-disk1.vmdk\n" +
			"(the .ovf first).",
		Example: "  sirocco image import-ova web01 --file web01.ova\n" +
			"  sirocco image import-ova debian-base --file debian.ova --os debian-12 --public",
		Args: args("NAME"),
	}
	fs := cmd.Flags()
	fs.StringVar(&file, "file", "", "the OVA file (required)")
	fs.BoolVar(&public, "public", false, "add it to the public catalog (provider-admin) instead of the organisation's images")
	fs.StringVar(&description, "description", "", "what the image is (default: from the OVA)")
	fs.StringVar(&osName, "os", "", "operating system, e.g. debian-12 (default: the OVA's description of it)")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if file == "" {
			return usagef("--file is required")
		}
		u := &uploadFile{name: "OVA", path: file}
		f, err := os.Open(expandHome(file))
		if err != nil {
			return usageError{fmt.Errorf("--file %s: %w", file, unwrapPath(err))}
		}
		defer f.Close()
		st, err := f.Stat()
		if err == nil && !st.Mode().IsRegular() {
			err = errors.New("not a regular file")
		}
		if err == nil && st.Size() == 0 {
			err = errors.New("the file is empty")
		}
		if err != nil {
			return usageError{fmt.Errorf("--file %s: %w", file, err)}
		}
		u.f, u.size = f, st.Size()

		s, err := a.imageScope(public)
		if err != nil {
			return err
		}
		body, done := a.byteProgress(u, args[0])
		got, err := s.importOVA(cmd.Context(), client.OVAImport{Name: args[0], Description: description, OS: osName, Body: body, Size: u.size})
		done(err == nil)
		if err != nil {
			return fmt.Errorf("import %s: %w", file, err)
		}
		return a.showOVAImported(got)
	}
	return cmd
}

// showOVAImported prints the new image, the OVA's hardware and the size
// that fits it.
func (a *app) showOVAImported(got *api.OVAImported) error {
	if ok, err := a.encoded(got); ok {
		return err
	}
	if err := show(a, &got.Image, imageCols); err != nil {
		return err
	}
	h := got.Hardware
	hw := fmt.Sprintf("%d vCPU, %d MiB memory, %d GiB disk", h.CPUs, h.MemoryMiB, h.DiskGiB)
	if h.OS != "" {
		hw += " (" + h.OS + ")"
	}
	fmt.Fprintf(a.out, "\nHardware in the OVA: %s\n", hw)
	if got.SuggestedSize == "" {
		fmt.Fprintln(a.out, "Suggested size: none is that large; ask the provider for one")
		return nil
	}
	fmt.Fprintf(a.out, "Suggested size: %s\n", got.SuggestedSize)
	a.note("Start it with: sirocco vm create NAME --image %s --size %s", got.Image.Name, got.SuggestedSize)
	return nil
}

func (s imageScope) importOVA(ctx context.Context, in client.OVAImport) (*api.OVAImported, error) {
	if s.public {
		return s.c.ImportPublicOVA(ctx, in)
	}
	return s.c.ImportOVA(ctx, s.org, in)
}
