package cli

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/client"
)

var diskCols = []col[api.Disk]{
	{"NAME", func(k *api.Disk) string { return k.Name }},
	{"VDC", func(k *api.Disk) string { return k.VDC }},
	{"SIZE", func(k *api.Disk) string { return itoa(k.SizeGiB) + " GiB" }},
	{"STATE", func(k *api.Disk) string { return k.State }},
	{"VM", func(k *api.Disk) string { return k.VMName }},
	{"HOST", func(k *api.Disk) string { return k.Host }},
	{"LABELS", func(k *api.Disk) string { return labels(k.Labels) }},
	{"AGE", func(k *api.Disk) string { return age(k.CreatedAt) }},
}

func (a *app) diskCmd() *cobra.Command {
	cmd := group(&cobra.Command{Use: "disk", Aliases: []string{"disks"}, Short: "Manage data disks of the organisation (--org)"})

	var vdc, vm string
	list := &cobra.Command{Use: "list", Short: "List data disks", Args: args()}
	lf := addListFlags(list)
	list.Flags().StringVar(&vdc, "vdc", "", "only disks of this VDC")
	list.Flags().StringVar(&vm, "vm", "", "only disks attached to this VM")
	list.RunE = func(cmd *cobra.Command, _ []string) error {
		c, org, err := a.inOrg()
		if err != nil {
			return err
		}
		l, err := fetch(cmd.Context(), lf, func(ctx context.Context, o client.ListOptions) (*api.List[api.Disk], error) {
			return c.ListDisks(ctx, org, client.DiskListOptions{ListOptions: o, VDC: vdc, VM: vm})
		})
		if err != nil {
			return err
		}
		return showList(a, l, diskCols)
	}
	cmd.AddCommand(list)

	cmd.AddCommand(&cobra.Command{
		Use:     "show DISK",
		Aliases: []string{"get"},
		Short:   "Show a data disk",
		Args:    args("DISK"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, org, err := a.inOrg()
			if err != nil {
				return err
			}
			k, err := c.GetDisk(cmd.Context(), org, args[0])
			if err != nil {
				return err
			}
			return show(a, k, diskCols)
		},
	})

	var in api.DiskCreate
	var createLabels []string
	create := &cobra.Command{
		Use:   "create NAME --size GIB",
		Short: "Create an empty data disk in a VDC",
		Long: "Create an empty data disk of --size GiB in a VDC (--vdc may be left out when the organisation\n" +
			"has exactly one). It is charged per GiB-hour from now until it is deleted, attached or not.\n" +
			"Attach it to a stopped VM with `sirocco disk attach`; the guest sees it as /dev/vdb.",
		Example: "  sirocco disk create data --size 20\n" +
			"  sirocco disk create logs --size 5 --vdc prod --label tier=db",
		Args: args("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if in.SizeGiB <= 0 {
				return usagef("--size is required, in GiB, e.g. --size 20")
			}
			l, err := parseLabels(createLabels)
			if err != nil {
				return err
			}
			c, org, err := a.inOrg()
			if err != nil {
				return err
			}
			in.Name, in.Labels = args[0], l
			k, err := c.CreateDisk(cmd.Context(), org, in)
			if err != nil {
				return err
			}
			return show(a, k, diskCols)
		},
	}
	cf := create.Flags()
	cf.Int64Var(&in.SizeGiB, "size", 0, "size in GiB, 1 to 16384 (required)")
	cf.StringVar(&in.VDC, "vdc", "", "VDC to create it in (default: the organisation's only VDC)")
	cf.StringArrayVar(&createLabels, "label", nil, "label key=value (repeatable)")
	cmd.AddCommand(create)

	var attachVM string
	attach := &cobra.Command{
		Use:   "attach DISK --vm VM",
		Short: "Attach a data disk to a stopped VM",
		Long: "Attach a disk to a stopped VM of its VDC; it shows in the guest at the next start, after the\n" +
			"VM's other disks (/dev/vdb first). A disk lives on the host of the first VM it was attached to\n" +
			"and attaches only to VMs there.",
		Example: "  sirocco vm stop web1\n  sirocco disk attach data --vm web1\n  sirocco vm start web1",
		Args:    args("DISK"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if attachVM == "" {
				return usagef("--vm is required")
			}
			c, org, err := a.inOrg()
			if err != nil {
				return err
			}
			k, err := c.AttachDisk(cmd.Context(), org, args[0], api.DiskAttach{VM: attachVM})
			if err != nil {
				return err
			}
			return show(a, k, diskCols)
		},
	}
	attach.Flags().StringVar(&attachVM, "vm", "", "the VM (ID or name; required)")
	cmd.AddCommand(attach)

	cmd.AddCommand(&cobra.Command{
		Use:   "detach DISK",
		Short: "Detach a data disk from its stopped VM (it keeps its data)",
		Args:  args("DISK"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, org, err := a.inOrg()
			if err != nil {
				return err
			}
			k, err := c.DetachDisk(cmd.Context(), org, args[0])
			if err != nil {
				return err
			}
			return show(a, k, diskCols)
		},
	})

	var newSize int64
	resize := &cobra.Command{
		Use:   "resize DISK --size GIB",
		Short: "Grow a data disk",
		Long: "Grow a disk to --size GiB (a disk never shrinks). An attached disk grows only while its VM is\n" +
			"stopped; grow the file system from inside the guest afterwards (resize2fs /dev/vdb).",
		Example: "  sirocco disk resize data --size 40",
		Args:    args("DISK"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if newSize <= 0 {
				return usagef("--size is required, in GiB, e.g. --size 40")
			}
			c, org, err := a.inOrg()
			if err != nil {
				return err
			}
			k, err := c.UpdateDisk(cmd.Context(), org, args[0], api.DiskUpdate{SizeGiB: &newSize})
			if err != nil {
				return err
			}
			a.done("Disk %s is now %d GiB.", k.Name, k.SizeGiB)
			return nil
		},
	}
	resize.Flags().Int64Var(&newSize, "size", 0, "new size in GiB (required; larger than the current one)")
	cmd.AddCommand(resize)

	cmd.AddCommand(&cobra.Command{
		Use:   "delete DISK",
		Short: "Delete a detached data disk and its data",
		Args:  args("DISK"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, org, err := a.inOrg()
			if err != nil {
				return err
			}
			if err := c.DeleteDisk(cmd.Context(), org, args[0]); err != nil {
				return err
			}
			a.done("Deleted disk %s.", args[0])
			return nil
		},
	})
	return cmd
}
