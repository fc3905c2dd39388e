package cli

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/client"
)

var userCols = []col[api.User]{
	{"ID", func(u *api.User) string { return u.ID }},
	{"EMAIL", func(u *api.User) string { return u.Email }},
	{"NAME", func(u *api.User) string { return u.Name }},
	{"VERIFIED", func(u *api.User) string { return yesNo(u.EmailVerified) }},
	{"AGE", func(u *api.User) string { return age(u.CreatedAt) }},
}

func (a *app) userCmd() *cobra.Command {
	cmd := group(&cobra.Command{Use: "user", Aliases: []string{"users"}, Short: "Manage users (provider roles)"})

	var email string
	list := &cobra.Command{Use: "list", Short: "List users", Args: args()}
	lf := addListFlags(list)
	list.Flags().StringVar(&email, "email", "", "only the user with this e-mail address")
	list.RunE = func(cmd *cobra.Command, _ []string) error {
		c, _, err := a.authed()
		if err != nil {
			return err
		}
		l, err := fetch(cmd.Context(), lf, func(ctx context.Context, o client.ListOptions) (*api.List[api.User], error) {
			return c.ListUsers(ctx, client.UserListOptions{ListOptions: o, Email: email})
		})
		if err != nil {
			return err
		}
		return showList(a, l, userCols)
	}
	cmd.AddCommand(list)

	cmd.AddCommand(&cobra.Command{
		Use:   "get ID",
		Short: "Show a user (provider roles, or yourself)",
		Args:  args("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, _, err := a.authed()
			if err != nil {
				return err
			}
			u, err := c.GetUser(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return show(a, u, userCols)
		},
	})

	cmd.AddCommand(&cobra.Command{
		Use:   "delete ID",
		Short: "Delete a user (provider-admin)",
		Args:  args("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, _, err := a.authed()
			if err != nil {
				return err
			}
			if err := c.DeleteUser(cmd.Context(), args[0]); err != nil {
				return err
			}
			a.done("User %s deleted.", args[0])
			return nil
		},
	})
	return cmd
}
