package cli

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/client"
)

var zoneCols = []col[api.Zone]{
	{"NAME", func(z *api.Zone) string { return z.Name }},
	{"REGION", func(z *api.Zone) string { return z.Region }},
	{"JURISDICTION", func(z *api.Zone) string { return z.Jurisdiction }},
	{"DISPLAY NAME", func(z *api.Zone) string { return z.DisplayName }},
	{"LABELS", func(z *api.Zone) string { return labels(z.Labels) }},
	{"AGE", func(z *api.Zone) string { return age(z.CreatedAt) }},
}

func (a *app) zoneCmd() *cobra.Command {
	cmd := group(&cobra.Command{Use: "zone", Aliases: []string{"zones"}, Short: "Manage zones (failure domains inside a region)"})

	var region string
	list := &cobra.Command{Use: "list", Short: "List zones", Args: args()}
	lf := addListFlags(list)
	list.Flags().StringVar(&region, "region", "", "only zones of this region")
	list.RunE = func(cmd *cobra.Command, _ []string) error {
		c, _, err := a.authed()
		if err != nil {
			return err
		}
		l, err := fetch(cmd.Context(), lf, func(ctx context.Context, o client.ListOptions) (*api.List[api.Zone], error) {
			return c.ListZones(ctx, client.ZoneListOptions{ListOptions: o, Region: region})
		})
		if err != nil {
			return err
		}
		return showList(a, l, zoneCols)
	}
	cmd.AddCommand(list)

	cmd.AddCommand(getCmd(a, "Show a zone", func(ctx context.Context, c *client.Client, name string) (*api.Zone, error) {
		return c.GetZone(ctx, name)
	}, zoneCols))

	var in api.ZoneCreate
	var createLabels []string
	create := &cobra.Command{
		Use:     "create NAME --region REGION",
		Short:   "Create a zone (provider-admin)",
		Example: "  sirocco zone create au-syd-1a --region au-syd",
		Args:    args("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if in.Region == "" {
				return usagef("--region is required")
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
			z, err := c.CreateZone(cmd.Context(), in)
			if err != nil {
				return err
			}
			return show(a, z, zoneCols)
		},
	}
	create.Flags().StringVar(&in.Region, "region", "", "region the zone is in (required)")
	create.Flags().StringVar(&in.DisplayName, "display-name", "", "name shown to people")
	create.Flags().StringArrayVar(&createLabels, "label", nil, "label key=value (repeatable)")
	cmd.AddCommand(create)

	var displayName string
	var updateLabels []string
	update := &cobra.Command{
		Use:   "update NAME",
		Short: "Change a zone (provider-admin)",
		Args:  args("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			var u api.ZoneUpdate
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
			z, err := c.UpdateZone(cmd.Context(), args[0], u)
			if err != nil {
				return err
			}
			return show(a, z, zoneCols)
		},
	}
	update.Flags().StringVar(&displayName, "display-name", "", "name shown to people")
	update.Flags().StringArrayVar(&updateLabels, "label", nil, "label key=value (repeatable; replaces all labels)")
	cmd.AddCommand(update)

	cmd.AddCommand(deleteCmd(a, "Delete an empty zone (provider-admin)", "Zone %s deleted.", func(ctx context.Context, c *client.Client, name string) error {
		return c.DeleteZone(ctx, name)
	}))
	return cmd
}
