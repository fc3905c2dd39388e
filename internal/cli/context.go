package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

func (a *app) contextCmd() *cobra.Command {
	cmd := group(&cobra.Command{
		Use:     "context",
		Aliases: []string{"contexts", "ctx"},
		Short:   "Manage saved contexts (server, token, default organisation)",
	})

	cmd.AddCommand(&cobra.Command{
		Use:   "list",
		Short: "List contexts",
		Args:  args(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := a.config()
			if err != nil {
				return err
			}
			// Tokens stay out of every output format.
			type row struct {
				Name        string `json:"name"`
				Current     bool   `json:"current"`
				Server      string `json:"server"`
				User        string `json:"user,omitempty"`
				Org         string `json:"org,omitempty"`
				LoggedIn    bool   `json:"logged_in"`
				Fingerprint string `json:"fingerprint,omitempty"`
			}
			rows := make([]row, 0, len(cfg.Contexts))
			for _, c := range cfg.Contexts {
				rows = append(rows, row{c.Name, c.Name == cfg.CurrentContext, c.Server, c.User, c.Org, c.Token != "", c.Fingerprint})
			}
			if ok, err := a.encoded(rows); ok {
				return err
			}
			if len(rows) == 0 {
				a.note("No contexts: run 'sirocco login SERVER'.")
				return nil
			}
			return table(a, rows, []col[row]{
				{"CURRENT", func(r *row) string {
					if r.Current {
						return "*"
					}
					return " "
				}},
				{"NAME", func(r *row) string { return r.Name }},
				{"SERVER", func(r *row) string { return r.Server }},
				{"USER", func(r *row) string {
					if !r.LoggedIn {
						return "(logged out)"
					}
					return r.User
				}},
				{"ORG", func(r *row) string { return r.Org }},
			})
		},
	})

	cmd.AddCommand(&cobra.Command{
		Use:   "use NAME",
		Short: "Make a context the current one",
		Args:  args("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := a.config()
			if err != nil {
				return err
			}
			if cfg.Find(args[0]) == nil {
				return fmt.Errorf("no context %q (see 'sirocco context list')", args[0])
			}
			cfg.CurrentContext = args[0]
			if err := cfg.Save(); err != nil {
				return err
			}
			a.done("Now using context %q.", args[0])
			return nil
		},
	})

	cmd.AddCommand(&cobra.Command{
		Use:   "delete NAME",
		Short: "Forget a context (its token stays valid: use 'sirocco logout' to revoke it)",
		Args:  args("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := a.config()
			if err != nil {
				return err
			}
			if !cfg.Delete(args[0]) {
				return fmt.Errorf("no context %q (see 'sirocco context list')", args[0])
			}
			if err := cfg.Save(); err != nil {
				return err
			}
			a.done("Context %q deleted.", args[0])
			return nil
		},
	})
	return cmd
}
