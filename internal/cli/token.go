package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/client"
)

var tokenCols = []col[api.Token]{
	{"ID", func(t *api.Token) string { return t.ID }},
	{"NAME", func(t *api.Token) string { return t.Name }},
	{"PREFIX", func(t *api.Token) string { return t.Prefix }},
	{"ORG", func(t *api.Token) string { return t.Org }},
	{"ROLE", func(t *api.Token) string { return t.Role }},
	{"EXPIRES", func(t *api.Token) string { return stamp(t.ExpiresAt) }},
	{"LAST USED", func(t *api.Token) string { return ageOf(t.LastUsedAt) }},
}

func (a *app) tokenCmd() *cobra.Command {
	cmd := group(&cobra.Command{Use: "token", Aliases: []string{"tokens"}, Short: "Manage API tokens"})

	var in api.TokenCreate
	create := &cobra.Command{
		Use:   "create NAME --role ROLE",
		Short: "Create an API token for yourself; its secret is shown once",
		Long: "Create an API token. An organisation role (org-admin, org-member, org-viewer) scopes it to --org\n" +
			"(or the context's organisation); a provider role makes a provider token. The role cannot exceed yours.",
		Example: "  sirocco token create ci --role org-member --expires-in 720h",
		Args:    args("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if in.Role == "" {
				return usagef("--role is required")
			}
			c, t, err := a.authed()
			if err != nil {
				return err
			}
			in.Name = args[0]
			if strings.HasPrefix(in.Role, "org-") {
				if in.Org, err = orgOf(t); err != nil {
					return err
				}
			}
			tok, err := c.CreateToken(cmd.Context(), in)
			if err != nil {
				return err
			}
			if ok, err := a.encoded(tok); ok {
				return err
			}
			scope := "provider-wide"
			if tok.Org != "" {
				scope = "in organisation " + in.Org
			}
			fmt.Fprintf(a.out, "Token %s (%s, %s %s) created. Its secret, shown only now:\n%s\n", tok.Name, tok.ID, tok.Role, scope, tok.Secret)
			return nil
		},
	}
	create.Flags().StringVar(&in.Role, "role", "", "provider-admin, provider-viewer, org-admin, org-member or org-viewer (required)")
	create.Flags().StringVar(&in.ExpiresIn, "expires-in", "", "lifetime, e.g. 720h (default: the server's, 90 days)")
	cmd.AddCommand(create)

	var orgTokens bool
	list := &cobra.Command{Use: "list", Short: "List your tokens, or with --org-tokens every token of the organisation", Args: args()}
	lf := addListFlags(list)
	list.Flags().BoolVar(&orgTokens, "org-tokens", false, "every token acting in --org, whoever owns it (org-admin)")
	list.RunE = func(cmd *cobra.Command, _ []string) error {
		c, t, err := a.authed()
		if err != nil {
			return err
		}
		page := c.ListTokens
		if orgTokens {
			org, err := orgOf(t)
			if err != nil {
				return err
			}
			page = func(ctx context.Context, o client.ListOptions) (*api.List[api.Token], error) {
				return c.ListOrgTokens(ctx, org, o)
			}
		}
		l, err := fetch(cmd.Context(), lf, page)
		if err != nil {
			return err
		}
		return showList(a, l, tokenCols)
	}
	cmd.AddCommand(list)

	var revokeOrg bool
	revoke := &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke a token",
		Args:  args("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, t, err := a.authed()
			if err != nil {
				return err
			}
			if revokeOrg {
				var org string
				if org, err = orgOf(t); err != nil {
					return err
				}
				err = c.RevokeOrgToken(cmd.Context(), org, args[0])
			} else {
				err = c.RevokeToken(cmd.Context(), args[0])
			}
			if err != nil {
				return err
			}
			a.done("Token %s revoked.", args[0])
			return nil
		},
	}
	revoke.Flags().BoolVar(&revokeOrg, "org-tokens", false, "revoke any token acting in --org, whoever owns it (org-admin)")
	cmd.AddCommand(revoke)
	return cmd
}
