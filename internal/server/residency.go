package server

import (
	"bytes"
	"context"
	"encoding/csv"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/internal/store"
)

type (
	residencyIn struct {
		Org string `path:"org" maxLength:"200" doc:"Organisation ID or name"`
	}
	residencyCSVOut struct {
		ContentType        string `header:"Content-Type"`
		ContentDisposition string `header:"Content-Disposition"`
		Body               []byte
	}
)

// residencyRoutes serve an organisation's residency report: where each of
// its VMs, disks, snapshots and image copies lives, for its auditors.
func (s *Server) residencyRoutes() {
	tags := []string{"Organisations"}
	register(s, huma.Operation{OperationID: "get-residency-report", Method: http.MethodGet, Path: "/api/v1/orgs/{org}/residency",
		Summary: "Where the organisation's data lives",
		Description: "Every VM, root disk, snapshot and copy of a private image, with its host, zone, region and jurisdiction, " +
			"and the organisation's residency policy. The same as CSV at /api/v1/orgs/{org}/residency.csv.",
		Tags: tags},
		func(ctx context.Context, in *residencyIn) (*bodyOut[api.ResidencyReport], error) {
			rep, err := s.residency(ctx, in.Org)
			if err != nil {
				return nil, err
			}
			return &bodyOut[api.ResidencyReport]{Body: *rep}, nil
		})
	register(s, huma.Operation{OperationID: "get-residency-report-csv", Method: http.MethodGet, Path: "/api/v1/orgs/{org}/residency.csv",
		Summary:     "Where the organisation's data lives, as CSV",
		Description: "Columns: kind, id, name, vm, host, zone, region, jurisdiction.",
		Tags:        tags,
		Responses: map[string]*huma.Response{"200": {Description: "The report", Content: map[string]*huma.MediaType{
			"text/csv": {Schema: &huma.Schema{Type: "string"}}}}}},
		func(ctx context.Context, in *residencyIn) (*residencyCSVOut, error) {
			rep, err := s.residency(ctx, in.Org)
			if err != nil {
				return nil, err
			}
			var b bytes.Buffer
			w := csv.NewWriter(&b)
			w.Write([]string{"kind", "id", "name", "vm", "host", "zone", "region", "jurisdiction"})
			for _, it := range rep.Items {
				w.Write([]string{it.Kind, it.ID, it.Name, it.VM, it.Host, it.Zone, it.Region, it.Jurisdiction})
			}
			w.Flush()
			return &residencyCSVOut{ContentType: "text/csv; charset=utf-8",
				ContentDisposition: `attachment; filename="residency-` + rep.Org + `.csv"`, Body: b.Bytes()}, nil
		})
}

func (s *Server) residency(ctx context.Context, orgRef string) (*api.ResidencyReport, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	rep := &api.ResidencyReport{Items: []api.ResidencyItem{}}
	err = s.store.View(ctx, func(tx *store.Tx) error {
		o, err := s.orgFor(ctx, tx, p, orgRef, canRead)
		if err != nil {
			return err
		}
		rep.Org = o.Name
		rep.Policy = api.Residency{Jurisdictions: o.Residency.Jurisdictions, Regions: o.Residency.Regions}
		rows, err := tx.ResidencyRows(ctx, o.ID)
		if err != nil {
			return err
		}
		for _, r := range rows {
			rep.Items = append(rep.Items, api.ResidencyItem{Kind: r.Kind, ID: r.ID, Name: r.Name, VM: r.VMID, Host: r.HostID,
				Zone: r.ZoneID, Region: r.RegionID, Jurisdiction: r.Jurisdiction})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	rep.GeneratedAt = s.cfg.Now().UTC().Format(time.RFC3339)
	return rep, nil
}
