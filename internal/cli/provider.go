package cli

import (
	"github.com/spf13/cobra"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/client"
)

func providerFields(p *api.Provider) []field {
	return []field{
		{"Name", p.Name},
		{"Currency", p.Currency},
		{"Sign-up", map[bool]string{true: "enabled", false: "disabled"}[p.SignupEnabled]},
		{"Trial credit", p.TrialCredit.Amount + " " + p.Currency + " for " + itoa(p.TrialCredit.Days) + " days"},
		{"Grace", itoa(p.Enforcement.GraceHours) + " hours out of credit before suspension"},
		{"Retention", itoa(p.Enforcement.RetentionDays) + " days suspended before closing"},
		{"Display name", p.Branding.DisplayName},
		{"Logo URL", p.Branding.LogoURL},
		{"Colours", p.Branding.PrimaryColor + " " + p.Branding.AccentColor},
		{"Support", p.Branding.SupportEmail + " " + p.Branding.SupportURL},
		{"Version", itoa(p.Version)},
	}
}

func (a *app) providerCmd() *cobra.Command {
	cmd := group(&cobra.Command{Use: "provider", Short: "Show or change the provider's settings"})

	cmd.AddCommand(&cobra.Command{
		Use:   "get",
		Short: "Show the provider's settings",
		Args:  args(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, _, err := a.client(false)
			if err != nil {
				return err
			}
			p, err := c.GetProvider(cmd.Context())
			if err != nil {
				return err
			}
			return a.showFields(p, providerFields(p))
		},
	})

	var name, currency, trialAmount string
	var signup bool
	var trialDays, graceHours, retentionDays int
	var b api.Branding
	update := &cobra.Command{
		Use:   "update",
		Short: "Change the provider's settings (provider-admin)",
		Example: "  sirocco provider update --name 'Harbour Cloud' --currency AUD --trial-amount 50.00 --trial-days 30\n" +
			"  sirocco provider update --primary-color '#0b5fff' --support-email help@harbour.example\n" +
			"  sirocco provider update --grace-hours 72 --retention-days 30",
		Args: args(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			c, _, err := a.authed()
			if err != nil {
				return err
			}
			cur, err := c.GetProvider(ctx)
			if err != nil {
				return err
			}
			f := cmd.Flags()
			var u api.ProviderUpdate
			if f.Changed("name") {
				u.Name = &name
			}
			if f.Changed("currency") {
				u.Currency = &currency
			}
			if f.Changed("signup-enabled") {
				u.SignupEnabled = &signup
			}
			if f.Changed("trial-amount") || f.Changed("trial-days") {
				tc := cur.TrialCredit
				if f.Changed("trial-amount") {
					tc.Amount = trialAmount
				}
				if f.Changed("trial-days") {
					tc.Days = trialDays
				}
				u.TrialCredit = &tc
			}
			if f.Changed("grace-hours") || f.Changed("retention-days") {
				en := cur.Enforcement
				if f.Changed("grace-hours") {
					en.GraceHours = graceHours
				}
				if f.Changed("retention-days") {
					en.RetentionDays = retentionDays
				}
				u.Enforcement = &en
			}
			br, changed := cur.Branding, false
			for flag, dst := range map[string]*string{
				"display-name": &br.DisplayName, "logo-url": &br.LogoURL, "primary-color": &br.PrimaryColor,
				"accent-color": &br.AccentColor, "support-email": &br.SupportEmail, "support-url": &br.SupportURL,
			} {
				if f.Changed(flag) {
					v, _ := f.GetString(flag)
					*dst, changed = v, true
				}
			}
			if changed {
				u.Branding = &br
			}
			p, err := c.UpdateProvider(ctx, u, client.IfVersion(cur.Version))
			if err != nil {
				return err
			}
			return a.showFields(p, providerFields(p))
		},
	}
	f := update.Flags()
	f.StringVar(&name, "name", "", "the provider's name, shown to tenants")
	f.StringVar(&currency, "currency", "", "ISO 4217 currency of all prices, e.g. AUD")
	f.BoolVar(&signup, "signup-enabled", false, "whether anyone may sign up")
	f.StringVar(&trialAmount, "trial-amount", "", "trial credit of a new organisation, e.g. 50.00")
	f.IntVar(&trialDays, "trial-days", 0, "days until the trial credit expires")
	f.IntVar(&graceHours, "grace-hours", 0, "hours an organisation out of credit stays in grace before it is suspended")
	f.IntVar(&retentionDays, "retention-days", 0, "days a suspended organisation is kept before it is closed")
	f.StringVar(&b.DisplayName, "display-name", "", "name shown in the console")
	f.StringVar(&b.LogoURL, "logo-url", "", "logo shown in the console")
	f.StringVar(&b.PrimaryColor, "primary-color", "", "console primary colour, #rrggbb")
	f.StringVar(&b.AccentColor, "accent-color", "", "console accent colour, #rrggbb")
	f.StringVar(&b.SupportEmail, "support-email", "", "where tenants ask for help")
	f.StringVar(&b.SupportURL, "support-url", "", "support page for tenants")
	cmd.AddCommand(update)
	return cmd
}
