package cli

import (
	"context"
	"time"

	"github.com/spf13/cobra"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/client"
)

var auditCols = []col[api.AuditEvent]{
	{"TIME", func(e *api.AuditEvent) string { return stamp(&e.Time) }},
	{"ACTOR", func(e *api.AuditEvent) string {
		if e.Actor.Email != "" {
			return e.Actor.Email
		}
		return e.Actor.Type
	}},
	{"ACTION", func(e *api.AuditEvent) string { return e.Action }},
	{"RESOURCE", func(e *api.AuditEvent) string { return e.Resource.Kind + " " + e.Resource.ID }},
	{"OUTCOME", func(e *api.AuditEvent) string { return e.Outcome }},
	{"ORG", func(e *api.AuditEvent) string { return e.Org }},
	{"SOURCE", func(e *api.AuditEvent) string { return e.SourceIP }},
	{"DETAIL", func(e *api.AuditEvent) string { return e.Detail }},
}

// parseWhen reads an RFC 3339 time, or a duration meaning that long ago.
func parseWhen(flag, s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, usagef("--%s %q: want an RFC 3339 time (2026-01-02T15:04:05Z) or a duration ago (24h)", flag, s)
}

func (a *app) auditCmd() *cobra.Command {
	cmd := group(&cobra.Command{Use: "audit", Short: "Read the audit log: who did what, when, from where"})

	var opts client.AuditListOptions
	var since, until string
	list := &cobra.Command{
		Use:   "list",
		Short: "List audit events (of --org or the context's organisation, else the whole installation)",
		Long: "List audit events, oldest first. With an organisation (--org or the context's) this reads its\n" +
			"log (org-admin and provider roles); without one, the whole installation's (provider roles).",
		Example: "  sirocco audit list --since 24h --action vdc.delete\n" +
			"  sirocco audit list --org acme --actor ana@example.com",
		Args: args(),
	}
	lf := addListFlags(list)
	f := list.Flags()
	f.StringVar(&opts.Actor, "actor", "", "only events by this user (ID or e-mail)")
	f.StringVar(&opts.ResourceKind, "resource-kind", "", "only events on objects of this kind, e.g. vdc")
	f.StringVar(&opts.Resource, "resource", "", "only events on the object with this ID")
	f.StringVar(&opts.Action, "action", "", "only events of this action, e.g. vdc.create")
	f.StringVar(&since, "since", "", "only events at or after this time (RFC 3339, or a duration ago such as 24h)")
	f.StringVar(&until, "until", "", "only events before this time (RFC 3339, or a duration ago)")
	list.RunE = func(cmd *cobra.Command, _ []string) error {
		now := time.Now()
		var err error
		if opts.Since, err = parseWhen("since", since, now); err != nil {
			return err
		}
		if opts.Until, err = parseWhen("until", until, now); err != nil {
			return err
		}
		c, t, err := a.authed()
		if err != nil {
			return err
		}
		l, err := fetch(cmd.Context(), lf, func(ctx context.Context, lo client.ListOptions) (*api.List[api.AuditEvent], error) {
			o := opts
			o.ListOptions = lo
			if t.org != "" {
				return c.ListOrgAuditEvents(ctx, t.org, o)
			}
			return c.ListAuditEvents(ctx, o)
		})
		if err != nil {
			return err
		}
		return showList(a, l, auditCols)
	}
	cmd.AddCommand(list)
	return cmd
}
