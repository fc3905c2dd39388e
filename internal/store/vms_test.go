package store_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/sirocco-cloud/sirocco/internal/store"
)

// computeFixture is a small cloud: two regions of one zone and one host
// each, two organisations with a VDC in each zone, a size and a public image.
type computeFixture struct {
	acme, other string // organisation IDs
	acmeDE      string // acme's VDC in zone de-1a (host h-de)
	acmeAU      string // acme's VDC in zone au-1a (host h-au)
	otherDE     string // other's VDC in zone de-1a
	image       string // public image
}

func newComputeFixture(t *testing.T, s *store.Store) computeFixture {
	t.Helper()
	ctx := context.Background()
	var f computeFixture
	err := s.Tx(ctx, func(tx *store.Tx) error {
		for _, r := range []struct{ region, jur, zone, host string }{
			{"de", "DE", "de-1a", "h-de"},
			{"au", "AU", "au-1a", "h-au"},
		} {
			if err := tx.CreateRegion(ctx, &store.Region{Meta: store.Meta{ID: r.region}, Jurisdiction: r.jur}); err != nil {
				return err
			}
			if err := tx.CreateZone(ctx, &store.Zone{Meta: store.Meta{ID: r.zone}, RegionID: r.region}); err != nil {
				return err
			}
			h := &store.Host{Meta: store.Meta{ID: r.host, Labels: map[string]string{"disk": "nvme"}}, ZoneID: r.zone, State: "ready",
				VCPU: 16, MemoryMiB: 65536, DiskGiB: 2000, CPUOvercommit: 4, MemoryOvercommit: 1}
			if err := tx.CreateHost(ctx, h); err != nil {
				return err
			}
		}
		if err := tx.CreateSize(ctx, &store.Size{Meta: store.Meta{ID: "small"}, VCPU: 1, MemoryMiB: 1024, DiskGiB: 10}); err != nil {
			return err
		}
		for _, o := range []struct {
			name string
			id   *string
		}{{"acme", &f.acme}, {"other", &f.other}} {
			org := &store.Org{Name: o.name, State: "active"}
			if err := tx.CreateOrg(ctx, org); err != nil {
				return err
			}
			*o.id = org.ID
		}
		for _, v := range []struct {
			org, name, zone string
			id              *string
		}{{f.acme, "main", "de-1a", &f.acmeDE}, {f.acme, "sydney", "au-1a", &f.acmeAU}, {f.other, "main", "de-1a", &f.otherDE}} {
			vdc := &store.VDC{OrgID: v.org, Name: v.name, ZoneID: v.zone, AllocationModel: "pay-as-you-go",
				Quotas: store.Quotas{VCPU: 100, MemoryMiB: 1 << 20, DiskGiB: 10000, VMs: 100}}
			if err := tx.CreateVDC(ctx, vdc); err != nil {
				return err
			}
			*v.id = vdc.ID
		}
		im := &store.Image{Name: "debian-12", Kind: "disk", State: "available"}
		if err := tx.CreateImage(ctx, im); err != nil {
			return err
		}
		f.image = im.ID
		return nil
	})
	if err != nil {
		t.Fatalf("fixture: %v", err)
	}
	return f
}

// vm makes an unsaved VM of organisation org in vdc on host.
func (f computeFixture) vm(org, vdc, host, name string) *store.VM {
	return &store.VM{OrgID: org, VDCID: vdc, Name: name, Hostname: name, ImageID: f.image, SizeID: "small",
		VCPU: 1, MemoryMiB: 1024, DiskGiB: 10, HostID: host, Power: store.PowerRunning, StopTimeout: 60}
}

func createVMs(t *testing.T, s *store.Store, vms ...*store.VM) {
	t.Helper()
	ctx := context.Background()
	err := s.Tx(ctx, func(tx *store.Tx) error {
		for _, v := range vms {
			if err := tx.CreateVM(ctx, v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("create vms: %v", err)
	}
}

func view[T any](t *testing.T, s *store.Store, fn func(ctx context.Context, tx *store.Tx) (T, error)) T {
	t.Helper()
	ctx := context.Background()
	var out T
	if err := s.View(ctx, func(tx *store.Tx) (err error) { out, err = fn(ctx, tx); return err }); err != nil {
		t.Fatal(err)
	}
	return out
}

func hostGeneration(t *testing.T, s *store.Store, host string) int64 {
	t.Helper()
	return view(t, s, func(ctx context.Context, tx *store.Tx) (int64, error) { return tx.HostGeneration(ctx, host) })
}

func TestVMRoundTrip(t *testing.T) {
	openCatalogStores(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		f := newComputeFixture(t, s)
		v := f.vm(f.acme, f.acmeDE, "h-de", "web")
		v.Labels = map[string]string{"tier": "front"}
		v.SSHKeys = []string{"ssh-ed25519 AAAA alice"}
		v.UserData = "#cloud-config\n"
		v.AntiAffinity = "web"
		createVMs(t, s, v)
		if v.Generation != 1 || v.State != "creating" || v.Version != 1 || v.ID == "" {
			t.Fatalf("created as %+v", v)
		}
		if g := hostGeneration(t, s, "h-de"); g != 1 {
			t.Errorf("host generation after create: %d, want 1", g)
		}

		for _, key := range []string{v.ID, "web"} {
			got := view(t, s, func(ctx context.Context, tx *store.Tx) (*store.VM, error) { return tx.GetVM(ctx, f.acme, key) })
			if got.ID != v.ID || got.Name != "web" || got.VDCName != "main" || got.ZoneID != "de-1a" || got.RegionID != "de" ||
				got.Jurisdiction != "DE" || got.HostState != "ready" || got.HostID != "h-de" || got.ImageID != f.image ||
				got.Power != store.PowerRunning || got.Generation != 1 || got.ObservedGeneration != 0 || got.ObservedAt != nil ||
				got.StopTimeout != 60 || got.UserData != "#cloud-config\n" || got.AntiAffinity != "web" ||
				!reflect.DeepEqual(got.SSHKeys, v.SSHKeys) || !reflect.DeepEqual(got.Labels, v.Labels) ||
				!got.CreatedAt.Equal(v.CreatedAt.Truncate(time.Microsecond)) {
				t.Errorf("GetVM(%s) = %+v", key, got)
			}
		}

		// Another organisation can neither see it by ID nor by name.
		for _, key := range []string{v.ID, "web"} {
			err := s.View(ctx, func(tx *store.Tx) error { _, err := tx.GetVM(ctx, f.other, key); return err })
			if !errors.Is(err, store.ErrNotFound) {
				t.Errorf("other org GetVM(%s): %v, want ErrNotFound", key, err)
			}
		}
		byID := view(t, s, func(ctx context.Context, tx *store.Tx) (*store.VM, error) { return tx.GetVMByID(ctx, v.ID) })
		if byID.Name != "web" || byID.OrgID != f.acme {
			t.Errorf("GetVMByID = %+v", byID)
		}

		// Names are unique per organisation only.
		err := s.Tx(ctx, func(tx *store.Tx) error { return tx.CreateVM(ctx, f.vm(f.acme, f.acmeAU, "h-au", "web")) })
		if !errors.Is(err, store.ErrConflict) {
			t.Errorf("second web in acme: %v, want ErrConflict", err)
		}
		createVMs(t, s, f.vm(f.other, f.otherDE, "h-de", "web"))

		if err := s.Tx(ctx, func(tx *store.Tx) error { return tx.DeleteVM(ctx, v.ID) }); err != nil {
			t.Fatal(err)
		}
		err = s.View(ctx, func(tx *store.Tx) error { _, err := tx.GetVMByID(ctx, v.ID); return err })
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("deleted VM: %v, want ErrNotFound", err)
		}
		err = s.Tx(ctx, func(tx *store.Tx) error { return tx.DeleteVM(ctx, v.ID) })
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("delete twice: %v, want ErrNotFound", err)
		}
	})
}

func TestListVMs(t *testing.T) {
	openCatalogStores(t, func(t *testing.T, s *store.Store) {
		f := newComputeFixture(t, s)
		var all []*store.VM
		for i := range 5 {
			v := f.vm(f.acme, f.acmeDE, "h-de", fmt.Sprintf("de-%d", i))
			if i%2 == 0 {
				v.Labels = map[string]string{"even": "yes"}
			}
			all = append(all, v)
		}
		all = append(all, f.vm(f.acme, f.acmeAU, "h-au", "au-0"), f.vm(f.other, f.otherDE, "h-de", "theirs"))
		createVMs(t, s, all...)

		names := func(f store.VMFilter, p store.Page) ([]string, string) {
			t.Helper()
			type page struct {
				vms  []store.VM
				next string
			}
			got := view(t, s, func(ctx context.Context, tx *store.Tx) (page, error) {
				vms, next, err := tx.ListVMs(ctx, f, p)
				return page{vms, next}, err
			})
			var out []string
			for _, v := range got.vms {
				out = append(out, v.Name)
			}
			return out, got.next
		}
		even, err := store.ParseLabelSelector("even=yes")
		if err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			name   string
			filter store.VMFilter
			page   store.Page
			want   []string
		}{
			{"org", store.VMFilter{OrgID: f.acme}, store.Page{}, []string{"de-0", "de-1", "de-2", "de-3", "de-4", "au-0"}},
			{"vdc", store.VMFilter{VDCID: f.acmeAU}, store.Page{}, []string{"au-0"}},
			{"host", store.VMFilter{HostID: "h-de"}, store.Page{}, []string{"de-0", "de-1", "de-2", "de-3", "de-4", "theirs"}},
			{"image", store.VMFilter{OrgID: f.other, ImageID: f.image}, store.Page{}, []string{"theirs"}},
			{"labels", store.VMFilter{OrgID: f.acme}, store.Page{Labels: []store.LabelSelector{even}}, []string{"de-0", "de-2", "de-4"}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				if got, _ := names(tt.filter, tt.page); !reflect.DeepEqual(got, tt.want) {
					t.Errorf("got %v, want %v", got, tt.want)
				}
			})
		}

		// Paging through acme's VMs two at a time sees each once, in order.
		var paged []string
		p := store.Page{Limit: 2}
		for range 10 {
			got, next := names(store.VMFilter{OrgID: f.acme}, p)
			paged = append(paged, got...)
			if next == "" {
				break
			}
			p.Cursor = next
		}
		if want := []string{"de-0", "de-1", "de-2", "de-3", "de-4", "au-0"}; !reflect.DeepEqual(paged, want) {
			t.Errorf("paged %v, want %v", paged, want)
		}

		hostVMs := view(t, s, func(ctx context.Context, tx *store.Tx) ([]store.VM, error) { return tx.HostVMs(ctx, "h-au") })
		if len(hostVMs) != 1 || hostVMs[0].Name != "au-0" || hostVMs[0].Jurisdiction != "AU" {
			t.Errorf("HostVMs(h-au) = %+v", hostVMs)
		}
	})
}

func TestUpdateVMGeneration(t *testing.T) {
	openCatalogStores(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		f := newComputeFixture(t, s)
		v := f.vm(f.acme, f.acmeDE, "h-de", "web")
		createVMs(t, s, v)

		tests := []struct {
			name       string
			bump       bool
			change     func(v *store.VM)
			generation int64 // of the VM afterwards
			hostGen    int64 // of h-de afterwards (1 after the create)
		}{
			{"labels only", false, func(v *store.VM) { v.Labels = map[string]string{"a": "b"} }, 1, 1},
			{"stop", true, func(v *store.VM) { v.Power = store.PowerStopped; v.StopTimeout = 5 }, 2, 2},
			{"reboot", true, func(v *store.VM) { v.RebootAt = 3 }, 3, 3},
			{"state from the runner", false, func(v *store.VM) { v.State = "error"; v.Message = "boom" }, 3, 3},
			{"resize", true, func(v *store.VM) { v.SizeID, v.VCPU, v.MemoryMiB, v.DiskGiB = "small", 2, 2048, 20 }, 4, 4},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				var version int64
				err := s.Tx(ctx, func(tx *store.Tx) error {
					cur, err := tx.GetVMByID(ctx, v.ID)
					if err != nil {
						return err
					}
					version = cur.Version
					tt.change(cur)
					if err := tx.UpdateVM(ctx, cur, tt.bump); err != nil {
						return err
					}
					if cur.Generation != tt.generation {
						t.Errorf("v.Generation after UpdateVM = %d, want %d", cur.Generation, tt.generation)
					}
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
				got := view(t, s, func(ctx context.Context, tx *store.Tx) (*store.VM, error) { return tx.GetVMByID(ctx, v.ID) })
				if got.Generation != tt.generation || got.Version != version+1 {
					t.Errorf("generation %d version %d, want %d and %d", got.Generation, got.Version, tt.generation, version+1)
				}
				if g := hostGeneration(t, s, "h-de"); g != tt.hostGen {
					t.Errorf("host generation %d, want %d", g, tt.hostGen)
				}
				cp := *got
				tt.change(&cp)
				if !reflect.DeepEqual(&cp, got) {
					t.Errorf("the change was not stored: read back %+v", got)
				}
			})
		}
		if g := hostGeneration(t, s, "h-au"); g != 0 {
			t.Errorf("untouched host generation %d, want 0", g)
		}
		if err := s.Tx(ctx, func(tx *store.Tx) error { return tx.BumpHostGeneration(ctx, "h-au") }); err != nil {
			t.Fatal(err)
		}
		if g := hostGeneration(t, s, "h-au"); g != 1 {
			t.Errorf("bumped host generation %d, want 1", g)
		}
		err := s.Tx(ctx, func(tx *store.Tx) error { return tx.BumpHostGeneration(ctx, "nowhere") })
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("bump missing host: %v, want ErrNotFound", err)
		}
	})
}

func TestObserveVM(t *testing.T) {
	openCatalogStores(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		f := newComputeFixture(t, s)
		v := f.vm(f.acme, f.acmeDE, "h-de", "web")
		createVMs(t, s, v)
		observe := func(host string, o store.ObservedVM) (*store.VM, error) {
			var got *store.VM
			err := s.Tx(ctx, func(tx *store.Tx) (err error) { got, err = tx.ObserveVM(ctx, host, o); return err })
			return got, err
		}

		if _, err := observe("h-au", store.ObservedVM{ID: v.ID, State: "running", Generation: 1}); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("report from the wrong host: %v, want ErrNotFound", err)
		}
		if got := view(t, s, func(ctx context.Context, tx *store.Tx) (*store.VM, error) { return tx.GetVMByID(ctx, v.ID) }); got.State != "creating" || got.Version != 1 {
			t.Errorf("after a refused report: %+v", got)
		}

		got, err := observe("h-de", store.ObservedVM{ID: v.ID, State: "running", Message: "", Generation: 1})
		if err != nil {
			t.Fatal(err)
		}
		if got.State != "running" || got.ObservedGeneration != 1 || got.ObservedAt == nil || got.Version != 2 || got.Jurisdiction != "DE" {
			t.Errorf("after first report: %+v", got)
		}
		first := *got.ObservedAt

		// The same report again moves only the observation, not the version.
		again, err := observe("h-de", store.ObservedVM{ID: v.ID, State: "running", Generation: 1})
		if err != nil {
			t.Fatal(err)
		}
		if again.Version != 2 || !again.UpdatedAt.Equal(got.UpdatedAt) || again.ObservedAt == nil || again.ObservedAt.Before(first) {
			t.Errorf("after an unchanged report: %+v (before %+v)", again, got)
		}

		// A new message is a change.
		msg, err := observe("h-de", store.ObservedVM{ID: v.ID, State: "running", Message: "guest agent late", Generation: 1})
		if err != nil {
			t.Fatal(err)
		}
		if msg.Version != 3 || msg.Message != "guest agent late" {
			t.Errorf("after a new message: %+v", msg)
		}
	})
}

func TestCapacityQueries(t *testing.T) {
	openCatalogStores(t, func(t *testing.T, s *store.Store) {
		f := newComputeFixture(t, s)
		big := f.vm(f.acme, f.acmeDE, "h-de", "big")
		big.VCPU, big.MemoryMiB, big.DiskGiB, big.AntiAffinity = 4, 8192, 100, "db"
		small := f.vm(f.acme, f.acmeDE, "h-de", "small")
		small.AntiAffinity = "db"
		au := f.vm(f.acme, f.acmeAU, "h-au", "au")
		au.AntiAffinity = "db"
		theirs := f.vm(f.other, f.otherDE, "h-de", "theirs")
		theirs.AntiAffinity = "db"
		createVMs(t, s, big, small, au, theirs)

		usage := view(t, s, func(ctx context.Context, tx *store.Tx) (store.Usage, error) { return tx.VDCUsage(ctx, f.acmeDE) })
		if want := (store.Usage{VCPU: 5, MemoryMiB: 9216, DiskGiB: 110, VMs: 2}); usage != want {
			t.Errorf("VDCUsage = %+v, want %+v", usage, want)
		}
		count := view(t, s, func(ctx context.Context, tx *store.Tx) (int, error) { return tx.VDCVMCount(ctx, f.acmeDE) })
		if count != 2 {
			t.Errorf("VDCVMCount = %d, want 2", count)
		}

		// A host with no VMs is listed with nothing used.
		err := s.Tx(context.Background(), func(tx *store.Tx) error {
			return tx.CreateHost(context.Background(), &store.Host{Meta: store.Meta{ID: "h-empty"}, ZoneID: "de-1a", State: "ready", VCPU: 8})
		})
		if err != nil {
			t.Fatal(err)
		}
		hosts := func(zones ...string) map[string]store.PlacementHost {
			t.Helper()
			list := view(t, s, func(ctx context.Context, tx *store.Tx) ([]store.PlacementHost, error) {
				return tx.PlacementHosts(ctx, zones)
			})
			out := map[string]store.PlacementHost{}
			for _, h := range list {
				out[h.ID] = h
			}
			return out
		}
		all := hosts()
		if len(all) != 3 {
			t.Fatalf("PlacementHosts() = %+v, want 3 hosts", all)
		}
		de := all["h-de"]
		if want := (store.Usage{VCPU: 6, MemoryMiB: 10240, DiskGiB: 120, VMs: 3}); de.Used != want || de.RegionID != "de" ||
			de.Jurisdiction != "DE" || de.Labels["disk"] != "nvme" || de.VCPU != 16 {
			t.Errorf("h-de = %+v, want used %+v", de, want)
		}
		if e := all["h-empty"]; e.Used != (store.Usage{}) || e.ZoneID != "de-1a" {
			t.Errorf("h-empty = %+v", e)
		}
		if au := hosts("au-1a"); len(au) != 1 || au["h-au"].Used.VMs != 1 || au["h-au"].Jurisdiction != "AU" {
			t.Errorf("PlacementHosts(au-1a) = %+v", au)
		}
		if both := hosts("au-1a", "de-1a"); len(both) != 3 {
			t.Errorf("PlacementHosts(au-1a, de-1a) = %+v", both)
		}

		groups := view(t, s, func(ctx context.Context, tx *store.Tx) (map[string]int, error) {
			return tx.GroupHosts(ctx, f.acme, "db")
		})
		if want := map[string]int{"h-de": 2, "h-au": 1}; !reflect.DeepEqual(groups, want) {
			t.Errorf("GroupHosts(acme, db) = %v, want %v", groups, want)
		}
		none := view(t, s, func(ctx context.Context, tx *store.Tx) (map[string]int, error) { return tx.GroupHosts(ctx, f.acme, "") })
		if len(none) != 0 {
			t.Errorf("GroupHosts(acme, \"\") = %v, want empty", none)
		}
	})
}

func TestSnapshots(t *testing.T) {
	openCatalogStores(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		f := newComputeFixture(t, s)
		v := f.vm(f.acme, f.acmeDE, "h-de", "web")
		w := f.vm(f.acme, f.acmeDE, "h-de", "db")
		createVMs(t, s, v, w)

		snap := &store.Snapshot{VMID: v.ID, OrgID: f.acme, Name: "before-upgrade"}
		err := s.Tx(ctx, func(tx *store.Tx) error {
			if err := tx.CreateSnapshot(ctx, snap); err != nil {
				return err
			}
			if err := tx.CreateSnapshot(ctx, &store.Snapshot{VMID: v.ID, OrgID: f.acme, Name: "second"}); err != nil {
				return err
			}
			// The same name on another VM is fine.
			return tx.CreateSnapshot(ctx, &store.Snapshot{VMID: w.ID, OrgID: f.acme, Name: "before-upgrade"})
		})
		if err != nil {
			t.Fatal(err)
		}
		if snap.State != store.SnapshotCreating || snap.Version != 1 {
			t.Errorf("created as %+v", snap)
		}
		err = s.Tx(ctx, func(tx *store.Tx) error {
			return tx.CreateSnapshot(ctx, &store.Snapshot{VMID: v.ID, OrgID: f.acme, Name: "second"})
		})
		if !errors.Is(err, store.ErrConflict) {
			t.Errorf("duplicate snapshot name: %v, want ErrConflict", err)
		}

		err = s.Tx(ctx, func(tx *store.Tx) error {
			got, err := tx.GetSnapshot(ctx, v.ID, "before-upgrade")
			if err != nil {
				return err
			}
			got.State = store.SnapshotReady
			return tx.UpdateSnapshot(ctx, got)
		})
		if err != nil {
			t.Fatal(err)
		}
		got := view(t, s, func(ctx context.Context, tx *store.Tx) (*store.Snapshot, error) {
			return tx.GetSnapshot(ctx, v.ID, snap.ID)
		})
		if got.State != store.SnapshotReady || got.Version != 2 || got.Name != "before-upgrade" || got.OrgID != f.acme {
			t.Errorf("after update: %+v", got)
		}
		// A snapshot is only found through its own VM.
		err = s.View(ctx, func(tx *store.Tx) error { _, err := tx.GetSnapshot(ctx, w.ID, snap.ID); return err })
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("snapshot through another VM: %v, want ErrNotFound", err)
		}

		list := view(t, s, func(ctx context.Context, tx *store.Tx) ([]store.Snapshot, error) { return tx.ListSnapshots(ctx, v.ID) })
		if len(list) != 2 || list[0].Name != "before-upgrade" || list[1].Name != "second" {
			t.Errorf("ListSnapshots = %+v", list)
		}
		err = s.Tx(ctx, func(tx *store.Tx) error { return tx.DeleteSnapshot(ctx, list[1].ID) })
		if err != nil {
			t.Fatal(err)
		}
		list = view(t, s, func(ctx context.Context, tx *store.Tx) ([]store.Snapshot, error) { return tx.ListSnapshots(ctx, v.ID) })
		if len(list) != 1 {
			t.Errorf("after delete: %+v", list)
		}

		// Deleting the VM takes its snapshots, and only its.
		if err := s.Tx(ctx, func(tx *store.Tx) error { return tx.DeleteVM(ctx, v.ID) }); err != nil {
			t.Fatal(err)
		}
		err = s.View(ctx, func(tx *store.Tx) error { _, err := tx.GetSnapshot(ctx, v.ID, snap.ID); return err })
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("snapshot of a deleted VM: %v, want ErrNotFound", err)
		}
		list = view(t, s, func(ctx context.Context, tx *store.Tx) ([]store.Snapshot, error) { return tx.ListSnapshots(ctx, w.ID) })
		if len(list) != 1 {
			t.Errorf("other VM's snapshots after the delete: %+v", list)
		}
	})
}

func TestResidencyRows(t *testing.T) {
	openCatalogStores(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		f := newComputeFixture(t, s)
		v := f.vm(f.acme, f.acmeAU, "h-au", "web")
		theirs := f.vm(f.other, f.otherDE, "h-de", "theirs")
		createVMs(t, s, v, theirs)
		snap := &store.Snapshot{VMID: v.ID, OrgID: f.acme, Name: "nightly"}
		private := &store.Image{OrgID: f.acme, Name: "golden", Kind: "disk", State: "available"}
		otherPrivate := &store.Image{OrgID: f.other, Name: "theirs", Kind: "disk", State: "available"}
		err := s.Tx(ctx, func(tx *store.Tx) error {
			if err := tx.CreateSnapshot(ctx, snap); err != nil {
				return err
			}
			if err := tx.CreateSnapshot(ctx, &store.Snapshot{VMID: theirs.ID, OrgID: f.other, Name: "theirs"}); err != nil {
				return err
			}
			if err := tx.CreateImage(ctx, private); err != nil {
				return err
			}
			if err := tx.CreateImage(ctx, otherPrivate); err != nil {
				return err
			}
			// The public image's copy is the provider's data, not acme's.
			if err := tx.SetImageCopies(ctx, "h-de", []string{private.ID, otherPrivate.ID, f.image}); err != nil {
				return err
			}
			return tx.SetImageCopies(ctx, "h-au", []string{f.image})
		})
		if err != nil {
			t.Fatal(err)
		}

		got := view(t, s, func(ctx context.Context, tx *store.Tx) ([]store.ResidencyRow, error) {
			return tx.ResidencyRows(ctx, f.acme)
		})
		au := func(kind, id, name, vm string) store.ResidencyRow {
			return store.ResidencyRow{Kind: kind, ID: id, Name: name, VMID: vm, HostID: "h-au", ZoneID: "au-1a", RegionID: "au", Jurisdiction: "AU"}
		}
		want := []store.ResidencyRow{
			au("disk", v.ID, "web root disk", v.ID),
			{Kind: "image", ID: private.ID, Name: "golden", HostID: "control-plane"},
			{Kind: "image-copy", ID: private.ID, Name: "golden", HostID: "h-de", ZoneID: "de-1a", RegionID: "de", Jurisdiction: "DE"},
			au("snapshot", snap.ID, "nightly", v.ID),
			au("vm", v.ID, "web", ""),
		}
		// The other organisation's VM, snapshot, image and copy are all
		// absent: the exact match proves it.
		if !reflect.DeepEqual(got, want) {
			t.Errorf("ResidencyRows(acme):\n got %+v\nwant %+v", got, want)
		}

		none := view(t, s, func(ctx context.Context, tx *store.Tx) ([]store.ResidencyRow, error) {
			return tx.ResidencyRows(ctx, store.NewID())
		})
		if len(none) != 0 {
			t.Errorf("ResidencyRows of an organisation with nothing: %+v", none)
		}
	})
}

// HostSnapshots gives the snapshots of a host's VMs, by VM, and none of
// another host's.
func TestHostSnapshots(t *testing.T) {
	openCatalogStores(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		f := newComputeFixture(t, s)
		v := f.vm(f.acme, f.acmeDE, "h-de", "web")
		w := f.vm(f.acme, f.acmeDE, "h-de", "db")
		x := f.vm(f.acme, f.acmeAU, "h-au", "far")
		createVMs(t, s, v, w, x)
		err := s.Tx(ctx, func(tx *store.Tx) error {
			for _, sn := range []*store.Snapshot{{VMID: v.ID, OrgID: f.acme, Name: "a"}, {VMID: v.ID, OrgID: f.acme, Name: "b"},
				{VMID: x.ID, OrgID: f.acme, Name: "c"}} {
				if err := tx.CreateSnapshot(ctx, sn); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		got := view(t, s, func(ctx context.Context, tx *store.Tx) (map[string][]store.Snapshot, error) {
			return tx.HostSnapshots(ctx, "h-de")
		})
		if len(got) != 1 || len(got[v.ID]) != 2 || got[v.ID][0].Name != "a" || got[v.ID][1].Name != "b" || len(got[w.ID]) != 0 {
			t.Fatalf("snapshots on h-de: %+v", got)
		}
	})
}
