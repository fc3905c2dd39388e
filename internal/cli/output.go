package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/client"
)

// col is one table column: a header and how to show an object in it.
type col[T any] struct {
	name string
	get  func(*T) string
}

// encoded writes v as JSON or YAML when that output was asked for, and
// reports whether it did.
func (a *app) encoded(v any) (bool, error) {
	switch a.output {
	case "json":
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return true, fmt.Errorf("encode output: %w", err)
		}
		_, err = fmt.Fprintf(a.out, "%s\n", b)
		return true, err
	case "yaml":
		b, err := yaml.Marshal(v)
		if err != nil {
			return true, fmt.Errorf("encode output: %w", err)
		}
		_, err = a.out.Write(b)
		return true, err
	}
	return false, nil
}

// show prints one object: encoded, or as a one-row table.
func show[T any](a *app, v *T, cols []col[T]) error {
	if ok, err := a.encoded(v); ok {
		return err
	}
	return table(a, []T{*v}, cols)
}

// showList prints a list: encoded whole (items and next_cursor), or as a table
// with a hint on stderr when there are more pages.
func showList[T any](a *app, l *api.List[T], cols []col[T]) error {
	if ok, err := a.encoded(l); ok {
		return err
	}
	if len(l.Items) == 0 {
		fmt.Fprintln(a.errw, "No items.")
		return nil
	}
	if err := table(a, l.Items, cols); err != nil {
		return err
	}
	if l.NextCursor != "" {
		fmt.Fprintf(a.errw, "More: repeat with --cursor %s\n", l.NextCursor)
	}
	return nil
}

func table[T any](a *app, items []T, cols []col[T]) error {
	tw := tabwriter.NewWriter(a.out, 0, 4, 2, ' ', 0)
	for i, c := range cols {
		if i > 0 {
			fmt.Fprint(tw, "\t")
		}
		fmt.Fprint(tw, c.name)
	}
	fmt.Fprintln(tw)
	for i := range items {
		for j, c := range cols {
			if j > 0 {
				fmt.Fprint(tw, "\t")
			}
			v := oneLine(c.get(&items[i]))
			if v == "" {
				v = "-"
			}
			fmt.Fprint(tw, v)
		}
		fmt.Fprintln(tw)
	}
	return tw.Flush()
}

// field is one line of a vertical listing.
type field struct{ name, value string }

// showFields prints v encoded, or as "name: value" lines.
func (a *app) showFields(v any, fields []field) error {
	if ok, err := a.encoded(v); ok {
		return err
	}
	tw := tabwriter.NewWriter(a.out, 0, 4, 2, ' ', 0)
	for _, f := range fields {
		val := strings.TrimSpace(f.value)
		if val == "" {
			val = "-"
		}
		fmt.Fprintf(tw, "%s:\t%s\n", f.name, val)
	}
	return tw.Flush()
}

// done reports a change that has nothing to print (a delete, say): a line
// for people in table mode, nothing for machines.
func (a *app) done(format string, args ...any) {
	if a.output == "table" {
		fmt.Fprintf(a.out, format+"\n", args...)
	}
}

// note writes a hint for people to stderr, out of the way of parsed output.
func (a *app) note(format string, args ...any) {
	fmt.Fprintf(a.errw, format+"\n", args...)
}

// age shows how long ago t was, coarsely.
func age(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	d := time.Since(t)
	switch {
	case d < 0:
		return "0s"
	case d < time.Minute:
		return strconv.Itoa(int(d.Seconds())) + "s"
	case d < time.Hour:
		return strconv.Itoa(int(d.Minutes())) + "m"
	case d < 48*time.Hour:
		return strconv.Itoa(int(d.Hours())) + "h"
	}
	return strconv.Itoa(int(d.Hours()/24)) + "d"
}

// ageOf is age for an optional time.
func ageOf(t *time.Time) string {
	if t == nil {
		return ""
	}
	return age(*t)
}

// stamp shows an optional time in RFC 3339.
func stamp(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.Local().Format(time.RFC3339)
}

// labels shows labels as k=v,k=v in key order.
func labels(l api.Labels) string {
	keys := slices.Sorted(maps.Keys(l))
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + l[k]
	}
	return strings.Join(parts, ",")
}

func itoa[N int | int64](n N) string { return strconv.FormatInt(int64(n), 10) }

// Lists.

// listFlags are the flags every list command takes.
type listFlags struct {
	limit  int
	cursor string
	labels []string
}

func addListFlags(cmd *cobra.Command) *listFlags {
	f := &listFlags{}
	cmd.Flags().IntVar(&f.limit, "limit", 0, "show one page of at most this many (default: everything)")
	cmd.Flags().StringVar(&f.cursor, "cursor", "", "continue from this cursor (printed after a page)")
	cmd.Flags().StringArrayVarP(&f.labels, "label", "l", nil, "only objects with this label: key=value, or key for any value (repeatable)")
	return f
}

func (f *listFlags) opts() client.ListOptions {
	return client.ListOptions{Limit: f.limit, Cursor: f.cursor, Labels: f.labels}
}

// fetch reads one page when --limit or --cursor was given, otherwise every
// page.
func fetch[T any](ctx context.Context, f *listFlags, page func(context.Context, client.ListOptions) (*api.List[T], error)) (*api.List[T], error) {
	opts := f.opts()
	if f.limit > 0 || f.cursor != "" {
		return page(ctx, opts)
	}
	out := &api.List[T]{Items: []T{}}
	for {
		l, err := page(ctx, opts)
		if err != nil {
			return nil, err
		}
		out.Items = append(out.Items, l.Items...)
		if l.NextCursor == "" || l.NextCursor == opts.Cursor {
			return out, nil
		}
		opts.Cursor = l.NextCursor
	}
}

// parseLabels reads repeated key=value flags.
func parseLabels(kvs []string) (api.Labels, error) {
	if len(kvs) == 0 {
		return nil, nil
	}
	l := api.Labels{}
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, usagef("label %q: want key=value", kv)
		}
		l[k] = v
	}
	return l, nil
}

// getCmd is `<noun> get NAME` for a catalogue object addressed by name.
func getCmd[T any](a *app, short string, get func(ctx context.Context, c *client.Client, name string) (*T, error), cols []col[T]) *cobra.Command {
	return &cobra.Command{
		Use:   "get NAME",
		Short: short,
		Args:  args("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, _, err := a.authed()
			if err != nil {
				return err
			}
			v, err := get(cmd.Context(), c, args[0])
			if err != nil {
				return err
			}
			return show(a, v, cols)
		},
	}
}

// deleteCmd is `<noun> delete NAME` for an object that goes at once; done
// is the confirmation, with %s for the name.
func deleteCmd(a *app, short, done string, del func(ctx context.Context, c *client.Client, name string) error) *cobra.Command {
	return &cobra.Command{
		Use:   "delete NAME",
		Short: short,
		Args:  args("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, _, err := a.authed()
			if err != nil {
				return err
			}
			if err := del(cmd.Context(), c, args[0]); err != nil {
				return err
			}
			a.done(done, args[0])
			return nil
		},
	}
}
