package agent

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/api/agentapi"
	"github.com/sirocco-cloud/sirocco/internal/compute"
)

// diskState is what the reconciler knows of the host's data disks (under
// Reconciler.mu).
type diskState struct {
	have    map[string]compute.Disk // disk ID -> its file, as last ensured or listed
	ignored map[string]bool         // files the control plane never named, logged once
	warned  bool                    // "no data disks on this host" logged
}

// ApplyDisks makes the host's data disk files what the control plane
// wants: missing ones are created, smaller ones grown (never shrunk), those
// marked Deleted removed. It runs before the VMs are applied, so that a VM
// starts with its disks there. A file the list does not name is kept and
// logged: the host never guesses a deletion. Failures are logged and tried
// again at the next sync, level-triggered; deleting a disk still attached
// to a VM on the host fails until that VM lets go of it.
func (r *Reconciler) ApplyDisks(ctx context.Context, desired []agentapi.DesiredDisk) {
	dd, ok := r.driver.(compute.DataDisks)
	if !ok {
		if len(desired) > 0 {
			r.mu.Lock()
			warn := !r.disks.warned
			r.disks.warned = true
			r.mu.Unlock()
			if warn {
				r.log.Warn("this host's driver keeps no data disks; VMs with disks will fail", "disks", len(desired))
			}
		}
		return
	}
	named := map[string]bool{}
	for _, d := range desired {
		named[d.ID] = true
		if !compute.ValidID(d.ID) {
			r.log.Warn("desired disk with an invalid id", "disk", d.ID)
			continue
		}
		if d.Deleted {
			if err := dd.DeleteDisk(ctx, d.ID); err != nil {
				r.log.Warn("delete disk", "disk", d.ID, "err", err)
				continue
			}
			r.mu.Lock()
			_, had := r.disks.have[d.ID]
			delete(r.disks.have, d.ID)
			r.mu.Unlock()
			if had {
				r.log.Info("disk deleted", "disk", d.ID)
			}
			continue
		}
		r.mu.Lock()
		cur, known := r.disks.have[d.ID]
		r.mu.Unlock()
		if known && cur.SizeGiB >= d.SizeGiB {
			continue // nothing to do: spare qemu-img a call per sync
		}
		disk, err := dd.EnsureDisk(ctx, d.ID, d.SizeGiB)
		if err != nil {
			r.log.Warn("ensure disk", "disk", d.ID, "size_gib", d.SizeGiB, "err", err)
			continue
		}
		r.mu.Lock()
		r.disks.have[d.ID] = disk
		r.mu.Unlock()
	}
	list, err := dd.ListDisks(ctx)
	if err != nil {
		r.log.Warn("list disks", "err", err)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	clear(r.disks.have)
	for _, d := range list {
		r.disks.have[d.ID] = d
		if !named[d.ID] && !r.disks.ignored[d.ID] {
			r.disks.ignored[d.ID] = true
			r.log.Info("disk file not known to the control plane; keeping it", "disk", d.ID, "path", d.Path)
		}
	}
}

// ObserveDisks reports the data disks whose files the host has, as of the
// last ApplyDisks (or, before the first, of loadDisks).
func (r *Reconciler) ObserveDisks(ctx context.Context) []agentapi.ObservedDisk {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]agentapi.ObservedDisk, 0, len(r.disks.have))
	for _, d := range r.disks.have {
		out = append(out, agentapi.ObservedDisk{ID: d.ID, SizeGiB: d.SizeGiB})
	}
	slices.SortFunc(out, func(a, b agentapi.ObservedDisk) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// loadDisks fills the known disks from the driver, for the first report
// after a start.
func (r *Reconciler) loadDisks(ctx context.Context) {
	dd, ok := r.driver.(compute.DataDisks)
	if !ok {
		return
	}
	list, err := dd.ListDisks(ctx)
	if err != nil {
		r.log.Warn("list disks", "err", err)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, d := range list {
		r.disks.have[d.ID] = d
	}
}

// dataDisks are the files of the data disks ids, in order, for a VM's spec.
func (r *Reconciler) dataDisks(ids []string) ([]compute.Disk, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	if _, ok := r.driver.(compute.DataDisks); !ok {
		return nil, errors.New("data disks not supported on this host")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]compute.Disk, 0, len(ids))
	for _, id := range ids {
		d, ok := r.disks.have[id]
		if !ok {
			return nil, fmt.Errorf("disk %s is not on this host", id)
		}
		out = append(out, d)
	}
	return out, nil
}

// attach gives a stopped VM the data disks it should have. Attachments
// change only while the VM is stopped (the control plane enforces it); a
// running VM whose list differs keeps its disks until it stops.
func (w *worker) attach(ctx context.Context, spec compute.Spec, stopped bool) error {
	want, err := w.r.dataDisks(w.d.Disks)
	if err != nil {
		return err
	}
	same := slices.EqualFunc(spec.Disks, want, func(a, b compute.Disk) bool { return a.ID == b.ID && a.Path == b.Path })
	if same {
		return nil
	}
	if !stopped {
		w.r.log.Info("disk attachments wait for the vm to stop", "vm", w.d.ID)
		return nil
	}
	dd, ok := w.r.driver.(compute.DataDisks)
	if !ok {
		return errors.New("data disks not supported on this host")
	}
	w.doing(api.VMStopped, "attaching disks")
	return dd.SetDisks(ctx, w.d.ID, want)
}
