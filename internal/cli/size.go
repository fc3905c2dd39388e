package cli

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/client"
)

var sizeCols = []col[api.Size]{
	{"NAME", func(s *api.Size) string { return s.Name }},
	{"VCPU", func(s *api.Size) string { return itoa(s.VCPU) }},
	{"MEMORY MIB", func(s *api.Size) string { return itoa(s.MemoryMiB) }},
	{"DISK GIB", func(s *api.Size) string { return itoa(s.DiskGiB) }},
	{"PRICE CLASS", func(s *api.Size) string { return s.PriceClass }},
	{"DEPRECATED", func(s *api.Size) string { return yesNo(s.Deprecated) }},
	{"DESCRIPTION", func(s *api.Size) string { return s.Description }},
}

func (a *app) sizeCmd() *cobra.Command {
	cmd := group(&cobra.Command{Use: "size", Aliases: []string{"sizes"}, Short: "Manage VM sizes (the catalog's shapes)"})

	var current bool
	list := &cobra.Command{Use: "list", Short: "List sizes", Args: args()}
	lf := addListFlags(list)
	list.Flags().BoolVar(&current, "current", false, "leave out deprecated sizes")
	list.RunE = func(cmd *cobra.Command, _ []string) error {
		c, _, err := a.authed()
		if err != nil {
			return err
		}
		l, err := fetch(cmd.Context(), lf, func(ctx context.Context, o client.ListOptions) (*api.List[api.Size], error) {
			return c.ListSizes(ctx, client.SizeListOptions{ListOptions: o, ExcludeDeprecated: current})
		})
		if err != nil {
			return err
		}
		return showList(a, l, sizeCols)
	}
	cmd.AddCommand(list)

	cmd.AddCommand(getCmd(a, "Show a size", func(ctx context.Context, c *client.Client, name string) (*api.Size, error) {
		return c.GetSize(ctx, name)
	}, sizeCols))

	var in api.SizeCreate
	var createLabels []string
	create := &cobra.Command{
		Use:     "create NAME --vcpu N --memory-mib N --disk-gib N",
		Short:   "Add a size to the catalog (provider-admin)",
		Example: "  sirocco size create s1.small --vcpu 1 --memory-mib 2048 --disk-gib 20 --price-class standard",
		Args:    args("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if in.VCPU == 0 || in.MemoryMiB == 0 || in.DiskGiB == 0 {
				return usagef("--vcpu, --memory-mib and --disk-gib are required")
			}
			l, err := parseLabels(createLabels)
			if err != nil {
				return err
			}
			c, _, err := a.authed()
			if err != nil {
				return err
			}
			in.Name, in.Labels = args[0], l
			s, err := c.CreateSize(cmd.Context(), in)
			if err != nil {
				return err
			}
			return show(a, s, sizeCols)
		},
	}
	f := create.Flags()
	f.IntVar(&in.VCPU, "vcpu", 0, "virtual CPUs (required)")
	f.Int64Var(&in.MemoryMiB, "memory-mib", 0, "memory in MiB (required)")
	f.Int64Var(&in.DiskGiB, "disk-gib", 0, "root disk in GiB (required)")
	f.StringVar(&in.Description, "description", "", "what the size is for")
	f.StringVar(&in.PriceClass, "price-class", "", "price class, e.g. standard")
	f.StringArrayVar(&createLabels, "label", nil, "label key=value (repeatable)")
	cmd.AddCommand(create)

	var description, priceClass string
	var deprecated bool
	var updateLabels []string
	update := &cobra.Command{
		Use:   "update NAME",
		Short: "Change a size (provider-admin); its shape is fixed",
		Args:  args("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			f := cmd.Flags()
			var u api.SizeUpdate
			if f.Changed("description") {
				u.Description = &description
			}
			if f.Changed("price-class") {
				u.PriceClass = &priceClass
			}
			if f.Changed("deprecated") {
				u.Deprecated = &deprecated
			}
			if f.Changed("label") {
				l, err := parseLabels(updateLabels)
				if err != nil {
					return err
				}
				u.Labels = &l
			}
			c, _, err := a.authed()
			if err != nil {
				return err
			}
			s, err := c.UpdateSize(cmd.Context(), args[0], u)
			if err != nil {
				return err
			}
			return show(a, s, sizeCols)
		},
	}
	uf := update.Flags()
	uf.StringVar(&description, "description", "", "what the size is for")
	uf.StringVar(&priceClass, "price-class", "", "price class")
	uf.BoolVar(&deprecated, "deprecated", false, "stop offering the size for new VMs (--deprecated=false to offer it again)")
	uf.StringArrayVar(&updateLabels, "label", nil, "label key=value (repeatable; replaces all labels)")
	cmd.AddCommand(update)

	cmd.AddCommand(deleteCmd(a, "Remove a size from the catalog (provider-admin)", "Size %s deleted.", func(ctx context.Context, c *client.Client, name string) error {
		return c.DeleteSize(ctx, name)
	}))
	return cmd
}
