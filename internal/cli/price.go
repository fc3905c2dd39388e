package cli

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/client"
)

// classes shows per-class prices as ssd=0.0004,standard=0.0002.
func classes(m map[string]string) string {
	keys := slices.Sorted(maps.Keys(m))
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + m[k]
	}
	return strings.Join(parts, ",")
}

var pricePlanCols = []col[api.PricePlan]{
	{"ID", func(p *api.PricePlan) string { return p.ID }},
	{"REGION", func(p *api.PricePlan) string { return p.Region }},
	{"MODEL", func(p *api.PricePlan) string { return p.AllocationModel }},
	{"FROM", func(p *api.PricePlan) string { return stamp(&p.EffectiveFrom) }},
	{"IN FORCE", func(p *api.PricePlan) string {
		if p.InForce {
			return "yes"
		}
		return ""
	}},
	{"CURRENCY", func(p *api.PricePlan) string { return p.Currency }},
	{"VCPU/H", func(p *api.PricePlan) string { return p.Rates.VCPUHour }},
	{"MEM GIB/H", func(p *api.PricePlan) string { return p.Rates.MemoryGiBHour }},
	{"DISK GIB/H", func(p *api.PricePlan) string { return classes(p.Rates.DiskGiBHour) }},
	{"IP/H", func(p *api.PricePlan) string { return p.Rates.PublicIPHour }},
	{"DESCRIPTION", func(p *api.PricePlan) string { return p.Description }},
}

func pricePlanFields(p *api.PricePlan) []field {
	r := p.Rates
	return []field{
		{"ID", p.ID},
		{"Region", p.Region},
		{"Allocation model", p.AllocationModel},
		{"Effective from", stamp(&p.EffectiveFrom)},
		{"In force", fmt.Sprint(p.InForce)},
		{"Currency", p.Currency},
		{"vCPU per hour", r.VCPUHour},
		{"Memory per GiB-hour", r.MemoryGiBHour},
		{"Disk per GiB-hour", classes(r.DiskGiBHour)},
		{"Snapshot per GiB-hour", r.SnapshotGiBHour},
		{"Public IP per hour", r.PublicIPHour},
		{"Egress per GiB", r.EgressGiB},
		{"Reservation per vCPU-month", r.ReservationVCPUMonth},
		{"Reservation per GiB-month", r.ReservationMemoryGiBMonth},
		{"Allocation guarantee %", r.AllocationGuaranteePercent},
		{"Description", p.Description},
	}
}

var priceOverrideCols = []col[api.PriceOverride]{
	{"ID", func(o *api.PriceOverride) string { return o.ID }},
	{"FROM", func(o *api.PriceOverride) string { return stamp(&o.EffectiveFrom) }},
	{"IN FORCE", func(o *api.PriceOverride) string {
		if o.InForce {
			return "yes"
		}
		return ""
	}},
	{"DISCOUNT %", func(o *api.PriceOverride) string { return o.DiscountPercent }},
	{"RATES", func(o *api.PriceOverride) string { return overrideRates(o.Rates) }},
	{"NOTE", func(o *api.PriceOverride) string { return o.Note }},
}

func overrideRates(r api.PriceOverrideRates) string {
	var parts []string
	for _, kv := range [][2]string{{"vcpu_hour", r.VCPUHour}, {"memory_gib_hour", r.MemoryGiBHour},
		{"snapshot_gib_hour", r.SnapshotGiBHour}, {"public_ip_hour", r.PublicIPHour}} {
		if kv[1] != "" {
			parts = append(parts, kv[0]+"="+kv[1])
		}
	}
	if len(r.DiskGiBHour) > 0 {
		parts = append(parts, "disk_gib_hour:"+classes(r.DiskGiBHour))
	}
	return strings.Join(parts, " ")
}

// rateFlag is one price flag: its name, what it prices and where it goes.
type rateFlag struct {
	name, usage string
	dst         *string
}

// addRateFlags adds the price flags to fs.
func addRateFlags(fs *pflag.FlagSet, flags []rateFlag) {
	for _, f := range flags {
		fs.StringVar(f.dst, f.name, "", f.usage)
	}
}

// checkRates refuses price flags that are not exact non-negative decimals.
func checkRates(fs *pflag.FlagSet, flags []rateFlag) error {
	for _, f := range flags {
		if fs.Changed(f.name) && !isDecimal(*f.dst) {
			return usagef("--%s %q: want an exact decimal such as 0.02", f.name, *f.dst)
		}
	}
	return nil
}

// diskClasses reads --disk-class-hour CLASS=RATE flags into m.
func diskClasses(vals []string, m map[string]string) error {
	for _, v := range vals {
		k, rate, ok := strings.Cut(v, "=")
		if !ok || k == "" || !isDecimal(rate) {
			return usagef("--disk-class-hour %q: want CLASS=RATE, e.g. ssd=0.0004", v)
		}
		m[k] = rate
	}
	return nil
}

func (a *app) pricePlanCmd() *cobra.Command {
	cmd := group(&cobra.Command{Use: "price-plan", Aliases: []string{"price-plans"}, Short: "List price plans, or add and delete them (provider)"})

	var region, model string
	list := &cobra.Command{Use: "list", Short: "List every price plan, past, in force and announced", Args: args()}
	list.Flags().StringVar(&region, "region", "", "only plans of this region")
	list.Flags().StringVar(&model, "model", "", "only plans of this allocation model: payg, allocation or reservation")
	list.RunE = func(cmd *cobra.Command, _ []string) error {
		c, _, err := a.authed()
		if err != nil {
			return err
		}
		l, err := c.ListPricePlans(cmd.Context(), client.PricePlanListOptions{Region: region, AllocationModel: model})
		if err != nil {
			return err
		}
		return showList(a, l, pricePlanCols)
	}
	cmd.AddCommand(list)

	cmd.AddCommand(&cobra.Command{
		Use:   "get ID",
		Short: "Show a price plan with every rate",
		Args:  args("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, _, err := a.authed()
			if err != nil {
				return err
			}
			p, err := c.GetPricePlan(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return a.showFields(p, pricePlanFields(p))
		},
	})

	var in api.PricePlanCreate
	var from, disk string
	var diskClassRates []string
	rates := []rateFlag{
		{"vcpu-hour", "per vCPU per hour while a VM is on", &in.Rates.VCPUHour},
		{"memory-gib-hour", "per GiB of memory per hour while a VM is on", &in.Rates.MemoryGiBHour},
		{"disk-gib-hour", "per GiB of standard disk per hour, VM on or off", &disk},
		{"snapshot-gib-hour", "per GiB of snapshot per hour", &in.Rates.SnapshotGiBHour},
		{"public-ip-hour", "per public IP per hour allocated", &in.Rates.PublicIPHour},
		{"egress-gib", "per GiB sent out", &in.Rates.EgressGiB},
		{"reservation-vcpu-month", "reservation VDCs: per reserved vCPU per calendar month", &in.Rates.ReservationVCPUMonth},
		{"reservation-memory-gib-month", "reservation VDCs: per reserved GiB of memory per calendar month", &in.Rates.ReservationMemoryGiBMonth},
		{"allocation-guarantee-percent", "allocation VDCs: share of the quotas charged per hour, used or not", &in.Rates.AllocationGuaranteePercent},
	}
	create := &cobra.Command{
		Use:   "create --region REGION --model MODEL --from DATE --vcpu-hour RATE ...",
		Short: "Add a price plan of a region and allocation model from a date on (provider-admin)",
		Long: "Rates are exact decimals in the provider's currency, per hour unless named otherwise; an\n" +
			"absent rate is zero. Plans are never edited: a price change is a new plan with a later --from,\n" +
			"and usage before it keeps its price.",
		Example: "  sirocco price-plan create --region au-syd --model payg --from 2026-12-01 --vcpu-hour 0.02 --memory-gib-hour 0.005 --disk-gib-hour 0.0002",
		Args:    args(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			f := cmd.Flags()
			if in.Region == "" {
				return usagef("--region is required")
			}
			switch in.AllocationModel {
			case api.AllocationPAYG, api.AllocationAllocation, api.AllocationReservation:
			default:
				return usagef("--model %q: use payg, allocation or reservation", in.AllocationModel)
			}
			if err := checkRates(f, rates); err != nil {
				return err
			}
			dm := map[string]string{}
			if disk != "" {
				dm["standard"] = disk
			}
			if err := diskClasses(diskClassRates, dm); err != nil {
				return err
			}
			if len(dm) > 0 {
				in.Rates.DiskGiBHour = dm
			}
			if from != "" {
				t, err := parseDate("from", from)
				if err != nil {
					return err
				}
				in.EffectiveFrom = &t
			}
			c, _, err := a.authed()
			if err != nil {
				return err
			}
			p, err := c.CreatePricePlan(cmd.Context(), in)
			if err != nil {
				return err
			}
			return a.showFields(p, pricePlanFields(p))
		},
	}
	cf := create.Flags()
	cf.StringVar(&in.Region, "region", "", "region the plan prices (required)")
	cf.StringVar(&in.AllocationModel, "model", api.AllocationPAYG, "allocation model: payg, allocation or reservation")
	cf.StringVar(&from, "from", "", "when it takes effect: a date (UTC) or an RFC 3339 time, not in the past (default: now)")
	cf.StringVar(&in.Description, "description", "", "what the plan is, for people")
	addRateFlags(cf, rates)
	cf.StringArrayVar(&diskClassRates, "disk-class-hour", nil, "per GiB-hour of another disk class: CLASS=RATE (repeatable)")
	cmd.AddCommand(create)

	cmd.AddCommand(&cobra.Command{
		Use:   "delete ID",
		Short: "Delete a price plan that has not taken effect yet (provider-admin)",
		Args:  args("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, _, err := a.authed()
			if err != nil {
				return err
			}
			if err := c.DeletePricePlan(cmd.Context(), args[0]); err != nil {
				return err
			}
			a.done("Deleted price plan %s.", args[0])
			return nil
		},
	})
	return cmd
}

func (a *app) priceOverrideCmd() *cobra.Command {
	cmd := group(&cobra.Command{Use: "price-override", Aliases: []string{"price-overrides"}, Short: "Manage an organisation's negotiated prices (provider)"})

	cmd.AddCommand(&cobra.Command{
		Use:   "list ORG",
		Short: "List an organisation's price overrides",
		Args:  args("ORG"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, _, err := a.authed()
			if err != nil {
				return err
			}
			l, err := c.ListPriceOverrides(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return showList(a, l, priceOverrideCols)
		},
	})

	var in api.PriceOverrideCreate
	var from string
	var diskClassRates []string
	rates := []rateFlag{
		{"discount", "percentage off every charge, 0-100", &in.DiscountPercent},
		{"vcpu-hour", "per vCPU per hour, replacing the plans'", &in.Rates.VCPUHour},
		{"memory-gib-hour", "per GiB of memory per hour, replacing the plans'", &in.Rates.MemoryGiBHour},
		{"snapshot-gib-hour", "per GiB of snapshot per hour, replacing the plans'", &in.Rates.SnapshotGiBHour},
		{"public-ip-hour", "per public IP per hour, replacing the plans'", &in.Rates.PublicIPHour},
	}
	create := &cobra.Command{
		Use:   "create ORG [--discount PERCENT] [--vcpu-hour RATE ...]",
		Short: "Give an organisation negotiated prices from a date on (provider-admin)",
		Long: "The rates given replace the price plans' in every region; then --discount comes off every\n" +
			"charge. It applies until the organisation's next override.",
		Example: "  sirocco price-override create acme --discount 10 --from 2026-12-01 --note \"3-year agreement\"",
		Args:    args("ORG"),
		RunE: func(cmd *cobra.Command, args []string) error {
			f := cmd.Flags()
			if err := checkRates(f, rates); err != nil {
				return err
			}
			dm := map[string]string{}
			if err := diskClasses(diskClassRates, dm); err != nil {
				return err
			}
			if len(dm) > 0 {
				in.Rates.DiskGiBHour = dm
			}
			if in.DiscountPercent == "" && in.Rates.VCPUHour == "" && in.Rates.MemoryGiBHour == "" &&
				in.Rates.SnapshotGiBHour == "" && in.Rates.PublicIPHour == "" && len(dm) == 0 {
				return usagef("nothing to override: pass --discount or a rate such as --vcpu-hour")
			}
			if from != "" {
				t, err := parseDate("from", from)
				if err != nil {
					return err
				}
				in.EffectiveFrom = &t
			}
			c, _, err := a.authed()
			if err != nil {
				return err
			}
			o, err := c.CreatePriceOverride(cmd.Context(), args[0], in)
			if err != nil {
				return err
			}
			return show(a, o, priceOverrideCols)
		},
	}
	cf := create.Flags()
	addRateFlags(cf, rates)
	cf.StringArrayVar(&diskClassRates, "disk-class-hour", nil, "per GiB-hour of a disk class: CLASS=RATE (repeatable)")
	cf.StringVar(&from, "from", "", "when it takes effect: a date (UTC) or an RFC 3339 time, not in the past (default: now)")
	cf.StringVar(&in.Note, "note", "", "why, e.g. the agreement")
	cmd.AddCommand(create)

	cmd.AddCommand(&cobra.Command{
		Use:   "delete ORG ID",
		Short: "Delete one of an organisation's price overrides (provider-admin)",
		Args:  args("ORG", "ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, _, err := a.authed()
			if err != nil {
				return err
			}
			if err := c.DeletePriceOverride(cmd.Context(), args[0], args[1]); err != nil {
				return err
			}
			a.done("Deleted price override %s of %s.", args[1], args[0])
			return nil
		},
	})
	return cmd
}

// Quotes.

var quoteLineCols = []col[api.QuoteLine]{
	{"METER", func(l *api.QuoteLine) string { return l.Meter }},
	{"QUANTITY", func(l *api.QuoteLine) string { return l.Quantity }},
	{"UNIT PRICE", func(l *api.QuoteLine) string { return l.UnitPrice }},
	{"PER HOUR", func(l *api.QuoteLine) string { return l.PerHour }},
}

// priceLine is the one-line summary of a quote:
// "Price: A$0.03 per hour, A$19.71 per month (au-syd payg plan)".
func priceLine(q *api.Quote) string {
	month := q.PerMonthDisplay
	if month == "" {
		month = q.PerMonth
	}
	s := fmt.Sprintf("Price: %s per hour, %s per month (%s %s plan", money(q.PerHour, q.Currency), money(month, q.Currency), q.Region, q.AllocationModel)
	if q.DiscountPercent != "" && q.DiscountPercent != "0" {
		s += ", " + q.DiscountPercent + " % off"
	}
	return s + ")"
}

func (a *app) quoteCmd() *cobra.Command {
	var in api.QuoteRequest
	var vcpu int
	var memory, disk int64
	cmd := &cobra.Command{
		Use:   "quote --size SIZE",
		Short: "Price a VM (by size, or by --vcpu, --memory-mib and --disk-gib) or public IPs before creating them",
		Long: "The price under the prices in force now for the VDC's region and allocation model, and the\n" +
			"organisation's negotiated prices. The month is 730 hours, for comparison: bills count the\n" +
			"real seconds used.",
		Example: "  sirocco quote --size s1.small --vdc prod\n" +
			"  sirocco quote --size s1.large --public-ips 1 -o json",
		Args: args(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			f := cmd.Flags()
			if f.Changed("vcpu") {
				in.VCPU = &vcpu
			}
			if f.Changed("memory-mib") {
				in.MemoryMiB = &memory
			}
			if f.Changed("disk-gib") {
				in.DiskGiB = &disk
			}
			if in.Size == "" && in.VCPU == nil && in.MemoryMiB == nil && in.DiskGiB == nil && in.PublicIPs == 0 {
				return usagef("nothing to price: pass --size (or --vcpu, --memory-mib, --disk-gib) or --public-ips")
			}
			if vcpu < 0 || memory < 0 || disk < 0 || in.PublicIPs < 0 {
				return usagef("quantities cannot be negative")
			}
			c, org, err := a.inOrg()
			if err != nil {
				return err
			}
			q, err := c.Quote(cmd.Context(), org, in)
			if err != nil {
				return err
			}
			if ok, err := a.encoded(q); ok {
				return err
			}
			fmt.Fprintln(a.out, priceLine(q))
			if len(q.Lines) > 0 {
				fmt.Fprintln(a.out)
				return table(a, q.Lines, quoteLineCols)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&in.VDC, "vdc", "", "VDC it would be created in (default: the organisation's only VDC)")
	f.StringVar(&in.Size, "size", "", "size name (see 'sirocco size list')")
	f.IntVar(&vcpu, "vcpu", 0, "vCPUs (instead of, or overriding, the size's)")
	f.Int64Var(&memory, "memory-mib", 0, "memory in MiB (instead of, or overriding, the size's)")
	f.Int64Var(&disk, "disk-gib", 0, "disk in GiB (instead of, or overriding, the size's)")
	f.StringVar(&in.DiskClass, "disk-class", "", "disk class (default: standard)")
	f.IntVar(&in.PublicIPs, "public-ips", 0, "public IPs")
	return cmd
}

// notePrice tells, before a VM is created, what it will cost: one line on
// stderr, out of the way of parsed output. Not knowing the price (no plan
// yet, an older server) is a warning, never a reason not to create.
func (a *app) notePrice(ctx context.Context, c *client.Client, org, vdc, size string, count int) {
	q, err := c.Quote(ctx, org, api.QuoteRequest{VDC: vdc, Size: size})
	if err != nil {
		a.note("warning: no price for this VM: %s", oneLine(err.Error()))
		return
	}
	line := priceLine(q)
	if count > 1 {
		line += fmt.Sprintf(" for each of %d VMs", count)
	}
	a.note("%s", line)
}
