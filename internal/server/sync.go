package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/api/agentapi"
	"github.com/sirocco-cloud/sirocco/internal/metering"
	"github.com/sirocco-cloud/sirocco/internal/store"
)

// syncHold is how long a sync long-poll waits for news before answering
// with the unchanged desired state.
const syncHold = 25 * time.Second

// agentSync records a host's report (observed VMs, snapshots, cached images)
// and answers with the desired state of every VM placed on it, holding the
// answer while nothing has changed since the generation the agent has.
func (s *Server) agentSync(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	h := s.agentHost(w, r)
	if h == nil {
		return
	}
	var req agentapi.SyncRequest
	if e := readAgent(r, &req, func() int { return req.Protocol }); e != nil {
		writeProblem(w, r, e)
		return
	}
	changed, err := s.recordObserved(ctx, h.ID, &req)
	if err != nil {
		writeProblem(w, r, s.apiError(ctx, err).(*api.Error))
		return
	}
	if changed {
		s.hub.vmsChanged()
	}
	if req.Wait {
		s.holdSync(ctx, h.ID, req.Generation)
	}
	resp, err := s.desired(ctx, h.ID)
	if err != nil {
		writeProblem(w, r, s.apiError(ctx, err).(*api.Error))
		return
	}
	writeAgent(w, resp)
}

// holdSync waits until host's generation moves past gen, a console is asked
// for, syncHold passes or the agent goes away. News from this replica wakes
// it at once; news from other replicas within a second.
func (s *Server) holdSync(ctx context.Context, host string, gen int64) {
	deadline := time.NewTimer(syncHold)
	defer deadline.Stop()
	for {
		wake := s.hub.hostWait(host)
		if s.consoles.pending(host) {
			return
		}
		var now int64
		err := s.store.View(ctx, func(tx *store.Tx) error {
			var err error
			now, err = tx.HostGeneration(ctx, host)
			return err
		})
		if err != nil || now != gen {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-deadline.C:
			return
		case <-wake:
		case <-time.After(time.Second):
		}
	}
}

// recordObserved stores a host's report. A VM being deleted that the host
// no longer has is gone: its row goes. Snapshots the host has become ready;
// snapshots being deleted that it no longer has go.
func (s *Server) recordObserved(ctx context.Context, hostID string, req *agentapi.SyncRequest) (bool, error) {
	changed := false
	err := s.store.Tx(ctx, func(tx *store.Tx) error {
		changed = false
		reported := map[string]*agentapi.ObservedVM{}
		for i := range req.VMs {
			o := &req.VMs[i]
			reported[o.ID] = o
		}
		vms, err := tx.HostVMs(ctx, hostID)
		if err != nil {
			return err
		}
		snapshots, err := tx.HostSnapshots(ctx, hostID)
		if err != nil {
			return err
		}
		for i := range vms {
			v := &vms[i]
			o, ok := reported[v.ID]
			if !ok {
				if v.Power == store.PowerDeleted {
					if err := metering.VMDeleted(ctx, tx, v); err != nil {
						return err
					}
					// The other hosts of its networks drop its lease.
					peers, err := s.peerHosts(ctx, tx, v)
					if err != nil {
						return err
					}
					for _, h := range peers {
						if err := tx.BumpHostGeneration(ctx, h); err != nil {
							return err
						}
					}
					if err := tx.DeleteVM(ctx, v.ID); err != nil {
						return err
					}
					if err := s.auditAsSystem(ctx, tx, "vm.deleted", "vm", v.ID, v.OrgID,
						fmt.Sprintf("%s removed from host %s", v.Name, hostID)); err != nil {
						return err
					}
					changed = true
				}
				continue
			}
			before := v.State + "\x00" + v.Message + fmt.Sprint(v.ObservedGeneration)
			nv, err := tx.ObserveVM(ctx, hostID, store.ObservedVM{ID: o.ID, State: o.State, Message: o.Message, Generation: o.Generation})
			if err != nil {
				return err
			}
			if nv.State+"\x00"+nv.Message+fmt.Sprint(nv.ObservedGeneration) != before {
				changed = true
			}
			if err := metering.VMObserved(ctx, tx, v, nv); err != nil {
				return err
			}
			if o.TxBytes > 0 {
				// A reading at the same instant twice is a replay; one
				// older than the last is stale: neither counts.
				if _, err := tx.RecordVMEgress(ctx, v, tx.Now(), o.TxBytes); err != nil && !errors.Is(err, store.ErrConflict) {
					return err
				}
			}
			// A running VM whose host reports it stopped, with nothing asked
			// of it since, was powered off from inside (poweroff, a
			// shutdown): it stays off, as on any cloud, rather than being
			// started again.
			if v.Power == store.PowerRunning && v.State == api.VMRunning && o.State == api.VMStopped && o.Generation >= v.Generation {
				nv.Power = store.PowerStopped
				if err := tx.UpdateVM(ctx, nv, true); err != nil {
					return err
				}
				if err := s.auditAsSystem(ctx, tx, "vm.guest-poweroff", "vm", v.ID, v.OrgID, v.Name+" powered off from inside the guest"); err != nil {
					return err
				}
			}
			snaps := snapshots[v.ID]
			for j := range snaps {
				sn := &snaps[j]
				has := slices.Contains(o.Snapshots, sn.Name)
				switch {
				case sn.State == store.SnapshotCreating && has:
					sn.State = store.SnapshotReady
					if err = tx.UpdateSnapshot(ctx, sn); err == nil {
						err = metering.SnapshotReady(ctx, tx, nv, sn)
					}
				case sn.State == store.SnapshotCreating && o.Generation >= v.Generation && o.State == api.VMError:
					sn.State = store.SnapshotError
					err = tx.UpdateSnapshot(ctx, sn)
				case sn.State == store.SnapshotDeleting && !has:
					if err = metering.SnapshotDeleted(ctx, tx, sn); err == nil {
						err = tx.DeleteSnapshot(ctx, sn.ID)
					}
				default:
					continue
				}
				if err != nil {
					return err
				}
				changed = true
			}
		}
		gone, err := s.recordDisks(ctx, tx, hostID, req.Disks)
		if err != nil {
			return err
		}
		changed = changed || gone
		return tx.SetImageCopies(ctx, hostID, req.Images)
	})
	return changed, err
}

// desired builds a host's SyncResponse.
func (s *Server) desired(ctx context.Context, hostID string) (*agentapi.SyncResponse, error) {
	resp := &agentapi.SyncResponse{VMs: []agentapi.DesiredVM{}}
	err := s.store.View(ctx, func(tx *store.Tx) error {
		var err error
		if resp.Generation, err = tx.HostGeneration(ctx, hostID); err != nil {
			return err
		}
		vms, err := tx.HostVMs(ctx, hostID)
		if err != nil {
			return err
		}
		nets, nics, uplinks, err := s.hostNetworks(ctx, tx, hostID)
		if err != nil {
			return err
		}
		resp.Networks, resp.Uplinks = nets, uplinks
		disks, vmDisks, err := hostDisks(ctx, tx, hostID)
		if err != nil {
			return err
		}
		resp.Disks = disks
		snapshots, err := tx.HostSnapshots(ctx, hostID)
		if err != nil {
			return err
		}
		images := map[string]*agentapi.Image{}
		for i := range vms {
			v := &vms[i]
			im, ok := images[v.ImageID]
			if !ok {
				si, err := tx.GetImageByID(ctx, v.ImageID)
				if err != nil {
					return fmt.Errorf("image of vm %s: %w", v.ID, err)
				}
				im = &agentapi.Image{ID: si.ID, Kind: si.Kind, Cmdline: si.Cmdline}
				for _, f := range si.Files {
					im.Files = append(im.Files, agentapi.ImageFile{Name: f.Name, Size: f.Size, SHA256: f.SHA256})
				}
				images[v.ImageID] = im
			}
			snaps := snapshots[v.ID]
			d := agentapi.DesiredVM{ID: v.ID, Generation: v.Generation, Power: v.Power, Name: v.Name, Hostname: v.Hostname,
				VCPU: v.VCPU, MemoryMiB: v.MemoryMiB, DiskGiB: v.DiskGiB, Image: *im, SSHKeys: v.SSHKeys, UserData: v.UserData,
				Snapshots: []string{}, StopTimeoutSeconds: v.StopTimeout, RebootAt: v.RebootAt, ForceOffAt: v.ForceOffAt,
				RevertAt: v.RevertAt, RevertTo: v.RevertTo, NICs: nics[v.ID], Disks: vmDisks[v.ID]}
			for _, sn := range snaps {
				if sn.State != store.SnapshotDeleting && sn.State != store.SnapshotError {
					d.Snapshots = append(d.Snapshots, sn.Name)
				}
			}
			resp.VMs = append(resp.VMs, d)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	resp.Consoles = s.consoles.forHost(hostID)
	return resp, nil
}

// errNoAgent is a console asked of a host whose agent did not connect.
var errNoAgent = errors.New("the VM's host did not connect the console")
