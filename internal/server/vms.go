package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/internal/metering"
	"github.com/sirocco-cloud/sirocco/internal/operation"
	"github.com/sirocco-cloud/sirocco/internal/scheduler"
	"github.com/sirocco-cloud/sirocco/internal/store"
)

// Operation kinds of VM actions. Each runner waits until the VM's host has
// applied the change (see runVMWait).
const (
	opVMCreate         = "vm.create"
	opVMStart          = "vm.start"
	opVMStop           = "vm.stop"
	opVMForceOff       = "vm.force-off"
	opVMReboot         = "vm.reboot"
	opVMResize         = "vm.resize"
	opVMDelete         = "vm.delete"
	opSnapshotCreate   = "vm.snapshot.create"
	opSnapshotDelete   = "vm.snapshot.delete"
	opSnapshotRevert   = "vm.snapshot.revert"
	defaultStopTimeout = 60
)

// vmOpTimeout bounds how long a VM operation waits for its host.
const vmOpTimeout = 15 * time.Minute

func vmOf(v *store.VM) api.VM {
	state := v.State
	switch {
	case v.Power == store.PowerDeleted:
		state = api.VMDeleting
	case v.HostState == api.HostDown:
		state = api.VMUnknown
	}
	power := v.Power
	if power == store.PowerDeleted {
		power = api.PowerStopped
	}
	msg := v.Message
	if v.HostState == api.HostDown {
		msg = fmt.Sprintf("host %s stopped reporting; the VM's last known state was %s", v.HostID, v.State)
	}
	return api.VM{
		Meta: metaOf(v.Meta), Org: v.OrgID, VDC: v.VDCName, Name: v.Name, Hostname: v.Hostname, Image: v.ImageID,
		Size: v.SizeID, VCPU: v.VCPU, MemoryMiB: v.MemoryMiB, DiskGiB: v.DiskGiB, PowerState: power, State: state,
		Message: msg, Zone: v.ZoneID, Region: v.RegionID, Jurisdiction: v.Jurisdiction, Host: v.HostID,
		AntiAffinityGroup: v.AntiAffinity, SSHKeys: v.SSHKeys,
	}
}

func snapshotOf(sn *store.Snapshot) api.Snapshot {
	return api.Snapshot{Meta: metaOf(sn.Meta), VM: sn.VMID, Name: sn.Name, State: sn.State}
}

// vmOpInput is what a VM operation waits for.
type vmOpInput struct {
	Generation int64  `json:"generation"`
	Snapshot   string `json:"snapshot,omitempty"`
}

type (
	vmPath struct {
		Org string `path:"org" maxLength:"200" doc:"Organisation ID or name"`
		VM  string `path:"vm" maxLength:"200" doc:"VM ID or name"`
	}
	vmListIn struct {
		Org string `path:"org" maxLength:"200" doc:"Organisation ID or name"`
		VDC string `query:"vdc" maxLength:"200" doc:"Keep the VMs of this VDC (ID or name)"`
		ListParams
	}
	vmCreateIn struct {
		Org  string `path:"org" maxLength:"200" doc:"Organisation ID or name"`
		Body api.VMCreate
	}
	vmUpdateIn struct {
		Org     string `path:"org" maxLength:"200" doc:"Organisation ID or name"`
		VM      string `path:"vm" maxLength:"200" doc:"VM ID or name"`
		IfMatch string `header:"If-Match" doc:"ETag from a previous read; the update fails with 412 if the VM changed since"`
		Body    api.VMUpdate
	}
	vmStopIn struct {
		Org  string `path:"org" maxLength:"200" doc:"Organisation ID or name"`
		VM   string `path:"vm" maxLength:"200" doc:"VM ID or name"`
		Body *api.VMStop
	}
	vmResizeIn struct {
		Org  string `path:"org" maxLength:"200" doc:"Organisation ID or name"`
		VM   string `path:"vm" maxLength:"200" doc:"VM ID or name"`
		Body api.VMResize
	}
	snapshotCreateIn struct {
		Org  string `path:"org" maxLength:"200" doc:"Organisation ID or name"`
		VM   string `path:"vm" maxLength:"200" doc:"VM ID or name"`
		Body api.SnapshotCreate
	}
	snapshotPath struct {
		Org      string `path:"org" maxLength:"200" doc:"Organisation ID or name"`
		VM       string `path:"vm" maxLength:"200" doc:"VM ID or name"`
		Snapshot string `path:"snapshot" maxLength:"200" doc:"Snapshot ID or name"`
	}
	vmCreatedOut struct {
		Location string `header:"Location"`
		Body     api.VMCreated
	}
	allVMsIn struct {
		Host string `query:"host" maxLength:"200" doc:"Keep the VMs placed on this host"`
		Org  string `query:"org" maxLength:"200" doc:"Keep the VMs of this organisation (ID or name)"`
		ListParams
	}
)

func (s *Server) vmRoutes() {
	for _, kind := range []string{opVMCreate, opVMStart, opVMStop, opVMForceOff, opVMReboot, opVMResize, opVMDelete,
		opSnapshotCreate, opSnapshotDelete, opSnapshotRevert} {
		s.ops.Handle(kind, s.runVMWait)
	}
	tags := []string{"VMs"}
	base := "/api/v1/orgs/{org}/vms"

	register(s, huma.Operation{OperationID: "list-vms", Method: http.MethodGet, Path: base, Summary: "List VMs", Tags: tags},
		func(ctx context.Context, in *vmListIn) (*listOut[api.VM], error) {
			return listInOrg(ctx, s, in.Org, in.ListParams, canRead, func(tx *store.Tx, o *store.Org, pg store.Page) ([]store.VM, string, error) {
				f := store.VMFilter{OrgID: o.ID}
				if in.VDC != "" {
					v, err := tx.GetVDC(ctx, o.ID, in.VDC)
					if err != nil {
						return nil, "", notFoundOr(err, "VDC", in.VDC)
					}
					f.VDCID = v.ID
				}
				return tx.ListVMs(ctx, f, pg)
			}, vmOf)
		})

	register(s, huma.Operation{OperationID: "list-all-vms", Method: http.MethodGet, Path: "/api/v1/vms", Summary: "List every tenant's VMs",
		Description: "Provider roles only: the VMs of all organisations, optionally on one host or of one organisation.", Tags: tags},
		func(ctx context.Context, in *allVMsIn) (*listOut[api.VM], error) {
			if _, err := requireProviderRead(ctx); err != nil {
				return nil, err
			}
			pg, err := in.page()
			if err != nil {
				return nil, err
			}
			var rows []store.VM
			var next string
			err = s.store.View(ctx, func(tx *store.Tx) error {
				f := store.VMFilter{HostID: in.Host}
				if in.Org != "" {
					o, err := tx.LookupOrg(ctx, in.Org)
					if err != nil {
						return notFoundOr(err, "organisation", in.Org)
					}
					f.OrgID = o.ID
				}
				rows, next, err = tx.ListVMs(ctx, f, pg)
				return err
			})
			if err != nil {
				return nil, err
			}
			return &listOut[api.VM]{Body: listOf(rows, next, vmOf)}, nil
		})

	register(s, huma.Operation{OperationID: "get-vm", Method: http.MethodGet, Path: base + "/{vm}", Summary: "Get a VM",
		Description: "state is what the VM's host last reported; it is unknown while the host is down (the VM is neither deleted nor moved).",
		Tags:        tags},
		func(ctx context.Context, in *vmPath) (*bodyOut[api.VM], error) {
			p, err := principal(ctx)
			if err != nil {
				return nil, err
			}
			var v *store.VM
			var nics []store.NIC
			var disks []store.Disk
			err = s.store.View(ctx, func(tx *store.Tx) error {
				o, err := s.orgFor(ctx, tx, p, in.Org, canRead)
				if err != nil {
					return err
				}
				if v, err = tx.GetVM(ctx, o.ID, in.VM); err != nil {
					return notFoundOr(err, "VM", in.VM)
				}
				if nics, err = tx.ListNICsByVM(ctx, v.ID); err != nil {
					return err
				}
				disks, err = tx.VMDisks(ctx, v.ID)
				return err
			})
			if err != nil {
				return nil, err
			}
			out := vmOf(v)
			out.NICs = nicsOf(nics)
			out.Disks = vmDisksOf(disks)
			return &bodyOut[api.VM]{ETag: etag(v.Version), Body: out}, nil
		})

	register(s, huma.Operation{OperationID: "create-vms", Method: http.MethodPost, Path: base, Summary: "Create VMs",
		Description: "Places count VMs (named <name>-1 ... when count > 1) on hosts of the VDC's zone and answers 202 with one operation per VM, " +
			"which finishes when the VM runs. The VDC's quotas are checked in the same transaction as the placement (403 quota_exceeded); " +
			"no host with room gives 409 no_capacity; a zone the organisation's residency policy does not allow gives 403 residency_violation.",
		Tags: tags, DefaultStatus: http.StatusAccepted},
		s.createVMs)

	register(s, huma.Operation{OperationID: "update-vm", Method: http.MethodPatch, Path: base + "/{vm}", Summary: "Update a VM's labels", Tags: tags},
		func(ctx context.Context, in *vmUpdateIn) (*bodyOut[api.VM], error) {
			p, err := principal(ctx)
			if err != nil {
				return nil, err
			}
			var v *store.VM
			err = s.store.Tx(ctx, func(tx *store.Tx) error {
				o, err := s.orgFor(ctx, tx, p, in.Org, canWrite)
				if err != nil {
					return err
				}
				if v, err = tx.GetVM(ctx, o.ID, in.VM); err != nil {
					return notFoundOr(err, "VM", in.VM)
				}
				if err := checkIfMatch(in.IfMatch, v.Version); err != nil {
					return err
				}
				if l := in.Body.Labels; l != nil {
					if err := validateLabels(*l); err != nil {
						return err
					}
					v.Labels = *l
				}
				if err := tx.UpdateVM(ctx, v, false); err != nil {
					return err
				}
				return s.audit(ctx, tx, "vm.update", "vm", v.ID, o.ID, "labels")
			})
			if err != nil {
				return nil, err
			}
			return &bodyOut[api.VM]{ETag: etag(v.Version), Body: vmOf(v)}, nil
		})

	action := func(id, path, summary, desc string) huma.Operation {
		return huma.Operation{OperationID: id, Method: http.MethodPost, Path: base + "/{vm}" + path, Summary: summary, Description: desc,
			Tags: tags, DefaultStatus: http.StatusAccepted}
	}
	register(s, action("start-vm", "/start", "Start a VM", "Powers the VM on. Answers 202 with an operation that finishes when it runs."),
		func(ctx context.Context, in *vmPath) (*acceptOut, error) {
			return s.vmAction(ctx, in.Org, in.VM, opVMStart, "", func(tx *store.Tx, v *store.VM) (string, error) {
				o, err := tx.GetOrg(ctx, v.OrgID)
				if err != nil {
					return "", err
				}
				if o.State == api.OrgSuspended || o.State == api.OrgClosed {
					return "", requireOrgActive(o)
				}
				v.Power = store.PowerRunning
				return "power on", nil
			})
		})
	register(s, action("stop-vm", "/stop", "Stop a VM",
		"Asks the guest to power off (ACPI) and forces it off after timeout_seconds (default 60)."),
		func(ctx context.Context, in *vmStopIn) (*acceptOut, error) {
			timeout := defaultStopTimeout
			if in.Body != nil && in.Body.TimeoutSeconds > 0 {
				timeout = in.Body.TimeoutSeconds
			}
			return s.vmAction(ctx, in.Org, in.VM, opVMStop, "", func(tx *store.Tx, v *store.VM) (string, error) {
				v.Power, v.StopTimeout = store.PowerStopped, timeout
				return fmt.Sprintf("power off (ACPI, forced after %d s)", timeout), nil
			})
		})
	register(s, action("force-off-vm", "/force-off", "Force a VM off", "Stops the VM at once, like pulling the plug."),
		func(ctx context.Context, in *vmPath) (*acceptOut, error) {
			return s.vmAction(ctx, in.Org, in.VM, opVMForceOff, "", func(tx *store.Tx, v *store.VM) (string, error) {
				v.Power, v.ForceOffAt = store.PowerStopped, v.Generation+1
				return "force off", nil
			})
		})
	register(s, action("reboot-vm", "/reboot", "Reboot a VM", "Resets a running VM (409 if it is stopped)."),
		func(ctx context.Context, in *vmPath) (*acceptOut, error) {
			return s.vmAction(ctx, in.Org, in.VM, opVMReboot, "", func(tx *store.Tx, v *store.VM) (string, error) {
				if v.Power != store.PowerRunning {
					return "", api.Errorf(http.StatusConflict, api.CodeConflict, "VM %q is stopped: start it instead", v.Name)
				}
				v.RebootAt = v.Generation + 1
				return "reboot", nil
			})
		})
	register(s, action("resize-vm", "/resize", "Resize a stopped VM",
		"Changes vCPU and memory to the new size's and grows the root disk to it (a disk never shrinks). "+
			"The VM must be stopped (409 vm_running). Quotas and the host's room are checked."),
		func(ctx context.Context, in *vmResizeIn) (*acceptOut, error) {
			return s.vmAction(ctx, in.Org, in.VM, opVMResize, "", func(tx *store.Tx, v *store.VM) (string, error) {
				return s.resize(ctx, tx, v, in.Body.Size)
			})
		})

	register(s, huma.Operation{OperationID: "delete-vm", Method: http.MethodDelete, Path: base + "/{vm}", Summary: "Delete a VM",
		Description: "Forces the VM off and removes it and its disk and snapshots from its host. Answers 202 with an operation that finishes " +
			"when the host has let go of everything; the VM keeps its name and counts against quotas until then.",
		Tags: tags, DefaultStatus: http.StatusAccepted},
		func(ctx context.Context, in *vmPath) (*acceptOut, error) {
			return s.vmAction(ctx, in.Org, in.VM, opVMDelete, "", func(tx *store.Tx, v *store.VM) (string, error) {
				v.Power = store.PowerDeleted
				// Its public addresses go back to the organisation, and the
				// other hosts of its networks forget its lease.
				if _, err := tx.DetachVMPublicIPs(ctx, v.ID); err != nil {
					return "", err
				}
				// Its data disks stay, detached, on its host.
				if _, err := tx.DetachVMDisks(ctx, v.ID); err != nil {
					return "", err
				}
				peers, err := s.peerHosts(ctx, tx, v)
				if err != nil {
					return "", err
				}
				for _, h := range peers {
					if err := tx.BumpHostGeneration(ctx, h); err != nil {
						return "", err
					}
				}
				return "delete", nil
			})
		})

	register(s, huma.Operation{OperationID: "list-snapshots", Method: http.MethodGet, Path: base + "/{vm}/snapshots", Summary: "List a VM's snapshots", Tags: tags},
		func(ctx context.Context, in *vmPath) (*listOut[api.Snapshot], error) {
			p, err := principal(ctx)
			if err != nil {
				return nil, err
			}
			var rows []store.Snapshot
			err = s.store.View(ctx, func(tx *store.Tx) error {
				o, err := s.orgFor(ctx, tx, p, in.Org, canRead)
				if err != nil {
					return err
				}
				v, err := tx.GetVM(ctx, o.ID, in.VM)
				if err != nil {
					return notFoundOr(err, "VM", in.VM)
				}
				rows, err = tx.ListSnapshots(ctx, v.ID)
				return err
			})
			if err != nil {
				return nil, err
			}
			return &listOut[api.Snapshot]{Body: listOf(rows, "", snapshotOf)}, nil
		})

	register(s, huma.Operation{OperationID: "create-snapshot", Method: http.MethodPost, Path: base + "/{vm}/snapshots", Summary: "Snapshot a stopped VM",
		Description: "Takes a snapshot of the root disk, kept on the VM's host. The VM must be stopped (409 vm_running).",
		Tags:        tags, DefaultStatus: http.StatusAccepted},
		func(ctx context.Context, in *snapshotCreateIn) (*acceptOut, error) {
			return s.vmAction(ctx, in.Org, in.VM, opSnapshotCreate, "", func(tx *store.Tx, v *store.VM) (string, error) {
				if err := requireStopped(v, "snapshot"); err != nil {
					return "", err
				}
				sn := &store.Snapshot{VMID: v.ID, OrgID: v.OrgID, Name: in.Body.Name, State: store.SnapshotCreating}
				if err := tx.CreateSnapshot(ctx, sn); err != nil {
					return "", conflictOr(err, api.CodeAlreadyExists, "VM %q already has a snapshot named %q", v.Name, in.Body.Name)
				}
				return "snapshot " + sn.Name, nil
			})
		})

	snapshotAction := func(id, method, path, summary, desc, kind string, mutate func(ctx context.Context, tx *store.Tx, v *store.VM, sn *store.Snapshot) (string, error)) {
		register(s, huma.Operation{OperationID: id, Method: method, Path: base + "/{vm}/snapshots/{snapshot}" + path, Summary: summary,
			Description: desc, Tags: tags, DefaultStatus: http.StatusAccepted},
			func(ctx context.Context, in *snapshotPath) (*acceptOut, error) {
				return s.vmAction(ctx, in.Org, in.VM, kind, in.Snapshot, func(tx *store.Tx, v *store.VM) (string, error) {
					if err := requireStopped(v, summary); err != nil {
						return "", err
					}
					sn, err := tx.GetSnapshot(ctx, v.ID, in.Snapshot)
					if err != nil {
						return "", notFoundOr(err, "snapshot", in.Snapshot)
					}
					if sn.State != store.SnapshotReady && sn.State != store.SnapshotError {
						return "", api.Errorf(http.StatusConflict, api.CodeConflict, "snapshot %q is %s", sn.Name, sn.State)
					}
					return mutate(ctx, tx, v, sn)
				})
			})
	}
	snapshotAction("delete-snapshot", http.MethodDelete, "", "Delete a snapshot", "The VM must be stopped (409 vm_running).", opSnapshotDelete,
		func(ctx context.Context, tx *store.Tx, v *store.VM, sn *store.Snapshot) (string, error) {
			sn.State = store.SnapshotDeleting
			return "delete snapshot " + sn.Name, tx.UpdateSnapshot(ctx, sn)
		})
	snapshotAction("revert-snapshot", http.MethodPost, "/revert", "Revert a VM to a snapshot",
		"Returns the root disk to the snapshot; later changes are lost. The VM must be stopped (409 vm_running).", opSnapshotRevert,
		func(_ context.Context, tx *store.Tx, v *store.VM, sn *store.Snapshot) (string, error) {
			v.RevertTo, v.RevertAt = sn.Name, v.Generation+1
			return "revert to snapshot " + sn.Name, nil
		})
}

func requireStopped(v *store.VM, what string) error {
	if v.Power != store.PowerStopped || v.State != api.VMStopped {
		return api.Errorf(http.StatusConflict, api.CodeVMRunning, "VM %q is %s: stop it first (%s needs a stopped VM)", v.Name, v.State, strings.ToLower(what))
	}
	return nil
}

// vmAction changes a VM's desired state with mutate (which returns a line
// for the audit log), bumps its generation so the host hears of it, and
// enqueues an operation of kind that waits for the host to apply it. Only one
// action runs on a VM at a time (409 vm_busy), except delete, which may follow
// anything.
func (s *Server) vmAction(ctx context.Context, orgRef, vmRef, kind, detail string, mutate func(tx *store.Tx, v *store.VM) (string, error)) (*acceptOut, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	var op *store.Operation
	var host string
	err = s.store.Tx(ctx, func(tx *store.Tx) error {
		o, err := s.orgFor(ctx, tx, p, orgRef, canWrite)
		if err != nil {
			return err
		}
		v, err := tx.GetVM(ctx, o.ID, vmRef)
		if err != nil {
			return notFoundOr(err, "VM", vmRef)
		}
		if v.Power == store.PowerDeleted {
			return api.Errorf(http.StatusConflict, api.CodeConflict, "VM %q is being deleted", v.Name)
		}
		if kind != opVMDelete {
			if busy, err := s.vmBusy(ctx, tx, v.ID); err != nil {
				return err
			} else if busy != nil {
				return api.Errorf(http.StatusConflict, api.CodeVMBusy, "VM %q is busy with %s (operation %s): wait for it to finish", v.Name, busy.Kind, busy.ID)
			}
		}
		what, err := mutate(tx, v)
		if err != nil {
			return err
		}
		if err := tx.UpdateVM(ctx, v, true); err != nil {
			return err
		}
		if kind == opVMResize {
			if err := metering.VMResized(ctx, tx, v); err != nil {
				return err
			}
		}
		in, _ := json.Marshal(vmOpInput{Generation: v.Generation, Snapshot: detail})
		op = &store.Operation{OrgID: o.ID, Kind: kind, TargetKind: "vm", TargetID: v.ID, CreatedBy: p.UserID, Input: string(in)}
		if err := s.ops.Enqueue(ctx, tx, op); err != nil {
			return err
		}
		host = v.HostID
		return s.audit(ctx, tx, kind, "vm", v.ID, o.ID, fmt.Sprintf("%s: %s, operation %s", v.Name, what, op.ID))
	})
	if err != nil {
		return nil, err
	}
	s.hub.kickHost(host)
	s.ops.Kick()
	return &acceptOut{Location: "/api/v1/operations/" + op.ID, Body: operation.ToAPI(op)}, nil
}

// vmBusy returns an unfinished operation on VM id, or nil.
func (s *Server) vmBusy(ctx context.Context, tx *store.Tx, id string) (*store.Operation, error) {
	return unfinishedOp(ctx, tx, "", "vm", id)
}

// resize sets v to size name after checking the VDC's quotas and the host's
// room for the difference.
func (s *Server) resize(ctx context.Context, tx *store.Tx, v *store.VM, name string) (string, error) {
	if err := requireStopped(v, "resize"); err != nil {
		return "", err
	}
	z, err := tx.GetSize(ctx, name)
	if errors.Is(err, store.ErrNotFound) || err == nil && z.Deprecated {
		return "", api.Errorf(http.StatusUnprocessableEntity, api.CodeValidation, "size %q is not offered (GET /api/v1/sizes lists them)", name)
	}
	if err != nil {
		return "", err
	}
	disk := max(z.DiskGiB, v.DiskGiB)
	dCPU, dMem, dDisk := z.VCPU-v.VCPU, z.MemoryMiB-v.MemoryMiB, disk-v.DiskGiB
	vdc, err := tx.GetVDC(ctx, v.OrgID, v.VDCID)
	if err != nil {
		return "", err
	}
	used, err := s.vdcUsage(ctx, tx, vdc.ID)
	if err != nil {
		return "", err
	}
	q := vdc.Quotas
	if err := checkQuota(vdc, used.VCPU+dCPU > q.VCPU, "vCPU", used.VCPU+dCPU, q.VCPU); err != nil {
		return "", err
	}
	if err := checkQuota(vdc, used.MemoryMiB+dMem > q.MemoryMiB, "MiB of memory", int(used.MemoryMiB+dMem), int(q.MemoryMiB)); err != nil {
		return "", err
	}
	if err := checkQuota(vdc, used.DiskGiB+dDisk > q.DiskGiB, "GiB of disk", int(used.DiskGiB+dDisk), int(q.DiskGiB)); err != nil {
		return "", err
	}
	hosts, err := tx.PlacementHosts(ctx, []string{vdc.ZoneID})
	if err != nil {
		return "", err
	}
	for _, h := range hosts {
		if h.ID != v.HostID {
			continue
		}
		cpuOK := float64(h.Used.VCPU+dCPU) <= float64(h.VCPU)*max(h.CPUOvercommit, 1)
		memOK := float64(h.Used.MemoryMiB+dMem) <= float64(h.MemoryMiB)*max(h.MemoryOvercommit, 1)
		diskOK := h.Used.DiskGiB+dDisk <= h.DiskGiB
		if !cpuOK || !memOK || !diskOK {
			return "", api.Errorf(http.StatusConflict, api.CodeNoCapacity,
				"host %s has no room to grow VM %q to %s: delete it and create it again with the new size", h.ID, v.Name, z.ID)
		}
	}
	from := fmt.Sprintf("%s (%d vCPU, %d MiB, %d GiB)", v.SizeID, v.VCPU, v.MemoryMiB, v.DiskGiB)
	v.SizeID, v.VCPU, v.MemoryMiB, v.DiskGiB = z.ID, z.VCPU, z.MemoryMiB, disk
	return fmt.Sprintf("resize from %s to %s (%d vCPU, %d MiB, %d GiB)", from, z.ID, v.VCPU, v.MemoryMiB, v.DiskGiB), nil
}

func checkQuota(vdc *store.VDC, over bool, what string, want, limit int) error {
	if !over {
		return nil
	}
	return api.Errorf(http.StatusForbidden, api.CodeQuotaExceeded,
		"VDC %q would hold %d %s, above its quota of %d: delete something or ask for a higher quota", vdc.Name, want, what, limit)
}

// createVMs validates a create, places the VMs and records them with their
// operations in one transaction, so quotas and capacity hold under any
// number of concurrent creates.
func (s *Server) createVMs(ctx context.Context, in *vmCreateIn) (*vmCreatedOut, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	b := in.Body
	count := max(b.Count, 1)
	names := []string{b.Name}
	if count > 1 {
		names = names[:0]
		for i := 1; i <= count; i++ {
			names = append(names, fmt.Sprintf("%s-%d", b.Name, i))
		}
	}
	for _, n := range names {
		if store.IsID(n) || len(n) > 63 {
			return nil, api.Errorf(http.StatusUnprocessableEntity, api.CodeValidation, "VM name %q is not usable: choose a shorter name that is not shaped like an ID", n)
		}
	}
	if err := validateLabels(b.Labels); err != nil {
		return nil, err
	}
	if err := validateSSHKeyEntries(b.SSHKeys); err != nil {
		return nil, err
	}
	power := store.PowerRunning
	if b.PowerOn != nil && !*b.PowerOn {
		power = store.PowerStopped
	}
	var out api.VMCreated
	hosts := map[string]bool{}
	err = s.store.Tx(ctx, func(tx *store.Tx) error {
		out = api.VMCreated{}
		clear(hosts)
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
		vdc, err := s.vdcForCreate(ctx, tx, o, b.VDC)
		if err != nil {
			return err
		}
		sshKeys, err := resolveSSHKeys(ctx, tx, o, b.SSHKeys)
		if err != nil {
			return err
		}
		size, err := tx.GetSize(ctx, b.Size)
		if errors.Is(err, store.ErrNotFound) || err == nil && size.Deprecated {
			return fieldError("body.size", b.Size, "size %q is not offered (GET /api/v1/sizes lists them)", b.Size)
		}
		if err != nil {
			return err
		}
		im, err := s.imageForCreate(ctx, tx, o, b.Image)
		if err != nil {
			return err
		}
		disk := max(size.DiskGiB, im.MinDiskGiB)
		pol := api.Residency{Jurisdictions: o.Residency.Jurisdictions, Regions: o.Residency.Regions}
		if !pol.Allows(vdc.RegionID, vdc.Jurisdiction) {
			z, err := tx.GetZone(ctx, vdc.ZoneID)
			if err != nil {
				return err
			}
			return vdcResidencyError(o, z)
		}
		used, err := s.vdcUsage(ctx, tx, vdc.ID)
		if err != nil {
			return err
		}
		if len(b.Disks) > 0 && count > 1 {
			return fieldError("body.disks", "", "a disk attaches to one VM: create VMs with disks one at a time (count 1)")
		}
		disks, diskHost, err := disksForCreate(ctx, tx, o, vdc, b.Disks)
		if err != nil {
			return err
		}
		q := vdc.Quotas
		if err := checkQuota(vdc, used.VMs+count > q.VMs, "VMs", used.VMs+count, q.VMs); err != nil {
			return err
		}
		if err := checkQuota(vdc, used.VCPU+count*size.VCPU > q.VCPU, "vCPU", used.VCPU+count*size.VCPU, q.VCPU); err != nil {
			return err
		}
		mem := used.MemoryMiB + int64(count)*size.MemoryMiB
		if err := checkQuota(vdc, mem > q.MemoryMiB, "MiB of memory", int(mem), int(q.MemoryMiB)); err != nil {
			return err
		}
		dsk := used.DiskGiB + int64(count)*disk
		if err := checkQuota(vdc, dsk > q.DiskGiB, "GiB of disk", int(dsk), int(q.DiskGiB)); err != nil {
			return err
		}
		req := scheduler.Request{VCPU: size.VCPU, MemoryMiB: size.MemoryMiB, DiskGiB: disk, Zones: []string{vdc.ZoneID},
			AntiAffinity: b.AntiAffinityGroup}
		// The scheduler ANDs jurisdictions and regions; the policy ORs
		// them. With one kind of list they agree, and the check above
		// already decided the zone, so pass the policy on as a second line.
		if len(pol.Jurisdictions) == 0 || len(pol.Regions) == 0 {
			req.Residency = scheduler.Residency{Jurisdictions: pol.Jurisdictions, Regions: pol.Regions}
		}
		decisions, err := s.place(ctx, tx, o.ID, req, count, diskHost)
		if err != nil {
			return err
		}
		for i, d := range decisions {
			hostname := b.Hostname
			if hostname == "" || count > 1 {
				hostname = names[i]
			}
			v := &store.VM{Meta: store.Meta{Labels: b.Labels}, OrgID: o.ID, VDCID: vdc.ID, Name: names[i], Hostname: hostname,
				ImageID: im.ID, SizeID: size.ID, VCPU: size.VCPU, MemoryMiB: size.MemoryMiB, DiskGiB: disk, HostID: d.HostID,
				AntiAffinity: b.AntiAffinityGroup, SSHKeys: sshKeys, UserData: b.UserData, Power: power,
				StopTimeout: defaultStopTimeout, State: api.VMCreating}
			if err := tx.CreateVM(ctx, v); err != nil {
				return conflictOr(err, api.CodeAlreadyExists, "organisation %q already has a VM named %q", o.Name, v.Name)
			}
			if err := metering.VMCreated(ctx, tx, v); err != nil {
				return err
			}
			nics, err := s.attachNICs(ctx, tx, v, b.Networks, b.PublicIP)
			if err != nil {
				return err
			}
			for _, k := range disks {
				if err := tx.AttachDisk(ctx, k, v); err != nil {
					return conflictOr(err, api.CodeDiskAttached, "disk %q changed while attaching it: try again", k.Name)
				}
				if err := s.audit(ctx, tx, "disk.attach", "disk", k.ID, o.ID, fmt.Sprintf("%s to new VM %s on host %s", k.Name, v.Name, v.HostID)); err != nil {
					return err
				}
			}
			peers, err := s.peerHosts(ctx, tx, v)
			if err != nil {
				return err
			}
			for _, h := range peers {
				hosts[h] = true
			}
			v.VDCName, v.ZoneID, v.RegionID, v.Jurisdiction, v.HostState = vdc.Name, vdc.ZoneID, vdc.RegionID, vdc.Jurisdiction, api.HostReady
			in, _ := json.Marshal(vmOpInput{Generation: v.Generation})
			op := &store.Operation{OrgID: o.ID, Kind: opVMCreate, TargetKind: "vm", TargetID: v.ID, CreatedBy: p.UserID, Input: string(in)}
			if err := s.ops.Enqueue(ctx, tx, op); err != nil {
				return err
			}
			detail := fmt.Sprintf("%s: %s from image %s in VDC %s on host %s, operation %s", v.Name, size.ID, im.Name, vdc.Name, d.HostID, op.ID)
			if err := s.audit(ctx, tx, "vm.create", "vm", v.ID, o.ID, detail); err != nil {
				return err
			}
			created := vmOf(v)
			created.NICs = nics
			for _, k := range disks {
				created.Disks = append(created.Disks, api.VMDisk{ID: k.ID, Name: k.Name, SizeGiB: k.SizeGiB})
			}
			out.VMs = append(out.VMs, created)
			out.Operations = append(out.Operations, operation.ToAPI(op))
			hosts[d.HostID] = true
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for h := range hosts {
		s.hub.kickHost(h)
	}
	s.ops.Kick()
	return &vmCreatedOut{Location: "/api/v1/operations/" + out.Operations[0].ID, Body: out}, nil
}

// place runs the scheduler over the hosts of the request's zones as the
// transaction sees them; only over host onlyHost when it is set (the host
// holding the VM's data disks).
func (s *Server) place(ctx context.Context, tx *store.Tx, orgID string, req scheduler.Request, count int, onlyHost string) ([]scheduler.Decision, error) {
	rows, err := tx.PlacementHosts(ctx, req.Zones)
	if err != nil {
		return nil, err
	}
	if onlyHost != "" {
		rows = slices.DeleteFunc(rows, func(h store.PlacementHost) bool { return h.ID != onlyHost })
	}
	// Data disks take room on their hosts too.
	data, err := tx.DataDiskGiBByHost(ctx)
	if err != nil {
		return nil, err
	}
	for i := range rows {
		rows[i].Used.DiskGiB += data[rows[i].ID]
	}
	hosts := make([]scheduler.Host, len(rows))
	for i, h := range rows {
		hosts[i] = scheduler.Host{ID: h.ID, Zone: h.ZoneID, Region: h.RegionID, Jurisdiction: h.Jurisdiction, State: h.State,
			Capacity:   scheduler.Resources{VCPU: h.VCPU, MemoryMiB: h.MemoryMiB, DiskGiB: h.DiskGiB},
			Overcommit: scheduler.Overcommit{CPU: h.CPUOvercommit, Memory: h.MemoryOvercommit},
			Used:       scheduler.Resources{VCPU: h.Used.VCPU, MemoryMiB: h.Used.MemoryMiB, DiskGiB: h.Used.DiskGiB},
			Labels:     h.Labels}
	}
	var groups map[string]map[string]int
	if req.AntiAffinity != "" {
		members, err := tx.GroupHosts(ctx, orgID, req.AntiAffinity)
		if err != nil {
			return nil, err
		}
		groups = map[string]map[string]int{req.AntiAffinity: members}
	}
	snap, err := scheduler.NewSnapshot(hosts, groups)
	if err != nil {
		return nil, err
	}
	decisions, err := scheduler.PlaceMany(snap, req, count, s.cfg.Placement)
	var nce *scheduler.NoCapacityError
	if errors.As(err, &nce) {
		return nil, api.Errorf(http.StatusConflict, api.CodeNoCapacity, "%v", err)
	}
	return decisions, err
}

// vdcForCreate resolves the VDC a new resource goes in: the one named, or
// the organisation's only VDC.
func (s *Server) vdcForCreate(ctx context.Context, tx *store.Tx, o *store.Org, ref string) (*store.VDC, error) {
	if ref == "" {
		vdcs, _, err := tx.ListVDCs(ctx, o.ID, store.Page{Limit: 2})
		if err != nil {
			return nil, err
		}
		if len(vdcs) != 1 {
			return nil, fieldError("body.vdc", "", "organisation %q has %d VDCs: name one", o.Name, len(vdcs))
		}
		ref = vdcs[0].ID
	}
	vdc, err := tx.GetVDC(ctx, o.ID, ref)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fieldError("body.vdc", ref, "organisation %q has no VDC %q", o.Name, ref)
	}
	if err != nil {
		return nil, err
	}
	if vdc.State == store.VDCDeleting {
		return nil, api.Errorf(http.StatusConflict, api.CodeConflict, "VDC %q is being deleted", vdc.Name)
	}
	return vdc, nil
}

// imageForCreate resolves an image: the organisation's own first, then the
// public catalog. It must be available.
func (s *Server) imageForCreate(ctx context.Context, tx *store.Tx, o *store.Org, ref string) (*store.Image, error) {
	im, err := tx.GetImage(ctx, o.ID, ref)
	if errors.Is(err, store.ErrNotFound) {
		im, err = tx.GetImage(ctx, "", ref)
	}
	if errors.Is(err, store.ErrNotFound) {
		return nil, fieldError("body.image", ref, "image %q is neither organisation %q's nor in the public catalog (GET /api/v1/images lists it)", ref, o.Name)
	}
	if err != nil {
		return nil, err
	}
	if im.State != api.ImageAvailable {
		return nil, api.Errorf(http.StatusConflict, api.CodeImageNotAvailable, "image %q is %s, not available", im.Name, im.State)
	}
	return im, nil
}

// fieldError is a 422 naming one request field.
func fieldError(loc, value, format string, args ...any) *api.Error {
	e := api.Errorf(http.StatusUnprocessableEntity, api.CodeValidation, format, args...)
	e.Errors = []api.ErrorDetail{{Location: loc, Message: e.Detail, Value: value}}
	return e
}

// validateSSHKey accepts one OpenSSH public key line.
func validateSSHKey(k string) error {
	f := strings.Fields(k)
	switch {
	case strings.ContainsAny(k, "\r\n"):
		return errors.New("an SSH key is one line")
	case len(f) < 2:
		return errors.New("not an OpenSSH public key (want: type base64 [comment])")
	case !strings.HasPrefix(f[0], "ssh-") && !strings.HasPrefix(f[0], "ecdsa-") && !strings.HasPrefix(f[0], "sk-"):
		return fmt.Errorf("unknown key type %q", f[0])
	case len(k) > 16384:
		return errors.New("key too long")
	}
	return nil
}

// runVMWait is the runner of every VM operation: it waits until the VM's
// host reports having applied the operation's generation, reporting the
// host's progress, and fails with the host's message if the VM ended in
// error.
func (s *Server) runVMWait(ctx context.Context, op *store.Operation, progress operation.Progress) error {
	var in vmOpInput
	if err := json.Unmarshal([]byte(op.Input), &in); err != nil {
		return fmt.Errorf("operation %s input: %w", op.ID, err)
	}
	ctx, cancel := context.WithTimeout(ctx, vmOpTimeout)
	defer cancel()
	last := ""
	for {
		wake := s.hub.vmWait()
		var v *store.VM
		err := s.store.View(ctx, func(tx *store.Tx) error {
			var err error
			v, err = tx.GetVMByID(ctx, op.TargetID)
			return err
		})
		switch {
		case errors.Is(err, store.ErrNotFound) && op.Kind == opVMDelete:
			progress(100, "deleted")
			return nil
		case errors.Is(err, store.ErrNotFound):
			return api.Errorf(http.StatusConflict, api.CodeConflict, "the VM was deleted")
		case err != nil && ctx.Err() == nil:
			return err
		case err == nil:
			if done, err := vmOpDone(op.Kind, in, v); done {
				if err == nil {
					progress(100, v.State)
				}
				return err
			}
			pct, msg := vmProgress(op.Kind, v)
			if msg != last {
				progress(pct, msg)
				last = msg
			}
		}
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return api.Errorf(http.StatusGatewayTimeout, api.CodeUnavailable, "the VM's host did not apply the change within %v (%s)", vmOpTimeout, last)
			}
			return ctx.Err()
		case <-wake:
		case <-time.After(time.Second):
		}
	}
}

// vmOpDone says whether an operation's wait is over, and how it ended.
func vmOpDone(kind string, in vmOpInput, v *store.VM) (bool, error) {
	if kind != opVMDelete && v.Power == store.PowerDeleted {
		return true, api.Errorf(http.StatusConflict, api.CodeConflict, "the VM is being deleted")
	}
	if kind == opVMDelete || v.ObservedGeneration < in.Generation || v.HostState == api.HostDown {
		return false, nil
	}
	if v.State == api.VMError {
		return true, api.Errorf(http.StatusConflict, api.CodeVMFailed, "host %s: %s", v.HostID, v.Message)
	}
	return true, nil
}

// vmProgress turns the host's report into a percentage and a message.
func vmProgress(kind string, v *store.VM) (int, string) {
	if v.HostState == api.HostDown {
		return 5, fmt.Sprintf("host %s is down: waiting for it to report again", v.HostID)
	}
	pct := map[string]int{api.VMCreating: 30, api.VMStarting: 70, api.VMStopping: 50}[v.State]
	if pct == 0 {
		pct = 10
	}
	msg := v.State
	if v.Message != "" {
		msg += ": " + v.Message
	}
	if kind == opVMDelete {
		msg = "deleting on host " + v.HostID
	}
	return pct, msg
}
