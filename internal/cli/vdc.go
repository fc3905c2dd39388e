package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/client"
)

func quotas(q api.Quotas) string {
	return fmt.Sprintf("%d vCPU, %d MiB, %d GiB, %d VMs, %d IPs", q.VCPU, q.MemoryMiB, q.DiskGiB, q.VMs, q.PublicIPs)
}

var vdcCols = []col[api.VDC]{
	{"NAME", func(v *api.VDC) string { return v.Name }},
	{"ZONE", func(v *api.VDC) string { return v.Zone }},
	{"MODEL", func(v *api.VDC) string { return v.AllocationModel }},
	{"STATE", func(v *api.VDC) string { return v.State }},
	{"QUOTAS", func(v *api.VDC) string { return quotas(v.Quotas) }},
	{"LABELS", func(v *api.VDC) string { return labels(v.Labels) }},
	{"AGE", func(v *api.VDC) string { return age(v.CreatedAt) }},
}

// quotaFlags adds the quota flags to fs.
func quotaFlags(fs *pflag.FlagSet, q *api.Quotas) {
	fs.IntVar(&q.VCPU, "vcpu", q.VCPU, "quota: vCPUs")
	fs.Int64Var(&q.MemoryMiB, "memory-mib", q.MemoryMiB, "quota: memory in MiB")
	fs.Int64Var(&q.DiskGiB, "disk-gib", q.DiskGiB, "quota: disk in GiB")
	fs.IntVar(&q.VMs, "vms", q.VMs, "quota: VMs")
	fs.IntVar(&q.PublicIPs, "public-ips", q.PublicIPs, "quota: public IPs")
}

// quotasChanged reports whether any quota flag was given.
func quotasChanged(fs *pflag.FlagSet) bool {
	for _, n := range []string{"vcpu", "memory-mib", "disk-gib", "vms", "public-ips"} {
		if fs.Changed(n) {
			return true
		}
	}
	return false
}

// mergeQuotas copies the quota flags that were given from set into q.
func mergeQuotas(fs *pflag.FlagSet, set api.Quotas, q *api.Quotas) {
	if fs.Changed("vcpu") {
		q.VCPU = set.VCPU
	}
	if fs.Changed("memory-mib") {
		q.MemoryMiB = set.MemoryMiB
	}
	if fs.Changed("disk-gib") {
		q.DiskGiB = set.DiskGiB
	}
	if fs.Changed("vms") {
		q.VMs = set.VMs
	}
	if fs.Changed("public-ips") {
		q.PublicIPs = set.PublicIPs
	}
}

func (a *app) vdcCmd() *cobra.Command {
	cmd := group(&cobra.Command{Use: "vdc", Aliases: []string{"vdcs"}, Short: "Manage virtual data centres of the organisation (--org)"})

	list := &cobra.Command{Use: "list", Short: "List VDCs", Args: args()}
	lf := addListFlags(list)
	list.RunE = func(cmd *cobra.Command, _ []string) error {
		c, org, err := a.inOrg()
		if err != nil {
			return err
		}
		l, err := fetch(cmd.Context(), lf, func(ctx context.Context, o client.ListOptions) (*api.List[api.VDC], error) {
			return c.ListVDCs(ctx, org, o)
		})
		if err != nil {
			return err
		}
		return showList(a, l, vdcCols)
	}
	cmd.AddCommand(list)

	cmd.AddCommand(&cobra.Command{
		Use:   "get NAME",
		Short: "Show a VDC",
		Args:  args("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, org, err := a.inOrg()
			if err != nil {
				return err
			}
			v, err := c.GetVDC(cmd.Context(), org, args[0])
			if err != nil {
				return err
			}
			return show(a, v, vdcCols)
		},
	})

	var in api.VDCCreate
	createQ := api.DefaultQuotas
	var createLabels []string
	create := &cobra.Command{
		Use:   "create NAME --zone ZONE",
		Short: "Create a VDC in a zone the organisation's residency allows",
		Example: "  sirocco vdc create prod --zone au-syd-1a\n" +
			"  sirocco vdc create batch --zone au-syd-1a --allocation-model reservation --vcpu 64 --memory-mib 131072 --label team=data",
		Args: args("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if in.Zone == "" {
				return usagef("--zone is required")
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
			if quotasChanged(cmd.Flags()) {
				q := api.DefaultQuotas
				mergeQuotas(cmd.Flags(), createQ, &q)
				in.Quotas = &q
			}
			v, err := c.CreateVDC(cmd.Context(), org, in)
			if err != nil {
				return err
			}
			return show(a, v, vdcCols)
		},
	}
	cf := create.Flags()
	cf.StringVar(&in.Zone, "zone", "", "zone to create it in (required)")
	cf.StringVar(&in.AllocationModel, "allocation-model", "", "payg (default), allocation or reservation")
	cf.StringVar(&in.Description, "description", "", "what the VDC is for")
	quotaFlags(cf, &createQ)
	cf.StringArrayVar(&createLabels, "label", nil, "label key=value (repeatable)")
	cmd.AddCommand(create)

	var description string
	var updateQ api.Quotas
	var updateLabels []string
	update := &cobra.Command{
		Use:     "update NAME",
		Short:   "Change a VDC's description, quotas or labels",
		Example: "  sirocco vdc update prod --vcpu 32 --vms 20",
		Args:    args("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			f := cmd.Flags()
			c, org, err := a.inOrg()
			if err != nil {
				return err
			}
			var u api.VDCUpdate
			var opts []client.CallOption
			if f.Changed("description") {
				u.Description = &description
			}
			if f.Changed("label") {
				l, err := parseLabels(updateLabels)
				if err != nil {
					return err
				}
				u.Labels = &l
			}
			if quotasChanged(f) {
				// Quotas are replaced whole: start from the current ones, and
				// fail rather than overwrite a change made meanwhile.
				cur, err := c.GetVDC(ctx, org, args[0])
				if err != nil {
					return err
				}
				q := cur.Quotas
				mergeQuotas(f, updateQ, &q)
				u.Quotas = &q
				opts = append(opts, client.IfVersion(cur.Version))
			}
			v, err := c.UpdateVDC(ctx, org, args[0], u, opts...)
			if err != nil {
				return err
			}
			return show(a, v, vdcCols)
		},
	}
	uf := update.Flags()
	uf.StringVar(&description, "description", "", "what the VDC is for")
	quotaFlags(uf, &updateQ)
	uf.StringArrayVar(&updateLabels, "label", nil, "label key=value (repeatable; replaces all labels)")
	cmd.AddCommand(update)

	del := &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a VDC (a long action: see --wait)",
		Args:  args("NAME"),
	}
	wait := addWaitFlag(del, false)
	del.RunE = func(cmd *cobra.Command, args []string) error {
		c, org, err := a.inOrg()
		if err != nil {
			return err
		}
		op, err := c.DeleteVDC(cmd.Context(), org, args[0])
		if err != nil {
			return err
		}
		return a.follow(cmd.Context(), c, op, *wait)
	}
	cmd.AddCommand(del)
	return cmd
}
