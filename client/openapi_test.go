package client_test

import (
	"context"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/client"
)

// sdk maps every operation of the API to the SDK call that implements it.
// TestSDKCoversOpenAPI fails when the served document has an operation not in
// this table (a new endpoint without an SDK method), when an entry names an
// operation the server no longer serves, and when a call sends a method or
// path other than the document's.
var sdk = map[string]func(context.Context, *client.Client) error{
	// Provider and catalog.
	"get-provider": func(ctx context.Context, c *client.Client) error { _, err := c.GetProvider(ctx); return err },
	"update-provider": func(ctx context.Context, c *client.Client) error {
		_, err := c.UpdateProvider(ctx, api.ProviderUpdate{})
		return err
	},
	"list-regions": func(ctx context.Context, c *client.Client) error {
		_, err := c.ListRegions(ctx, client.ListOptions{})
		return err
	},
	"get-region": func(ctx context.Context, c *client.Client) error { _, err := c.GetRegion(ctx, "r1"); return err },
	"create-region": func(ctx context.Context, c *client.Client) error {
		_, err := c.CreateRegion(ctx, api.RegionCreate{})
		return err
	},
	"update-region": func(ctx context.Context, c *client.Client) error {
		_, err := c.UpdateRegion(ctx, "r1", api.RegionUpdate{})
		return err
	},
	"delete-region": func(ctx context.Context, c *client.Client) error { return c.DeleteRegion(ctx, "r1") },
	"list-zones": func(ctx context.Context, c *client.Client) error {
		_, err := c.ListZones(ctx, client.ZoneListOptions{})
		return err
	},
	"get-zone": func(ctx context.Context, c *client.Client) error { _, err := c.GetZone(ctx, "z1"); return err },
	"create-zone": func(ctx context.Context, c *client.Client) error {
		_, err := c.CreateZone(ctx, api.ZoneCreate{})
		return err
	},
	"update-zone": func(ctx context.Context, c *client.Client) error {
		_, err := c.UpdateZone(ctx, "z1", api.ZoneUpdate{})
		return err
	},
	"delete-zone": func(ctx context.Context, c *client.Client) error { return c.DeleteZone(ctx, "z1") },
	"list-hosts": func(ctx context.Context, c *client.Client) error {
		_, err := c.ListHosts(ctx, client.HostListOptions{})
		return err
	},
	"get-host": func(ctx context.Context, c *client.Client) error { _, err := c.GetHost(ctx, "h1"); return err },
	"create-host": func(ctx context.Context, c *client.Client) error {
		_, err := c.CreateHost(ctx, api.HostCreate{})
		return err
	},
	"update-host": func(ctx context.Context, c *client.Client) error {
		_, err := c.UpdateHost(ctx, "h1", api.HostUpdate{})
		return err
	},
	"delete-host": func(ctx context.Context, c *client.Client) error { return c.DeleteHost(ctx, "h1") },
	"create-host-join-token": func(ctx context.Context, c *client.Client) error {
		_, err := c.CreateHostJoinToken(ctx, "h1")
		return err
	},
	"list-sizes": func(ctx context.Context, c *client.Client) error {
		_, err := c.ListSizes(ctx, client.SizeListOptions{})
		return err
	},
	"get-size": func(ctx context.Context, c *client.Client) error { _, err := c.GetSize(ctx, "s1"); return err },
	"create-size": func(ctx context.Context, c *client.Client) error {
		_, err := c.CreateSize(ctx, api.SizeCreate{})
		return err
	},
	"update-size": func(ctx context.Context, c *client.Client) error {
		_, err := c.UpdateSize(ctx, "s1", api.SizeUpdate{})
		return err
	},
	"delete-size": func(ctx context.Context, c *client.Client) error { return c.DeleteSize(ctx, "s1") },

	// Identity.
	"signup":              func(ctx context.Context, c *client.Client) error { _, err := c.Signup(ctx, api.Signup{}); return err },
	"verify-email":        func(ctx context.Context, c *client.Client) error { _, err := c.VerifyEmail(ctx, "t"); return err },
	"resend-verification": func(ctx context.Context, c *client.Client) error { return c.ResendVerification(ctx) },
	"login":               func(ctx context.Context, c *client.Client) error { _, _, err := c.Login(ctx, "e", "p"); return err },
	"logout":              func(ctx context.Context, c *client.Client) error { return c.Logout(ctx) },
	"get-me":              func(ctx context.Context, c *client.Client) error { _, err := c.Me(ctx); return err },
	"request-password-reset": func(ctx context.Context, c *client.Client) error {
		return c.PasswordReset(ctx, "e")
	},
	"reset-password": func(ctx context.Context, c *client.Client) error { return c.PasswordResetConfirm(ctx, "t", "p") },
	"list-users": func(ctx context.Context, c *client.Client) error {
		_, err := c.ListUsers(ctx, client.UserListOptions{})
		return err
	},
	"get-user":    func(ctx context.Context, c *client.Client) error { _, err := c.GetUser(ctx, "u1"); return err },
	"delete-user": func(ctx context.Context, c *client.Client) error { return c.DeleteUser(ctx, "u1") },
	"list-role-bindings": func(ctx context.Context, c *client.Client) error {
		_, err := c.ListRoleBindings(ctx, client.ListOptions{})
		return err
	},
	"put-role-binding": func(ctx context.Context, c *client.Client) error {
		_, err := c.CreateRoleBinding(ctx, api.RoleBindingCreate{})
		return err
	},
	"delete-role-binding": func(ctx context.Context, c *client.Client) error { return c.DeleteRoleBinding(ctx, "b1") },
	"create-token": func(ctx context.Context, c *client.Client) error {
		_, err := c.CreateToken(ctx, api.TokenCreate{})
		return err
	},
	"list-tokens": func(ctx context.Context, c *client.Client) error {
		_, err := c.ListTokens(ctx, client.ListOptions{})
		return err
	},
	"get-token":    func(ctx context.Context, c *client.Client) error { _, err := c.GetToken(ctx, "t1"); return err },
	"revoke-token": func(ctx context.Context, c *client.Client) error { return c.RevokeToken(ctx, "t1") },
	"list-org-tokens": func(ctx context.Context, c *client.Client) error {
		_, err := c.ListOrgTokens(ctx, "o1", client.ListOptions{})
		return err
	},
	"revoke-org-token": func(ctx context.Context, c *client.Client) error { return c.RevokeOrgToken(ctx, "o1", "t1") },

	// Organisations.
	"list-orgs": func(ctx context.Context, c *client.Client) error {
		_, err := c.ListOrgs(ctx, client.ListOptions{})
		return err
	},
	"create-org": func(ctx context.Context, c *client.Client) error {
		_, err := c.CreateOrg(ctx, api.OrganisationCreate{})
		return err
	},
	"get-org": func(ctx context.Context, c *client.Client) error { _, err := c.GetOrg(ctx, "o1"); return err },
	"update-org": func(ctx context.Context, c *client.Client) error {
		_, err := c.UpdateOrg(ctx, "o1", api.OrganisationUpdate{})
		return err
	},
	"close-org": func(ctx context.Context, c *client.Client) error { _, err := c.CloseOrg(ctx, "o1"); return err },
	"list-members": func(ctx context.Context, c *client.Client) error {
		_, err := c.ListMembers(ctx, "o1", client.ListOptions{})
		return err
	},
	"put-member": func(ctx context.Context, c *client.Client) error {
		_, err := c.AddMember(ctx, "o1", api.RoleBindingCreate{})
		return err
	},
	"remove-member": func(ctx context.Context, c *client.Client) error { return c.RemoveMember(ctx, "o1", "u1") },
	"create-invitation": func(ctx context.Context, c *client.Client) error {
		_, err := c.CreateInvitation(ctx, "o1", api.InvitationCreate{})
		return err
	},
	"list-invitations": func(ctx context.Context, c *client.Client) error {
		_, err := c.ListInvitations(ctx, "o1", client.InvitationListOptions{})
		return err
	},
	"revoke-invitation": func(ctx context.Context, c *client.Client) error { return c.RevokeInvitation(ctx, "o1", "i1") },
	"accept-invitation": func(ctx context.Context, c *client.Client) error {
		_, err := c.AcceptInvitation(ctx, api.InvitationAccept{})
		return err
	},

	// VDCs.
	"list-vdcs": func(ctx context.Context, c *client.Client) error {
		_, err := c.ListVDCs(ctx, "o1", client.ListOptions{})
		return err
	},
	"create-vdc": func(ctx context.Context, c *client.Client) error {
		_, err := c.CreateVDC(ctx, "o1", api.VDCCreate{})
		return err
	},
	"get-vdc": func(ctx context.Context, c *client.Client) error { _, err := c.GetVDC(ctx, "o1", "v1"); return err },
	"update-vdc": func(ctx context.Context, c *client.Client) error {
		_, err := c.UpdateVDC(ctx, "o1", "v1", api.VDCUpdate{})
		return err
	},
	"delete-vdc": func(ctx context.Context, c *client.Client) error { _, err := c.DeleteVDC(ctx, "o1", "v1"); return err },

	// VMs and snapshots.
	"list-vms": func(ctx context.Context, c *client.Client) error {
		_, err := c.ListVMs(ctx, "o1", client.VMListOptions{})
		return err
	},
	"list-all-vms": func(ctx context.Context, c *client.Client) error {
		_, err := c.ListProviderVMs(ctx, client.ProviderVMListOptions{})
		return err
	},
	"create-vms": func(ctx context.Context, c *client.Client) error {
		_, err := c.CreateVMs(ctx, "o1", api.VMCreate{})
		return err
	},
	"get-vm": func(ctx context.Context, c *client.Client) error { _, err := c.GetVM(ctx, "o1", "vm1"); return err },
	"update-vm": func(ctx context.Context, c *client.Client) error {
		_, err := c.UpdateVM(ctx, "o1", "vm1", api.VMUpdate{})
		return err
	},
	"delete-vm": func(ctx context.Context, c *client.Client) error { _, err := c.DeleteVM(ctx, "o1", "vm1"); return err },
	"start-vm":  func(ctx context.Context, c *client.Client) error { _, err := c.StartVM(ctx, "o1", "vm1"); return err },
	"stop-vm": func(ctx context.Context, c *client.Client) error {
		_, err := c.StopVM(ctx, "o1", "vm1", &api.VMStop{TimeoutSeconds: 5})
		return err
	},
	"reboot-vm": func(ctx context.Context, c *client.Client) error { _, err := c.RebootVM(ctx, "o1", "vm1"); return err },
	"force-off-vm": func(ctx context.Context, c *client.Client) error {
		_, err := c.ForceOffVM(ctx, "o1", "vm1")
		return err
	},
	"resize-vm": func(ctx context.Context, c *client.Client) error {
		_, err := c.ResizeVM(ctx, "o1", "vm1", api.VMResize{Size: "s1"})
		return err
	},
	"list-snapshots": func(ctx context.Context, c *client.Client) error {
		_, err := c.ListSnapshots(ctx, "o1", "vm1", client.ListOptions{})
		return err
	},
	"create-snapshot": func(ctx context.Context, c *client.Client) error {
		_, err := c.CreateSnapshot(ctx, "o1", "vm1", api.SnapshotCreate{})
		return err
	},
	"delete-snapshot": func(ctx context.Context, c *client.Client) error {
		_, err := c.DeleteSnapshot(ctx, "o1", "vm1", "sn1")
		return err
	},
	"revert-snapshot": func(ctx context.Context, c *client.Client) error {
		_, err := c.RevertSnapshot(ctx, "o1", "vm1", "sn1")
		return err
	},
	"connect-vm-console": func(ctx context.Context, c *client.Client) error {
		_, err := c.ConsoleVM(ctx, "o1", "vm1")
		return err
	},
	"get-residency-report": func(ctx context.Context, c *client.Client) error {
		_, err := c.GetResidencyReport(ctx, "o1")
		return err
	},
	"get-residency-report-csv": func(ctx context.Context, c *client.Client) error {
		return c.ResidencyReportCSV(ctx, "o1", io.Discard)
	},

	// Images.
	"list-public-images": func(ctx context.Context, c *client.Client) error {
		_, err := c.ListPublicImages(ctx, client.ListOptions{})
		return err
	},
	"create-public-image": func(ctx context.Context, c *client.Client) error {
		_, err := c.CreatePublicImage(ctx, api.ImageCreate{})
		return err
	},
	"get-public-image": func(ctx context.Context, c *client.Client) error { _, err := c.GetPublicImage(ctx, "i1"); return err },
	"update-public-image": func(ctx context.Context, c *client.Client) error {
		_, err := c.UpdatePublicImage(ctx, "i1", api.ImageUpdate{})
		return err
	},
	"delete-public-image": func(ctx context.Context, c *client.Client) error {
		_, err := c.DeletePublicImage(ctx, "i1")
		return err
	},
	"upload-public-image-file": func(ctx context.Context, c *client.Client) error {
		_, err := c.UploadPublicImageFile(ctx, "i1", client.ImageUpload{File: api.ImageFileDisk, Body: strings.NewReader("x"), Size: 1})
		return err
	},
	"list-images": func(ctx context.Context, c *client.Client) error {
		_, err := c.ListImages(ctx, "o1", client.ListOptions{})
		return err
	},
	"create-image": func(ctx context.Context, c *client.Client) error {
		_, err := c.CreateImage(ctx, "o1", api.ImageCreate{})
		return err
	},
	"get-image": func(ctx context.Context, c *client.Client) error { _, err := c.GetImage(ctx, "o1", "i1"); return err },
	"update-image": func(ctx context.Context, c *client.Client) error {
		_, err := c.UpdateImage(ctx, "o1", "i1", api.ImageUpdate{})
		return err
	},
	"delete-image": func(ctx context.Context, c *client.Client) error {
		_, err := c.DeleteImage(ctx, "o1", "i1")
		return err
	},
	"upload-image-file": func(ctx context.Context, c *client.Client) error {
		_, err := c.UploadImageFile(ctx, "o1", "i1", client.ImageUpload{File: api.ImageFileKernel, Body: strings.NewReader("x"), Size: 1})
		return err
	},
	"import-ova": func(ctx context.Context, c *client.Client) error {
		_, err := c.ImportOVA(ctx, "o1", client.OVAImport{Name: "web01", Body: strings.NewReader("x"), Size: 1})
		return err
	},
	"import-public-ova": func(ctx context.Context, c *client.Client) error {
		_, err := c.ImportPublicOVA(ctx, client.OVAImport{Name: "web01", Body: strings.NewReader("x"), Size: 1})
		return err
	},

	// Billing: prices and quotes.
	"list-price-plans": func(ctx context.Context, c *client.Client) error {
		_, err := c.ListPricePlans(ctx, client.PricePlanListOptions{})
		return err
	},
	"get-price-plan": func(ctx context.Context, c *client.Client) error { _, err := c.GetPricePlan(ctx, "p1"); return err },
	"create-price-plan": func(ctx context.Context, c *client.Client) error {
		_, err := c.CreatePricePlan(ctx, api.PricePlanCreate{})
		return err
	},
	"delete-price-plan": func(ctx context.Context, c *client.Client) error { return c.DeletePricePlan(ctx, "p1") },
	"list-price-overrides": func(ctx context.Context, c *client.Client) error {
		_, err := c.ListPriceOverrides(ctx, "o1")
		return err
	},
	"create-price-override": func(ctx context.Context, c *client.Client) error {
		_, err := c.CreatePriceOverride(ctx, "o1", api.PriceOverrideCreate{})
		return err
	},
	"delete-price-override": func(ctx context.Context, c *client.Client) error { return c.DeletePriceOverride(ctx, "o1", "po1") },
	"get-quote": func(ctx context.Context, c *client.Client) error {
		_, err := c.Quote(ctx, "o1", api.QuoteRequest{})
		return err
	},

	// Billing: balance and credit.
	"get-balance":  func(ctx context.Context, c *client.Client) error { _, err := c.GetBalance(ctx, "o1"); return err },
	"list-credits": func(ctx context.Context, c *client.Client) error { _, err := c.ListCredits(ctx, "o1"); return err },
	"grant-credit": func(ctx context.Context, c *client.Client) error {
		_, err := c.GrantCredit(ctx, "o1", api.CreditGrantCreate{})
		return err
	},
	"set-billing-override": func(ctx context.Context, c *client.Client) error {
		_, err := c.SetBillingOverride(ctx, "o1", api.BillingOverride{})
		return err
	},

	// Billing: invoices and usage.
	"list-invoices": func(ctx context.Context, c *client.Client) error {
		_, err := c.ListInvoices(ctx, "o1", client.ListOptions{})
		return err
	},
	"get-invoice": func(ctx context.Context, c *client.Client) error {
		_, err := c.GetInvoice(ctx, "o1", "in1")
		return err
	},
	"get-invoice-pdf": func(ctx context.Context, c *client.Client) error { return c.InvoicePDF(ctx, "o1", "in1", io.Discard) },
	"get-invoice-csv": func(ctx context.Context, c *client.Client) error { return c.InvoiceCSV(ctx, "o1", "in1", io.Discard) },
	"pay-invoice": func(ctx context.Context, c *client.Client) error {
		_, err := c.PayInvoice(ctx, "o1", "in1")
		return err
	},
	"void-invoice": func(ctx context.Context, c *client.Client) error {
		_, err := c.VoidInvoice(ctx, "o1", "in1")
		return err
	},
	"create-credit-note": func(ctx context.Context, c *client.Client) error {
		_, err := c.CreateCreditNote(ctx, "o1", "in1", api.CreditNoteCreate{})
		return err
	},
	"run-invoices": func(ctx context.Context, c *client.Client) error { _, err := c.RunInvoices(ctx, "2026-11"); return err },
	"get-usage": func(ctx context.Context, c *client.Client) error {
		_, err := c.GetUsage(ctx, "o1", client.UsageOptions{})
		return err
	},
	"get-usage-csv": func(ctx context.Context, c *client.Client) error {
		return c.UsageCSV(ctx, "o1", client.UsageOptions{}, io.Discard)
	},
	"get-costs-focus": func(ctx context.Context, c *client.Client) error {
		return c.CostsFOCUS(ctx, "o1", client.UsageOptions{}, io.Discard)
	},

	// Billing: budgets and webhooks.
	"list-budgets": func(ctx context.Context, c *client.Client) error {
		_, err := c.ListBudgets(ctx, "o1", client.ListOptions{})
		return err
	},
	"get-budget": func(ctx context.Context, c *client.Client) error { _, err := c.GetBudget(ctx, "o1", "b1"); return err },
	"create-budget": func(ctx context.Context, c *client.Client) error {
		_, err := c.CreateBudget(ctx, "o1", api.BudgetCreate{})
		return err
	},
	"update-budget": func(ctx context.Context, c *client.Client) error {
		_, err := c.UpdateBudget(ctx, "o1", "b1", api.BudgetUpdate{})
		return err
	},
	"delete-budget": func(ctx context.Context, c *client.Client) error { return c.DeleteBudget(ctx, "o1", "b1") },
	"list-webhooks": func(ctx context.Context, c *client.Client) error {
		_, err := c.ListWebhooks(ctx, "o1", client.ListOptions{})
		return err
	},
	"create-webhook": func(ctx context.Context, c *client.Client) error {
		_, err := c.CreateWebhook(ctx, "o1", api.WebhookCreate{})
		return err
	},
	"delete-webhook": func(ctx context.Context, c *client.Client) error { return c.DeleteWebhook(ctx, "o1", "w1") },
	"list-webhook-deliveries": func(ctx context.Context, c *client.Client) error {
		_, err := c.ListWebhookDeliveries(ctx, "o1", "w1", client.ListOptions{})
		return err
	},
	"list-provider-webhooks": func(ctx context.Context, c *client.Client) error {
		_, err := c.ListWebhooks(ctx, "", client.ListOptions{})
		return err
	},
	"create-provider-webhook": func(ctx context.Context, c *client.Client) error {
		_, err := c.CreateWebhook(ctx, "", api.WebhookCreate{})
		return err
	},
	"delete-provider-webhook": func(ctx context.Context, c *client.Client) error { return c.DeleteWebhook(ctx, "", "w1") },
	"list-provider-webhook-deliveries": func(ctx context.Context, c *client.Client) error {
		_, err := c.ListWebhookDeliveries(ctx, "", "w1", client.ListOptions{})
		return err
	},

	// Networks, public IPs and firewall rules.
	"list-networks": func(ctx context.Context, c *client.Client) error {
		_, err := c.ListNetworks(ctx, "o1", client.NetworkListOptions{})
		return err
	},
	"get-network": func(ctx context.Context, c *client.Client) error { _, err := c.GetNetwork(ctx, "o1", "n1"); return err },
	"create-network": func(ctx context.Context, c *client.Client) error {
		_, err := c.CreateNetwork(ctx, "o1", api.NetworkCreate{})
		return err
	},
	"delete-network": func(ctx context.Context, c *client.Client) error { return c.DeleteNetwork(ctx, "o1", "n1") },
	"list-public-ip-pools": func(ctx context.Context, c *client.Client) error {
		_, err := c.ListPublicIPPools(ctx, client.PublicIPPoolListOptions{})
		return err
	},
	"create-public-ip-pool": func(ctx context.Context, c *client.Client) error {
		_, err := c.CreatePublicIPPool(ctx, api.PublicIPPoolCreate{})
		return err
	},
	"delete-public-ip-pool": func(ctx context.Context, c *client.Client) error { return c.DeletePublicIPPool(ctx, "p1") },
	"list-public-ips": func(ctx context.Context, c *client.Client) error {
		_, err := c.ListPublicIPs(ctx, "o1", client.PublicIPListOptions{})
		return err
	},
	"get-public-ip": func(ctx context.Context, c *client.Client) error {
		_, err := c.GetPublicIP(ctx, "o1", "203.0.113.5")
		return err
	},
	"allocate-public-ip": func(ctx context.Context, c *client.Client) error {
		_, err := c.AllocatePublicIP(ctx, "o1", api.PublicIPAllocate{})
		return err
	},
	"release-public-ip": func(ctx context.Context, c *client.Client) error { return c.ReleasePublicIP(ctx, "o1", "203.0.113.5") },
	"attach-public-ip": func(ctx context.Context, c *client.Client) error {
		_, err := c.AttachPublicIP(ctx, "o1", "203.0.113.5", api.PublicIPAttach{VM: "vm1"})
		return err
	},
	"detach-public-ip": func(ctx context.Context, c *client.Client) error {
		_, err := c.DetachPublicIP(ctx, "o1", "203.0.113.5")
		return err
	},
	"list-firewall-rules": func(ctx context.Context, c *client.Client) error {
		_, err := c.ListFirewallRules(ctx, "o1", "vm1")
		return err
	},
	"get-firewall-rule": func(ctx context.Context, c *client.Client) error {
		_, err := c.GetFirewallRule(ctx, "o1", "vm1", "r1")
		return err
	},
	"create-firewall-rule": func(ctx context.Context, c *client.Client) error {
		_, err := c.CreateFirewallRule(ctx, "o1", "vm1", api.FirewallRuleCreate{})
		return err
	},
	"delete-firewall-rule": func(ctx context.Context, c *client.Client) error {
		return c.DeleteFirewallRule(ctx, "o1", "vm1", "r1")
	},

	// Events.
	"stream-events": func(ctx context.Context, c *client.Client) error {
		for _, err := range c.Events(ctx, client.EventOptions{Types: []string{"vm.create"}}) {
			if err != nil {
				return err
			}
		}
		return nil
	},

	// Operations and audit.
	"list-operations": func(ctx context.Context, c *client.Client) error {
		_, err := c.ListOperations(ctx, client.OperationListOptions{})
		return err
	},
	"get-operation": func(ctx context.Context, c *client.Client) error { _, err := c.GetOperation(ctx, "op1"); return err },
	"wait-operation": func(ctx context.Context, c *client.Client) error {
		_, err := c.PollOperation(ctx, "op1", time.Second)
		return err
	},
	"cancel-operation": func(ctx context.Context, c *client.Client) error { _, err := c.CancelOperation(ctx, "op1"); return err },
	"list-audit-events": func(ctx context.Context, c *client.Client) error {
		_, err := c.ListAuditEvents(ctx, client.AuditListOptions{})
		return err
	},
	"list-org-audit-events": func(ctx context.Context, c *client.Client) error {
		_, err := c.ListOrgAuditEvents(ctx, "o1", client.AuditListOptions{})
		return err
	},
}

// recorder is a transport that notes the request and answers 404.
type recorder struct{ method, path string }

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.method, r.path = req.Method, req.URL.EscapedPath()
	return &http.Response{
		StatusCode: http.StatusNotFound,
		Header:     http.Header{"Content-Type": {"application/problem+json"}},
		Body:       io.NopCloser(strings.NewReader(`{"status":404,"code":"not_found"}`)),
		Request:    req,
	}, nil
}

// template matches a concrete path against an OpenAPI path template.
func template(p string) *regexp.Regexp {
	return regexp.MustCompile("^" + regexp.MustCompile(`\\\{[^}]+\\\}`).ReplaceAllString(regexp.QuoteMeta(p), `[^/]+`) + "$")
}

func TestSDKCoversOpenAPI(t *testing.T) {
	e := newEnv(t, false)
	res, err := http.Get(e.URL + "/api/v1/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.NewDecoder(res.Body).Decode(&doc); err != nil {
		t.Fatalf("decode openapi.json: %v", err)
	}

	rec := &recorder{}
	c, err := client.New("http://sdk.test", client.WithHTTPClient(&http.Client{Transport: rec}))
	if err != nil {
		t.Fatal(err)
	}
	sdk := maps.Clone(sdk)
	for _, more := range []map[string]func(context.Context, *client.Client) error{sdkDisks, sdkSSHKeys, sdkConsole} {
		maps.Copy(sdk, more)
	}
	served := map[string]bool{}
	for p, methods := range doc.Paths {
		for m, raw := range methods {
			method := strings.ToUpper(m)
			if !slices.Contains([]string{"GET", "POST", "PUT", "PATCH", "DELETE"}, method) {
				continue
			}
			var op struct {
				OperationID string `json:"operationId"`
			}
			if err := json.Unmarshal(raw, &op); err != nil {
				t.Fatalf("%s %s: %v", method, p, err)
			}
			served[op.OperationID] = true
			call, ok := sdk[op.OperationID]
			if !ok {
				t.Errorf("%s %s (operationId %s) has no SDK method: add one to client/ and to the sdk table", method, p, op.OperationID)
				continue
			}
			*rec = recorder{}
			if err := call(t.Context(), c); err == nil {
				t.Errorf("%s: the recorder answers 404, but the call reported no error", op.OperationID)
			}
			if rec.method != method || !template(p).MatchString(rec.path) {
				t.Errorf("%s: SDK sent %s %s, the API serves %s %s", op.OperationID, rec.method, rec.path, method, p)
			}
		}
	}
	for id := range sdk {
		if !served[id] {
			t.Errorf("the sdk table has %s, which the server's OpenAPI document does not have", id)
		}
	}
}
