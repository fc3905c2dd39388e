package server

import (
	"context"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/internal/billing/notify"
	"github.com/sirocco-cloud/sirocco/internal/image"
	"github.com/sirocco-cloud/sirocco/internal/store"
)

func webhookOf(w *store.Webhook) api.Webhook {
	return api.Webhook{Meta: metaOf(w.Meta), Org: w.OrgID, URL: w.URL, EventTypes: nonNilSlice(w.EventTypes), Active: w.Active}
}

func deliveryOf(d *store.WebhookDelivery) api.WebhookDelivery {
	out := api.WebhookDelivery{
		ID: d.ID, Webhook: d.WebhookID, EventID: d.EventID, EventType: d.EventType, State: d.State, Attempts: d.Attempts,
		LastStatus: d.LastStatus, LastError: d.LastError, DeliveredAt: d.DeliveredAt, CreatedAt: d.CreatedAt,
	}
	if d.State == store.DeliveryPending {
		next := d.NextAttemptAt
		out.NextAttemptAt = &next
	}
	return out
}

// validWebhook checks a new webhook's URL and event types. An
// organisation's webhook may not name a loopback or private address: the
// delivery would refuse to connect anyway (the check there is on the
// address dialled, after DNS), but saying so now saves a tenant from
// waiting for ten failed attempts.
func validWebhook(b api.WebhookCreate, tenant bool) ([]string, error) {
	invalid := func(format string, args ...any) error {
		e := api.Errorf(http.StatusUnprocessableEntity, api.CodeValidation, format, args...)
		e.Errors = []api.ErrorDetail{{Location: "body.url", Message: e.Detail, Value: b.URL}}
		return e
	}
	if err := image.CheckURL(b.URL); err != nil {
		return nil, invalid("webhook URL: %v", err)
	}
	if tenant {
		u, _ := url.Parse(b.URL)
		host := strings.ToLower(u.Hostname())
		if ip, err := netip.ParseAddr(host); err == nil && image.Forbidden(ip) {
			return nil, invalid("webhook URL: %s is a loopback, private, link-local or reserved address, which webhooks may not reach", host)
		}
		if host == "localhost" || strings.HasSuffix(host, ".localhost") {
			return nil, invalid("webhook URL: %s is this machine, which webhooks may not reach", host)
		}
	}
	var types []string
	for _, t := range b.EventTypes {
		if !slices.Contains(api.EventTypes, t) && !api.IsResourceEventType(t) {
			e := api.Errorf(http.StatusUnprocessableEntity, api.CodeValidation,
				"unknown event type %q (billing: %s; or a resource change such as vm.create)", t, strings.Join(api.EventTypes, ", "))
			e.Errors = []api.ErrorDetail{{Location: "body.event_types", Message: "unknown event type", Value: t}}
			return nil, e
		}
		if !slices.Contains(types, t) {
			types = append(types, t)
		}
	}
	return types, nil
}

// Inputs of the webhook endpoints.
type (
	webhookPath struct {
		Org     string `path:"org" maxLength:"200" doc:"Organisation ID or name"`
		Webhook string `path:"webhook" maxLength:"200" doc:"Webhook ID"`
	}
	webhookListIn struct {
		Org string `path:"org" maxLength:"200" doc:"Organisation ID or name"`
		ListParams
	}
	webhookCreateIn struct {
		Org  string `path:"org" maxLength:"200" doc:"Organisation ID or name"`
		Body api.WebhookCreate
	}
	deliveryListIn struct {
		Org     string `path:"org" maxLength:"200" doc:"Organisation ID or name"`
		Webhook string `path:"webhook" maxLength:"200" doc:"Webhook ID"`
		ListParams
	}
	providerWebhookPath struct {
		Webhook string `path:"webhook" maxLength:"200" doc:"Webhook ID"`
	}
	providerDeliveryListIn struct {
		Webhook string `path:"webhook" maxLength:"200" doc:"Webhook ID"`
		ListParams
	}
)

const webhookDoc = "Events are POSTed as JSON with the headers Sirocco-Event, Sirocco-Delivery and " +
	"Sirocco-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of \"<t>.<body>\" keyed with the secret>. " +
	"A 2xx answer delivers; otherwise the delivery is retried after 30 s, doubling up to 1 h, at most 10 times."

func (s *Server) webhookRoutes() {
	tags := []string{"Webhooks"}

	// An organisation's webhooks: only its admins see them, since URLs may
	// carry credentials and the events carry billing figures.
	register(s, huma.Operation{OperationID: "list-webhooks", Method: http.MethodGet, Path: "/api/v1/orgs/{org}/webhooks", Summary: "List webhooks",
		Description: "Needs the org-admin role.", Tags: tags},
		func(ctx context.Context, in *webhookListIn) (*listOut[api.Webhook], error) {
			return listInOrg(ctx, s, in.Org, in.ListParams, canAdmin, func(tx *store.Tx, o *store.Org, pg store.Page) ([]store.Webhook, string, error) {
				return tx.ListWebhooks(ctx, o.ID, pg)
			}, webhookOf)
		})

	register(s, huma.Operation{OperationID: "create-webhook", Method: http.MethodPost, Path: "/api/v1/orgs/{org}/webhooks", Summary: "Create a webhook",
		Description: "Needs the org-admin role. The answer shows the signing secret, once. " +
			"The URL may not point at loopback or private addresses. " + webhookDoc,
		Tags: tags, DefaultStatus: http.StatusCreated},
		func(ctx context.Context, in *webhookCreateIn) (*createdOut[api.WebhookCreated], error) {
			p, err := principal(ctx)
			if err != nil {
				return nil, err
			}
			types, err := validWebhook(in.Body, true)
			if err != nil {
				return nil, err
			}
			w := &store.Webhook{URL: in.Body.URL, Secret: notify.NewSecret(), EventTypes: types, Active: true}
			err = s.store.Tx(ctx, func(tx *store.Tx) error {
				o, err := s.orgFor(ctx, tx, p, in.Org, canAdmin)
				if err != nil {
					return err
				}
				w.OrgID = o.ID
				if err := tx.CreateWebhook(ctx, w); err != nil {
					return err
				}
				return s.audit(ctx, tx, "webhook.create", "webhook", w.ID, o.ID, webhookDetail(w))
			})
			if err != nil {
				return nil, err
			}
			return &createdOut[api.WebhookCreated]{Location: "/api/v1/orgs/" + w.OrgID + "/webhooks/" + w.ID, ETag: etag(w.Version),
				Body: api.WebhookCreated{Webhook: webhookOf(w), Secret: w.Secret}}, nil
		})

	register(s, huma.Operation{OperationID: "delete-webhook", Method: http.MethodDelete, Path: "/api/v1/orgs/{org}/webhooks/{webhook}",
		Summary: "Delete a webhook", Description: "Needs the org-admin role. Pending deliveries are dropped with the delivery log.",
		Tags: tags, DefaultStatus: http.StatusNoContent},
		func(ctx context.Context, in *webhookPath) (*emptyOut, error) {
			p, err := principal(ctx)
			if err != nil {
				return nil, err
			}
			err = s.store.Tx(ctx, func(tx *store.Tx) error {
				o, err := s.orgFor(ctx, tx, p, in.Org, canAdmin)
				if err != nil {
					return err
				}
				return s.deleteWebhook(ctx, tx, o.ID, in.Webhook)
			})
			return nil, err
		})

	register(s, huma.Operation{OperationID: "list-webhook-deliveries", Method: http.MethodGet, Path: "/api/v1/orgs/{org}/webhooks/{webhook}/deliveries",
		Summary: "List a webhook's deliveries", Description: "Needs the org-admin role. The delivery log, oldest first.", Tags: tags},
		func(ctx context.Context, in *deliveryListIn) (*listOut[api.WebhookDelivery], error) {
			return listInOrg(ctx, s, in.Org, in.ListParams, canAdmin, func(tx *store.Tx, o *store.Org, pg store.Page) ([]store.WebhookDelivery, string, error) {
				return listDeliveries(ctx, tx, o.ID, in.Webhook, pg)
			}, deliveryOf)
		})

	// The provider's webhooks get every organisation's events.
	register(s, huma.Operation{OperationID: "list-provider-webhooks", Method: http.MethodGet, Path: "/api/v1/webhooks", Summary: "List provider webhooks",
		Description: "Provider admins only.", Tags: tags},
		func(ctx context.Context, in *struct{ ListParams }) (*listOut[api.Webhook], error) {
			if _, err := requireProviderAdmin(ctx); err != nil {
				return nil, err
			}
			pg, err := in.page()
			if err != nil {
				return nil, err
			}
			var rows []store.Webhook
			var next string
			err = s.store.View(ctx, func(tx *store.Tx) (err error) {
				rows, next, err = tx.ListWebhooks(ctx, "", pg)
				return err
			})
			if err != nil {
				return nil, err
			}
			return &listOut[api.Webhook]{Body: listOf(rows, next, webhookOf)}, nil
		})

	register(s, huma.Operation{OperationID: "create-provider-webhook", Method: http.MethodPost, Path: "/api/v1/webhooks", Summary: "Create a provider webhook",
		Description: "Provider admins only. It receives the events of every organisation, and may point at the provider's private network. " +
			"The answer shows the signing secret, once. " + webhookDoc,
		Tags: tags, DefaultStatus: http.StatusCreated},
		func(ctx context.Context, in *struct{ Body api.WebhookCreate }) (*createdOut[api.WebhookCreated], error) {
			if _, err := requireProviderAdmin(ctx); err != nil {
				return nil, err
			}
			types, err := validWebhook(in.Body, false)
			if err != nil {
				return nil, err
			}
			w := &store.Webhook{URL: in.Body.URL, Secret: notify.NewSecret(), EventTypes: types, Active: true}
			err = s.store.Tx(ctx, func(tx *store.Tx) error {
				if err := tx.CreateWebhook(ctx, w); err != nil {
					return err
				}
				return s.audit(ctx, tx, "webhook.create", "webhook", w.ID, "", webhookDetail(w))
			})
			if err != nil {
				return nil, err
			}
			return &createdOut[api.WebhookCreated]{Location: "/api/v1/webhooks/" + w.ID, ETag: etag(w.Version),
				Body: api.WebhookCreated{Webhook: webhookOf(w), Secret: w.Secret}}, nil
		})

	register(s, huma.Operation{OperationID: "delete-provider-webhook", Method: http.MethodDelete, Path: "/api/v1/webhooks/{webhook}",
		Summary: "Delete a provider webhook", Description: "Provider admins only.", Tags: tags, DefaultStatus: http.StatusNoContent},
		func(ctx context.Context, in *providerWebhookPath) (*emptyOut, error) {
			if _, err := requireProviderAdmin(ctx); err != nil {
				return nil, err
			}
			err := s.store.Tx(ctx, func(tx *store.Tx) error { return s.deleteWebhook(ctx, tx, "", in.Webhook) })
			return nil, err
		})

	register(s, huma.Operation{OperationID: "list-provider-webhook-deliveries", Method: http.MethodGet, Path: "/api/v1/webhooks/{webhook}/deliveries",
		Summary: "List a provider webhook's deliveries", Description: "Provider admins only. The delivery log, oldest first.", Tags: tags},
		func(ctx context.Context, in *providerDeliveryListIn) (*listOut[api.WebhookDelivery], error) {
			if _, err := requireProviderAdmin(ctx); err != nil {
				return nil, err
			}
			pg, err := in.page()
			if err != nil {
				return nil, err
			}
			var rows []store.WebhookDelivery
			var next string
			err = s.store.View(ctx, func(tx *store.Tx) (err error) {
				rows, next, err = listDeliveries(ctx, tx, "", in.Webhook, pg)
				return err
			})
			if err != nil {
				return nil, err
			}
			return &listOut[api.WebhookDelivery]{Body: listOf(rows, next, deliveryOf)}, nil
		})
}

// deleteWebhook removes a webhook of owner orgID ("" for the provider).
func (s *Server) deleteWebhook(ctx context.Context, tx *store.Tx, orgID, id string) error {
	w, err := tx.GetWebhook(ctx, orgID, id)
	if err != nil {
		return notFoundOr(err, "webhook", id)
	}
	if err := tx.DeleteWebhook(ctx, w.ID); err != nil {
		return err
	}
	return s.audit(ctx, tx, "webhook.delete", "webhook", w.ID, orgID, webhookDetail(w))
}

// listDeliveries lists the log of a webhook of owner orgID; another
// owner's webhook is not found.
func listDeliveries(ctx context.Context, tx *store.Tx, orgID, id string, pg store.Page) ([]store.WebhookDelivery, string, error) {
	w, err := tx.GetWebhook(ctx, orgID, id)
	if err != nil {
		return nil, "", notFoundOr(err, "webhook", id)
	}
	return tx.ListDeliveries(ctx, w.ID, pg)
}

// webhookDetail is the audit text of a webhook: where it points, without
// any credentials in its URL.
func webhookDetail(w *store.Webhook) string {
	u := w.URL
	if p, err := url.Parse(w.URL); err == nil {
		u = p.Redacted()
	}
	types := "all events"
	if len(w.EventTypes) > 0 {
		types = strings.Join(w.EventTypes, ", ")
	}
	return u + " (" + types + ")"
}
