package server

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/internal/store"
)

func sizeOf(z *store.Size) api.Size {
	return api.Size{Meta: metaOf(z.Meta), Name: z.ID, Description: z.Description, VCPU: z.VCPU, MemoryMiB: z.MemoryMiB,
		DiskGiB: z.DiskGiB, PriceClass: z.PriceClass, Deprecated: z.Deprecated}
}

func (s *Server) sizeRoutes() {
	tags := []string{"Sizes"}
	register(s, huma.Operation{OperationID: "list-sizes", Method: http.MethodGet, Path: "/api/v1/sizes", Summary: "List sizes",
		Description: "Deprecated sizes are listed too (with deprecated: true) unless include_deprecated=false.", Tags: tags},
		func(ctx context.Context, in *struct {
			ListParams
			IncludeDeprecated bool `query:"include_deprecated" default:"true" doc:"List deprecated sizes too"`
		}) (*listOut[api.Size], error) {
			if _, err := principal(ctx); err != nil {
				return nil, err
			}
			pg, err := in.page()
			if err != nil {
				return nil, err
			}
			var rows []store.Size
			var next string
			err = s.store.View(ctx, func(tx *store.Tx) error {
				rows, next, err = tx.ListSizes(ctx, store.SizeFilter{ExcludeDeprecated: !in.IncludeDeprecated}, pg)
				return err
			})
			if err != nil {
				return nil, err
			}
			return &listOut[api.Size]{Body: listOf(rows, next, sizeOf)}, nil
		})

	register(s, huma.Operation{OperationID: "get-size", Method: http.MethodGet, Path: "/api/v1/sizes/{id}", Summary: "Get a size", Tags: tags},
		func(ctx context.Context, in *idPath) (*bodyOut[api.Size], error) {
			if _, err := principal(ctx); err != nil {
				return nil, err
			}
			var z *store.Size
			err := s.store.View(ctx, func(tx *store.Tx) error {
				var err error
				z, err = tx.GetSize(ctx, in.ID)
				return notFoundOr(err, "size", in.ID)
			})
			if err != nil {
				return nil, err
			}
			return &bodyOut[api.Size]{ETag: etag(z.Version), Body: sizeOf(z)}, nil
		})

	register(s, huma.Operation{OperationID: "create-size", Method: http.MethodPost, Path: "/api/v1/sizes", Summary: "Create a size",
		Description: "Provider admins only. The name is the size's ID; its shape (vCPU, memory, disk) cannot change later.",
		Tags:        tags, DefaultStatus: http.StatusCreated},
		func(ctx context.Context, in *struct{ Body api.SizeCreate }) (*createdOut[api.Size], error) {
			if _, err := requireProviderAdmin(ctx); err != nil {
				return nil, err
			}
			if err := validateLabels(in.Body.Labels); err != nil {
				return nil, err
			}
			b := in.Body
			z := &store.Size{Meta: store.Meta{ID: b.Name, Labels: b.Labels}, Description: b.Description, VCPU: b.VCPU,
				MemoryMiB: b.MemoryMiB, DiskGiB: b.DiskGiB, PriceClass: b.PriceClass}
			err := s.store.Tx(ctx, func(tx *store.Tx) error {
				if err := tx.CreateSize(ctx, z); err != nil {
					return conflictOr(err, api.CodeAlreadyExists, "size %q already exists", z.ID)
				}
				return s.audit(ctx, tx, "size.create", "size", z.ID, "", "")
			})
			if err != nil {
				return nil, err
			}
			return &createdOut[api.Size]{Location: "/api/v1/sizes/" + z.ID, ETag: etag(z.Version), Body: sizeOf(z)}, nil
		})

	register(s, huma.Operation{OperationID: "update-size", Method: http.MethodPatch, Path: "/api/v1/sizes/{id}", Summary: "Update a size",
		Description: "Provider admins only. A deprecated size stays on existing VMs but is not offered for new ones.", Tags: tags},
		func(ctx context.Context, in *updateIn[api.SizeUpdate]) (*bodyOut[api.Size], error) {
			if _, err := requireProviderAdmin(ctx); err != nil {
				return nil, err
			}
			var z *store.Size
			err := s.store.Tx(ctx, func(tx *store.Tx) error {
				var err error
				if z, err = tx.GetSize(ctx, in.ID); err != nil {
					return notFoundOr(err, "size", in.ID)
				}
				if err := checkIfMatch(in.IfMatch, z.Version); err != nil {
					return err
				}
				b := in.Body
				if b.Description != nil {
					z.Description = *b.Description
				}
				if b.PriceClass != nil {
					z.PriceClass = *b.PriceClass
				}
				if b.Deprecated != nil {
					z.Deprecated = *b.Deprecated
				}
				if b.Labels != nil {
					if err := validateLabels(*b.Labels); err != nil {
						return err
					}
					z.Labels = *b.Labels
				}
				if err := tx.UpdateSize(ctx, z); err != nil {
					return err
				}
				return s.audit(ctx, tx, "size.update", "size", z.ID, "", "")
			})
			if err != nil {
				return nil, err
			}
			return &bodyOut[api.Size]{ETag: etag(z.Version), Body: sizeOf(z)}, nil
		})

	register(s, huma.Operation{OperationID: "delete-size", Method: http.MethodDelete, Path: "/api/v1/sizes/{id}", Summary: "Delete a size",
		Description: "Provider admins only. Refused while VMs use the size; deprecate it instead.", Tags: tags, DefaultStatus: http.StatusNoContent},
		func(ctx context.Context, in *idPath) (*emptyOut, error) {
			if _, err := requireProviderAdmin(ctx); err != nil {
				return nil, err
			}
			err := s.store.Tx(ctx, func(tx *store.Tx) error {
				if err := tx.DeleteSize(ctx, in.ID); err != nil {
					return conflictOr(notFoundOr(err, "size", in.ID), api.CodeNotEmpty, "size %q is used by VMs: deprecate it instead", in.ID)
				}
				return s.audit(ctx, tx, "size.delete", "size", in.ID, "", "")
			})
			return nil, err
		})
}
