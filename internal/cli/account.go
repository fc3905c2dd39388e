package cli

import (
	"strings"

	"github.com/spf13/cobra"

	"github.com/sirocco-cloud/sirocco/api"
)

func (a *app) signupCmd() *cobra.Command {
	var in api.Signup
	var pwStdin bool
	var jurisdictions, regions []string
	cmd := &cobra.Command{
		Use:   "signup",
		Short: "Sign up: create a user and their organisation",
		Long: "Create a user and a new organisation on the server (--server or the current context's). A mail\n" +
			"with a verification link follows; verify with 'sirocco verify-email TOKEN', then 'sirocco login'.",
		Example: "  sirocco signup --server https://cloud.example.com --email me@example.com --org-name acme",
		Args:    args(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if in.Email == "" || in.OrgName == "" {
				return usagef("--email and --org-name are required")
			}
			c, _, err := a.client(false)
			if err != nil {
				return err
			}
			if in.Password, err = a.password(pwStdin, true); err != nil {
				return err
			}
			if len(jurisdictions) > 0 || len(regions) > 0 {
				in.Residency = &api.Residency{Jurisdictions: jurisdictions, Regions: regions}
			}
			res, err := c.Signup(cmd.Context(), in)
			if err != nil {
				return err
			}
			if ok, err := a.encoded(res); ok {
				return err
			}
			a.done("Signed up %s with organisation %q.", res.User.Email, res.Organisation.Name)
			a.note("Check your mail for the verification link (or run 'sirocco verify-email TOKEN'), then 'sirocco login %s'.", c.BaseURL())
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&in.Email, "email", "", "your e-mail address (required)")
	f.StringVar(&in.OrgName, "org-name", "", "short name of your new organisation, e.g. acme (required)")
	f.StringVar(&in.Name, "name", "", "your name")
	f.BoolVar(&pwStdin, "password-stdin", false, "read the password from the first line of standard input")
	f.StringSliceVar(&jurisdictions, "jurisdiction", nil, "keep the organisation's data in these countries (ISO 3166-1 alpha-2, repeatable)")
	f.StringSliceVar(&regions, "residency-region", nil, "keep the organisation's data in these regions (repeatable)")
	return cmd
}

func (a *app) verifyEmailCmd() *cobra.Command {
	var resend bool
	cmd := &cobra.Command{
		Use:   "verify-email [TOKEN]",
		Short: "Verify your e-mail address with the token from the mail",
		Long:  "Verify your e-mail address with the token from the verification mail, or ask for a new mail with --resend.",
		Args:  optionalArg("TOKEN"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if resend {
				if len(args) > 0 {
					return usagef("--resend takes no TOKEN")
				}
				c, _, err := a.authed()
				if err != nil {
					return err
				}
				if err := c.ResendVerification(cmd.Context()); err != nil {
					return err
				}
				a.done("A new verification mail is on its way.")
				return nil
			}
			if len(args) == 0 {
				return usagef("missing TOKEN (or pass --resend)")
			}
			c, _, err := a.client(false)
			if err != nil {
				return err
			}
			u, err := c.VerifyEmail(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if ok, err := a.encoded(u); ok {
				return err
			}
			a.done("E-mail address %s verified.", u.Email)
			return nil
		},
	}
	cmd.Flags().BoolVar(&resend, "resend", false, "send a new verification mail to the logged-in user")
	return cmd
}

func (a *app) passwordResetCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "password-reset EMAIL",
		Short: "Ask for a password reset mail",
		Long:  "Ask for a password reset mail; then set the new password with 'sirocco password-reset confirm TOKEN'.",
		Args:  args("EMAIL"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, _, err := a.client(false)
			if err != nil {
				return err
			}
			if err := c.PasswordReset(cmd.Context(), args[0]); err != nil {
				return err
			}
			a.done("If %s has an account, a reset mail is on its way.", args[0])
			return nil
		},
	}
	var pwStdin bool
	confirm := &cobra.Command{
		Use:   "confirm TOKEN",
		Short: "Set a new password with the token from the reset mail",
		Args:  args("TOKEN"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, _, err := a.client(false)
			if err != nil {
				return err
			}
			pw, err := a.password(pwStdin, true)
			if err != nil {
				return err
			}
			if err := c.PasswordResetConfirm(cmd.Context(), args[0], pw); err != nil {
				return err
			}
			a.done("Password changed. Log in with 'sirocco login'.")
			return nil
		},
	}
	confirm.Flags().BoolVar(&pwStdin, "password-stdin", false, "read the new password from the first line of standard input")
	cmd.AddCommand(confirm)
	return cmd
}

func (a *app) meCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "me",
		Short: "Show who you are logged in as, and your roles",
		Args:  args(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, _, err := a.authed()
			if err != nil {
				return err
			}
			me, err := c.Me(cmd.Context())
			if err != nil {
				return err
			}
			fields := []field{
				{"User", me.User.Email},
				{"Name", me.User.Name},
				{"ID", me.User.ID},
				{"Verified", yesNo(me.User.EmailVerified)},
				{"Provider role", me.Provider},
			}
			var roles []string
			for _, m := range me.Memberships {
				roles = append(roles, m.OrgName+": "+m.Role)
			}
			fields = append(fields, field{"Organisations", strings.Join(roles, ", ")})
			if me.Token != nil {
				scope := "provider"
				if me.Token.Org != "" {
					scope = "organisation " + me.Token.Org
				}
				fields = append(fields, field{"Token", me.Token.Name + " (" + me.Token.Role + ", " + scope + ")"})
			}
			return a.showFields(me, fields)
		},
	}
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
