package cli

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/client"
)

// defaultEventsSince is how far back `sirocco events` looks without
// --follow, --since or --after: a stream that only started now would show
// nothing.
const defaultEventsSince = time.Hour

func (a *app) eventsCmd() *cobra.Command {
	var types []string
	var follow bool
	var since, after string
	cmd := &cobra.Command{
		Use:   "events",
		Short: "Show the changes to resources, and follow them as they happen (--follow)",
		Long: "Print one line per change to a resource you may see (of --org or the context's organisation,\n" +
			"else every one you may see): its time, action, resource, who made it and a detail. With -o json,\n" +
			"one JSON object per line. Without --follow it prints the changes of the last hour (or since\n" +
			"--since, or after the event --after) and exits; with --follow it goes on printing changes as\n" +
			"they happen until interrupted. To resume a stream, pass the last event ID seen as --after.",
		Example: "  sirocco events --since 24h --types vm.create,vm.delete\n" +
			"  sirocco events --follow -o json",
		Args: args(),
	}
	f := cmd.Flags()
	f.StringSliceVar(&types, "types", nil, "only these actions, comma-separated, e.g. vm.create,network.delete")
	f.BoolVarP(&follow, "follow", "f", false, "keep printing changes as they happen")
	f.StringVar(&since, "since", "", "start with the changes since this time (RFC 3339, or a duration ago such as 24h)")
	f.StringVar(&after, "after", "", "start after this event ID (the last one seen, to resume)")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if since != "" && after != "" {
			return usagef("--since and --after cannot be combined")
		}
		for _, t := range types {
			if !api.IsResourceEventType(t) {
				return usagef("--types: %q is not an event type such as vm.create", t)
			}
		}
		opts := client.EventOptions{Types: types, After: after, Follow: follow}
		now := time.Now()
		start, err := parseWhen("since", since, now)
		if err != nil {
			return err
		}
		if start.IsZero() && after == "" && !follow {
			start = now.Add(-defaultEventsSince)
		}
		if !start.IsZero() {
			opts.After = client.EventIDAt(start)
		}
		c, t, err := a.authed()
		if err != nil {
			return err
		}
		opts.Org = t.org
		ctx := cmd.Context()
		for e, err := range c.Events(ctx, opts) {
			if err != nil {
				if ctx.Err() != nil {
					return nil // interrupted: the way a --follow ends
				}
				return err
			}
			if err := a.printEvent(&e); err != nil {
				return err
			}
		}
		return nil
	}
	return cmd
}

// printEvent writes one event as it arrives: a line, a JSON line or a YAML
// document.
func (a *app) printEvent(e *api.ResourceEvent) error {
	switch a.output {
	case "json":
		b, err := json.Marshal(e)
		if err != nil {
			return fmt.Errorf("encode event: %w", err)
		}
		_, err = fmt.Fprintf(a.out, "%s\n", b)
		return err
	case "yaml":
		b, err := yaml.Marshal(e)
		if err != nil {
			return fmt.Errorf("encode event: %w", err)
		}
		_, err = fmt.Fprintf(a.out, "---\n%s", b)
		return err
	}
	actor := e.Actor.Email
	if actor == "" {
		actor = e.Actor.Type
	}
	parts := []string{e.Time.Local().Format(time.RFC3339), e.Action, strings.TrimSpace(e.ResourceKind + " " + e.ResourceID), actor}
	if e.Detail != "" {
		parts = append(parts, oneLine(e.Detail))
	}
	_, err := fmt.Fprintln(a.out, strings.Join(parts, "  "))
	return err
}
