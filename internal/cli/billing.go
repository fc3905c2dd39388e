package cli

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"
	"github.com/spf13/cobra"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/client"
)

// Money.

// currencySymbols are the prefixes people expect; other currencies show
// their ISO code.
var currencySymbols = map[string]string{
	"AUD": "A$", "NZD": "NZ$", "USD": "US$", "CAD": "CA$", "EUR": "€", "GBP": "£", "JPY": "¥",
}

// minorUnits is how many decimal places a currency's amounts are rounded to
// (ISO 4217); 2 unless listed.
var minorUnits = map[string]int32{"JPY": 0, "KRW": 0, "ISK": 0, "CLP": 0, "VND": 0}

// money shows an exact decimal amount rounded half-up to the currency's
// minor unit, with its symbol: "A$19.71". Amounts the server already
// rounded come out unchanged. Something that is not a decimal is shown as
// it came.
func money(amount, currency string) string {
	if amount == "" {
		return ""
	}
	d, err := decimal.NewFromString(amount)
	if err != nil {
		return amount + " " + currency
	}
	places, ok := minorUnits[currency]
	if !ok {
		places = 2
	}
	// Half-up on the magnitude, so -0.005 shows as -0.01 as 0.005 shows 0.01.
	s := d.Abs().Round(places).StringFixed(places)
	sign := ""
	if d.IsNegative() && strings.Trim(s, "0.") != "" {
		sign = "-"
	}
	if sym, ok := currencySymbols[currency]; ok {
		return sign + sym + s
	}
	return sign + s + " " + currency
}

// Times.

// parseWhen reads a point in time: RFC 3339, or a date (midnight UTC).
func parseDate(flag, s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, nil
	}
	return time.Time{}, usagef("--%s %q: want a date (2026-11-01) or an RFC 3339 time", flag, s)
}

// parseExpiry reads when something lapses: a span from now ("30d", "12h",
// "90m") or a point in time.
func parseExpiry(flag, s string, now time.Time) (time.Time, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		if days, err := strconv.Atoi(n); err == nil && days > 0 {
			return now.AddDate(0, 0, days), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil {
		if d <= 0 {
			return time.Time{}, usagef("--%s %q: must be in the future", flag, s)
		}
		return now.Add(d), nil
	}
	t, err := parseDate(flag, s)
	if err != nil {
		return time.Time{}, usagef("--%s %q: want a span such as 30d or 12h, a date or an RFC 3339 time", flag, s)
	}
	return t, nil
}

// isDecimal says whether s is a non-negative exact decimal.
func isDecimal(s string) bool {
	d, err := decimal.NewFromString(s)
	return err == nil && !d.IsNegative() && !strings.ContainsAny(s, "eE")
}

// Balance.

var grantCols = []col[api.CreditGrant]{
	{"ID", func(g *api.CreditGrant) string { return g.ID }},
	{"KIND", func(g *api.CreditGrant) string { return g.Kind }},
	{"AMOUNT", func(g *api.CreditGrant) string { return money(g.Amount, g.Currency) }},
	{"REMAINING", func(g *api.CreditGrant) string { return money(g.Remaining, g.Currency) }},
	{"PRIORITY", func(g *api.CreditGrant) string { return itoa(g.Priority) }},
	{"EXPIRES", func(g *api.CreditGrant) string { return stamp(g.ExpiresAt) }},
	{"USABLE", func(g *api.CreditGrant) string { return strconv.FormatBool(g.Usable) }},
	{"REASON", func(g *api.CreditGrant) string { return g.Reason }},
}

func balanceFields(b *api.Balance) []field {
	state := b.State
	if b.Override != "" {
		state += " (pinned by the provider: " + b.Override + ")"
	}
	return []field{
		{"Available", money(b.AvailableDisplay, b.Currency)},
		{"Credit remaining", money(b.CreditDisplay, b.Currency)},
		{"Owed", money(b.OwedDisplay, b.Currency)},
		{"Accrued", money(b.AccruedDisplay, b.Currency)},
		{"State", state},
		{"As of", stamp(&b.AsOf)},
	}
}

func (a *app) balanceCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "balance",
		Short: "Show the organisation's real-time balance, state and credit grants",
		Long: "Available = credit remaining − owed − accrued, where accrued is usage not charged yet\n" +
			"(including the running part of VMs on now). Amounts are rounded half-up for display;\n" +
			"-o json also gives the exact ones.",
		Args: args(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, org, err := a.inOrg()
			if err != nil {
				return err
			}
			b, err := c.GetBalance(cmd.Context(), org)
			if err != nil {
				return err
			}
			if ok, err := a.encoded(b); ok {
				return err
			}
			if err := a.showFields(nil, balanceFields(b)); err != nil {
				return err
			}
			if len(b.Grants) == 0 {
				return nil
			}
			fmt.Fprintln(a.out)
			return table(a, b.Grants, grantCols)
		},
	}
}

// Credit.

func (a *app) creditCmd() *cobra.Command {
	cmd := group(&cobra.Command{Use: "credit", Aliases: []string{"credits"}, Short: "List the organisation's credit grants, or grant credit (provider)"})

	cmd.AddCommand(&cobra.Command{
		Use:   "list",
		Short: "List the organisation's credit grants and what is left of them",
		Args:  args(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, org, err := a.inOrg()
			if err != nil {
				return err
			}
			l, err := c.ListCredits(cmd.Context(), org)
			if err != nil {
				return err
			}
			return showList(a, l, grantCols)
		},
	})

	var in api.CreditGrantCreate
	var expires string
	grant := &cobra.Command{
		Use:   "grant ORG --amount AMOUNT",
		Short: "Give an organisation credit: a promotion or a paid top-up (provider-admin)",
		Long: "A grant that brings the balance above zero returns an organisation in grace or suspended\n" +
			"to active at once. Credit burns by priority (higher first), then soonest expiry, then oldest.",
		Example: "  sirocco credit grant acme --amount 20 --kind promo --expires 30d --reason \"conference voucher\"\n" +
			"  sirocco credit grant acme --amount 500 --kind paid --reason \"bank transfer\"",
		Args: args("ORG"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if in.Amount == "" {
				return usagef("--amount is required")
			}
			if !isDecimal(in.Amount) {
				return usagef("--amount %q: want a decimal amount such as 20 or 19.95", in.Amount)
			}
			if in.Kind != api.CreditPromo && in.Kind != api.CreditPaid {
				return usagef("--kind %q: use promo or paid", in.Kind)
			}
			if expires != "" {
				t, err := parseExpiry("expires", expires, time.Now())
				if err != nil {
					return err
				}
				in.ExpiresAt = &t
			}
			if in.Reason == "" {
				in.Reason = map[string]string{api.CreditPromo: "promotional credit", api.CreditPaid: "top-up"}[in.Kind]
			}
			c, _, err := a.authed()
			if err != nil {
				return err
			}
			g, err := c.GrantCredit(cmd.Context(), args[0], in)
			if err != nil {
				return err
			}
			return show(a, g, grantCols)
		},
	}
	gf := grant.Flags()
	gf.StringVar(&in.Amount, "amount", "", "amount in the provider's currency, e.g. 20 or 19.95 (required)")
	gf.StringVar(&in.Kind, "kind", api.CreditPromo, "promo (a promotion) or paid (a top-up the tenant paid for)")
	gf.StringVar(&expires, "expires", "", "when what is left lapses: a span such as 30d or 12h, a date or an RFC 3339 time (default: never)")
	gf.IntVar(&in.Priority, "priority", 0, "higher burns first")
	gf.StringVar(&in.Reason, "reason", "", "why, for the audit log and the tenant")
	cmd.AddCommand(grant)
	return cmd
}

// billingOverrideCmd is `org billing-override ORG`.
func (a *app) billingOverrideCmd() *cobra.Command {
	var in api.BillingOverride
	cmd := &cobra.Command{
		Use:   "billing-override ORG --state active|suspended|\"\" --reason REASON",
		Short: "Pin an organisation's billing state, or give it back to automatic enforcement (provider-admin)",
		Long: "--state active keeps the organisation active whatever its balance; --state suspended\n" +
			"suspends it (its VMs are powered off); --state \"\" returns it to automatic enforcement.",
		Example: "  sirocco org billing-override acme --state active --reason \"pays by invoice\"\n" +
			"  sirocco org billing-override acme --state \"\" --reason \"back to automatic\"",
		Args: args("ORG"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !cmd.Flags().Changed("state") {
				return usagef("--state is required: active, suspended or \"\" (automatic)")
			}
			switch in.State {
			case "", "active", "suspended":
			default:
				return usagef("--state %q: use active, suspended or \"\" (automatic)", in.State)
			}
			if strings.TrimSpace(in.Reason) == "" {
				return usagef("--reason is required")
			}
			c, _, err := a.authed()
			if err != nil {
				return err
			}
			b, err := c.SetBillingOverride(cmd.Context(), args[0], in)
			if err != nil {
				return err
			}
			return a.showFields(b, balanceFields(b))
		},
	}
	cmd.Flags().StringVar(&in.State, "state", "", "active, suspended, or \"\" for automatic (required)")
	cmd.Flags().StringVar(&in.Reason, "reason", "", "why, for the audit log (required)")
	return cmd
}

// Usage.

var usageCols = []col[api.UsageRow]{
	{"KEY", func(r *api.UsageRow) string { return r.Key }},
	{"NAME", func(r *api.UsageRow) string { return r.ResourceName }},
	{"KIND", func(r *api.UsageRow) string { return r.ResourceKind }},
	{"METER", func(r *api.UsageRow) string { return r.Meter }},
	{"QUANTITY", func(r *api.UsageRow) string { return r.Quantity }},
	{"UNIT", func(r *api.UsageRow) string { return r.Unit }},
	{"AMOUNT", func(r *api.UsageRow) string { return money(r.AmountRounded, r.Currency) }},
	{"EXACT", func(r *api.UsageRow) string { return r.Amount }},
}

// periodFlags are --from and --to.
type periodFlags struct{ from, to string }

func addPeriodFlags(cmd *cobra.Command) *periodFlags {
	p := &periodFlags{}
	cmd.Flags().StringVar(&p.from, "from", "", "start: a date (UTC) or an RFC 3339 time (default: the start of this month)")
	cmd.Flags().StringVar(&p.to, "to", "", "end, exclusive: a date (UTC) or an RFC 3339 time (default: a month after --from)")
	return p
}

func (p *periodFlags) opts() (client.UsageOptions, error) {
	var o client.UsageOptions
	var err error
	if p.from != "" {
		if o.From, err = parseDate("from", p.from); err != nil {
			return o, err
		}
	}
	if p.to != "" {
		if o.To, err = parseDate("to", p.to); err != nil {
			return o, err
		}
	}
	if !o.From.IsZero() && !o.To.IsZero() && !o.To.After(o.From) {
		return o, usagef("--to must be after --from")
	}
	return o, nil
}

func (a *app) usageCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "usage",
		Short: "Show the organisation's rated usage per resource or per day, or export it",
		Example: "  sirocco usage --from 2026-11-01 --to 2026-12-01 --by day\n" +
			"  sirocco usage export --format focus --from 2026-11-01 --to 2026-12-01 > costs.csv",
		Args: args(),
	}
	period := addPeriodFlags(cmd)
	var by string
	cmd.Flags().StringVar(&by, "by", "resource", "sum per resource (and meter) or per day (and meter)")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if by != "resource" && by != "day" {
			return usagef("--by %q: use resource or day", by)
		}
		o, err := period.opts()
		if err != nil {
			return err
		}
		o.Group = by
		c, org, err := a.inOrg()
		if err != nil {
			return err
		}
		u, err := c.GetUsage(cmd.Context(), org, o)
		if err != nil {
			return err
		}
		if ok, err := a.encoded(u); ok {
			return err
		}
		if len(u.Items) == 0 {
			a.note("No usage from %s to %s.", u.From.UTC().Format(time.RFC3339), u.To.UTC().Format(time.RFC3339))
			return nil
		}
		cols := usageCols
		if by == "day" {
			cols = append([]col[api.UsageRow]{{"DAY", usageCols[0].get}}, usageCols[3:]...)
		}
		return table(a, u.Items, cols)
	}

	export := &cobra.Command{
		Use:   "export --format csv|focus",
		Short: "Write the usage as CSV: per resource, meter and hour (csv) or in FinOps FOCUS columns (focus)",
		Args:  args(),
	}
	exPeriod := addPeriodFlags(export)
	var format, file string
	export.Flags().StringVar(&format, "format", "csv", "csv (rated lines) or focus (FinOps FOCUS cost export)")
	export.Flags().StringVar(&file, "file", "", "write to this file instead of standard output")
	export.RunE = func(cmd *cobra.Command, _ []string) error {
		if format != "csv" && format != "focus" {
			return usagef("--format %q: use csv or focus", format)
		}
		o, err := exPeriod.opts()
		if err != nil {
			return err
		}
		c, org, err := a.inOrg()
		if err != nil {
			return err
		}
		return a.writeTo(file, false, func(w io.Writer) error {
			if format == "focus" {
				return c.CostsFOCUS(cmd.Context(), org, o, w)
			}
			return c.UsageCSV(cmd.Context(), org, o, w)
		})
	}
	cmd.AddCommand(export)
	return cmd
}

// writeTo runs write into file, or standard output when file is "" or "-".
// binary output is refused on a terminal. A failed write leaves no file
// behind.
func (a *app) writeTo(file string, binary bool, write func(io.Writer) error) error {
	if file == "" || file == "-" {
		if _, tty := terminal(a.out); binary && tty {
			return usagef("refusing to write binary output to a terminal: pass --file or redirect it")
		}
		return write(a.out)
	}
	path := expandHome(file)
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("--file %s: %w", file, unwrapPath(err))
	}
	if err := write(f); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return fmt.Errorf("--file %s: %w", file, unwrapPath(err))
	}
	a.note("Wrote %s.", file)
	return nil
}
