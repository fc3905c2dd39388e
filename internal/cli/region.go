package cli

import (
	"github.com/spf13/cobra"

	"github.com/sirocco-cloud/sirocco/api"
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

	cmd.AddCommand(&cobra.Command{
		Use:   "get NAME",
		Short: "Show a region",
		Args:  args("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, _, err := a.authed()
			if err != nil {
				return err
			}
			r, err := c.GetRegion(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return show(a, r, regionCols)
		},
	})

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

	cmd.AddCommand(&cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a region without zones (provider-admin)",
		Args:  args("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, _, err := a.authed()
			if err != nil {
				return err
			}
			if err := c.DeleteRegion(cmd.Context(), args[0]); err != nil {
				return err
			}
			a.done("Region %s deleted.", args[0])
			return nil
		},
	})
	return cmd
}
