package client

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/sirocco-cloud/sirocco/api"
)

// maxEventLine bounds one line of the events stream; an event's data is a
// few hundred bytes, far below it.
const maxEventLine = 1 << 20

// EventOptions select what Events reads.
type EventOptions struct {
	// Org keeps the changes of one organisation (ID or name); empty for
	// every one the caller may see.
	Org string
	// Types keeps these actions only, such as "vm.create".
	Types []string
	// After starts the stream after this event ID (an earlier event's ID,
	// or EventIDAt of a time); empty starts with the changes made after the
	// stream opens.
	After string
	// Follow keeps the stream open, sending changes as they happen, until
	// ctx ends. Without it the stream sends the changes there are after
	// After and ends, which with no After is nothing.
	Follow bool
}

// EventIDAt is an After that starts the events stream with the changes
// made at or after t. Event IDs carry the wall clock in their first 48 bits
// (Unix milliseconds), so this needs no call to the server.
func EventIDAt(t time.Time) string {
	ms := max(t.UnixMilli(), 0)
	return fmt.Sprintf("%08x-%04x-0000-0000-000000000000", uint64(ms)>>16, uint64(ms)&0xffff)
}

// Events reads the stream of resource changes (Server-Sent Events) and
// yields each change in order. A refused stream yields one *api.Error; a
// stream that breaks yields its error, after which the caller resumes by
// calling Events again with After set to the last ID it got. The iterator
// ends when the server ends the stream, when the caller stops, or (with an
// error) when ctx ends.
func (c *Client) Events(ctx context.Context, opts EventOptions) iter.Seq2[api.ResourceEvent, error] {
	return func(yield func(api.ResourceEvent, error) bool) {
		q := url.Values{}
		setIf(q, "org", opts.Org)
		setIf(q, "types", strings.Join(opts.Types, ","))
		setIf(q, "after", opts.After)
		if !opts.Follow {
			q.Set("follow", "false")
		}
		res, err := c.raw(ctx, http.MethodGet, api.PathEvents, q, http.Header{"Accept": {"text/event-stream"}}, nil, 0, nil)
		if err != nil {
			yield(api.ResourceEvent{}, err)
			return
		}
		defer res.Body.Close()
		sc := bufio.NewScanner(res.Body)
		sc.Buffer(make([]byte, 0, 4096), maxEventLine)
		var id, event string
		var data []string
		for sc.Scan() {
			line := strings.TrimSuffix(sc.Text(), "\r")
			if line != "" {
				field, value, _ := strings.Cut(line, ":")
				value = strings.TrimPrefix(value, " ")
				switch field {
				case "id":
					id = value
				case "event":
					event = value
				case "data":
					data = append(data, value)
				}
				// A line starting with ":" is a comment (the heartbeat);
				// unknown fields are ignored, as the SSE standard says.
				continue
			}
			if len(data) == 0 {
				id, event = "", ""
				continue
			}
			var e api.ResourceEvent
			if err := json.Unmarshal([]byte(strings.Join(data, "\n")), &e); err != nil {
				yield(api.ResourceEvent{}, fmt.Errorf("events stream: event %s: %w", id, err))
				return
			}
			if e.ID == "" {
				e.ID = id
			}
			if e.Action == "" {
				e.Action = event
			}
			id, event, data = "", "", nil
			if !yield(e, nil) {
				return
			}
		}
		if err := sc.Err(); err != nil {
			if ctx.Err() != nil {
				err = ctx.Err()
			}
			yield(api.ResourceEvent{}, fmt.Errorf("events stream: %w", err))
			return
		}
		if ctx.Err() != nil {
			yield(api.ResourceEvent{}, ctx.Err())
		}
	}
}
