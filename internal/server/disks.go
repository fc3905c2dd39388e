package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/danielgtaylor/huma/v2"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/api/agentapi"
	"github.com/sirocco-cloud/sirocco/internal/metering"
	"github.com/sirocco-cloud/sirocco/internal/store"
)

func diskOf(k *store.Disk) api.Disk {
	return api.Disk{Meta: metaOf(k.Meta), Org: k.OrgID, VDC: k.VDCName, Region: k.RegionID, Name: k.Name, SizeGiB: k.SizeGiB,
		State: k.State, VM: k.VMID, VMName: k.VMName, Host: k.HostID}
}

// vmDisksOf converts a VM's disks (tx.VMDisks) for api.VM.Disks.
func vmDisksOf(ks []store.Disk) []api.VMDisk {
	var out []api.VMDisk
	for _, k := range ks {
		out = append(out, api.VMDisk{ID: k.ID, Name: k.Name, SizeGiB: k.SizeGiB})
	}
	return out
}

type (
	diskPath struct {
		Org  string `path:"org" maxLength:"200" doc:"Organisation ID or name"`
		Disk string `path:"disk" maxLength:"200" doc:"Disk ID or name"`
	}
	diskListIn struct {
		Org string `path:"org" maxLength:"200" doc:"Organisation ID or name"`
		VDC string `query:"vdc" maxLength:"200" doc:"Keep the disks of this VDC (ID or name)"`
		VM  string `query:"vm" maxLength:"200" doc:"Keep the disks attached to this VM (ID or name)"`
		ListParams
	}
	diskCreateIn struct {
		Org  string `path:"org" maxLength:"200" doc:"Organisation ID or name"`
		Body api.DiskCreate
	}
	diskUpdateIn struct {
		Org     string `path:"org" maxLength:"200" doc:"Organisation ID or name"`
		Disk    string `path:"disk" maxLength:"200" doc:"Disk ID or name"`
		IfMatch string `header:"If-Match" doc:"ETag from a previous read; the update fails with 412 if the disk changed since"`
		Body    api.DiskUpdate
	}
	diskAttachIn struct {
		Org  string `path:"org" maxLength:"200" doc:"Organisation ID or name"`
		Disk string `path:"disk" maxLength:"200" doc:"Disk ID or name"`
		Body api.DiskAttach
	}
)

func (s *Server) diskRoutes() {
	tags := []string{"Disks"}
	base := "/api/v1/orgs/{org}/disks"

	register(s, huma.Operation{OperationID: "list-disks", Method: http.MethodGet, Path: base, Summary: "List data disks", Tags: tags},
		func(ctx context.Context, in *diskListIn) (*listOut[api.Disk], error) {
			return listInOrg(ctx, s, in.Org, in.ListParams, canRead, func(tx *store.Tx, o *store.Org, pg store.Page) ([]store.Disk, string, error) {
				f := store.DiskFilter{OrgID: o.ID}
				if in.VDC != "" {
					v, err := tx.GetVDC(ctx, o.ID, in.VDC)
					if err != nil {
						return nil, "", notFoundOr(err, "VDC", in.VDC)
					}
					f.VDCID = v.ID
				}
				if in.VM != "" {
					v, err := tx.GetVM(ctx, o.ID, in.VM)
					if err != nil {
						return nil, "", notFoundOr(err, "VM", in.VM)
					}
					f.VMID = v.ID
				}
				return tx.ListDisks(ctx, f, pg)
			}, diskOf)
		})

	register(s, huma.Operation{OperationID: "get-disk", Method: http.MethodGet, Path: base + "/{disk}", Summary: "Get a data disk", Tags: tags},
		func(ctx context.Context, in *diskPath) (*bodyOut[api.Disk], error) {
			k, err := readInOrg(ctx, s, in.Org, "disk", in.Disk, (*store.Tx).GetDisk)
			if err != nil {
				return nil, err
			}
			return &bodyOut[api.Disk]{ETag: etag(k.Version), Body: diskOf(k)}, nil
		})

	register(s, huma.Operation{OperationID: "create-disk", Method: http.MethodPost, Path: base, Summary: "Create a data disk",
		Description: "Needs the org-member role or higher. Makes an empty disk in a VDC, charged per GiB-hour until deleted. " +
			"Its size counts against the VDC's disk quota with the VMs' root disks (403 quota_exceeded). " +
			"The disk has no host until it is first attached; from then on it attaches only to VMs on that host.",
		Tags: tags, DefaultStatus: http.StatusCreated},
		func(ctx context.Context, in *diskCreateIn) (*createdOut[api.Disk], error) {
			p, err := principal(ctx)
			if err != nil {
				return nil, err
			}
			b := in.Body
			if store.IsID(b.Name) {
				return nil, fieldError("body.name", b.Name, "disk name %q has the shape of an ID: choose another", b.Name)
			}
			if err := validateLabels(b.Labels); err != nil {
				return nil, err
			}
			var k *store.Disk
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
				vdc, err := s.vdcForCreate(ctx, tx, o, b.VDC)
				if err != nil {
					return err
				}
				if err := s.checkDiskQuota(ctx, tx, vdc, b.SizeGiB); err != nil {
					return err
				}
				// A name clash answers before the insert: on PostgreSQL a
				// failed statement would end the transaction.
				if _, err := tx.GetDisk(ctx, o.ID, b.Name); err == nil {
					return api.Errorf(http.StatusConflict, api.CodeAlreadyExists, "organisation %q already has a disk named %q", o.Name, b.Name)
				} else if !errors.Is(err, store.ErrNotFound) {
					return err
				}
				k = &store.Disk{Meta: store.Meta{Labels: b.Labels}, OrgID: o.ID, VDCID: vdc.ID, Name: b.Name, SizeGiB: b.SizeGiB}
				if err := tx.CreateDisk(ctx, k); err != nil {
					return conflictOr(err, api.CodeAlreadyExists, "organisation %q already has a disk named %q", o.Name, b.Name)
				}
				k.VDCName, k.RegionID = vdc.Name, vdc.RegionID
				if err := metering.DiskCreated(ctx, tx, k); err != nil {
					return err
				}
				return s.audit(ctx, tx, "disk.create", "disk", k.ID, o.ID, fmt.Sprintf("%s: %d GiB in VDC %s", k.Name, k.SizeGiB, vdc.Name))
			})
			if err != nil {
				return nil, err
			}
			return &createdOut[api.Disk]{Location: "/api/v1/orgs/" + k.OrgID + "/disks/" + k.ID, ETag: etag(k.Version), Body: diskOf(k)}, nil
		})

	register(s, huma.Operation{OperationID: "update-disk", Method: http.MethodPatch, Path: base + "/{disk}", Summary: "Relabel or grow a data disk",
		Description: "Needs the org-member role or higher. size_gib only grows (409 disk_shrink), within the VDC's disk quota; " +
			"an attached disk grows only while its VM is stopped (409 vm_not_stopped). The guest grows its file system itself.",
		Tags: tags},
		func(ctx context.Context, in *diskUpdateIn) (*bodyOut[api.Disk], error) {
			p, err := principal(ctx)
			if err != nil {
				return nil, err
			}
			if l := in.Body.Labels; l != nil {
				if err := validateLabels(*l); err != nil {
					return nil, err
				}
			}
			var k *store.Disk
			var host string
			err = s.store.Tx(ctx, func(tx *store.Tx) error {
				host = ""
				o, err := s.orgFor(ctx, tx, p, in.Org, canWrite)
				if err != nil {
					return err
				}
				if k, err = tx.GetDisk(ctx, o.ID, in.Disk); err != nil {
					return notFoundOr(err, "disk", in.Disk)
				}
				if err := checkIfMatch(in.IfMatch, k.Version); err != nil {
					return err
				}
				if err := requireDiskLive(k); err != nil {
					return err
				}
				what := "labels"
				if l := in.Body.Labels; l != nil {
					k.Labels = *l
				}
				grow := in.Body.SizeGiB != nil && *in.Body.SizeGiB != k.SizeGiB
				if grow {
					want := *in.Body.SizeGiB
					if want < k.SizeGiB {
						return api.Errorf(http.StatusConflict, api.CodeDiskShrink,
							"disk %q is %d GiB and cannot shrink to %d GiB: create a smaller disk and copy the data", k.Name, k.SizeGiB, want)
					}
					if k.VMID != "" {
						vm, err := tx.GetVMByID(ctx, k.VMID)
						if err != nil {
							return err
						}
						if err := requireVMOff(vm, "grow disk "+k.Name); err != nil {
							return err
						}
					}
					vdc, err := tx.GetVDC(ctx, o.ID, k.VDCID)
					if err != nil {
						return err
					}
					if err := s.checkDiskQuota(ctx, tx, vdc, want-k.SizeGiB); err != nil {
						return err
					}
					what = fmt.Sprintf("grown from %d to %d GiB", k.SizeGiB, want)
					k.SizeGiB = want
				}
				if err := tx.UpdateDisk(ctx, k); err != nil {
					return err
				}
				if grow {
					if err := metering.DiskResized(ctx, tx, k); err != nil {
						return err
					}
					if k.HostID != "" {
						host = k.HostID
						if err := tx.BumpHostGeneration(ctx, host); err != nil {
							return err
						}
					}
				}
				return s.audit(ctx, tx, "disk.update", "disk", k.ID, o.ID, k.Name+": "+what)
			})
			if err != nil {
				return nil, err
			}
			if host != "" {
				s.hub.kickHost(host)
			}
			return &bodyOut[api.Disk]{ETag: etag(k.Version), Body: diskOf(k)}, nil
		})

	register(s, huma.Operation{OperationID: "delete-disk", Method: http.MethodDelete, Path: base + "/{disk}", Summary: "Delete a data disk",
		Description: "Needs the org-member role or higher. Refused with 409 disk_attached while attached: detach it first. " +
			"Billing stops and the name is free at once; the disk shows as deleting until its host has removed the file.",
		Tags: tags, DefaultStatus: http.StatusNoContent},
		func(ctx context.Context, in *diskPath) (*emptyOut, error) {
			p, err := principal(ctx)
			if err != nil {
				return nil, err
			}
			var host string
			err = s.store.Tx(ctx, func(tx *store.Tx) error {
				host = ""
				o, err := s.orgFor(ctx, tx, p, in.Org, canWrite)
				if err != nil {
					return err
				}
				k, err := tx.GetDisk(ctx, o.ID, in.Disk)
				if err != nil {
					return notFoundOr(err, "disk", in.Disk)
				}
				if k.State == store.DiskDeleting {
					return nil // already on its way out
				}
				if k.VMID != "" {
					return api.Errorf(http.StatusConflict, api.CodeDiskAttached, "disk %q is attached to VM %q: detach it first", k.Name, k.VMName)
				}
				if err := metering.DiskDeleted(ctx, tx, k); err != nil {
					return err
				}
				if k.HostID == "" {
					// Never attached: no host has a file to remove.
					if err := tx.RemoveDisk(ctx, k.ID); err != nil {
						return err
					}
				} else {
					if err := tx.MarkDiskDeleting(ctx, k); err != nil {
						return err
					}
					host = k.HostID
					if err := tx.BumpHostGeneration(ctx, host); err != nil {
						return err
					}
				}
				return s.audit(ctx, tx, "disk.delete", "disk", k.ID, o.ID, fmt.Sprintf("%s (%d GiB)", k.Name, k.SizeGiB))
			})
			if err == nil && host != "" {
				s.hub.kickHost(host)
			}
			return nil, err
		})

	register(s, huma.Operation{OperationID: "attach-disk", Method: http.MethodPost, Path: base + "/{disk}/attach", Summary: "Attach a data disk to a VM",
		Description: "Needs the org-member role or higher. The VM must be stopped (409 vm_not_stopped) and in the disk's VDC. " +
			"A disk attaches to one VM at a time (409 disk_attached); once attached it lives on that VM's host and attaches only to VMs there " +
			"(409 disk_on_other_host). It appears in the guest after the next start, after the VM's other disks (/dev/vdb first). " +
			"Attaching it again to the same VM changes nothing.",
		Tags: tags},
		func(ctx context.Context, in *diskAttachIn) (*bodyOut[api.Disk], error) {
			return s.diskAttachment(ctx, in.Org, in.Disk, in.Body.VM)
		})

	register(s, huma.Operation{OperationID: "detach-disk", Method: http.MethodPost, Path: base + "/{disk}/detach", Summary: "Detach a data disk",
		Description: "Needs the org-member role or higher. The VM must be stopped (409 vm_not_stopped). The disk keeps its data and its host. " +
			"Detaching a disk attached to no VM changes nothing.",
		Tags: tags},
		func(ctx context.Context, in *diskPath) (*bodyOut[api.Disk], error) {
			return s.diskAttachment(ctx, in.Org, in.Disk, "")
		})
}

// diskAttachment attaches disk diskRef to VM vmRef, or detaches it when
// vmRef is "", and bumps the VM's generation so its host hears of it.
func (s *Server) diskAttachment(ctx context.Context, orgRef, diskRef, vmRef string) (*bodyOut[api.Disk], error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	var k *store.Disk
	var host string
	err = s.store.Tx(ctx, func(tx *store.Tx) error {
		host = ""
		o, err := s.orgFor(ctx, tx, p, orgRef, canWrite)
		if err != nil {
			return err
		}
		if k, err = tx.GetDisk(ctx, o.ID, diskRef); err != nil {
			return notFoundOr(err, "disk", diskRef)
		}
		if err := requireDiskLive(k); err != nil {
			return err
		}
		var vm *store.VM
		action, detail := "disk.attach", ""
		if vmRef == "" {
			if k.VMID == "" {
				return nil // attached to nothing: nothing to do
			}
			if vm, err = tx.GetVMByID(ctx, k.VMID); err != nil {
				return err
			}
			if err := s.requireVMQuiet(ctx, tx, vm, "detach disk "+k.Name); err != nil {
				return err
			}
			if err := tx.DetachDisk(ctx, k); err != nil {
				return err
			}
			action, detail = "disk.detach", fmt.Sprintf("%s from VM %s", k.Name, vm.Name)
		} else {
			if vm, err = tx.GetVM(ctx, o.ID, vmRef); err != nil {
				return notFoundOr(err, "VM", vmRef)
			}
			if k.VMID == vm.ID {
				return nil // already there
			}
			if err := checkAttach(k, vm); err != nil {
				return err
			}
			if err := s.requireVMQuiet(ctx, tx, vm, "attach disk "+k.Name); err != nil {
				return err
			}
			if err := tx.AttachDisk(ctx, k, vm); err != nil {
				return conflictOr(err, api.CodeDiskAttached, "disk %q changed while attaching it: read it again", k.Name)
			}
			detail = fmt.Sprintf("%s to VM %s on host %s (position %d)", k.Name, vm.Name, vm.HostID, k.Position)
		}
		// The VM's desired state changed (its disk list): a new generation,
		// which bumps its host.
		if err := tx.UpdateVM(ctx, vm, true); err != nil {
			return err
		}
		host = vm.HostID
		return s.audit(ctx, tx, action, "disk", k.ID, o.ID, detail)
	})
	if err != nil {
		return nil, err
	}
	if host != "" {
		s.hub.kickHost(host)
	}
	return &bodyOut[api.Disk]{ETag: etag(k.Version), Body: diskOf(k)}, nil
}

// checkAttach says whether disk k may be attached to VM vm, whatever the
// VM's power: same VDC, free, and on the VM's host if bound to one.
func checkAttach(k *store.Disk, vm *store.VM) error {
	switch {
	case vm.Power == store.PowerDeleted:
		return api.Errorf(http.StatusConflict, api.CodeConflict, "VM %q is being deleted", vm.Name)
	case k.VDCID != vm.VDCID:
		return api.Errorf(http.StatusConflict, api.CodeConflict, "disk %q is in VDC %q and VM %q in VDC %q: a disk attaches to VMs of its own VDC",
			k.Name, k.VDCName, vm.Name, vm.VDCName)
	case k.VMID != "" && k.VMID != vm.ID:
		return api.Errorf(http.StatusConflict, api.CodeDiskAttached, "disk %q is attached to VM %q: detach it first", k.Name, k.VMName)
	case k.HostID != "" && k.HostID != vm.HostID:
		return api.Errorf(http.StatusConflict, api.CodeDiskOnOtherHost,
			"disk %q lives on host %s and VM %q runs on host %s: a disk attaches only to VMs of its host (create the VM with disks: [%q] to place it there)",
			k.Name, k.HostID, vm.Name, vm.HostID, k.Name)
	}
	return nil
}

// requireVMOff refuses a change of a VM's disks unless it is stopped, as
// asked and as its host reports.
func requireVMOff(vm *store.VM, what string) error {
	if vm.Power != store.PowerStopped || vm.State != api.VMStopped {
		return api.Errorf(http.StatusConflict, api.CodeVMNotStopped,
			"VM %q is %s: stop the VM first: disks attach while it is off (%s)", vm.Name, vm.State, what)
	}
	return nil
}

// requireVMQuiet is requireVMOff for a VM with no unfinished operation,
// whose generation an attachment may raise.
func (s *Server) requireVMQuiet(ctx context.Context, tx *store.Tx, vm *store.VM, what string) error {
	if vm.Power == store.PowerDeleted {
		return api.Errorf(http.StatusConflict, api.CodeConflict, "VM %q is being deleted", vm.Name)
	}
	if err := requireVMOff(vm, what); err != nil {
		return err
	}
	busy, err := s.vmBusy(ctx, tx, vm.ID)
	if err != nil {
		return err
	}
	if busy != nil {
		return api.Errorf(http.StatusConflict, api.CodeVMBusy, "VM %q is busy with %s (operation %s): wait for it to finish", vm.Name, busy.Kind, busy.ID)
	}
	return nil
}

func requireDiskLive(k *store.Disk) error {
	if k.State == store.DiskDeleting {
		return api.Errorf(http.StatusConflict, api.CodeConflict, "disk %q is being deleted", k.Name)
	}
	return nil
}

// vdcUsage is what a VDC holds against its quotas: its VMs, with its data
// disks counted in DiskGiB alongside the root disks.
func (s *Server) vdcUsage(ctx context.Context, tx *store.Tx, vdcID string) (store.Usage, error) {
	u, err := tx.VDCUsage(ctx, vdcID)
	if err != nil {
		return store.Usage{}, err
	}
	data, err := tx.VDCDiskGiB(ctx, vdcID)
	if err != nil {
		return store.Usage{}, err
	}
	u.DiskGiB += data
	return u, nil
}

// checkDiskQuota refuses more GiB of disk than the VDC's quota leaves.
func (s *Server) checkDiskQuota(ctx context.Context, tx *store.Tx, vdc *store.VDC, more int64) error {
	used, err := s.vdcUsage(ctx, tx, vdc.ID)
	if err != nil {
		return err
	}
	want := used.DiskGiB + more
	return checkQuota(vdc, want > vdc.Quotas.DiskGiB, "GiB of disk", int(want), int(vdc.Quotas.DiskGiB))
}

// disksForCreate resolves the data disks a new VM is to get (refs of
// api.VMCreate.Disks) and returns them with the host they bind the VM to
// ("" when none is bound yet).
func disksForCreate(ctx context.Context, tx *store.Tx, o *store.Org, vdc *store.VDC, refs []string) ([]*store.Disk, string, error) {
	var out []*store.Disk
	host := ""
	for i, ref := range refs {
		loc := fmt.Sprintf("body.disks[%d]", i)
		k, err := tx.GetDisk(ctx, o.ID, ref)
		if errors.Is(err, store.ErrNotFound) {
			return nil, "", fieldError(loc, ref, "no disk %q in the organisation (GET .../disks lists them)", ref)
		}
		if err != nil {
			return nil, "", err
		}
		if slices.ContainsFunc(out, func(d *store.Disk) bool { return d.ID == k.ID }) {
			return nil, "", fieldError(loc, ref, "disk %q is listed twice", k.Name)
		}
		if err := requireDiskLive(k); err != nil {
			return nil, "", err
		}
		switch {
		case k.VDCID != vdc.ID:
			return nil, "", fieldError(loc, ref, "disk %q is in VDC %q, not in the VM's (%q)", k.Name, k.VDCName, vdc.Name)
		case k.VMID != "":
			return nil, "", api.Errorf(http.StatusConflict, api.CodeDiskAttached, "disk %q is attached to VM %q: detach it first", k.Name, k.VMName)
		case k.HostID != "" && host != "" && k.HostID != host:
			return nil, "", api.Errorf(http.StatusConflict, api.CodeDiskOnOtherHost,
				"disks %q and %q live on different hosts (%s and %s): one VM can only have disks of one host", out[0].Name, k.Name, host, k.HostID)
		}
		if k.HostID != "" {
			host = k.HostID
		}
		out = append(out, k)
	}
	return out, host, nil
}

// hostDisks is the disk part of a host's desired state: every disk bound
// to it (deleting ones marked Deleted) and, per VM, its disks' IDs in
// order.
func hostDisks(ctx context.Context, tx *store.Tx, hostID string) ([]agentapi.DesiredDisk, map[string][]string, error) {
	disks, err := tx.HostDisks(ctx, hostID)
	if err != nil {
		return nil, nil, err
	}
	var out []agentapi.DesiredDisk
	byVM := map[string][]string{}
	for _, k := range disks {
		out = append(out, agentapi.DesiredDisk{ID: k.ID, SizeGiB: k.SizeGiB, Deleted: k.State == store.DiskDeleting})
		if k.VMID != "" && k.State != store.DiskDeleting {
			byVM[k.VMID] = append(byVM[k.VMID], k.ID) // in position order
		}
	}
	return out, byVM, nil
}

// recordDisks removes the rows of the host's deleting disks it no longer
// reports: their files are gone. It says whether any went.
func (s *Server) recordDisks(ctx context.Context, tx *store.Tx, hostID string, observed []agentapi.ObservedDisk) (bool, error) {
	disks, err := tx.HostDisks(ctx, hostID)
	if err != nil {
		return false, err
	}
	changed := false
	for _, k := range disks {
		if k.State != store.DiskDeleting || slices.ContainsFunc(observed, func(o agentapi.ObservedDisk) bool { return o.ID == k.ID }) {
			continue
		}
		if err := tx.RemoveDisk(ctx, k.ID); err != nil {
			return false, err
		}
		if err := s.auditAsSystem(ctx, tx, "disk.deleted", "disk", k.ID, k.OrgID, fmt.Sprintf("%s removed from host %s", k.Name, hostID)); err != nil {
			return false, err
		}
		changed = true
	}
	return changed, nil
}
