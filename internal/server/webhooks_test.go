package server

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/internal/billing/notify"
	"github.com/sirocco-cloud/sirocco/internal/store"
)

func TestWebhooksAPI(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		e.billingNotifyRoutes()
		admin := e.providerAdmin()
		acme, acmeAdmin := e.tenant("acme", store.Residency{})
		_, otherAdmin := e.tenant("other", store.Residency{})
		member := e.token(e.user("dev@acme.test", store.RoleBinding{OrgID: acme.ID, Role: api.RoleOrgMember}), acme.ID, api.RoleOrgMember)

		// The secret is in the create answer only.
		var created api.WebhookCreated
		e.do("POST", "/api/v1/orgs/acme/webhooks", acmeAdmin, api.WebhookCreate{URL: "https://hooks.acme.test/sirocco",
			EventTypes: []string{api.EventBudgetThreshold}}).must(t, http.StatusCreated).decode(t, &created)
		if !strings.HasPrefix(created.Secret, "whsec_") || len(created.Secret) < 30 || created.Org != acme.ID || !created.Active ||
			strings.Join(created.EventTypes, ",") != api.EventBudgetThreshold {
			t.Fatalf("created %+v", created)
		}
		res := e.do("GET", "/api/v1/orgs/acme/webhooks", acmeAdmin, nil).must(t, http.StatusOK)
		var list api.List[api.Webhook]
		res.decode(t, &list)
		if len(list.Items) != 1 || list.Items[0].ID != created.ID || strings.Contains(string(res.Body), created.Secret) {
			t.Errorf("list %s", res.Body)
		}

		for _, tt := range []struct {
			name, url string
			types     []string
			says      string
		}{
			{"loopback", "http://127.0.0.1:8080/hook", nil, "loopback, private"},
			{"private", "https://10.1.2.3/hook", nil, "loopback, private"},
			{"IPv6 loopback", "http://[::1]/hook", nil, "loopback, private"},
			{"metadata", "http://169.254.169.254/latest", nil, "loopback, private"},
			{"localhost", "http://localhost:9000/hook", nil, "this machine"},
			{"not http", "ftp://hooks.acme.test/in", nil, "scheme"},
			{"unknown event type", "https://hooks.acme.test/in", []string{"not an event"}, "unknown event type"},
		} {
			got := e.do("POST", "/api/v1/orgs/acme/webhooks", acmeAdmin, api.WebhookCreate{URL: tt.url, EventTypes: tt.types})
			if got.Status != http.StatusUnprocessableEntity || !strings.Contains(string(got.Body), tt.says) {
				t.Errorf("%s: %d %s, want 422 saying %q", tt.name, got.Status, got.Body, tt.says)
			}
		}

		// Only the organisation's admins manage its webhooks.
		e.do("GET", "/api/v1/orgs/acme/webhooks", member, nil).must(t, http.StatusForbidden)
		e.do("POST", "/api/v1/orgs/acme/webhooks", member, api.WebhookCreate{URL: "https://x.acme.test/"}).must(t, http.StatusForbidden)

		// Events land in the delivery log.
		n := &notify.Notifier{Store: e.store}
		ctx := context.Background()
		err := e.store.Tx(ctx, func(tx *store.Tx) error {
			return n.Event(ctx, tx, acme.ID, api.EventBudgetThreshold, api.BudgetThresholdData{Name: "monthly", Threshold: 80})
		})
		if err != nil {
			t.Fatal(err)
		}
		var log api.List[api.WebhookDelivery]
		e.do("GET", "/api/v1/orgs/acme/webhooks/"+created.ID+"/deliveries", acmeAdmin, nil).must(t, http.StatusOK).decode(t, &log)
		if len(log.Items) != 1 || log.Items[0].EventType != api.EventBudgetThreshold || log.Items[0].State != api.DeliveryPending ||
			log.Items[0].NextAttemptAt == nil || log.Items[0].Attempts != 0 || log.Items[0].Webhook != created.ID {
			t.Errorf("delivery log %+v", log.Items)
		}

		// Another tenant sees none of it, through its own organisation either.
		for _, path := range []string{"/api/v1/orgs/acme/webhooks", "/api/v1/orgs/acme/webhooks/" + created.ID + "/deliveries",
			"/api/v1/orgs/other/webhooks/" + created.ID + "/deliveries"} {
			e.do("GET", path, otherAdmin, nil).must(t, http.StatusNotFound)
		}
		e.do("DELETE", "/api/v1/orgs/other/webhooks/"+created.ID, otherAdmin, nil).must(t, http.StatusNotFound)
		// Nor do tenants reach the provider's webhooks.
		for _, tok := range []string{acmeAdmin, otherAdmin} {
			e.do("GET", "/api/v1/webhooks", tok, nil).must(t, http.StatusForbidden)
			e.do("POST", "/api/v1/webhooks", tok, api.WebhookCreate{URL: "https://ops.example.com/"}).must(t, http.StatusForbidden)
		}

		// The provider's webhooks may reach its private network; they are
		// apart from the organisations'.
		var prov api.WebhookCreated
		e.do("POST", "/api/v1/webhooks", admin, api.WebhookCreate{URL: "http://10.0.0.5:8080/billing"}).must(t, http.StatusCreated).decode(t, &prov)
		if prov.Org != "" || prov.Secret == "" || prov.Secret == created.Secret || len(prov.EventTypes) != 0 {
			t.Errorf("provider webhook %+v", prov)
		}
		var provList api.List[api.Webhook]
		e.do("GET", "/api/v1/webhooks", admin, nil).must(t, http.StatusOK).decode(t, &provList)
		if len(provList.Items) != 1 || provList.Items[0].ID != prov.ID {
			t.Errorf("provider webhooks %+v", provList.Items)
		}
		e.do("GET", "/api/v1/webhooks/"+created.ID+"/deliveries", admin, nil).must(t, http.StatusNotFound)
		e.do("DELETE", "/api/v1/webhooks/"+created.ID, admin, nil).must(t, http.StatusNotFound)
		e.do("GET", "/api/v1/webhooks/"+prov.ID+"/deliveries", admin, nil).must(t, http.StatusOK)
		e.do("DELETE", "/api/v1/webhooks/"+prov.ID, admin, nil).must(t, http.StatusNoContent)
		e.do("DELETE", "/api/v1/webhooks/"+prov.ID, admin, nil).must(t, http.StatusNotFound)

		e.do("DELETE", "/api/v1/orgs/acme/webhooks/"+created.ID, acmeAdmin, nil).must(t, http.StatusNoContent)
		e.do("GET", "/api/v1/orgs/acme/webhooks/"+created.ID+"/deliveries", acmeAdmin, nil).must(t, http.StatusNotFound)
	})
}
