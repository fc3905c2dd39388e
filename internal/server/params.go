package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/internal/store"
)

// ListParams are the query parameters every list endpoint takes.
type ListParams struct {
	Limit  int      `query:"limit" minimum:"0" maximum:"1000" doc:"Page size (default 100, at most 1000)"`
	Cursor string   `query:"cursor" doc:"next_cursor from the previous page"`
	Label  []string `query:"label" doc:"Keep objects with this label: key=value, or key for any value. Repeat to require several."`
}

func (p ListParams) page() (store.Page, error) {
	pg := store.Page{Limit: p.Limit, Cursor: p.Cursor}
	for _, l := range p.Label {
		sel, err := store.ParseLabelSelector(l)
		if err != nil {
			return pg, api.Errorf(http.StatusBadRequest, api.CodeInvalidRequest, "%v", err)
		}
		pg.Labels = append(pg.Labels, sel)
	}
	return pg, nil
}

// listOf converts a page of store rows to a wire list.
func listOf[R, T any](rows []R, next string, conv func(*R) T) *api.List[T] {
	out := &api.List[T]{Items: make([]T, 0, len(rows)), NextCursor: next}
	for i := range rows {
		out.Items = append(out.Items, conv(&rows[i]))
	}
	return out
}

// etag is the entity tag of an object version.
func etag(version int64) string { return fmt.Sprintf(`"%d"`, version) }

// checkIfMatch enforces If-Match on an update: when the client sent one, the
// object must still be at that version.
func checkIfMatch(ifMatch string, version int64) error {
	if ifMatch == "" || ifMatch == "*" {
		return nil
	}
	for _, tag := range strings.Split(ifMatch, ",") {
		tag = strings.TrimPrefix(strings.TrimSpace(tag), "W/")
		if tag == etag(version) {
			return nil
		}
		if n, err := strconv.ParseInt(strings.Trim(tag, `"`), 10, 64); err == nil && n == version {
			return nil
		}
	}
	return api.Errorf(http.StatusPreconditionFailed, api.CodePreconditionFailed,
		"the object changed since you read it (now at version %d): read it again and retry", version)
}

func labelsOf(l map[string]string) api.Labels {
	if len(l) == 0 {
		return nil
	}
	return api.Labels(l)
}

func metaOf(m store.Meta) api.Meta {
	return api.Meta{ID: m.ID, Labels: labelsOf(m.Labels), Version: m.Version, CreatedAt: m.CreatedAt, UpdatedAt: m.UpdatedAt}
}

// validateLabels checks label keys and values.
func validateLabels(l api.Labels) error {
	if len(l) > 64 {
		return api.Errorf(http.StatusUnprocessableEntity, api.CodeValidation, "at most 64 labels")
	}
	for k, v := range l {
		if k == "" || len(k) > 63 || strings.ContainsAny(k, "=, ") {
			return api.Errorf(http.StatusUnprocessableEntity, api.CodeValidation, "label key %q: 1-63 characters, no '=', ',' or spaces", k)
		}
		if len(v) > 255 {
			return api.Errorf(http.StatusUnprocessableEntity, api.CodeValidation, "label %q: value longer than 255 characters", k)
		}
	}
	return nil
}

// notFoundOr maps ErrNotFound to a 404 for kind/id and passes other errors on.
// readInOrg reads the object ref of organisation org with get, for a caller
// who may read that organisation. A missing object, or one of another
// organisation, answers as api.NotFound(kind, ref).
func readInOrg[T any](ctx context.Context, s *Server, org, kind, ref string,
	get func(*store.Tx, context.Context, string, string) (*T, error)) (*T, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	var out *T
	err = s.store.View(ctx, func(tx *store.Tx) error {
		o, err := s.orgFor(ctx, tx, p, org, canRead)
		if err != nil {
			return err
		}
		out, err = get(tx, ctx, o.ID, ref)
		return notFoundOr(err, kind, ref)
	})
	return out, err
}

func notFoundOr(err error, kind, id string) error {
	if err != nil && errors.Is(err, store.ErrNotFound) {
		return api.NotFound(kind, id)
	}
	return err
}

// conflictOr maps ErrConflict to a 409 with msg and passes other errors on.
func conflictOr(err error, code, format string, args ...any) error {
	if err != nil && errors.Is(err, store.ErrConflict) {
		return api.Errorf(http.StatusConflict, code, format, args...)
	}
	return err
}
