package cli

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/client"
)

// publicIPCols shows addresses with the names of their VMs (vms maps IDs to
// names; an ID missing from it is shown as is).
func publicIPCols(vms map[string]string) []col[api.PublicIP] {
	return []col[api.PublicIP]{
		{"ADDRESS", func(p *api.PublicIP) string { return p.Address }},
		{"VDC", func(p *api.PublicIP) string { return p.VDC }},
		{"REGION", func(p *api.PublicIP) string { return p.Region }},
		{"VM", func(p *api.PublicIP) string {
			if n, ok := vms[p.VM]; ok {
				return n
			}
			return p.VM
		}},
		{"PRIVATE IP", func(p *api.PublicIP) string { return p.PrivateIP }},
		{"AGE", func(p *api.PublicIP) string { return age(p.CreatedAt) }},
	}
}

var poolCols = []col[api.PublicIPPool]{
	{"NAME", func(p *api.PublicIPPool) string { return p.Name }},
	{"REGION", func(p *api.PublicIPPool) string { return p.Region }},
	{"CIDR", func(p *api.PublicIPPool) string { return p.CIDR }},
	{"GATEWAY", func(p *api.PublicIPPool) string { return p.Gateway }},
	{"RANGE", func(p *api.PublicIPPool) string { return p.FirstIP + "-" + p.LastIP }},
	{"UPLINK", func(p *api.PublicIPPool) string { return p.Uplink }},
	{"ALLOCATED", func(p *api.PublicIPPool) string { return itoa(p.Allocated) }},
	{"AGE", func(p *api.PublicIPPool) string { return age(p.CreatedAt) }},
}

// vmNames looks up the names of the VMs the addresses are attached to, for
// tables: the API names a VM by ID. Only in table output, where the names
// are shown; a VM that cannot be read keeps its ID.
func (a *app) vmNames(ctx context.Context, c *client.Client, org string, ips []api.PublicIP) map[string]string {
	names := map[string]string{}
	if a.output != "table" {
		return names
	}
	for _, ip := range ips {
		if ip.VM == "" {
			continue
		}
		if _, ok := names[ip.VM]; ok {
			continue
		}
		if vm, err := c.GetVM(ctx, org, ip.VM); err == nil {
			names[ip.VM] = vm.Name
		}
	}
	return names
}

// showIP prints one address with its VM's name.
func (a *app) showIP(ctx context.Context, c *client.Client, org string, ip *api.PublicIP) error {
	return show(a, ip, publicIPCols(a.vmNames(ctx, c, org, []api.PublicIP{*ip})))
}

func (a *app) publicIPCmd() *cobra.Command {
	cmd := group(&cobra.Command{Use: "public-ip", Aliases: []string{"public-ips", "pip"},
		Short: "Manage the organisation's public IP addresses (--org)"})

	var vdc string
	list := &cobra.Command{Use: "list", Short: "List public addresses", Args: args()}
	lf := addListFlags(list)
	list.Flags().StringVar(&vdc, "vdc", "", "only addresses of this VDC")
	list.RunE = func(cmd *cobra.Command, _ []string) error {
		c, org, err := a.inOrg()
		if err != nil {
			return err
		}
		l, err := fetch(cmd.Context(), lf, func(ctx context.Context, o client.ListOptions) (*api.List[api.PublicIP], error) {
			return c.ListPublicIPs(ctx, org, client.PublicIPListOptions{ListOptions: o, VDC: vdc})
		})
		if err != nil {
			return err
		}
		return showList(a, l, publicIPCols(a.vmNames(cmd.Context(), c, org, l.Items)))
	}
	cmd.AddCommand(list)

	cmd.AddCommand(&cobra.Command{
		Use:   "get IP",
		Short: "Show a public address",
		Args:  args("IP"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, org, err := a.inOrg()
			if err != nil {
				return err
			}
			ip, err := c.GetPublicIP(cmd.Context(), org, args[0])
			if err != nil {
				return err
			}
			return a.showIP(cmd.Context(), c, org, ip)
		},
	})

	var allocVDC string
	allocate := &cobra.Command{
		Use:   "allocate",
		Short: "Take a public address from the VDC's region (charged until released)",
		Long: "Take a free public address from the pools of the VDC's region (--vdc may be left out when\n" +
			"the organisation has exactly one). It counts against the VDC's public_ips quota and is\n" +
			"charged from now until you release it, attached to a VM or not.",
		Example: "  sirocco public-ip allocate --vdc prod",
		Args:    args(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, org, err := a.inOrg()
			if err != nil {
				return err
			}
			ip, err := c.AllocatePublicIP(cmd.Context(), org, api.PublicIPAllocate{VDC: allocVDC})
			if err != nil {
				return err
			}
			return show(a, ip, publicIPCols(nil))
		},
	}
	allocate.Flags().StringVar(&allocVDC, "vdc", "", "VDC whose region the address comes from (default: the organisation's only VDC)")
	cmd.AddCommand(allocate)

	cmd.AddCommand(&cobra.Command{
		Use:   "release IP",
		Short: "Give a public address back (detaching it first)",
		Args:  args("IP"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, org, err := a.inOrg()
			if err != nil {
				return err
			}
			if err := c.ReleasePublicIP(cmd.Context(), org, args[0]); err != nil {
				return err
			}
			a.done("Released public IP %s.", args[0])
			return nil
		},
	})

	var attach api.PublicIPAttach
	attachCmd := &cobra.Command{
		Use:   "attach IP --vm VM",
		Short: "Attach a public address to a VM (1:1 NAT to its private address)",
		Long: "Attach a public address to a VM of the address's VDC, running or stopped: traffic to the\n" +
			"public address reaches the VM's private address, and what the VM sends out leaves from the\n" +
			"public address. The first NIC unless --nic names another (by network or MAC address).\n" +
			"Inbound traffic still needs a firewall rule: see 'sirocco firewall create'.",
		Example: "  sirocco public-ip attach 203.0.113.10 --vm web\n" +
			"  sirocco public-ip attach 203.0.113.10 --vm web --nic dmz",
		Args: args("IP"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if attach.VM == "" {
				return usagef("--vm is required")
			}
			c, org, err := a.inOrg()
			if err != nil {
				return err
			}
			ip, err := c.AttachPublicIP(cmd.Context(), org, args[0], attach)
			if err != nil {
				return err
			}
			return a.showIP(cmd.Context(), c, org, ip)
		},
	}
	attachCmd.Flags().StringVar(&attach.VM, "vm", "", "VM to attach it to (required)")
	attachCmd.Flags().StringVar(&attach.NIC, "nic", "", "the VM's NIC: its network or MAC address (default: the first)")
	cmd.AddCommand(attachCmd)

	cmd.AddCommand(&cobra.Command{
		Use:   "detach IP",
		Short: "Take a public address off its VM (it stays allocated and charged)",
		Args:  args("IP"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, org, err := a.inOrg()
			if err != nil {
				return err
			}
			ip, err := c.DetachPublicIP(cmd.Context(), org, args[0])
			if err != nil {
				return err
			}
			return show(a, ip, publicIPCols(nil))
		},
	})
	return cmd
}

func (a *app) publicIPPoolCmd() *cobra.Command {
	cmd := group(&cobra.Command{Use: "public-ip-pool", Aliases: []string{"public-ip-pools"},
		Short: "Manage the ranges of public addresses of each region (provider roles)"})

	var region string
	list := &cobra.Command{Use: "list", Short: "List public IP pools", Args: args()}
	lf := addListFlags(list)
	list.Flags().StringVar(&region, "region", "", "only pools of this region")
	list.RunE = func(cmd *cobra.Command, _ []string) error {
		c, _, err := a.authed()
		if err != nil {
			return err
		}
		l, err := fetch(cmd.Context(), lf, func(ctx context.Context, o client.ListOptions) (*api.List[api.PublicIPPool], error) {
			return c.ListPublicIPPools(ctx, client.PublicIPPoolListOptions{ListOptions: o, Region: region})
		})
		if err != nil {
			return err
		}
		return showList(a, l, poolCols)
	}
	cmd.AddCommand(list)

	var in api.PublicIPPoolCreate
	create := &cobra.Command{
		Use:   "create NAME --region REGION --cidr CIDR --gateway IP --uplink IFACE",
		Short: "Define a range of public addresses in a region (provider-admin)",
		Long: "Define the public addresses tenants of a region can allocate: the external subnet (--cidr),\n" +
			"its router (--gateway, never handed out), and the interface through which every host of the\n" +
			"region reaches that network (--uplink). By default every host address of the subnet but the\n" +
			"gateway is handed out; --first and --last narrow the range.",
		Example: "  sirocco public-ip-pool create syd-public --region au-syd --cidr 203.0.113.0/24 --gateway 203.0.113.1 --uplink eth1\n" +
			"  sirocco public-ip-pool create syd-small --region au-syd --cidr 198.51.100.0/24 --gateway 198.51.100.1 --uplink br-ext --first 198.51.100.10 --last 198.51.100.40",
		Args: args("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if in.Region == "" || in.CIDR == "" || in.Gateway == "" || in.Uplink == "" {
				return usagef("--region, --cidr, --gateway and --uplink are required")
			}
			c, _, err := a.authed()
			if err != nil {
				return err
			}
			in.Name = args[0]
			p, err := c.CreatePublicIPPool(cmd.Context(), in)
			if err != nil {
				return err
			}
			return show(a, p, poolCols)
		},
	}
	cf := create.Flags()
	cf.StringVar(&in.Region, "region", "", "region whose tenants allocate from it (required)")
	cf.StringVar(&in.CIDR, "cidr", "", "the external subnet, e.g. 203.0.113.0/24 (required)")
	cf.StringVar(&in.Gateway, "gateway", "", "the external network's router (required)")
	cf.StringVar(&in.Uplink, "uplink", "", "host interface on the external network, e.g. eth1 (required)")
	cf.StringVar(&in.FirstIP, "first", "", "first address handed out (default: the subnet's first host address)")
	cf.StringVar(&in.LastIP, "last", "", "last address handed out (default: the subnet's last host address)")
	cmd.AddCommand(create)

	cmd.AddCommand(deleteCmd(a, "Delete a pool none of whose addresses is allocated (provider-admin)", "Public IP pool %s deleted.",
		func(ctx context.Context, c *client.Client, name string) error { return c.DeletePublicIPPool(ctx, name) }))
	return cmd
}
