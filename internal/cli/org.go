package cli

import (
	"context"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/client"
)

func residency(r api.Residency) string {
	var parts []string
	if len(r.Jurisdictions) > 0 {
		parts = append(parts, strings.Join(r.Jurisdictions, ","))
	}
	if len(r.Regions) > 0 {
		parts = append(parts, "regions "+strings.Join(r.Regions, ","))
	}
	if len(parts) == 0 {
		return "anywhere"
	}
	return strings.Join(parts, "; ")
}

var orgCols = []col[api.Organisation]{
	{"NAME", func(o *api.Organisation) string { return o.Name }},
	{"ID", func(o *api.Organisation) string { return o.ID }},
	{"STATE", func(o *api.Organisation) string { return o.State }},
	{"DISPLAY NAME", func(o *api.Organisation) string { return o.DisplayName }},
	{"RESIDENCY", func(o *api.Organisation) string { return residency(o.Residency) }},
	{"AGE", func(o *api.Organisation) string { return age(o.CreatedAt) }},
}

var memberCols = []col[api.RoleBinding]{
	{"EMAIL", func(b *api.RoleBinding) string { return b.Email }},
	{"USER", func(b *api.RoleBinding) string { return b.User }},
	{"ROLE", func(b *api.RoleBinding) string { return b.Role }},
	{"SINCE", func(b *api.RoleBinding) string { return age(b.CreatedAt) }},
}

// orgArg is an organisation named by an optional argument, else by --org or
// the context.
func (a *app) orgArg(args []string) (*client.Client, string, error) {
	if len(args) == 1 {
		c, _, err := a.authed()
		return c, args[0], err
	}
	return a.inOrg()
}

func (a *app) orgCmd() *cobra.Command {
	cmd := group(&cobra.Command{Use: "org", Aliases: []string{"orgs", "organisation"}, Short: "Manage organisations (tenants) and their members"})

	list := &cobra.Command{Use: "list", Short: "List organisations (all of them for provider roles, otherwise yours)", Args: args()}
	lf := addListFlags(list)
	list.RunE = func(cmd *cobra.Command, _ []string) error {
		c, _, err := a.authed()
		if err != nil {
			return err
		}
		l, err := fetch(cmd.Context(), lf, c.ListOrgs)
		if err != nil {
			return err
		}
		return showList(a, l, orgCols)
	}
	cmd.AddCommand(list)

	cmd.AddCommand(&cobra.Command{
		Use:   "get [ORG]",
		Short: "Show an organisation (default: --org or the context's)",
		Args:  optionalArg("ORG"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, org, err := a.orgArg(args)
			if err != nil {
				return err
			}
			o, err := c.GetOrg(cmd.Context(), org)
			if err != nil {
				return err
			}
			return show(a, o, orgCols)
		},
	})

	var in api.OrganisationCreate
	var createLabels []string
	create := &cobra.Command{
		Use:     "create NAME",
		Short:   "Create an organisation (provider-admin; tenants use 'sirocco signup')",
		Example: "  sirocco org create acme --display-name 'Acme Pty Ltd' --jurisdiction AU",
		Args:    args("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			l, err := parseLabels(createLabels)
			if err != nil {
				return err
			}
			c, _, err := a.authed()
			if err != nil {
				return err
			}
			in.Name, in.Labels = args[0], l
			o, err := c.CreateOrg(cmd.Context(), in)
			if err != nil {
				return err
			}
			return show(a, o, orgCols)
		},
	}
	cf := create.Flags()
	cf.StringVar(&in.DisplayName, "display-name", "", "full name")
	cf.StringSliceVar(&in.Residency.Jurisdictions, "jurisdiction", nil, "keep data in these countries (ISO 3166-1 alpha-2, repeatable)")
	cf.StringSliceVar(&in.Residency.Regions, "residency-region", nil, "keep data in these regions (repeatable)")
	cf.StringArrayVar(&createLabels, "label", nil, "label key=value (repeatable)")
	cmd.AddCommand(create)

	var displayName, state string
	var jurisdictions, regions, updateLabels []string
	update := &cobra.Command{
		Use:   "update [ORG]",
		Short: "Change an organisation (state: provider-admin only)",
		Example: "  sirocco org update acme --display-name 'Acme Ltd'\n" +
			"  sirocco org update acme --state suspended",
		Args: optionalArg("ORG"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			f := cmd.Flags()
			c, org, err := a.orgArg(args)
			if err != nil {
				return err
			}
			var u api.OrganisationUpdate
			var opts []client.CallOption
			if f.Changed("display-name") {
				u.DisplayName = &displayName
			}
			if f.Changed("state") {
				u.State = &state
			}
			if f.Changed("label") {
				l, err := parseLabels(updateLabels)
				if err != nil {
					return err
				}
				u.Labels = &l
			}
			if f.Changed("jurisdiction") || f.Changed("residency-region") {
				// The residency is replaced whole: start from the current one
				// so a flag not given keeps its part.
				cur, err := c.GetOrg(ctx, org)
				if err != nil {
					return err
				}
				r := cur.Residency
				if f.Changed("jurisdiction") {
					r.Jurisdictions = jurisdictions
				}
				if f.Changed("residency-region") {
					r.Regions = regions
				}
				u.Residency = &r
				opts = append(opts, client.IfVersion(cur.Version))
			}
			o, err := c.UpdateOrg(ctx, org, u, opts...)
			if err != nil {
				return err
			}
			return show(a, o, orgCols)
		},
	}
	uf := update.Flags()
	uf.StringVar(&displayName, "display-name", "", "full name")
	uf.StringVar(&state, "state", "", "active, warn, grace, suspended or closed (provider-admin)")
	uf.StringSliceVar(&jurisdictions, "jurisdiction", nil, "keep data in these countries (repeatable; empty for anywhere)")
	uf.StringSliceVar(&regions, "residency-region", nil, "keep data in these regions (repeatable)")
	uf.StringArrayVar(&updateLabels, "label", nil, "label key=value (repeatable; replaces all labels)")
	cmd.AddCommand(update)

	closeCmd := &cobra.Command{
		Use:   "close [ORG]",
		Short: "Close an organisation: revoke its tokens and invitations, delete its VDCs",
		Args:  optionalArg("ORG"),
	}
	wait := addWaitFlag(closeCmd, false)
	closeCmd.RunE = func(cmd *cobra.Command, args []string) error {
		c, org, err := a.orgArg(args)
		if err != nil {
			return err
		}
		op, err := c.CloseOrg(cmd.Context(), org)
		if err != nil {
			return err
		}
		return a.follow(cmd.Context(), c, op, *wait)
	}
	cmd.AddCommand(closeCmd)

	cmd.AddCommand(a.memberCmd())
	return cmd
}

func (a *app) memberCmd() *cobra.Command {
	cmd := group(&cobra.Command{Use: "member", Aliases: []string{"members"}, Short: "Manage who has which role in the organisation (--org)"})

	list := &cobra.Command{Use: "list", Short: "List the organisation's members", Args: args()}
	lf := addListFlags(list)
	list.RunE = func(cmd *cobra.Command, _ []string) error {
		c, org, err := a.inOrg()
		if err != nil {
			return err
		}
		l, err := fetch(cmd.Context(), lf, func(ctx context.Context, o client.ListOptions) (*api.List[api.RoleBinding], error) {
			return c.ListMembers(ctx, org, o)
		})
		if err != nil {
			return err
		}
		return showList(a, l, memberCols)
	}
	cmd.AddCommand(list)

	var role string
	add := &cobra.Command{
		Use:   "add USER --role ROLE",
		Short: "Give an existing user (e-mail or ID) a role, replacing their earlier one (org-admin)",
		Long:  "Give an existing user a role in the organisation. To add someone without an account, use 'sirocco invite create'.",
		Args:  args("USER"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if role == "" {
				return usagef("--role is required: org-admin, org-member or org-viewer")
			}
			c, org, err := a.inOrg()
			if err != nil {
				return err
			}
			in := api.RoleBindingCreate{Role: role}
			if strings.Contains(args[0], "@") {
				in.Email = args[0]
			} else {
				in.User = args[0]
			}
			b, err := c.AddMember(cmd.Context(), org, in)
			if err != nil {
				return err
			}
			return show(a, b, memberCols)
		},
	}
	add.Flags().StringVar(&role, "role", "", "org-admin, org-member or org-viewer (required)")
	cmd.AddCommand(add)

	cmd.AddCommand(&cobra.Command{
		Use:   "remove USER",
		Short: "Remove a user (e-mail or ID) from the organisation and revoke their tokens for it (org-admin)",
		Args:  args("USER"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, org, err := a.inOrg()
			if err != nil {
				return err
			}
			if err := c.RemoveMember(cmd.Context(), org, args[0]); err != nil {
				return err
			}
			a.done("%s removed from %s.", args[0], org)
			return nil
		},
	})
	return cmd
}
