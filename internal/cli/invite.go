package cli

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/client"
)

var invitationCols = []col[api.Invitation]{
	{"ID", func(i *api.Invitation) string { return i.ID }},
	{"EMAIL", func(i *api.Invitation) string { return i.Email }},
	{"ROLE", func(i *api.Invitation) string { return i.Role }},
	{"STATE", func(i *api.Invitation) string { return i.State }},
	{"EXPIRES", func(i *api.Invitation) string { return stamp(&i.ExpiresAt) }},
}

func (a *app) inviteCmd() *cobra.Command {
	cmd := group(&cobra.Command{Use: "invite", Aliases: []string{"invitation", "invitations"}, Short: "Invite people into the organisation (--org)"})

	var role string
	create := &cobra.Command{
		Use:     "create EMAIL",
		Short:   "Invite an e-mail address; a mail with a link is sent (org-admin)",
		Example: "  sirocco invite create ana@example.com --role org-member",
		Args:    args("EMAIL"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, org, err := a.inOrg()
			if err != nil {
				return err
			}
			inv, err := c.CreateInvitation(cmd.Context(), org, api.InvitationCreate{Email: args[0], Role: role})
			if err != nil {
				return err
			}
			return show(a, inv, invitationCols)
		},
	}
	create.Flags().StringVar(&role, "role", api.RoleOrgMember, "org-admin, org-member or org-viewer")
	cmd.AddCommand(create)

	var state string
	list := &cobra.Command{Use: "list", Short: "List the organisation's invitations", Args: args()}
	lf := addListFlags(list)
	list.Flags().StringVar(&state, "state", "", "only invitations in this state: pending, accepted, revoked or expired")
	list.RunE = func(cmd *cobra.Command, _ []string) error {
		c, org, err := a.inOrg()
		if err != nil {
			return err
		}
		l, err := fetch(cmd.Context(), lf, func(ctx context.Context, o client.ListOptions) (*api.List[api.Invitation], error) {
			return c.ListInvitations(ctx, org, client.InvitationListOptions{ListOptions: o, State: state})
		})
		if err != nil {
			return err
		}
		return showList(a, l, invitationCols)
	}
	cmd.AddCommand(list)

	cmd.AddCommand(&cobra.Command{
		Use:   "revoke ID",
		Short: "Withdraw a pending invitation (org-admin)",
		Args:  args("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, org, err := a.inOrg()
			if err != nil {
				return err
			}
			if err := c.RevokeInvitation(cmd.Context(), org, args[0]); err != nil {
				return err
			}
			a.done("Invitation %s revoked.", args[0])
			return nil
		},
	})

	var name string
	var pwStdin bool
	accept := &cobra.Command{
		Use:   "accept TOKEN",
		Short: "Accept an invitation with the token from its mail",
		Long: "Accept an invitation. Without an account yet, give --name and a password (prompted for, or\n" +
			"--password-stdin) to create one. With an account, log in as the invited address first.",
		Args: args("TOKEN"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, t, err := a.client(false)
			if err != nil {
				return err
			}
			in := api.InvitationAccept{Token: args[0], Name: name}
			// New account unless the caller is logged in and asked for nothing else.
			if t.token == "" || name != "" || pwStdin {
				if name == "" {
					if name, err = a.ask("Your name: ", "--name"); err != nil {
						return err
					}
					in.Name = name
				}
				if in.Password, err = a.password(pwStdin, true); err != nil {
					return err
				}
				if c, err = a.newClient(t.server, "", t.fingerprint); err != nil {
					return err
				}
			}
			m, err := c.AcceptInvitation(cmd.Context(), in)
			if err != nil {
				return err
			}
			if ok, err := a.encoded(m); ok {
				return err
			}
			a.done("You are now %s in %s.", m.Role, m.OrgName)
			if in.Password != "" {
				a.note("Log in with 'sirocco login %s --org %s'.", c.BaseURL(), m.OrgName)
			}
			return nil
		},
	}
	accept.Flags().StringVar(&name, "name", "", "your name, for a new account")
	accept.Flags().BoolVar(&pwStdin, "password-stdin", false, "read the new account's password from the first line of standard input")
	cmd.AddCommand(accept)
	return cmd
}
