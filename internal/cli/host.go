package cli

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/client"
)

var hostCols = []col[api.Host]{
	{"NAME", func(h *api.Host) string { return h.Name }},
	{"ZONE", func(h *api.Host) string { return h.Zone }},
	{"STATE", func(h *api.Host) string { return h.State }},
	{"VCPU", func(h *api.Host) string { return itoa(h.Capacity.VCPU) }},
	{"MEMORY MIB", func(h *api.Host) string { return itoa(h.Capacity.MemoryMiB) }},
	{"DISK GIB", func(h *api.Host) string { return itoa(h.Capacity.DiskGiB) }},
	{"OVERCOMMIT", func(h *api.Host) string {
		return "cpu " + strconv.FormatFloat(h.Overcommit.CPU, 'g', -1, 64) + ", mem " + strconv.FormatFloat(h.Overcommit.Memory, 'g', -1, 64)
	}},
	{"ACCEL", func(h *api.Host) string { return h.Acceleration }},
	{"HEARTBEAT", func(h *api.Host) string { return ageOf(h.LastHeartbeat) }},
}

func (a *app) hostCmd() *cobra.Command {
	cmd := group(&cobra.Command{Use: "host", Aliases: []string{"hosts"}, Short: "Manage hypervisor hosts (provider roles)"})

	var zone, state string
	list := &cobra.Command{Use: "list", Short: "List hosts", Args: args()}
	lf := addListFlags(list)
	list.Flags().StringVar(&zone, "zone", "", "only hosts in this zone")
	list.Flags().StringVar(&state, "state", "", "only hosts in this state: pending, ready, draining or down")
	list.RunE = func(cmd *cobra.Command, _ []string) error {
		c, _, err := a.authed()
		if err != nil {
			return err
		}
		l, err := fetch(cmd.Context(), lf, func(ctx context.Context, o client.ListOptions) (*api.List[api.Host], error) {
			return c.ListHosts(ctx, client.HostListOptions{ListOptions: o, Zone: zone, State: state})
		})
		if err != nil {
			return err
		}
		return showList(a, l, hostCols)
	}
	cmd.AddCommand(list)

	cmd.AddCommand(getCmd(a, "Show a host", func(ctx context.Context, c *client.Client, name string) (*api.Host, error) {
		return c.GetHost(ctx, name)
	}, hostCols))

	var in api.HostCreate
	var oc api.Overcommit
	var createLabels []string
	create := &cobra.Command{
		Use:   "create NAME --zone ZONE",
		Short: "Register a host ahead of its agent joining (provider-admin)",
		Long: "Register a host. Its capacity is what the agent reports when it joins; give it here to plan\n" +
			"before then. Overcommit ratios default to the server's.",
		Example: "  sirocco host create kvm1 --zone au-syd-1a --vcpu 64 --memory-mib 262144 --disk-gib 4000 --cpu-overcommit 4",
		Args:    args("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if in.Zone == "" {
				return usagef("--zone is required")
			}
			l, err := parseLabels(createLabels)
			if err != nil {
				return err
			}
			f := cmd.Flags()
			if f.Changed("cpu-overcommit") || f.Changed("memory-overcommit") {
				o := oc
				in.Overcommit = &o
			}
			c, _, err := a.authed()
			if err != nil {
				return err
			}
			in.Name, in.Labels = args[0], l
			h, err := c.CreateHost(cmd.Context(), in)
			if err != nil {
				return err
			}
			return show(a, h, hostCols)
		},
	}
	f := create.Flags()
	f.StringVar(&in.Zone, "zone", "", "zone the host is in (required)")
	f.IntVar(&in.Capacity.VCPU, "vcpu", 0, "physical vCPUs")
	f.Int64Var(&in.Capacity.MemoryMiB, "memory-mib", 0, "memory in MiB")
	f.Int64Var(&in.Capacity.DiskGiB, "disk-gib", 0, "disk in GiB")
	f.Float64Var(&oc.CPU, "cpu-overcommit", 4, "virtual vCPUs per physical vCPU")
	f.Float64Var(&oc.Memory, "memory-overcommit", 1, "virtual MiB per physical MiB")
	f.StringArrayVar(&createLabels, "label", nil, "label key=value (repeatable)")
	cmd.AddCommand(create)

	var addZone string
	add := &cobra.Command{
		Use:   "add NAME --zone ZONE",
		Short: "Register a host and print the command that joins its agent (provider-admin)",
		Long: "Register a host and make a one-time join token for it (valid 24 hours). Run the printed\n" +
			"command on the host: its agent dials out to this control plane, pins its certificate from the\n" +
			"token and reports the host's capacity. 'host join-token NAME' makes a new token later.",
		Example: "  sirocco host add kvm1 --zone au-syd-1a",
		Args:    args("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if addZone == "" {
				return usagef("--zone is required")
			}
			c, _, err := a.authed()
			if err != nil {
				return err
			}
			if _, err := c.CreateHost(cmd.Context(), api.HostCreate{Name: args[0], Zone: addZone}); err != nil {
				return err
			}
			return a.printJoin(cmd.Context(), c, args[0])
		},
	}
	add.Flags().StringVar(&addZone, "zone", "", "zone the host is in (required)")
	cmd.AddCommand(add)

	cmd.AddCommand(&cobra.Command{
		Use:   "join-token NAME",
		Short: "Make a new one-time join token for a host's agent (provider-admin)",
		Args:  args("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, _, err := a.authed()
			if err != nil {
				return err
			}
			return a.printJoin(cmd.Context(), c, args[0])
		},
	})

	setState := func(use, state, short, done string) *cobra.Command {
		return &cobra.Command{
			Use:   use + " NAME",
			Short: short,
			Args:  args("NAME"),
			RunE: func(cmd *cobra.Command, args []string) error {
				c, _, err := a.authed()
				if err != nil {
					return err
				}
				h, err := c.UpdateHost(cmd.Context(), args[0], api.HostUpdate{State: &state})
				if err != nil {
					return err
				}
				if ok, err := a.encoded(h); ok {
					return err
				}
				a.done("Host %s %s.", h.Name, done)
				return nil
			},
		}
	}
	cmd.AddCommand(
		setState("drain", api.HostDraining, "Stop placing new VMs on a host (provider-admin)", "is draining: no new VMs are placed on it"),
		setState("ready", api.HostReady, "Let a drained host take new VMs again (provider-admin)", "is ready for new VMs"),
	)

	cmd.AddCommand(deleteCmd(a, "Remove a host (provider-admin)", "Host %s deleted.", func(ctx context.Context, c *client.Client, name string) error {
		return c.DeleteHost(ctx, name)
	}))
	return cmd
}

// printJoin makes a join token for host and shows how to use it.
func (a *app) printJoin(ctx context.Context, c *client.Client, host string) error {
	jt, err := c.CreateHostJoinToken(ctx, host)
	if err != nil {
		return err
	}
	if a.output != "table" {
		return show(a, jt, nil)
	}
	fmt.Fprintf(a.out, "Host %s registered. On the host, run (the token works once, until %s):\n\n  %s\n",
		jt.Host, jt.ExpiresAt.Format(time.RFC3339), jt.Command)
	return nil
}
