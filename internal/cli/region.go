package cli

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/client"
)

var regionCols = []col[api.Region]{
	{"NAME", func(r *api.Region) string { return r.Name }},
	{"JURISDICTION", func(r *api.Region) string { return r.Jurisdiction }},
	{"DISPLAY NAME", func(r *api.Region) string { return r.DisplayName }},
	{"LABELS", func(r *api.Region) string { return labels(r.Labels) }},
	{"AGE", func(r *api.Region) string { return age(r.CreatedAt) }},
}

func (a *app) regionCmd() *cobra.Command {
	cmd := group(&cobra.Command{Use: "region", Aliases: []string{"regions"}, Short: "Manage regions (geographic locations with one jurisdiction)"})

	list := &cobra.Command{
		Use:   "list",
		Short: "List regions",
		Args:  args(),
	}
	lf := addListFlags(list)
	list.RunE = func(cmd *cobra.Command, _ []string) error {
		c, _, err := a.authed()
		if err != nil {
			return err
		}
		l, err := fetch(cmd.Context(), lf, c.ListRegions)
		if err != nil {
			return err
		}
		return showList(a, l, regionCols)
	}
	cmd.AddCommand(list)

	cmd.AddCommand(getCmd(a, "Show a region", func(ctx context.Context, c *client.Client, name string) (*api.Region, error) {
		return c.GetRegion(ctx, name)
	}, regionCols))

	var in api.RegionCreate
	var createLabels []string
	create := &cobra.Command{
		Use:     "create NAME --jurisdiction CC",
		Short:   "Create a region (provider-admin)",
		Example: "  sirocco region create au-syd --jurisdiction AU --display-name Sydney",
		Args:    args("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if in.Jurisdiction == "" {
				return usagef("--jurisdiction is required")
			}
			l, err := parseLabels(createLabels)
			if err != nil {
				return err
			}
			c, _, err := a.authed()
			if err != nil {
				return err
			}
			in.Name, in.Labels = args[0], l
			r, err := c.CreateRegion(cmd.Context(), in)
			if err != nil {
				return err
			}
			return show(a, r, regionCols)
		},
	}
	create.Flags().StringVar(&in.Jurisdiction, "jurisdiction", "", "ISO 3166-1 alpha-2 country whose law governs data here, e.g. AU (required; cannot change)")
	create.Flags().StringVar(&in.DisplayName, "display-name", "", "name shown to people")
	create.Flags().StringArrayVar(&createLabels, "label", nil, "label key=value (repeatable)")
	cmd.AddCommand(create)

	var displayName string
	var updateLabels []string
	update := &cobra.Command{
		Use:   "update NAME",
		Short: "Change a region (provider-admin)",
		Args:  args("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			var u api.RegionUpdate
			if cmd.Flags().Changed("display-name") {
				u.DisplayName = &displayName
			}
			if cmd.Flags().Changed("label") {
				l, err := parseLabels(updateLabels)
				if err != nil {
					return err
				}
				u.Labels = &l
			}
			c, _, err := a.authed()
			if err != nil {
				return err
			}
			r, err := c.UpdateRegion(cmd.Context(), args[0], u)
			if err != nil {
				return err
			}
			return show(a, r, regionCols)
		},
	}
	update.Flags().StringVar(&displayName, "display-name", "", "name shown to people")
	update.Flags().StringArrayVar(&updateLabels, "label", nil, "label key=value (repeatable; replaces all labels)")
	cmd.AddCommand(update)

	cmd.AddCommand(deleteCmd(a, "Delete a region without zones (provider-admin)", "Region %s deleted.", func(ctx context.Context, c *client.Client, name string) error {
		return c.DeleteRegion(ctx, name)
	}))
	return cmd
}
