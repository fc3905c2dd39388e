package simulated_test

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/internal/certs"
	"github.com/sirocco-cloud/sirocco/internal/compute/simulated"
	"github.com/sirocco-cloud/sirocco/internal/servertest"
	"github.com/sirocco-cloud/sirocco/internal/store"
)

func TestFleetJoinsAndReports(t *testing.T) {
	e := servertest.New(t, true)
	ctx := context.Background()
	err := e.Store.Tx(ctx, func(tx *store.Tx) error {
		if err := tx.CreateRegion(ctx, &store.Region{Meta: store.Meta{ID: "au-syd"}, Jurisdiction: "AU"}); err != nil {
			return err
		}
		return tx.CreateZone(ctx, &store.Zone{Meta: store.Meta{ID: "au-syd-1a"}, RegionID: "au-syd"})
	})
	if err != nil {
		t.Fatal(err)
	}
	f, err := simulated.JoinFleet(ctx, e.Store, e.URL, certs.Fingerprint(e.HTTP.Certificate()), simulated.FleetOptions{
		Hosts: 25, Zone: "au-syd-1a", Capacity: api.Capacity{VCPU: 64, MemoryMiB: 262144, DiskGiB: 4000},
		StateDir: t.TempDir(), Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.HeartbeatAll(ctx, 8); err != nil {
		t.Fatal(err)
	}
	var hosts []store.Host
	e.Store.View(ctx, func(tx *store.Tx) error {
		hosts, _, err = tx.ListHosts(ctx, store.HostFilter{State: api.HostReady}, store.Page{})
		return err
	})
	if len(hosts) != 25 || hosts[0].VCPU != 64 || hosts[24].MemoryMiB != 262144 {
		t.Fatalf("%d ready hosts, first %+v", len(hosts), hosts[0])
	}
}
