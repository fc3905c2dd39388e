package server

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/internal/store"
)

// Default overcommit of a new host: CPU time shares well between VMs, memory
// does not (overcommitted memory means swapping or the OOM killer).
const (
	defaultCPUOvercommit    = 4
	defaultMemoryOvercommit = 1
)

func hostOf(h *store.Host) api.Host {
	return api.Host{
		Meta:          metaOf(h.Meta),
		Name:          h.ID,
		Zone:          h.ZoneID,
		State:         h.State,
		Capacity:      api.Capacity{VCPU: h.VCPU, MemoryMiB: h.MemoryMiB, DiskGiB: h.DiskGiB},
		Overcommit:    api.Overcommit{CPU: h.CPUOvercommit, Memory: h.MemoryOvercommit},
		Acceleration:  h.Acceleration,
		AgentVersion:  h.AgentVersion,
		LastHeartbeat: h.LastHeartbeat,
	}
}

// hostStateChange checks an operator's state change. Operators only move a
// host between ready and draining; pending (waiting for its agent to join)
// and down (its agent stopped reporting) are set by the control plane from
// what the agent does, so an operator cannot declare such a host ready, nor
// drain one whose real state nobody knows.
func hostStateChange(h *store.Host, want string) error {
	if h.State == want {
		return nil
	}
	switch h.State {
	case api.HostReady, api.HostDraining:
		return nil
	case api.HostPending:
		return api.Errorf(http.StatusConflict, api.CodeConflict,
			"host %q is pending: it becomes ready when its agent joins, and only a ready host can be set to %s", h.ID, want)
	case api.HostDown:
		return api.Errorf(http.StatusConflict, api.CodeConflict,
			"host %q is down: its agent is not reporting; it returns to ready when the agent reports again, and only then can be set to %s", h.ID, want)
	}
	return api.Errorf(http.StatusConflict, api.CodeConflict, "host %q is %s and cannot be set to %s", h.ID, h.State, want)
}

func (s *Server) hostRoutes() {
	tags := []string{"Hosts"}
	register(s, huma.Operation{OperationID: "list-hosts", Method: http.MethodGet, Path: "/api/v1/hosts", Summary: "List hosts",
		Description: "Provider roles only.", Tags: tags},
		func(ctx context.Context, in *struct {
			ListParams
			Zone  string `query:"zone" maxLength:"200" doc:"Only hosts in this zone"`
			State string `query:"state" enum:"pending,ready,draining,down" doc:"Only hosts in this state"`
		}) (*listOut[api.Host], error) {
			if _, err := requireProviderRead(ctx); err != nil {
				return nil, err
			}
			pg, err := in.page()
			if err != nil {
				return nil, err
			}
			var rows []store.Host
			var next string
			err = s.store.View(ctx, func(tx *store.Tx) error {
				rows, next, err = tx.ListHosts(ctx, store.HostFilter{Zone: in.Zone, State: in.State}, pg)
				return err
			})
			if err != nil {
				return nil, err
			}
			return &listOut[api.Host]{Body: listOf(rows, next, hostOf)}, nil
		})

	register(s, huma.Operation{OperationID: "get-host", Method: http.MethodGet, Path: "/api/v1/hosts/{id}", Summary: "Get a host",
		Description: "Provider roles only.", Tags: tags},
		func(ctx context.Context, in *idPath) (*bodyOut[api.Host], error) {
			if _, err := requireProviderRead(ctx); err != nil {
				return nil, err
			}
			var h *store.Host
			err := s.store.View(ctx, func(tx *store.Tx) error {
				var err error
				h, err = tx.GetHost(ctx, in.ID)
				return notFoundOr(err, "host", in.ID)
			})
			if err != nil {
				return nil, err
			}
			return &bodyOut[api.Host]{ETag: etag(h.Version), Body: hostOf(h)}, nil
		})

	register(s, huma.Operation{OperationID: "create-host", Method: http.MethodPost, Path: "/api/v1/hosts", Summary: "Register a host",
		Description: "Provider admins only. Registers a host in a zone ahead of its agent joining; it stays pending until then. " +
			"Overcommit defaults to 4 for CPU and 1 (none) for memory.",
		Tags: tags, DefaultStatus: http.StatusCreated},
		func(ctx context.Context, in *struct{ Body api.HostCreate }) (*createdOut[api.Host], error) {
			if _, err := requireProviderAdmin(ctx); err != nil {
				return nil, err
			}
			if err := validateLabels(in.Body.Labels); err != nil {
				return nil, err
			}
			b := in.Body
			h := &store.Host{
				Meta:             store.Meta{ID: b.Name, Labels: b.Labels},
				ZoneID:           b.Zone,
				State:            api.HostPending,
				VCPU:             b.Capacity.VCPU,
				MemoryMiB:        b.Capacity.MemoryMiB,
				DiskGiB:          b.Capacity.DiskGiB,
				CPUOvercommit:    defaultCPUOvercommit,
				MemoryOvercommit: defaultMemoryOvercommit,
			}
			if b.Overcommit != nil {
				h.CPUOvercommit, h.MemoryOvercommit = b.Overcommit.CPU, b.Overcommit.Memory
			}
			err := s.store.Tx(ctx, func(tx *store.Tx) error {
				if _, err := tx.GetZone(ctx, h.ZoneID); err != nil {
					return missingRef(err, "zone", h.ZoneID, "body.zone")
				}
				if err := tx.CreateHost(ctx, h); err != nil {
					return conflictOr(err, api.CodeAlreadyExists, "host %q already exists", h.ID)
				}
				return s.audit(ctx, tx, "host.create", "host", h.ID, "", "zone "+h.ZoneID)
			})
			if err != nil {
				return nil, err
			}
			return &createdOut[api.Host]{Location: "/api/v1/hosts/" + h.ID, ETag: etag(h.Version), Body: hostOf(h)}, nil
		})

	register(s, huma.Operation{OperationID: "update-host", Method: http.MethodPatch, Path: "/api/v1/hosts/{id}", Summary: "Update a host",
		Description: "Provider admins only. Setting state to draining stops new placements on the host (its VMs keep running); " +
			"setting it back to ready resumes them. Pending and down are driven by the host's agent and cannot be left by an edit.",
		Tags: tags},
		func(ctx context.Context, in *updateIn[api.HostUpdate]) (*bodyOut[api.Host], error) {
			if _, err := requireProviderAdmin(ctx); err != nil {
				return nil, err
			}
			var h *store.Host
			err := s.store.Tx(ctx, func(tx *store.Tx) error {
				var err error
				if h, err = tx.GetHost(ctx, in.ID); err != nil {
					return notFoundOr(err, "host", in.ID)
				}
				if err := checkIfMatch(in.IfMatch, h.Version); err != nil {
					return err
				}
				detail := ""
				if st := in.Body.State; st != nil {
					if err := hostStateChange(h, *st); err != nil {
						return err
					}
					if h.State != *st {
						detail = h.State + " -> " + *st
					}
					h.State = *st
				}
				if oc := in.Body.Overcommit; oc != nil {
					h.CPUOvercommit, h.MemoryOvercommit = oc.CPU, oc.Memory
				}
				if in.Body.Labels != nil {
					if err := validateLabels(*in.Body.Labels); err != nil {
						return err
					}
					h.Labels = *in.Body.Labels
				}
				if err := tx.UpdateHost(ctx, h); err != nil {
					return err
				}
				return s.audit(ctx, tx, "host.update", "host", h.ID, "", detail)
			})
			if err != nil {
				return nil, err
			}
			return &bodyOut[api.Host]{ETag: etag(h.Version), Body: hostOf(h)}, nil
		})

	register(s, huma.Operation{OperationID: "delete-host", Method: http.MethodDelete, Path: "/api/v1/hosts/{id}", Summary: "Delete a host",
		Description: "Provider admins only. Refused while VMs are placed on the host: drain it and move them first.",
		Tags:        tags, DefaultStatus: http.StatusNoContent},
		func(ctx context.Context, in *idPath) (*emptyOut, error) {
			if _, err := requireProviderAdmin(ctx); err != nil {
				return nil, err
			}
			err := s.store.Tx(ctx, func(tx *store.Tx) error {
				// VMs will reference their host; the store then refuses the
				// delete with ErrConflict, reported here as not_empty.
				if err := tx.DeleteHost(ctx, in.ID); err != nil {
					return conflictOr(notFoundOr(err, "host", in.ID), api.CodeNotEmpty, "host %q still has VMs: drain it and move them first", in.ID)
				}
				return s.audit(ctx, tx, "host.delete", "host", in.ID, "", "")
			})
			return nil, err
		})
}
