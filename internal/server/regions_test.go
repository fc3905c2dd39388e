package server

import (
	"net/http"
	"testing"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/internal/store"
)

func TestRegions(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		admin := e.providerAdmin()
		_, tenant := e.tenant("acme", store.Residency{})

		var r api.Region
		e.do("POST", "/api/v1/regions", admin, api.RegionCreate{Name: "au-syd", Jurisdiction: "AU", DisplayName: "Sydney",
			Labels: api.Labels{"tier": "gold"}}).must(t, http.StatusCreated).decode(t, &r)
		if r.Name != "au-syd" || r.Jurisdiction != "AU" || r.Version != 1 || r.Labels["tier"] != "gold" {
			t.Fatalf("created %+v", r)
		}
		if p := e.do("POST", "/api/v1/regions", admin, api.RegionCreate{Name: "au-syd", Jurisdiction: "AU"}).must(t, http.StatusConflict).problem(t); p.Code != api.CodeAlreadyExists {
			t.Errorf("duplicate: code %q", p.Code)
		}
		if p := e.do("POST", "/api/v1/regions", admin, api.RegionCreate{Name: "nz-akl", Jurisdiction: "nz"}).must(t, http.StatusUnprocessableEntity).problem(t); p.Code != api.CodeValidation {
			t.Errorf("bad jurisdiction: code %q", p.Code)
		}
		if p := e.do("POST", "/api/v1/regions", tenant, api.RegionCreate{Name: "nz-akl", Jurisdiction: "NZ"}).must(t, http.StatusForbidden).problem(t); p.Code != api.CodeForbidden {
			t.Errorf("tenant create: code %q", p.Code)
		}
		e.do("POST", "/api/v1/regions", admin, api.RegionCreate{Name: "nz-akl", Jurisdiction: "NZ"}).must(t, http.StatusCreated)

		// Tenants read the catalog; labels filter it.
		var list api.List[api.Region]
		e.do("GET", "/api/v1/regions", tenant, nil).must(t, http.StatusOK).decode(t, &list)
		if len(list.Items) != 2 {
			t.Fatalf("list: %d regions", len(list.Items))
		}
		list = api.List[api.Region]{}
		e.do("GET", "/api/v1/regions?label=tier=gold", tenant, nil).must(t, http.StatusOK).decode(t, &list)
		if len(list.Items) != 1 || list.Items[0].Name != "au-syd" {
			t.Fatalf("label filter: %+v", list.Items)
		}
		list = api.List[api.Region]{}
		e.do("GET", "/api/v1/regions?limit=1", tenant, nil).must(t, http.StatusOK).decode(t, &list)
		if len(list.Items) != 1 || list.NextCursor == "" {
			t.Fatalf("page 1: %+v", list)
		}
		cursor := list.NextCursor
		list = api.List[api.Region]{}
		e.do("GET", "/api/v1/regions?limit=1&cursor="+cursor, tenant, nil).must(t, http.StatusOK).decode(t, &list)
		if len(list.Items) != 1 || list.Items[0].Name != "nz-akl" || list.NextCursor != "" {
			t.Fatalf("page 2: %+v", list)
		}

		// If-Match guards updates.
		got := e.do("GET", "/api/v1/regions/au-syd", tenant, nil).must(t, http.StatusOK)
		tag := got.Header.Get("ETag")
		name := "Sydney, Australia"
		e.do("PATCH", "/api/v1/regions/au-syd", admin, api.RegionUpdate{DisplayName: &name}, "If-Match", tag).must(t, http.StatusOK)
		if p := e.do("PATCH", "/api/v1/regions/au-syd", admin, api.RegionUpdate{DisplayName: &name}, "If-Match", tag).must(t, http.StatusPreconditionFailed).problem(t); p.Code != api.CodePreconditionFailed {
			t.Errorf("stale If-Match: code %q", p.Code)
		}
		// Unknown fields are rejected.
		if p := e.do("PATCH", "/api/v1/regions/au-syd", admin, `{"display_name":"x","jurisdiction":"NZ"}`).must(t, http.StatusUnprocessableEntity).problem(t); p.Code != api.CodeValidation {
			t.Errorf("unknown field: code %q", p.Code)
		}
		e.do("DELETE", "/api/v1/regions/nz-akl", admin, nil).must(t, http.StatusNoContent)
		e.do("GET", "/api/v1/regions/nz-akl", admin, nil).must(t, http.StatusNotFound)
		e.do("GET", "/api/v1/regions", "", nil).must(t, http.StatusUnauthorized)
	})
}
