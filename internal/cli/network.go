package cli

import (
	"context"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/client"
)

var networkCols = []col[api.Network]{
	{"NAME", func(n *api.Network) string { return n.Name }},
	{"VDC", func(n *api.Network) string { return n.VDC }},
	{"CIDR", func(n *api.Network) string { return n.CIDR }},
	{"GATEWAY", func(n *api.Network) string { return n.Gateway }},
	{"DNS", func(n *api.Network) string { return strings.Join(n.DNS, ",") }},
	{"MTU", func(n *api.Network) string { return itoa(n.MTU) }},
	{"STATE", func(n *api.Network) string { return n.State }},
	{"LABELS", func(n *api.Network) string { return labels(n.Labels) }},
	{"AGE", func(n *api.Network) string { return age(n.CreatedAt) }},
}

func (a *app) networkCmd() *cobra.Command {
	cmd := group(&cobra.Command{Use: "network", Aliases: []string{"networks", "net"}, Short: "Manage private networks of the organisation (--org)"})

	var vdc string
	list := &cobra.Command{Use: "list", Short: "List networks", Args: args()}
	lf := addListFlags(list)
	list.Flags().StringVar(&vdc, "vdc", "", "only networks of this VDC")
	list.RunE = func(cmd *cobra.Command, _ []string) error {
		c, org, err := a.inOrg()
		if err != nil {
			return err
		}
		l, err := fetch(cmd.Context(), lf, func(ctx context.Context, o client.ListOptions) (*api.List[api.Network], error) {
			return c.ListNetworks(ctx, org, client.NetworkListOptions{ListOptions: o, VDC: vdc})
		})
		if err != nil {
			return err
		}
		return showList(a, l, networkCols)
	}
	cmd.AddCommand(list)

	cmd.AddCommand(&cobra.Command{
		Use:   "get NAME",
		Short: "Show a network",
		Args:  args("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, org, err := a.inOrg()
			if err != nil {
				return err
			}
			n, err := c.GetNetwork(cmd.Context(), org, args[0])
			if err != nil {
				return err
			}
			return show(a, n, networkCols)
		},
	})

	var in api.NetworkCreate
	var createLabels []string
	create := &cobra.Command{
		Use:   "create NAME --cidr CIDR",
		Short: "Create a network in a VDC",
		Long: "Create an isolated network with an IPv4 subnet (/16 to /29) in a VDC (--vdc may be left out\n" +
			"when the organisation has exactly one). VMs on it get their addresses by DHCP, the gateway\n" +
			"(by default the first address) routes them out. Its CIDR must not overlap another network of\n" +
			"the same VDC; other VDCs and other organisations may use the same addresses.",
		Example: "  sirocco network create lan --cidr 10.0.0.0/24\n" +
			"  sirocco network create db --vdc prod --cidr 10.1.0.0/24 --gateway 10.1.0.254 --dns 1.1.1.1 --dns 9.9.9.9",
		Args: args("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if in.CIDR == "" {
				return usagef("--cidr is required, e.g. --cidr 10.0.0.0/24")
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
			n, err := c.CreateNetwork(cmd.Context(), org, in)
			if err != nil {
				return err
			}
			return show(a, n, networkCols)
		},
	}
	cf := create.Flags()
	cf.StringVar(&in.CIDR, "cidr", "", "IPv4 subnet, /16 to /29 (required)")
	cf.StringVar(&in.VDC, "vdc", "", "VDC to create it in (default: the organisation's only VDC)")
	cf.StringVar(&in.Gateway, "gateway", "", "gateway address (default: the first host address)")
	cf.StringArrayVar(&in.DNS, "dns", nil, "DNS server handed out by DHCP (repeatable, at most 4)")
	cf.StringArrayVar(&createLabels, "label", nil, "label key=value (repeatable)")
	cmd.AddCommand(create)

	cmd.AddCommand(&cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a network (refused while VMs are on it)",
		Args:  args("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, org, err := a.inOrg()
			if err != nil {
				return err
			}
			if err := c.DeleteNetwork(cmd.Context(), org, args[0]); err != nil {
				return err
			}
			a.done("Deleted network %s.", args[0])
			return nil
		},
	})
	return cmd
}
