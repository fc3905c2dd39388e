package cli

import (
	"context"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/client"
)

// ints shows a list of numbers as 50,80,100.
func ints(n []int) string {
	s := make([]string, len(n))
	for i, v := range n {
		s[i] = strconv.Itoa(v)
	}
	return strings.Join(s, ",")
}

var budgetCols = []col[api.Budget]{
	{"NAME", func(b *api.Budget) string { return b.Name }},
	{"VDC", func(b *api.Budget) string { return b.VDC }},
	{"AMOUNT", func(b *api.Budget) string { return money(b.Amount, b.Currency) }},
	{"SPENT", func(b *api.Budget) string { return money(b.Spent, b.Currency) }},
	{"THRESHOLDS", func(b *api.Budget) string { return ints(b.Thresholds) + " %" }},
	{"EMAILS", func(b *api.Budget) string { return strings.Join(b.Emails, ",") }},
	{"AGE", func(b *api.Budget) string { return age(b.CreatedAt) }},
}

// parseThresholds reads --threshold values: 50,80,100 or repeated flags.
func parseThresholds(vals []string) ([]int, error) {
	var out []int
	for _, v := range vals {
		for p := range strings.SplitSeq(v, ",") {
			p = strings.TrimSuffix(strings.TrimSpace(p), "%")
			n, err := strconv.Atoi(p)
			if err != nil || n < 1 || n > 1000 {
				return nil, usagef("--threshold %q: want percentages from 1 to 1000, e.g. 50,80,100", v)
			}
			if !slices.Contains(out, n) {
				out = append(out, n)
			}
		}
	}
	slices.Sort(out)
	return out, nil
}

// checkEmails refuses what cannot be an e-mail address before asking.
func checkEmails(emails []string) error {
	for _, e := range emails {
		if at := strings.IndexByte(e, '@'); at < 1 || at == len(e)-1 {
			return usagef("--email %q: not an e-mail address", e)
		}
	}
	return nil
}

func (a *app) budgetCmd() *cobra.Command {
	cmd := group(&cobra.Command{Use: "budget", Aliases: []string{"budgets"}, Short: "Manage monthly budgets that alert by e-mail and webhook (--org)"})

	list := &cobra.Command{Use: "list", Short: "List budgets with their month-to-date spend", Args: args()}
	lf := addListFlags(list)
	list.RunE = func(cmd *cobra.Command, _ []string) error {
		c, org, err := a.inOrg()
		if err != nil {
			return err
		}
		l, err := fetch(cmd.Context(), lf, func(ctx context.Context, o client.ListOptions) (*api.List[api.Budget], error) {
			return c.ListBudgets(ctx, org, o)
		})
		if err != nil {
			return err
		}
		return showList(a, l, budgetCols)
	}
	cmd.AddCommand(list)

	cmd.AddCommand(&cobra.Command{
		Use:   "get NAME",
		Short: "Show a budget and its month-to-date spend",
		Args:  args("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, org, err := a.inOrg()
			if err != nil {
				return err
			}
			b, err := c.GetBudget(cmd.Context(), org, args[0])
			if err != nil {
				return err
			}
			return show(a, b, budgetCols)
		},
	})

	var in api.BudgetCreate
	var thresholds []string
	create := &cobra.Command{
		Use:   "create NAME --amount AMOUNT",
		Short: "Create a monthly budget over the organisation, or one VDC (--vdc)",
		Long: "Each threshold (a percentage of the amount) alerts once per calendar month (UTC), by e-mail\n" +
			"to --email and by a budget.threshold webhook event. The default thresholds are 50,80,100.",
		Example: "  sirocco budget create monthly --amount 100 --threshold 50,80,100 --email ops@example.com\n" +
			"  sirocco budget create batch --amount 40 --vdc batch",
		Args: args("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if in.Amount == "" {
				return usagef("--amount is required")
			}
			if !isDecimal(in.Amount) {
				return usagef("--amount %q: want a decimal amount such as 100 or 99.50", in.Amount)
			}
			t, err := parseThresholds(thresholds)
			if err != nil {
				return err
			}
			if err := checkEmails(in.Emails); err != nil {
				return err
			}
			c, org, err := a.inOrg()
			if err != nil {
				return err
			}
			in.Name, in.Thresholds = args[0], t
			b, err := c.CreateBudget(cmd.Context(), org, in)
			if err != nil {
				return err
			}
			return show(a, b, budgetCols)
		},
	}
	cf := create.Flags()
	cf.StringVar(&in.Amount, "amount", "", "amount per calendar month in the provider's currency (required)")
	cf.StringVar(&in.VDC, "vdc", "", "watch only this VDC (default: the whole organisation)")
	cf.StringArrayVar(&thresholds, "threshold", nil, "percentages of the amount that alert, e.g. 50,80,100 (repeatable)")
	cf.StringArrayVar(&in.Emails, "email", nil, "address to alert by e-mail (repeatable)")
	cmd.AddCommand(create)

	var amount string
	var upThresholds, upEmails []string
	update := &cobra.Command{
		Use:     "update NAME",
		Short:   "Change a budget's amount, thresholds or e-mail addresses (each threshold may alert again)",
		Example: "  sirocco budget update monthly --amount 150 --email ops@example.com --email cfo@example.com",
		Args:    args("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			f := cmd.Flags()
			var u api.BudgetUpdate
			if f.Changed("amount") {
				if !isDecimal(amount) {
					return usagef("--amount %q: want a decimal amount such as 100 or 99.50", amount)
				}
				u.Amount = &amount
			}
			if f.Changed("threshold") {
				t, err := parseThresholds(upThresholds)
				if err != nil {
					return err
				}
				u.Thresholds = &t
			}
			if f.Changed("email") {
				if err := checkEmails(upEmails); err != nil {
					return err
				}
				e := slices.DeleteFunc(slices.Clone(upEmails), func(s string) bool { return s == "" })
				u.Emails = &e
			}
			if u == (api.BudgetUpdate{}) {
				return usagef("nothing to change: pass --amount, --threshold or --email")
			}
			c, org, err := a.inOrg()
			if err != nil {
				return err
			}
			b, err := c.UpdateBudget(cmd.Context(), org, args[0], u)
			if err != nil {
				return err
			}
			return show(a, b, budgetCols)
		},
	}
	uf := update.Flags()
	uf.StringVar(&amount, "amount", "", "amount per calendar month")
	uf.StringArrayVar(&upThresholds, "threshold", nil, "percentages that alert (repeatable; replaces all)")
	uf.StringArrayVar(&upEmails, "email", nil, "address to alert (repeatable; replaces all; --email '' for none)")
	cmd.AddCommand(update)

	cmd.AddCommand(&cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a budget",
		Args:  args("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, org, err := a.inOrg()
			if err != nil {
				return err
			}
			if err := c.DeleteBudget(cmd.Context(), org, args[0]); err != nil {
				return err
			}
			a.done("Deleted budget %s.", args[0])
			return nil
		},
	})
	return cmd
}

// Webhooks.

var webhookCols = []col[api.Webhook]{
	{"ID", func(w *api.Webhook) string { return w.ID }},
	{"URL", func(w *api.Webhook) string { return w.URL }},
	{"EVENTS", func(w *api.Webhook) string {
		if len(w.EventTypes) == 0 {
			return "all"
		}
		return strings.Join(w.EventTypes, ",")
	}},
	{"ACTIVE", func(w *api.Webhook) string { return strconv.FormatBool(w.Active) }},
	{"AGE", func(w *api.Webhook) string { return age(w.CreatedAt) }},
}

var deliveryCols = []col[api.WebhookDelivery]{
	{"ID", func(d *api.WebhookDelivery) string { return d.ID }},
	{"EVENT", func(d *api.WebhookDelivery) string { return d.EventType }},
	{"STATE", func(d *api.WebhookDelivery) string { return d.State }},
	{"ATTEMPTS", func(d *api.WebhookDelivery) string { return itoa(d.Attempts) }},
	{"LAST STATUS", func(d *api.WebhookDelivery) string {
		if d.LastStatus == 0 {
			return ""
		}
		return itoa(d.LastStatus)
	}},
	{"NEXT ATTEMPT", func(d *api.WebhookDelivery) string { return stamp(d.NextAttemptAt) }},
	{"AGE", func(d *api.WebhookDelivery) string { return age(d.CreatedAt) }},
	{"LAST ERROR", func(d *api.WebhookDelivery) string { return truncate(d.LastError, 80) }},
}

func (a *app) webhookCmd() *cobra.Command {
	cmd := group(&cobra.Command{Use: "webhook", Aliases: []string{"webhooks"}, Short: "Manage webhooks that receive billing events (--org, or --provider for the provider's)"})

	// scope is where a webhook command acts: the organisation, or the
	// provider ("") with --provider.
	scope := func(provider bool) (*client.Client, string, error) {
		if provider {
			c, _, err := a.authed()
			return c, "", err
		}
		return a.inOrg()
	}
	providerFlag := func(cmd *cobra.Command) *bool {
		p := new(bool)
		cmd.Flags().BoolVar(p, "provider", false, "the provider's webhooks, which get every organisation's events (provider roles)")
		return p
	}

	list := &cobra.Command{Use: "list", Short: "List webhooks", Args: args()}
	lf := addListFlags(list)
	listProvider := providerFlag(list)
	list.RunE = func(cmd *cobra.Command, _ []string) error {
		c, org, err := scope(*listProvider)
		if err != nil {
			return err
		}
		l, err := fetch(cmd.Context(), lf, func(ctx context.Context, o client.ListOptions) (*api.List[api.Webhook], error) {
			return c.ListWebhooks(ctx, org, o)
		})
		if err != nil {
			return err
		}
		return showList(a, l, webhookCols)
	}
	cmd.AddCommand(list)

	var in api.WebhookCreate
	create := &cobra.Command{
		Use:   "create URL",
		Short: "Create a webhook; its signing secret is shown once",
		Long: "Events are POSTed as JSON with a Sirocco-Signature header: t=<unix time>,v1=<hex HMAC-SHA256\n" +
			"of \"<t>.<body>\" keyed with the secret>. Without --event the webhook gets every event:\n" +
			strings.Join(api.EventTypes, ", ") + ".",
		Example: "  sirocco webhook create https://hooks.example.com/sirocco --event billing.state --event budget.threshold",
		Args:    args("URL"),
	}
	createProvider := providerFlag(create)
	create.Flags().StringArrayVar(&in.EventTypes, "event", nil, "event type to deliver (repeatable; default: all)")
	create.RunE = func(cmd *cobra.Command, args []string) error {
		if !strings.HasPrefix(args[0], "https://") && !strings.HasPrefix(args[0], "http://") {
			return usagef("URL %q: want an http:// or https:// URL", args[0])
		}
		for _, e := range in.EventTypes {
			if !slices.Contains(api.EventTypes, e) {
				return usagef("--event %q: use one of %s", e, strings.Join(api.EventTypes, ", "))
			}
		}
		c, org, err := scope(*createProvider)
		if err != nil {
			return err
		}
		in.URL = args[0]
		w, err := c.CreateWebhook(cmd.Context(), org, in)
		if err != nil {
			return err
		}
		if ok, err := a.encoded(w); ok {
			return err
		}
		if err := table(a, []api.Webhook{w.Webhook}, webhookCols); err != nil {
			return err
		}
		if err := a.showFields(nil, []field{{"Secret", w.Secret}}); err != nil {
			return err
		}
		a.note("Keep the secret: it is not shown again. Check each request's Sirocco-Signature with it.")
		return nil
	}
	cmd.AddCommand(create)

	del := &cobra.Command{Use: "delete ID", Short: "Delete a webhook", Args: args("ID")}
	delProvider := providerFlag(del)
	del.RunE = func(cmd *cobra.Command, args []string) error {
		c, org, err := scope(*delProvider)
		if err != nil {
			return err
		}
		if err := c.DeleteWebhook(cmd.Context(), org, args[0]); err != nil {
			return err
		}
		a.done("Deleted webhook %s.", args[0])
		return nil
	}
	cmd.AddCommand(del)

	deliveries := &cobra.Command{Use: "deliveries ID", Short: "Show a webhook's delivery log: attempts, last status and error", Args: args("ID")}
	df := addListFlags(deliveries)
	delivProvider := providerFlag(deliveries)
	deliveries.RunE = func(cmd *cobra.Command, args []string) error {
		c, org, err := scope(*delivProvider)
		if err != nil {
			return err
		}
		l, err := fetch(cmd.Context(), df, func(ctx context.Context, o client.ListOptions) (*api.List[api.WebhookDelivery], error) {
			return c.ListWebhookDeliveries(ctx, org, args[0], o)
		})
		if err != nil {
			return err
		}
		return showList(a, l, deliveryCols)
	}
	cmd.AddCommand(deliveries)
	return cmd
}
