package cli

import (
	"strings"

	"github.com/spf13/cobra"

	"github.com/sirocco-cloud/sirocco/api"
)

var residencyCols = []col[api.ResidencyItem]{
	{"KIND", func(i *api.ResidencyItem) string { return i.Kind }},
	{"NAME", func(i *api.ResidencyItem) string { return i.Name }},
	{"ID", func(i *api.ResidencyItem) string { return i.ID }},
	{"VM", func(i *api.ResidencyItem) string { return i.VM }},
	{"HOST", func(i *api.ResidencyItem) string { return i.Host }},
	{"ZONE", func(i *api.ResidencyItem) string { return i.Zone }},
	{"REGION", func(i *api.ResidencyItem) string { return i.Region }},
	{"JURISDICTION", func(i *api.ResidencyItem) string { return i.Jurisdiction }},
}

// policy describes a residency policy in words.
func policy(r api.Residency) string {
	var parts []string
	if len(r.Jurisdictions) > 0 {
		parts = append(parts, "jurisdictions "+strings.Join(r.Jurisdictions, ", "))
	}
	if len(r.Regions) > 0 {
		parts = append(parts, "regions "+strings.Join(r.Regions, ", "))
	}
	if len(parts) == 0 {
		return "none (anywhere)"
	}
	return strings.Join(parts, "; ")
}

func (a *app) residencyCmd() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "residency-report",
		Short: "Show where every piece of the organisation's data lives, for auditors",
		Long: "List every VM, disk, snapshot and image copy of the organisation with the host, zone, region\n" +
			"and jurisdiction it is in. --format csv prints the server's CSV as is, for a spreadsheet.",
		Example: "  sirocco residency-report\n" +
			"  sirocco residency-report --format csv > residency.csv",
		Args: args(),
	}
	cmd.Flags().StringVar(&format, "format", "json", "what to ask the server for: json (shown per -o) or csv (printed raw)")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		switch format {
		case "json", "csv":
		default:
			return usagef("unknown --format %q: use json or csv", format)
		}
		if format == "csv" && a.output != "table" {
			return usagef("--format csv prints CSV as is: it cannot be combined with -o %s", a.output)
		}
		c, org, err := a.inOrg()
		if err != nil {
			return err
		}
		if format == "csv" {
			return c.ResidencyReportCSV(cmd.Context(), org, a.out)
		}
		r, err := c.GetResidencyReport(cmd.Context(), org)
		if err != nil {
			return err
		}
		if ok, err := a.encoded(r); ok {
			return err
		}
		a.note("Organisation %s, residency policy: %s; generated %s.", r.Org, policy(r.Policy), r.GeneratedAt)
		if len(r.Items) == 0 {
			a.note("No items.")
			return nil
		}
		return table(a, r.Items, residencyCols)
	}
	return cmd
}
