package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/internal/metering"
	"github.com/sirocco-cloud/sirocco/internal/operation"
	"github.com/sirocco-cloud/sirocco/internal/store"
)

// opVDCDelete is the operation kind that removes a VDC.
const opVDCDelete = "vdc.delete"

func vdcOf(v *store.VDC) api.VDC {
	q := v.Quotas
	return api.VDC{
		Meta:            metaOf(v.Meta),
		Org:             v.OrgID,
		Name:            v.Name,
		Description:     v.Description,
		Zone:            v.ZoneID,
		Region:          v.RegionID,
		Jurisdiction:    v.Jurisdiction,
		AllocationModel: v.AllocationModel,
		Quotas:          api.Quotas{VCPU: q.VCPU, MemoryMiB: q.MemoryMiB, DiskGiB: q.DiskGiB, VMs: q.VMs, PublicIPs: q.PublicIPs},
		State:           v.State,
	}
}

func vdcQuotas(q api.Quotas) store.Quotas {
	return store.Quotas{VCPU: q.VCPU, MemoryMiB: q.MemoryMiB, DiskGiB: q.DiskGiB, VMs: q.VMs, PublicIPs: q.PublicIPs}
}

// vdcResidencyError explains which policy a zone breaks, so the caller can pick
// an allowed zone without asking anyone.
func vdcResidencyError(o *store.Org, z *store.Zone) *api.Error {
	var allowed []string
	if j := o.Residency.Jurisdictions; len(j) > 0 {
		allowed = append(allowed, "jurisdictions "+strings.Join(j, ", "))
	}
	if r := o.Residency.Regions; len(r) > 0 {
		allowed = append(allowed, "regions "+strings.Join(r, ", "))
	}
	return api.Errorf(http.StatusForbidden, api.CodeResidency,
		"zone %q is in region %s under jurisdiction %s; the residency policy of organisation %q allows only %s",
		z.ID, z.RegionID, z.Jurisdiction, o.Name, strings.Join(allowed, " and "))
}

// Inputs of the VDC endpoints. Path fields are declared directly: Huma does
// not fill path parameters of embedded structs.
type (
	vdcPath struct {
		Org string `path:"org" maxLength:"200" doc:"Organisation ID or name"`
		VDC string `path:"vdc" maxLength:"200" doc:"VDC ID or name"`
	}
	vdcListIn struct {
		Org string `path:"org" maxLength:"200" doc:"Organisation ID or name"`
		ListParams
	}
	vdcCreateIn struct {
		Org  string `path:"org" maxLength:"200" doc:"Organisation ID or name"`
		Body api.VDCCreate
	}
	vdcUpdateIn struct {
		Org     string `path:"org" maxLength:"200" doc:"Organisation ID or name"`
		VDC     string `path:"vdc" maxLength:"200" doc:"VDC ID or name"`
		IfMatch string `header:"If-Match" doc:"ETag from a previous read; the update fails with 412 if the VDC changed since"`
		Body    api.VDCUpdate
	}
)

func (s *Server) vdcRoutes() {
	s.ops.Handle(opVDCDelete, s.runVDCDelete)
	tags := []string{"VDCs"}

	register(s, huma.Operation{OperationID: "list-vdcs", Method: http.MethodGet, Path: "/api/v1/orgs/{org}/vdcs", Summary: "List VDCs", Tags: tags},
		func(ctx context.Context, in *vdcListIn) (*listOut[api.VDC], error) {
			return listInOrg(ctx, s, in.Org, in.ListParams, canRead, func(tx *store.Tx, o *store.Org, pg store.Page) ([]store.VDC, string, error) {
				return tx.ListVDCs(ctx, o.ID, pg)
			}, vdcOf)
		})

	register(s, huma.Operation{OperationID: "get-vdc", Method: http.MethodGet, Path: "/api/v1/orgs/{org}/vdcs/{vdc}", Summary: "Get a VDC", Tags: tags},
		func(ctx context.Context, in *vdcPath) (*bodyOut[api.VDC], error) {
			v, err := readInOrg(ctx, s, in.Org, "VDC", in.VDC, (*store.Tx).GetVDC)
			if err != nil {
				return nil, err
			}
			return &bodyOut[api.VDC]{ETag: etag(v.Version), Body: vdcOf(v)}, nil
		})

	register(s, huma.Operation{OperationID: "create-vdc", Method: http.MethodPost, Path: "/api/v1/orgs/{org}/vdcs", Summary: "Create a VDC",
		Description: "Needs the org-member role or higher, a verified e-mail address and an organisation in good standing. " +
			"The zone must be allowed by the organisation's residency policy (403 residency_violation otherwise). " +
			"Quotas default to 16 vCPU, 32 GiB memory, 500 GiB disk, 10 VMs and 2 public IPs.",
		Tags: tags, DefaultStatus: http.StatusCreated},
		func(ctx context.Context, in *vdcCreateIn) (*createdOut[api.VDC], error) {
			p, err := principal(ctx)
			if err != nil {
				return nil, err
			}
			b := in.Body
			if store.IsID(b.Name) {
				return nil, api.Errorf(http.StatusUnprocessableEntity, api.CodeValidation, "VDC name %q has the shape of an ID: choose another", b.Name)
			}
			if err := validateLabels(b.Labels); err != nil {
				return nil, err
			}
			quotas := api.DefaultQuotas
			if b.Quotas != nil {
				quotas = *b.Quotas
			}
			model := b.AllocationModel
			if model == "" {
				model = api.AllocationPAYG
			}
			var v *store.VDC
			err = s.store.Tx(ctx, func(tx *store.Tx) error {
				o, err := s.orgFor(ctx, tx, p, in.Org, canWrite)
				if err != nil {
					return err
				}
				if err := requireVerified(p); err != nil {
					return err
				}
				if err := requireOrgActive(o); err != nil {
					return err
				}
				z, err := tx.GetZone(ctx, b.Zone)
				if errors.Is(err, store.ErrNotFound) {
					return vdcZoneMissing(b.Zone)
				}
				if err != nil {
					return err
				}
				if !(api.Residency{Jurisdictions: o.Residency.Jurisdictions, Regions: o.Residency.Regions}).Allows(z.RegionID, z.Jurisdiction) {
					return vdcResidencyError(o, z)
				}
				v = &store.VDC{
					Meta:            store.Meta{Labels: b.Labels},
					OrgID:           o.ID,
					Name:            b.Name,
					Description:     b.Description,
					ZoneID:          z.ID,
					RegionID:        z.RegionID,
					Jurisdiction:    z.Jurisdiction,
					AllocationModel: model,
					Quotas:          vdcQuotas(quotas),
				}
				if err := tx.CreateVDC(ctx, v); err != nil {
					return conflictOr(err, api.CodeAlreadyExists, "organisation %q already has a VDC named %q", o.Name, b.Name)
				}
				if err := metering.VDCCreated(ctx, tx, v); err != nil {
					return err
				}
				return s.audit(ctx, tx, "vdc.create", "vdc", v.ID, o.ID, fmt.Sprintf("%s in zone %s (%s)", v.Name, z.ID, model))
			})
			if err != nil {
				return nil, err
			}
			return &createdOut[api.VDC]{Location: "/api/v1/orgs/" + v.OrgID + "/vdcs/" + v.ID, ETag: etag(v.Version), Body: vdcOf(v)}, nil
		})

	register(s, huma.Operation{OperationID: "update-vdc", Method: http.MethodPatch, Path: "/api/v1/orgs/{org}/vdcs/{vdc}", Summary: "Update a VDC",
		Description: "Changes the description, quotas or labels. Needs the org-member role or higher. The name, zone and allocation model are fixed.",
		Tags:        tags},
		func(ctx context.Context, in *vdcUpdateIn) (*bodyOut[api.VDC], error) {
			p, err := principal(ctx)
			if err != nil {
				return nil, err
			}
			var v *store.VDC
			err = s.store.Tx(ctx, func(tx *store.Tx) error {
				o, err := s.orgFor(ctx, tx, p, in.Org, canWrite)
				if err != nil {
					return err
				}
				if v, err = tx.GetVDC(ctx, o.ID, in.VDC); err != nil {
					return notFoundOr(err, "VDC", in.VDC)
				}
				if v.State == store.VDCDeleting {
					return api.Errorf(http.StatusConflict, api.CodeConflict, "VDC %q is being deleted", v.Name)
				}
				if err := checkIfMatch(in.IfMatch, v.Version); err != nil {
					return err
				}
				var changed []string
				if d := in.Body.Description; d != nil {
					v.Description = *d
					changed = append(changed, "description")
				}
				if q := in.Body.Quotas; q != nil {
					v.Quotas = vdcQuotas(*q)
					changed = append(changed, fmt.Sprintf("quotas %d vCPU, %d MiB, %d GiB disk, %d VMs, %d public IPs",
						q.VCPU, q.MemoryMiB, q.DiskGiB, q.VMs, q.PublicIPs))
				}
				if l := in.Body.Labels; l != nil {
					if err := validateLabels(*l); err != nil {
						return err
					}
					v.Labels = *l
					changed = append(changed, "labels")
				}
				if err := tx.UpdateVDC(ctx, v); err != nil {
					return err
				}
				if err := metering.VDCUpdated(ctx, tx, v); err != nil {
					return err
				}
				return s.audit(ctx, tx, "vdc.update", "vdc", v.ID, o.ID, strings.Join(changed, "; "))
			})
			if err != nil {
				return nil, err
			}
			return &bodyOut[api.VDC]{ETag: etag(v.Version), Body: vdcOf(v)}, nil
		})

	register(s, huma.Operation{OperationID: "delete-vdc", Method: http.MethodDelete, Path: "/api/v1/orgs/{org}/vdcs/{vdc}", Summary: "Delete a VDC",
		Description: "Needs the org-member role or higher. The VDC goes into state deleting at once and an operation of kind vdc.delete removes it; " +
			"follow it at the Location returned. If that operation is cancelled or fails, the VDC stays deleting and DELETE may be sent again.",
		Tags: tags, DefaultStatus: http.StatusAccepted},
		func(ctx context.Context, in *vdcPath) (*acceptOut, error) {
			p, err := principal(ctx)
			if err != nil {
				return nil, err
			}
			var op *store.Operation
			err = s.store.Tx(ctx, func(tx *store.Tx) error {
				o, err := s.orgFor(ctx, tx, p, in.Org, canWrite)
				if err != nil {
					return err
				}
				v, err := tx.GetVDC(ctx, o.ID, in.VDC)
				if err != nil {
					return notFoundOr(err, "VDC", in.VDC)
				}
				if v.State == store.VDCDeleting {
					pending, err := unfinishedOp(ctx, tx, opVDCDelete, "vdc", v.ID)
					if err != nil {
						return err
					}
					if pending != nil {
						return api.Errorf(http.StatusConflict, api.CodeConflict, "VDC %q is already being deleted by operation %s", v.Name, pending.ID)
					}
				} else {
					v.State = store.VDCDeleting
					if err := tx.UpdateVDC(ctx, v); err != nil {
						return err
					}
				}
				op = &store.Operation{OrgID: o.ID, Kind: opVDCDelete, TargetKind: "vdc", TargetID: v.ID, CreatedBy: p.UserID}
				if err := s.ops.Enqueue(ctx, tx, op); err != nil {
					return err
				}
				return s.audit(ctx, tx, "vdc.delete", "vdc", v.ID, o.ID, "operation "+op.ID)
			})
			if err != nil {
				return nil, err
			}
			s.ops.Kick()
			return &acceptOut{Location: "/api/v1/operations/" + op.ID, Body: operation.ToAPI(op)}, nil
		})
}

// vdcZoneMissing is the validation error for a zone that does not exist.
func vdcZoneMissing(zone string) *api.Error {
	e := api.Errorf(http.StatusUnprocessableEntity, api.CodeValidation, "zone %q does not exist (GET /api/v1/zones lists them)", zone)
	e.Errors = []api.ErrorDetail{{Location: "body.zone", Message: "no such zone", Value: zone}}
	return e
}

// unfinishedOp returns an unfinished operation of kind on a target, or nil.
func unfinishedOp(ctx context.Context, tx *store.Tx, kind, targetKind, targetID string) (*store.Operation, error) {
	ops, _, err := tx.ListOperations(ctx, store.OperationFilter{Kind: kind, TargetKind: targetKind, TargetID: targetID}, store.Page{Limit: store.MaxLimit})
	if err != nil {
		return nil, err
	}
	for i := range ops {
		if !ops[i].Done() {
			return &ops[i], nil
		}
	}
	return nil, nil
}

// runVDCDelete removes a VDC marked deleting. A VDC already gone counts as
// deleted, so a run repeated after a replica died succeeds.
func (s *Server) runVDCDelete(ctx context.Context, op *store.Operation, progress operation.Progress) error {
	progress(10, "deleting VDC")
	var left int
	var what string
	name := op.TargetID
	err := s.store.Tx(ctx, func(tx *store.Tx) error {
		left = 0
		v, err := tx.GetVDC(ctx, op.OrgID, op.TargetID)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		name = v.Name
		// While the VDC still holds VMs (later also disks, networks and
		// public IPs) it goes back to ready and the delete fails, naming
		// what is left.
		n, err := tx.VDCVMCount(ctx, v.ID)
		if err != nil {
			return err
		}
		nets, _, err := tx.ListNetworks(ctx, store.NetworkFilter{VDCID: v.ID}, store.Page{Limit: store.MaxLimit})
		if err != nil {
			return err
		}
		ips, err := tx.CountPublicIPs(ctx, v.ID)
		if err != nil {
			return err
		}
		disks, _, err := tx.ListDisks(ctx, store.DiskFilter{VDCID: v.ID}, store.Page{Limit: store.MaxLimit})
		if err != nil {
			return err
		}
		if n+len(nets)+ips+len(disks) > 0 {
			what = fmt.Sprintf("%d VMs, %d networks, %d public IPs and %d disks", n, len(nets), ips, len(disks))
			v.State = store.VDCReady
			if err := tx.UpdateVDC(ctx, v); err != nil {
				return err
			}
			left = n + len(nets) + ips + len(disks)
			return s.auditAsSystem(ctx, tx, "vdc.delete", "vdc", v.ID, v.OrgID, "refused: "+what+" left")
		}
		if err := metering.VDCDeleted(ctx, tx, v); err != nil {
			return err
		}
		if err := tx.DeleteVDC(ctx, v.ID); err != nil {
			return err
		}
		return s.auditAsSystem(ctx, tx, "vdc.delete", "vdc", v.ID, v.OrgID, fmt.Sprintf("deleted %s by operation %s", v.Name, op.ID))
	})
	if err == nil && left > 0 {
		err = api.Errorf(http.StatusConflict, api.CodeNotEmpty, "VDC %q still holds %s: delete them first; the VDC is ready again", name, what)
	}
	return err
}
