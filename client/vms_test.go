package client_test

import (
	"bytes"
	"net/http"
	"testing"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/internal/store"
)

func TestResidencyReportAndConsoleRefusals(t *testing.T) {
	e := newEnv(t, false)
	admin := e.client(e.ProviderAdmin())
	ctx := t.Context()
	org, err := admin.CreateOrg(ctx, api.OrganisationCreate{Name: "acme", Residency: api.Residency{Jurisdictions: []string{"AU"}}})
	if err != nil {
		t.Fatal(err)
	}
	u := e.User("ana@acme.test", store.RoleBinding{OrgID: org.ID, Role: api.RoleOrgAdmin})
	c := e.client(e.Token(u, org.ID, api.RoleOrgAdmin))

	// An organisation with nothing yet: its policy and an empty list, not null.
	rep, err := c.GetResidencyReport(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if rep.Org != "acme" || len(rep.Policy.Jurisdictions) != 1 || rep.Policy.Jurisdictions[0] != "AU" || rep.Items == nil || rep.GeneratedAt == "" {
		t.Fatalf("report %+v", rep)
	}
	var csv bytes.Buffer
	if err := c.ResidencyReportCSV(ctx, "acme", &csv); err != nil {
		t.Fatal(err)
	}
	if csv.String() != "kind,id,name,vm,host,zone,region,jurisdiction\n" {
		t.Fatalf("csv %q", csv.String())
	}

	// A console that cannot be opened is an *api.Error like any other
	// refusal, not a WebSocket handshake error.
	_, err = c.ConsoleVM(ctx, "acme", "nowhere")
	wantCode(t, err, http.StatusNotFound, api.CodeNotFound)

	// Another tenant learns nothing about acme.
	evil, err := admin.CreateOrg(ctx, api.OrganisationCreate{Name: "evil"})
	if err != nil {
		t.Fatal(err)
	}
	eve := e.client(e.Token(e.User("eve@evil.test", store.RoleBinding{OrgID: evil.ID, Role: api.RoleOrgAdmin}), evil.ID, api.RoleOrgAdmin))
	_, err = eve.GetResidencyReport(ctx, "acme")
	wantCode(t, err, http.StatusNotFound, api.CodeNotFound)
	err = eve.ResidencyReportCSV(ctx, "acme", &csv)
	wantCode(t, err, http.StatusNotFound, api.CodeNotFound)
	_, err = eve.ConsoleVM(ctx, "acme", "nowhere")
	wantCode(t, err, http.StatusNotFound, api.CodeNotFound)
}
