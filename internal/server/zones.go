package server

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/internal/store"
)

func (s *Server) zoneRoutes() {
	tags := []string{"Regions and zones"}
	register(s, huma.Operation{OperationID: "list-zones", Method: http.MethodGet, Path: "/api/v1/zones", Summary: "List zones", Tags: tags},
		func(ctx context.Context, in *struct {
			ListParams
			Region string `query:"region" maxLength:"200" doc:"Only zones of this region"`
		}) (*listOut[api.Zone], error) {
			if _, err := principal(ctx); err != nil {
				return nil, err
			}
			pg, err := in.page()
			if err != nil {
				return nil, err
			}
			var rows []store.Zone
			var next string
			err = s.store.View(ctx, func(tx *store.Tx) error {
				rows, next, err = tx.ListZones(ctx, in.Region, pg)
				return err
			})
			if err != nil {
				return nil, err
			}
			return &listOut[api.Zone]{Body: listOf(rows, next, zoneOf)}, nil
		})

	register(s, huma.Operation{OperationID: "get-zone", Method: http.MethodGet, Path: "/api/v1/zones/{id}", Summary: "Get a zone", Tags: tags},
		func(ctx context.Context, in *idPath) (*bodyOut[api.Zone], error) {
			if _, err := principal(ctx); err != nil {
				return nil, err
			}
			var z *store.Zone
			err := s.store.View(ctx, func(tx *store.Tx) error {
				var err error
				z, err = tx.GetZone(ctx, in.ID)
				return notFoundOr(err, "zone", in.ID)
			})
			if err != nil {
				return nil, err
			}
			return &bodyOut[api.Zone]{ETag: etag(z.Version), Body: zoneOf(z)}, nil
		})

	register(s, huma.Operation{OperationID: "create-zone", Method: http.MethodPost, Path: "/api/v1/zones", Summary: "Create a zone",
		Description: "Provider admins only. The name is the zone's ID; the zone belongs to an existing region for good and takes its jurisdiction.",
		Tags:        tags, DefaultStatus: http.StatusCreated},
		func(ctx context.Context, in *struct{ Body api.ZoneCreate }) (*createdOut[api.Zone], error) {
			if _, err := requireProviderAdmin(ctx); err != nil {
				return nil, err
			}
			if err := validateLabels(in.Body.Labels); err != nil {
				return nil, err
			}
			z := &store.Zone{Meta: store.Meta{ID: in.Body.Name, Labels: in.Body.Labels}, RegionID: in.Body.Region, DisplayName: in.Body.DisplayName}
			err := s.store.Tx(ctx, func(tx *store.Tx) error {
				// Check the region first: the insert alone cannot tell a
				// missing region from a taken name.
				r, err := tx.GetRegion(ctx, z.RegionID)
				if err != nil {
					return missingRef(err, "region", z.RegionID, "body.region")
				}
				z.Jurisdiction = r.Jurisdiction
				if err := tx.CreateZone(ctx, z); err != nil {
					return conflictOr(err, api.CodeAlreadyExists, "zone %q already exists", z.ID)
				}
				return s.audit(ctx, tx, "zone.create", "zone", z.ID, "", "region "+z.RegionID)
			})
			if err != nil {
				return nil, err
			}
			return &createdOut[api.Zone]{Location: "/api/v1/zones/" + z.ID, ETag: etag(z.Version), Body: zoneOf(z)}, nil
		})

	register(s, huma.Operation{OperationID: "update-zone", Method: http.MethodPatch, Path: "/api/v1/zones/{id}", Summary: "Update a zone",
		Description: "Provider admins only. A zone's region cannot change.", Tags: tags},
		func(ctx context.Context, in *updateIn[api.ZoneUpdate]) (*bodyOut[api.Zone], error) {
			if _, err := requireProviderAdmin(ctx); err != nil {
				return nil, err
			}
			var z *store.Zone
			err := s.store.Tx(ctx, func(tx *store.Tx) error {
				var err error
				if z, err = tx.GetZone(ctx, in.ID); err != nil {
					return notFoundOr(err, "zone", in.ID)
				}
				if err := checkIfMatch(in.IfMatch, z.Version); err != nil {
					return err
				}
				if in.Body.DisplayName != nil {
					z.DisplayName = *in.Body.DisplayName
				}
				if in.Body.Labels != nil {
					if err := validateLabels(*in.Body.Labels); err != nil {
						return err
					}
					z.Labels = *in.Body.Labels
				}
				if err := tx.UpdateZone(ctx, z); err != nil {
					return err
				}
				return s.audit(ctx, tx, "zone.update", "zone", z.ID, "", "")
			})
			if err != nil {
				return nil, err
			}
			return &bodyOut[api.Zone]{ETag: etag(z.Version), Body: zoneOf(z)}, nil
		})

	register(s, huma.Operation{OperationID: "delete-zone", Method: http.MethodDelete, Path: "/api/v1/zones/{id}", Summary: "Delete a zone",
		Description: "Provider admins only. Refused while hosts or VDCs are in the zone.", Tags: tags, DefaultStatus: http.StatusNoContent},
		func(ctx context.Context, in *idPath) (*emptyOut, error) {
			if _, err := requireProviderAdmin(ctx); err != nil {
				return nil, err
			}
			err := s.store.Tx(ctx, func(tx *store.Tx) error {
				if _, err := tx.GetZone(ctx, in.ID); err != nil {
					return notFoundOr(err, "zone", in.ID)
				}
				hosts, vdcs, err := tx.ZoneUsers(ctx, in.ID)
				if err != nil {
					return err
				}
				if hosts > 0 || vdcs > 0 {
					return api.Errorf(http.StatusConflict, api.CodeNotEmpty, "zone %q still holds %s: remove them first", in.ID, zoneUsage(hosts, vdcs))
				}
				if err := tx.DeleteZone(ctx, in.ID); err != nil {
					return conflictOr(notFoundOr(err, "zone", in.ID), api.CodeNotEmpty, "zone %q is still in use", in.ID)
				}
				return s.audit(ctx, tx, "zone.delete", "zone", in.ID, "", "")
			})
			return nil, err
		})
}

// zoneUsage says what still holds a zone, e.g. "2 hosts and 1 VDC".
func zoneUsage(hosts, vdcs int) string {
	var parts []string
	for _, c := range []struct {
		n    int
		noun string
	}{{hosts, "host"}, {vdcs, "VDC"}} {
		switch {
		case c.n == 1:
			parts = append(parts, "1 "+c.noun)
		case c.n > 1:
			parts = append(parts, strconv.Itoa(c.n)+" "+c.noun+"s")
		}
	}
	return strings.Join(parts, " and ")
}

// missingRef reports a reference in a request body to an object that does
// not exist as a validation failure on that field (the request is wrong, not
// the URL), and passes other errors on.
func missingRef(err error, kind, id, location string) error {
	if err != nil && errors.Is(err, store.ErrNotFound) {
		e := api.Errorf(http.StatusUnprocessableEntity, api.CodeValidation, "%s %q does not exist", kind, id)
		e.Errors = []api.ErrorDetail{{Location: location, Message: kind + " does not exist", Value: id}}
		return e
	}
	return err
}
