package server

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/internal/store"
)

func regionOf(r *store.Region) api.Region {
	return api.Region{Meta: metaOf(r.Meta), Name: r.ID, DisplayName: r.DisplayName, Jurisdiction: r.Jurisdiction}
}

func zoneOf(z *store.Zone) api.Zone {
	return api.Zone{Meta: metaOf(z.Meta), Name: z.ID, Region: z.RegionID, Jurisdiction: z.Jurisdiction, DisplayName: z.DisplayName}
}

// Shared input and output shapes.
type (
	idPath struct {
		ID string `path:"id" maxLength:"200"`
	}
	bodyOut[T any] struct {
		ETag string `header:"ETag"`
		Body T
	}
	createdOut[T any] struct {
		Location string `header:"Location"`
		ETag     string `header:"ETag"`
		Body     T
	}
	listOut[T any] struct {
		Body *api.List[T]
	}
	// updateIn is the input of a PATCH: the object, an optional If-Match, the changes.
	updateIn[T any] struct {
		ID      string `path:"id" maxLength:"200"`
		IfMatch string `header:"If-Match" doc:"ETag from a previous read; the update fails with 412 if the object changed since"`
		Body    T
	}
	emptyOut  struct{}
	acceptOut struct {
		Location string `header:"Location"`
		Body     api.Operation
	}
)

func (s *Server) regionRoutes() {
	tags := []string{"Regions and zones"}
	register(s, huma.Operation{OperationID: "list-regions", Method: http.MethodGet, Path: "/api/v1/regions", Summary: "List regions", Tags: tags},
		func(ctx context.Context, in *struct{ ListParams }) (*listOut[api.Region], error) {
			if _, err := principal(ctx); err != nil {
				return nil, err
			}
			pg, err := in.page()
			if err != nil {
				return nil, err
			}
			var rows []store.Region
			var next string
			err = s.store.View(ctx, func(tx *store.Tx) error {
				rows, next, err = tx.ListRegions(ctx, pg)
				return err
			})
			if err != nil {
				return nil, err
			}
			return &listOut[api.Region]{Body: listOf(rows, next, regionOf)}, nil
		})

	register(s, huma.Operation{OperationID: "get-region", Method: http.MethodGet, Path: "/api/v1/regions/{id}", Summary: "Get a region", Tags: tags},
		func(ctx context.Context, in *idPath) (*bodyOut[api.Region], error) {
			if _, err := principal(ctx); err != nil {
				return nil, err
			}
			var r *store.Region
			err := s.store.View(ctx, func(tx *store.Tx) error {
				var err error
				r, err = tx.GetRegion(ctx, in.ID)
				return notFoundOr(err, "region", in.ID)
			})
			if err != nil {
				return nil, err
			}
			return &bodyOut[api.Region]{ETag: etag(r.Version), Body: regionOf(r)}, nil
		})

	register(s, huma.Operation{OperationID: "create-region", Method: http.MethodPost, Path: "/api/v1/regions", Summary: "Create a region",
		Description: "Provider admins only. The name is the region's ID; the jurisdiction (ISO 3166-1 alpha-2) cannot change later.",
		Tags:        tags, DefaultStatus: http.StatusCreated},
		func(ctx context.Context, in *struct{ Body api.RegionCreate }) (*createdOut[api.Region], error) {
			if _, err := requireProviderAdmin(ctx); err != nil {
				return nil, err
			}
			if err := validateLabels(in.Body.Labels); err != nil {
				return nil, err
			}
			r := &store.Region{Meta: store.Meta{ID: in.Body.Name, Labels: in.Body.Labels}, DisplayName: in.Body.DisplayName, Jurisdiction: in.Body.Jurisdiction}
			err := s.store.Tx(ctx, func(tx *store.Tx) error {
				if err := tx.CreateRegion(ctx, r); err != nil {
					return conflictOr(err, api.CodeAlreadyExists, "region %q already exists", r.ID)
				}
				return s.audit(ctx, tx, "region.create", "region", r.ID, "", "jurisdiction "+r.Jurisdiction)
			})
			if err != nil {
				return nil, err
			}
			return &createdOut[api.Region]{Location: "/api/v1/regions/" + r.ID, ETag: etag(r.Version), Body: regionOf(r)}, nil
		})

	register(s, huma.Operation{OperationID: "update-region", Method: http.MethodPatch, Path: "/api/v1/regions/{id}", Summary: "Update a region", Tags: tags},
		func(ctx context.Context, in *updateIn[api.RegionUpdate]) (*bodyOut[api.Region], error) {
			if _, err := requireProviderAdmin(ctx); err != nil {
				return nil, err
			}
			var r *store.Region
			err := s.store.Tx(ctx, func(tx *store.Tx) error {
				var err error
				if r, err = tx.GetRegion(ctx, in.ID); err != nil {
					return notFoundOr(err, "region", in.ID)
				}
				if err := checkIfMatch(in.IfMatch, r.Version); err != nil {
					return err
				}
				if in.Body.DisplayName != nil {
					r.DisplayName = *in.Body.DisplayName
				}
				if in.Body.Labels != nil {
					if err := validateLabels(*in.Body.Labels); err != nil {
						return err
					}
					r.Labels = *in.Body.Labels
				}
				if err := tx.UpdateRegion(ctx, r); err != nil {
					return err
				}
				return s.audit(ctx, tx, "region.update", "region", r.ID, "", "")
			})
			if err != nil {
				return nil, err
			}
			return &bodyOut[api.Region]{ETag: etag(r.Version), Body: regionOf(r)}, nil
		})

	register(s, huma.Operation{OperationID: "delete-region", Method: http.MethodDelete, Path: "/api/v1/regions/{id}", Summary: "Delete a region",
		Description: "Refused while the region has zones.", Tags: tags, DefaultStatus: http.StatusNoContent},
		func(ctx context.Context, in *idPath) (*emptyOut, error) {
			if _, err := requireProviderAdmin(ctx); err != nil {
				return nil, err
			}
			err := s.store.Tx(ctx, func(tx *store.Tx) error {
				if err := tx.DeleteRegion(ctx, in.ID); err != nil {
					return conflictOr(notFoundOr(err, "region", in.ID), api.CodeNotEmpty, "region %q still has zones", in.ID)
				}
				return s.audit(ctx, tx, "region.delete", "region", in.ID, "", "")
			})
			return nil, err
		})
}
