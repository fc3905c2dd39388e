package cli

import (
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sirocco-cloud/sirocco/api"
)

var ruleCols = []col[api.FirewallRule]{
	{"ID", func(r *api.FirewallRule) string { return r.ID }},
	{"DIRECTION", func(r *api.FirewallRule) string { return r.Direction }},
	{"PROTOCOL", func(r *api.FirewallRule) string { return r.Protocol }},
	{"PORTS", func(r *api.FirewallRule) string { return ports(r.PortFrom, r.PortTo) }},
	{"CIDR", func(r *api.FirewallRule) string { return r.CIDR }},
	{"DESCRIPTION", func(r *api.FirewallRule) string { return r.Description }},
	{"AGE", func(r *api.FirewallRule) string { return age(r.CreatedAt) }},
}

// ports shows a rule's port range: "22", "8000-8080", or "all".
func ports(from, to int) string {
	switch {
	case from == 0:
		return "all"
	case to == 0 || to == from:
		return itoa(from)
	}
	return itoa(from) + "-" + itoa(to)
}

// parsePorts reads --port: one port or a range FROM-TO.
func parsePorts(s string) (from, to int, err error) {
	lo, hi, isRange := strings.Cut(s, "-")
	parse := func(p string) (int, error) {
		n, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || n < 1 || n > 65535 {
			return 0, usagef("--port %q: want a port from 1 to 65535, or a range such as 8000-8080", s)
		}
		return n, nil
	}
	if from, err = parse(lo); err != nil {
		return 0, 0, err
	}
	to = from
	if isRange {
		if to, err = parse(hi); err != nil {
			return 0, 0, err
		}
		if to < from {
			return 0, 0, usagef("--port %q: the range ends before it starts", s)
		}
	}
	return from, to, nil
}

func (a *app) firewallCmd() *cobra.Command {
	cmd := group(&cobra.Command{Use: "firewall", Aliases: []string{"fw", "firewall-rule", "firewall-rules"},
		Short: "Manage the firewall rules of a VM (--org)",
		Long: "Each VM has its own rules. Inbound traffic from outside the VM's networks is dropped unless an\n" +
			"ingress rule allows it (answers to the VM's own connections always pass). Outbound traffic is\n" +
			"open until the VM has an egress rule; then only what egress rules allow leaves. The VM's host\n" +
			"applies a change within seconds."})

	cmd.AddCommand(&cobra.Command{
		Use:   "list VM",
		Short: "List a VM's rules, oldest first",
		Args:  args("VM"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, org, err := a.inOrg()
			if err != nil {
				return err
			}
			l, err := c.ListFirewallRules(cmd.Context(), org, args[0])
			if err != nil {
				return err
			}
			return showList(a, l, ruleCols)
		},
	})

	cmd.AddCommand(&cobra.Command{
		Use:   "get VM RULE",
		Short: "Show one rule of a VM",
		Args:  args("VM", "RULE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, org, err := a.inOrg()
			if err != nil {
				return err
			}
			r, err := c.GetFirewallRule(cmd.Context(), org, args[0], args[1])
			if err != nil {
				return err
			}
			return show(a, r, ruleCols)
		},
	})

	in := api.FirewallRuleCreate{Direction: api.DirectionIngress}
	var port string
	create := &cobra.Command{
		Use:   "create VM --protocol PROTO [--port PORT[-PORT]]",
		Short: "Allow traffic to (ingress) or from (egress) a VM",
		Long: "Allow traffic to the VM (--direction ingress, the default) from --cidr, or from the VM\n" +
			"(--direction egress) to --cidr; --cidr defaults to everywhere. --port takes one port or a\n" +
			"range, for tcp and udp only; without it the rule covers every port.",
		Example: "  sirocco firewall create web --protocol tcp --port 22 --cidr 198.51.100.0/24 --description ssh\n" +
			"  sirocco firewall create web --direction ingress --protocol tcp --port 80-443\n" +
			"  sirocco firewall create web --protocol icmp",
		Args: args("VM"),
		RunE: func(cmd *cobra.Command, args []string) error {
			switch in.Direction {
			case api.DirectionIngress, api.DirectionEgress:
			default:
				return usagef("--direction %q: want ingress or egress", in.Direction)
			}
			switch in.Protocol {
			case "tcp", "udp":
			case "icmp", "any":
				if port != "" {
					return usagef("--port applies to tcp and udp only, not %s", in.Protocol)
				}
			case "":
				return usagef("--protocol is required: tcp, udp, icmp or any")
			default:
				return usagef("--protocol %q: want tcp, udp, icmp or any", in.Protocol)
			}
			if port != "" {
				var err error
				if in.PortFrom, in.PortTo, err = parsePorts(port); err != nil {
					return err
				}
			}
			c, org, err := a.inOrg()
			if err != nil {
				return err
			}
			r, err := c.CreateFirewallRule(cmd.Context(), org, args[0], in)
			if err != nil {
				return err
			}
			return show(a, r, ruleCols)
		},
	}
	cf := create.Flags()
	cf.StringVar(&in.Direction, "direction", in.Direction, "ingress (to the VM) or egress (from it)")
	cf.StringVar(&in.Protocol, "protocol", "", "tcp, udp, icmp or any (required)")
	cf.StringVar(&port, "port", "", "port or range FROM-TO, for tcp and udp (default: every port)")
	cf.StringVar(&in.CIDR, "cidr", "", "source (ingress) or destination (egress) addresses, IPv4 CIDR or address (default: 0.0.0.0/0)")
	cf.StringVar(&in.Description, "description", "", "what the rule is for")
	cmd.AddCommand(create)

	cmd.AddCommand(&cobra.Command{
		Use:   "delete VM RULE",
		Short: "Remove a rule from a VM",
		Args:  args("VM", "RULE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, org, err := a.inOrg()
			if err != nil {
				return err
			}
			if err := c.DeleteFirewallRule(cmd.Context(), org, args[0], args[1]); err != nil {
				return err
			}
			a.done("Deleted firewall rule %s of VM %s.", args[1], args[0])
			return nil
		},
	})
	return cmd
}
