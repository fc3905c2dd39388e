package cli

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/client"
)

var operationCols = []col[api.Operation]{
	{"ID", func(o *api.Operation) string { return o.ID }},
	{"KIND", func(o *api.Operation) string { return o.Kind }},
	{"TARGET", func(o *api.Operation) string { return o.Target.Kind + " " + o.Target.ID }},
	{"STATE", func(o *api.Operation) string { return o.State }},
	{"PROGRESS", func(o *api.Operation) string { return itoa(o.Progress) + "%" }},
	{"MESSAGE", func(o *api.Operation) string { return o.Message }},
	{"AGE", func(o *api.Operation) string { return age(o.CreatedAt) }},
}

func (a *app) operationCmd() *cobra.Command {
	cmd := group(&cobra.Command{Use: "operation", Aliases: []string{"operations", "op"}, Short: "Follow long actions"})

	var state, kind, targetID string
	list := &cobra.Command{Use: "list", Short: "List operations (of --org or the context's organisation, if any)", Args: args()}
	lf := addListFlags(list)
	list.Flags().StringVar(&state, "state", "", "only operations in this state: queued, running, succeeded, failed or cancelled")
	list.Flags().StringVar(&kind, "kind", "", "only operations of this kind, e.g. vdc.delete")
	list.Flags().StringVar(&targetID, "target", "", "only operations on the object with this ID")
	list.RunE = func(cmd *cobra.Command, _ []string) error {
		c, t, err := a.authed()
		if err != nil {
			return err
		}
		l, err := fetch(cmd.Context(), lf, func(ctx context.Context, o client.ListOptions) (*api.List[api.Operation], error) {
			return c.ListOperations(ctx, client.OperationListOptions{ListOptions: o, Org: t.org, State: state, Kind: kind, Target: targetID})
		})
		if err != nil {
			return err
		}
		return showList(a, l, operationCols)
	}
	cmd.AddCommand(list)

	cmd.AddCommand(&cobra.Command{
		Use:   "get ID",
		Short: "Show an operation",
		Args:  args("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, _, err := a.authed()
			if err != nil {
				return err
			}
			op, err := c.GetOperation(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return show(a, op, operationCols)
		},
	})

	wait := &cobra.Command{
		Use:   "wait ID",
		Short: "Wait for an operation to finish, showing its progress; fails if it does",
		Args:  args("ID"),
	}
	waitFlag := addWaitFlag(wait, true)
	wait.RunE = func(cmd *cobra.Command, args []string) error {
		c, _, err := a.authed()
		if err != nil {
			return err
		}
		op, err := c.GetOperation(cmd.Context(), args[0])
		if err != nil {
			return err
		}
		return a.follow(cmd.Context(), c, op, *waitFlag)
	}
	cmd.AddCommand(wait)

	cancel := &cobra.Command{
		Use:   "cancel ID",
		Short: "Cancel an operation (it may still finish before it notices)",
		Args:  args("ID"),
	}
	cancelWait := addWaitFlag(cancel, false)
	cancel.RunE = func(cmd *cobra.Command, args []string) error {
		c, _, err := a.authed()
		if err != nil {
			return err
		}
		op, err := c.CancelOperation(cmd.Context(), args[0])
		if err != nil {
			return err
		}
		return a.followTo(cmd.Context(), c, op, *cancelWait, true)
	}
	cmd.AddCommand(cancel)
	return cmd
}
