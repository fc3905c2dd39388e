package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sirocco-cloud/sirocco/internal/stack"
)

func (a *app) stackCmd() *cobra.Command {
	cmd := group(&cobra.Command{Use: "stack", Aliases: []string{"stacks"},
		Short: "Plan, apply and destroy a multi-VM application described in a YAML file",
		Long: "A stack file names networks and VMs (image, size, networks, public IP, firewall, boot order).\n" +
			"Everything a stack makes carries the label stack=<name>: plan compares the file with what is\n" +
			"labelled, apply makes them match, destroy deletes what is labelled. See docs/tenants/stacks.md."})

	cmd.AddCommand(&cobra.Command{
		Use:     "plan FILE",
		Short:   "Show what apply would change and what the stack costs per month",
		Example: "  sirocco stack plan app.yaml",
		Args:    args("FILE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := loadStack(args[0])
			if err != nil {
				return err
			}
			c, org, err := a.inOrg()
			if err != nil {
				return err
			}
			p, err := stack.MakePlan(cmd.Context(), c, org, s)
			if err != nil {
				return err
			}
			if ok, err := a.encoded(p); ok {
				return err
			}
			a.printPlan(p)
			return nil
		},
	})

	cmd.AddCommand(&cobra.Command{
		Use:   "apply FILE",
		Short: "Make the cloud match the stack file",
		Long: "Shows the plan, then runs it: VMs going away first, then networks going away, then new\n" +
			"networks, then VMs by boot_order (lower first; VMs of one order together), waiting for each\n" +
			"order's VMs to run before starting the next. Applying an unchanged file changes nothing.",
		Example: "  sirocco stack apply app.yaml",
		Args:    args("FILE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := loadStack(args[0])
			if err != nil {
				return err
			}
			c, org, err := a.inOrg()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			p, err := stack.MakePlan(ctx, c, org, s)
			if err != nil {
				return err
			}
			if a.output == "table" {
				a.printPlan(p)
			}
			if len(p.Changes) > 0 {
				if err := stack.Apply(ctx, c, org, s, p, a.note); err != nil {
					return err
				}
				a.done("Applied stack %s: %s.", s.Name, stack.Summary(p.Changes))
			}
			if a.output != "table" {
				_, err := a.encoded(p)
				return err
			}
			return nil
		},
	})

	cmd.AddCommand(&cobra.Command{
		Use:   "destroy FILE|NAME",
		Short: "Delete every VM and network labelled with the stack",
		Long: "Deletes the VMs labelled stack=<name> (releasing their public IPs), then its networks. Give the\n" +
			"stack file or the stack's name.",
		Example: "  sirocco stack destroy app.yaml\n  sirocco stack destroy shop",
		Args:    args("FILE|NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if _, err := os.Stat(name); err == nil || !stack.ValidName(name) {
				s, err := loadStack(name)
				if err != nil {
					return err
				}
				name = s.Name
			}
			c, org, err := a.inOrg()
			if err != nil {
				return err
			}
			gone, err := stack.Destroy(cmd.Context(), c, org, name, a.note)
			if err != nil {
				return err
			}
			if ok, err := a.encoded(gone); ok {
				return err
			}
			if len(gone) == 0 {
				fmt.Fprintf(a.out, "No changes: nothing is labelled %s=%s.\n", stack.LabelStack, name)
				return nil
			}
			for _, ch := range gone {
				fmt.Fprintln(a.out, ch.String())
			}
			fmt.Fprintf(a.out, "Destroyed stack %s: %s.\n", name, stack.Summary(gone))
			return nil
		},
	})
	return cmd
}

// loadStack reads a stack file; a file that is missing or wrong is a usage
// mistake, told in one line.
func loadStack(path string) (*stack.Stack, error) {
	s, err := stack.Load(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, usagef("%s: no such file", path)
	}
	if err != nil {
		return nil, usagef("%s", strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	return s, nil
}

// printPlan shows a plan for people: one line per change, the counts, and
// the monthly cost after it.
func (a *app) printPlan(p *stack.Plan) {
	if len(p.Changes) == 0 {
		fmt.Fprintf(a.out, "No changes: stack %s matches its file.\n", p.Stack)
	} else {
		for _, ch := range p.Changes {
			fmt.Fprintln(a.out, ch.String())
		}
		fmt.Fprintf(a.out, "Plan: %s.\n", stack.Summary(p.Changes))
	}
	switch {
	case p.Cost != nil:
		cur := p.CostNow.Currency
		if cur == "" {
			cur = p.Cost.Currency
		}
		fmt.Fprintf(a.out, "Monthly cost after apply: %s (now %s; 730 hours a month).\n",
			money(p.Cost.PerMonth, p.Cost.Currency), money(p.CostNow.PerMonth, cur))
	case p.CostError != "":
		a.note("warning: no price for the stack: %s", oneLine(p.CostError))
	}
}
