package server

// The tenant-isolation matrix. Every operation of the served OpenAPI document
// is called by every role of one tenant (bravo), and by a console session,
// aimed at the objects of another tenant (alpha). A foreign object must
// answer exactly as a nonexistent one does (404: existence does not leak),
// lists must not show it, provider operations must refuse, and alpha's objects
// must be unchanged afterwards. The matrix is driven by the document, so an
// operation added later is covered once it is classified in isolationRules;
// until then the test fails and says so.

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/internal/events"
	"github.com/sirocco-cloud/sirocco/internal/operation"
	"github.com/sirocco-cloud/sirocco/internal/store"
)

// isoKind says what a tenant may expect from an operation aimed at another
// tenant's objects.
type isoKind int

const (
	// isoOrg operations act inside an organisation named by {org} in the
	// path or by an org field in the body. Another tenant's organisation is
	// 404, and so is another tenant's object under the caller's own one.
	isoOrg isoKind = iota + 1
	// isoObject operations name an object by ID outside an organisation
	// path (an operation, a token, a user): another tenant's is 404.
	isoObject
	// isoList operations list what the caller may see: never another
	// tenant's objects. A filter naming another tenant's organisation is 404.
	isoList
	// isoSelf operations act on the caller alone.
	isoSelf
	// isoCatalog operations read the provider's catalogue, which any caller
	// may read and which holds no tenant's objects.
	isoCatalog
	// isoProvider operations need a provider role: every tenant role is
	// refused with 403 (or 404), never served.
	isoProvider
	// isoPublic operations need no caller (sign-up, login, mail links,
	// branding). They must not reveal another tenant's objects either.
	isoPublic
)

// isoRule classifies one operation for the matrix.
type isoRule struct {
	op   string // operationId
	kind isoKind
	// refs names the fixture objects that fill each {placeholder} of the
	// path, the queries and the body. A path placeholder not listed is
	// filled with the fixture objects of the same name ({org}, {vdc}).
	refs map[string][]string
	// queries are query strings to try, with placeholders; default none.
	queries []string
	// body builds a body that would succeed for alpha's own admin, so that
	// validation cannot answer before the isolation check has to.
	body func(f *isoFixture, v map[string]string) any
	// endsSession marks logout, which gets a console session of its own.
	endsSession bool
	// webSocket marks an upgrade-only endpoint: a plain GET by alpha's admin
	// is refused (426), so the control request is skipped; its success is
	// tested with a real WebSocket elsewhere.
	webSocket bool
}

// isolationRules classifies every operation of the API. Mutating org and
// object operations are replayed by alpha's admin at the end, in this order,
// to show that their bodies and targets are valid: keep destructive ones last.
func isolationRules() []isoRule {
	body := func(v any) func(*isoFixture, map[string]string) any {
		return func(*isoFixture, map[string]string) any { return v }
	}
	text := "changed by bravo"
	draining := api.HostDraining
	rules := []isoRule{
		// Public: no caller needed.
		{op: "get-provider", kind: isoPublic},
		{op: "signup", kind: isoPublic, body: body(api.Signup{Email: "newcomer@delta.test", Password: "a long enough secret", OrgName: "delta"})},
		{op: "verify-email", kind: isoPublic, body: body(api.TokenRequest{Token: "sirocco_mail_not-a-real-token"})},
		{op: "login", kind: isoPublic, refs: map[string][]string{"email": {"admin-email"}},
			body: func(_ *isoFixture, v map[string]string) any {
				return api.Login{Email: v["email"], Password: "not the password"}
			}},
		{op: "request-password-reset", kind: isoPublic, refs: map[string][]string{"email": {"admin-email"}},
			body: func(_ *isoFixture, v map[string]string) any { return api.PasswordResetRequest{Email: v["email"]} }},
		{op: "reset-password", kind: isoPublic, body: body(api.PasswordReset{Token: "sirocco_mail_not-a-real-token", Password: "a long enough secret"})},
		{op: "accept-invitation", kind: isoPublic, body: body(api.InvitationAccept{Token: "sirocco_mail_not-a-real-token", Name: "Spy", Password: "a long enough secret"})},

		// The caller's own.
		{op: "get-me", kind: isoSelf},
		{op: "resend-verification", kind: isoSelf},
		{op: "logout", kind: isoSelf, endsSession: true},
		{op: "list-tokens", kind: isoList},

		// The catalogue, readable by all.
		{op: "list-regions", kind: isoCatalog},
		{op: "get-region", kind: isoCatalog, refs: map[string][]string{"id": {"region"}}},
		{op: "list-zones", kind: isoCatalog, queries: []string{"", "region={region}"}},
		{op: "get-zone", kind: isoCatalog, refs: map[string][]string{"id": {"zone"}}},
		{op: "list-sizes", kind: isoCatalog},
		{op: "get-size", kind: isoCatalog, refs: map[string][]string{"id": {"size"}}},
		{op: "list-public-images", kind: isoCatalog},
		{op: "list-price-plans", kind: isoCatalog},
		{op: "get-price-plan", kind: isoCatalog, refs: map[string][]string{"id": {"price-plan"}}},
		{op: "get-public-image", kind: isoCatalog, refs: map[string][]string{"image": {"public-image"}}},

		// The provider's.
		{op: "update-provider", kind: isoProvider, body: body(api.ProviderUpdate{Name: &text})},
		{op: "create-region", kind: isoProvider, body: body(api.RegionCreate{Name: "de-fra", Jurisdiction: "DE"})},
		{op: "update-region", kind: isoProvider, refs: map[string][]string{"id": {"region"}}, body: body(api.RegionUpdate{DisplayName: &text})},
		{op: "delete-region", kind: isoProvider, refs: map[string][]string{"id": {"region"}}},
		{op: "create-zone", kind: isoProvider, body: body(api.ZoneCreate{Name: "au-syd-1b", Region: "au-syd"})},
		{op: "update-zone", kind: isoProvider, refs: map[string][]string{"id": {"zone"}}, body: body(api.ZoneUpdate{DisplayName: &text})},
		{op: "delete-zone", kind: isoProvider, refs: map[string][]string{"id": {"zone"}}},
		{op: "list-hosts", kind: isoProvider},
		{op: "get-host", kind: isoProvider, refs: map[string][]string{"id": {"host"}}},
		{op: "create-host", kind: isoProvider, body: body(api.HostCreate{Name: "hv2", Zone: "au-syd-1a"})},
		{op: "update-host", kind: isoProvider, refs: map[string][]string{"id": {"host"}}, body: body(api.HostUpdate{State: &draining})},
		{op: "delete-host", kind: isoProvider, refs: map[string][]string{"id": {"host"}}},
		{op: "create-host-join-token", kind: isoProvider, refs: map[string][]string{"id": {"host"}}},
		{op: "create-size", kind: isoProvider, body: body(api.SizeCreate{Name: "s1.large", VCPU: 2, MemoryMiB: 2048, DiskGiB: 20})},
		{op: "update-size", kind: isoProvider, refs: map[string][]string{"id": {"size"}}, body: body(api.SizeUpdate{Description: &text})},
		{op: "delete-size", kind: isoProvider, refs: map[string][]string{"id": {"size"}}},
		{op: "create-org", kind: isoProvider, body: body(api.OrganisationCreate{Name: "charlie"})},
		{op: "list-users", kind: isoProvider, queries: []string{"", "email={email}"}, refs: map[string][]string{"email": {"admin-email"}}},
		{op: "delete-user", kind: isoProvider, refs: map[string][]string{"id": {"user", "member"}}},
		{op: "list-role-bindings", kind: isoProvider},
		{op: "put-role-binding", kind: isoProvider, body: func(f *isoFixture, _ map[string]string) any {
			return api.RoleBindingCreate{User: f.bravoAdmin, Role: api.RoleProviderAdmin}
		}},
		{op: "delete-role-binding", kind: isoProvider, refs: map[string][]string{"id": {"binding"}}},
		{op: "create-public-image", kind: isoProvider, body: body(api.ImageCreate{Name: "fresh", Kind: api.ImageKindKernel})},
		{op: "update-public-image", kind: isoProvider, refs: map[string][]string{"image": {"public-image"}}, body: body(api.ImageUpdate{Description: &text})},
		{op: "upload-public-image-file", kind: isoProvider, refs: map[string][]string{"image": {"public-pending"}, "file": {"kernel-file"}},
			body: func(*isoFixture, map[string]string) any { return bzImage() }},
		{op: "delete-public-image", kind: isoProvider, refs: map[string][]string{"image": {"public-unused"}}},
		{op: "import-public-ova", kind: isoProvider, queries: []string{"name=fresh-ova"},
			body: func(f *isoFixture, _ map[string]string) any { return webOVA(f.e.t) }},
		{op: "create-price-plan", kind: isoProvider, body: body(map[string]any{"region": "au-syd", "rates": map[string]string{"vcpu_hour": "0.01"}})},
		{op: "delete-price-plan", kind: isoProvider, refs: map[string][]string{"id": {"future-plan"}}},
		{op: "list-price-overrides", kind: isoProvider},
		{op: "create-price-override", kind: isoProvider, body: body(map[string]any{"discount_percent": "10"})},
		{op: "delete-price-override", kind: isoProvider, refs: map[string][]string{"id": {"future-override"}}},
		{op: "grant-credit", kind: isoProvider, body: body(map[string]any{"kind": "paid", "amount": "10.00", "reason": "top-up"})},
		{op: "set-billing-override", kind: isoProvider, body: body(map[string]any{"state": "active", "reason": "x"})},
		{op: "run-invoices", kind: isoProvider, body: body(map[string]any{"period": "2026-10"})},
		{op: "pay-invoice", kind: isoProvider, refs: map[string][]string{"invoice": {"invoice"}}},
		{op: "void-invoice", kind: isoProvider, refs: map[string][]string{"invoice": {"invoice"}}},
		{op: "create-credit-note", kind: isoProvider, refs: map[string][]string{"invoice": {"invoice"}},
			body: body(map[string]any{"amount": "1.00", "reason": "outage"})},
		{op: "list-provider-webhooks", kind: isoProvider},
		{op: "create-provider-webhook", kind: isoProvider, body: body(map[string]any{"url": "https://ops.example.com/in"})},
		{op: "delete-provider-webhook", kind: isoProvider, refs: map[string][]string{"webhook": {"provider-webhook"}}},
		{op: "list-provider-webhook-deliveries", kind: isoProvider, refs: map[string][]string{"webhook": {"provider-webhook"}}},
		{op: "list-public-ip-pools", kind: isoProvider},
		{op: "create-public-ip-pool", kind: isoProvider, body: body(map[string]any{"name": "more", "region": "au-syd",
			"cidr": "198.51.100.0/28", "gateway": "198.51.100.1", "uplink": "eth1"})},
		{op: "delete-public-ip-pool", kind: isoProvider, refs: map[string][]string{"pool": {"pool"}}},
		{op: "list-all-vms", kind: isoProvider, queries: []string{"", "org={org}", "host={host}"}},
		{op: "list-audit-events", kind: isoProvider, queries: []string{"", "org={org}", "resource={vdc}"}, refs: map[string][]string{"vdc": {"vdc-id"}}},

		// Lists across organisations.
		{op: "list-orgs", kind: isoList},
		{op: "stream-events", kind: isoList, queries: []string{"follow=false&after=" + events.IDAt(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC))}},
		{op: "list-operations", kind: isoList, queries: []string{"", "org={org}", "target={vdc}", "kind=vdc.delete"},
			refs: map[string][]string{"vdc": {"vdc-id"}}},

		// Reads of alpha's organisation and objects.
		{op: "get-org", kind: isoOrg},
		{op: "list-members", kind: isoOrg},
		{op: "list-invitations", kind: isoOrg},
		{op: "list-org-tokens", kind: isoOrg},
		{op: "list-vdcs", kind: isoOrg},
		{op: "get-vdc", kind: isoOrg},
		{op: "list-org-audit-events", kind: isoOrg},
		{op: "list-vms", kind: isoOrg, queries: []string{"", "vdc={vdc}"}},
		{op: "get-vm", kind: isoOrg, refs: map[string][]string{"vm": {"vm"}}},
		{op: "list-snapshots", kind: isoOrg, refs: map[string][]string{"vm": {"vm-snap"}}},
		{op: "connect-vm-console", kind: isoOrg, refs: map[string][]string{"vm": {"vm"}}, webSocket: true},
		{op: "list-images", kind: isoOrg},
		{op: "get-image", kind: isoOrg, refs: map[string][]string{"image": {"image"}}},
		{op: "get-residency-report", kind: isoOrg},
		{op: "get-residency-report-csv", kind: isoOrg},
		{op: "get-balance", kind: isoOrg},
		{op: "list-networks", kind: isoOrg},
		{op: "get-network", kind: isoOrg, refs: map[string][]string{"network": {"network"}}},
		{op: "list-public-ips", kind: isoOrg},
		{op: "get-public-ip", kind: isoOrg, refs: map[string][]string{"ip": {"pip"}}},
		{op: "list-firewall-rules", kind: isoOrg, refs: map[string][]string{"vm": {"vm"}}},
		{op: "get-firewall-rule", kind: isoOrg, refs: map[string][]string{"vm": {"vm"}, "rule": {"rule"}}},
		{op: "list-credits", kind: isoOrg},
		{op: "list-invoices", kind: isoOrg},
		{op: "get-invoice", kind: isoOrg, refs: map[string][]string{"invoice": {"invoice"}}},
		{op: "get-invoice-pdf", kind: isoOrg, refs: map[string][]string{"invoice": {"invoice"}}},
		{op: "get-invoice-csv", kind: isoOrg, refs: map[string][]string{"invoice": {"invoice"}}},
		{op: "get-usage", kind: isoOrg},
		{op: "get-usage-csv", kind: isoOrg},
		{op: "get-costs-focus", kind: isoOrg},
		{op: "list-budgets", kind: isoOrg},
		{op: "get-budget", kind: isoOrg, refs: map[string][]string{"budget": {"budget"}}},
		{op: "list-webhooks", kind: isoOrg},
		{op: "list-webhook-deliveries", kind: isoOrg, refs: map[string][]string{"webhook": {"webhook"}}},
		{op: "get-user", kind: isoObject, refs: map[string][]string{"id": {"user", "member"}}},
		{op: "get-token", kind: isoObject, refs: map[string][]string{"id": {"token", "member-token"}}},
		{op: "get-operation", kind: isoObject, refs: map[string][]string{"id": {"operation"}}},
		{op: "wait-operation", kind: isoObject, refs: map[string][]string{"id": {"operation"}}, queries: []string{"timeout=0s"}},

		// Changes to alpha's organisation and objects, in replay order.
		{op: "update-org", kind: isoOrg, body: body(api.OrganisationUpdate{DisplayName: &text})},
		{op: "create-vdc", kind: isoOrg, body: body(api.VDCCreate{Name: "implant", Zone: "au-syd-1a"})},
		{op: "update-vdc", kind: isoOrg, body: body(api.VDCUpdate{Description: &text})},
		{op: "create-invitation", kind: isoOrg, body: body(api.InvitationCreate{Email: "spy@bravo.test", Role: api.RoleOrgAdmin})},
		{op: "revoke-invitation", kind: isoOrg, refs: map[string][]string{"id": {"invitation"}}},
		{op: "put-member", kind: isoOrg, body: func(f *isoFixture, _ map[string]string) any {
			return api.RoleBindingCreate{User: f.bravoAdmin, Role: api.RoleOrgAdmin}
		}},
		{op: "create-token", kind: isoOrg, refs: map[string][]string{"org": {"org"}},
			body: func(_ *isoFixture, v map[string]string) any {
				return api.TokenCreate{Name: "stolen", Org: v["org"], Role: api.RoleOrgViewer}
			}},
		{op: "cancel-operation", kind: isoObject, refs: map[string][]string{"id": {"operation"}}},
		{op: "revoke-token", kind: isoObject, refs: map[string][]string{"id": {"token", "member-token"}}},
		{op: "revoke-org-token", kind: isoOrg, refs: map[string][]string{"id": {"member-token", "token"}}},
		{op: "remove-member", kind: isoOrg, refs: map[string][]string{"user": {"member"}}},
	}
	// Later features' changes replay here, before the VM actions (which
	// leave their VMs busy) and the deletes (which leave the VDC deleting).
	rules = append(rules, moreIsolationRules()...)
	return append(rules, []isoRule{
		{op: "create-vms", kind: isoOrg, body: body(api.VMCreate{Name: "implant", VDC: "atlas", Image: "tiny", Size: "s1.small",
			Networks: []api.VMNetwork{{Network: "lan"}}})},
		{op: "update-vm", kind: isoOrg, refs: map[string][]string{"vm": {"vm"}}, body: body(api.VMUpdate{Labels: &api.Labels{"by": "bravo"}})},
		{op: "stop-vm", kind: isoOrg, refs: map[string][]string{"vm": {"vm-stop"}}},
		{op: "force-off-vm", kind: isoOrg, refs: map[string][]string{"vm": {"vm-force"}}},
		{op: "reboot-vm", kind: isoOrg, refs: map[string][]string{"vm": {"vm"}}},
		{op: "start-vm", kind: isoOrg, refs: map[string][]string{"vm": {"vm-off"}}},
		{op: "resize-vm", kind: isoOrg, refs: map[string][]string{"vm": {"vm-resize"}}, body: body(api.VMResize{Size: "s1.small"})},
		{op: "create-snapshot", kind: isoOrg, refs: map[string][]string{"vm": {"vm-snap"}}, body: body(api.SnapshotCreate{Name: "implant"})},
		{op: "revert-snapshot", kind: isoOrg, refs: map[string][]string{"vm": {"vm-revert"}, "snapshot": {"snapshot-revert"}}},
		{op: "delete-snapshot", kind: isoOrg, refs: map[string][]string{"vm": {"vm-unsnap"}, "snapshot": {"snapshot-delete"}}},
		{op: "create-image", kind: isoOrg, body: body(api.ImageCreate{Name: "implant", Kind: api.ImageKindKernel})},
		{op: "update-image", kind: isoOrg, refs: map[string][]string{"image": {"image"}}, body: body(api.ImageUpdate{Description: &text})},
		{op: "upload-image-file", kind: isoOrg, refs: map[string][]string{"image": {"image-pending"}, "file": {"kernel-file"}},
			body: func(*isoFixture, map[string]string) any { return bzImage() }},
		{op: "import-ova", kind: isoOrg, queries: []string{"name=implant-ova"},
			body: func(f *isoFixture, _ map[string]string) any { return webOVA(f.e.t) }},
		{op: "delete-image", kind: isoOrg, refs: map[string][]string{"image": {"image-unused"}}},
		{op: "delete-vm", kind: isoOrg, refs: map[string][]string{"vm": {"vm-del"}}},
		{op: "create-network", kind: isoOrg, body: body(map[string]any{"name": "n2", "vdc": "atlas", "cidr": "10.9.0.0/24"})},
		{op: "delete-network", kind: isoOrg, refs: map[string][]string{"network": {"network-del"}}},
		{op: "release-public-ip", kind: isoOrg, refs: map[string][]string{"ip": {"pip-del"}}},
		{op: "allocate-public-ip", kind: isoOrg, body: body(map[string]any{"vdc": "atlas"})},
		{op: "attach-public-ip", kind: isoOrg, refs: map[string][]string{"ip": {"pip"}}, body: body(map[string]any{"vm": "web"})},
		{op: "detach-public-ip", kind: isoOrg, refs: map[string][]string{"ip": {"pip"}}},
		{op: "create-firewall-rule", kind: isoOrg, refs: map[string][]string{"vm": {"vm"}},
			body: body(map[string]any{"direction": "ingress", "protocol": "tcp", "port_from": 22})},
		{op: "delete-firewall-rule", kind: isoOrg, refs: map[string][]string{"vm": {"vm"}, "rule": {"rule-del"}}},
		{op: "get-quote", kind: isoOrg, body: body(map[string]any{"vdc": "atlas", "size": "s1.small"})},
		{op: "create-budget", kind: isoOrg, body: body(map[string]any{"name": "implant", "amount": "100"})},
		{op: "update-budget", kind: isoOrg, refs: map[string][]string{"budget": {"budget"}}, body: body(map[string]any{"amount": "200"})},
		{op: "delete-budget", kind: isoOrg, refs: map[string][]string{"budget": {"budget-del"}}},
		{op: "create-webhook", kind: isoOrg, body: body(map[string]any{"url": "https://hooks.example.com/in"})},
		{op: "delete-webhook", kind: isoOrg, refs: map[string][]string{"webhook": {"webhook-del"}}},
		{op: "delete-vdc", kind: isoOrg},
		{op: "close-org", kind: isoOrg},
	}...)
}

// moreIsolationRules gathers the rules kept in the files of later features
// (isolation_<feature>_test.go), so that each feature classifies its own
// operations.
func moreIsolationRules() []isoRule {
	var rules []isoRule
	for _, more := range []func() []isoRule{diskIsolationRules, sshKeyIsolationRules, consoleIsolationRules} {
		rules = append(rules, more()...)
	}
	return rules
}

// isoRef is one fixture object as a request names it.
type isoRef struct {
	label string // what it is, for messages
	value string
	// ghost is a value of the same shape naming nothing; "" for objects that
	// are not alpha's (the provider's catalogue).
	ghost string
}

// isoWho is a caller of the matrix.
type isoWho struct {
	name   string
	token  string
	cookie string // console session cookie value, instead of a token
}

// isoFixture holds the two tenants and their callers.
type isoFixture struct {
	e        *env
	provider string // provider-admin token
	alpha    string // token of alpha's org-admin
	// refs are the objects requests can name, by kind.
	refs map[string][]isoRef
	// secrets are alpha's identifiers, which no answer to bravo may contain
	// unless bravo sent them, with what each is.
	secrets map[string]string
	// bravo's callers, its admin's user ID and its users' e-mail addresses.
	bravo      []isoWho
	bravoAdmin string
	bravoUsers []string
	// alpha before the matrix, to compare after it.
	orgTag, vdcTag     string
	heldOp, invitation string
	tokenSecrets       []string // all must still work
	tokenIDs           []string
}

const (
	isoHoldKind  = "test.isolation.hold"
	isoPassword  = "correct horse battery" // what env.user gives every user
	isoAlphaName = "alpha"
)

func TestTenantIsolation(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		f := newIsoFixture(t, e)
		rules := map[string]isoRule{}
		for _, r := range isolationRules() {
			rules[r.op] = r
		}

		var replays []isoReplay
		checks := 0
		seen := map[string]bool{}
		for _, op := range isoOperations(t, e) {
			seen[op.id] = true
			rule, ok := rules[op.id]
			if !ok {
				t.Errorf("operation %s (%s %s) is not classified for the tenant-isolation matrix: "+
					"add it to isolationRules in isolation_test.go, saying whether it acts in an organisation, on an object by ID, "+
					"lists, acts on the caller, reads the catalogue, is provider-only or public, with a body that would succeed",
					op.id, op.method, op.path)
				continue
			}
			t.Run(op.id, func(t *testing.T) {
				calls, err := f.expand(rule, op.method, op.path)
				if err != nil {
					t.Fatalf("%s %s: %v: add the objects to newIsoFixture and name them in the rule's refs", op.method, op.path, err)
				}
				for _, c := range calls {
					for _, who := range f.bravo {
						if rule.endsSession && who.cookie != "" {
							who.cookie = f.login(t, "admin@bravo.test")
						}
						f.check(t, rule, c, who)
						checks++
					}
					f.control(t, rule, c)
				}
				if i := slices.IndexFunc(calls, func(c isoCall) bool { return c.control }); i >= 0 && mutates(rule, op.method) {
					replays = append(replays, isoReplay{rule: rule, call: calls[i]})
				}
			})
		}
		for _, r := range isolationRules() {
			if !seen[r.op] {
				t.Errorf("isolationRules classifies %s, which the OpenAPI document does not have: remove or rename it", r.op)
			}
		}

		t.Run("alpha unchanged", func(t *testing.T) { f.unchanged(t) })

		// Replay every change as alpha's own admin: each must succeed, so
		// the 404s above came from isolation, not from a bad target or body.
		t.Run("alpha's admin", func(t *testing.T) {
			order := map[string]int{}
			for i, r := range isolationRules() {
				order[r.op] = i
			}
			sort.SliceStable(replays, func(i, j int) bool { return order[replays[i].rule.op] < order[replays[j].rule.op] })
			for _, r := range replays {
				res := e.do(r.call.method, r.call.path, f.alpha, r.call.body)
				if res.Status/100 != 2 {
					t.Errorf("%s: %s %s as alpha's admin (%s): status %d, want 2xx: the rule's target or body is wrong: %s",
						r.rule.op, r.call.method, r.call.path, r.call.target, res.Status, clip(res.Body))
				}
			}
		})
		t.Logf("%d checks (operation × bravo role × target)", checks)
	})
}

// isoReplay is a change alpha's admin makes after the matrix.
type isoReplay struct {
	rule isoRule
	call isoCall
}

func mutates(rule isoRule, method string) bool {
	return method != http.MethodGet && (rule.kind == isoOrg || rule.kind == isoObject)
}

// isoOp is one operation of the OpenAPI document.
type isoOp struct{ id, method, path string }

// isoOperations reads the operations from the served OpenAPI document.
func isoOperations(t *testing.T, e *env) []isoOp {
	t.Helper()
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	e.do("GET", "/api/v1/openapi.json", "", nil).must(t, http.StatusOK).decode(t, &doc)
	var ops []isoOp
	for path, item := range doc.Paths {
		for method, raw := range item {
			method = strings.ToUpper(method)
			switch method {
			case http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
			default:
				continue // path-level parameters and the like
			}
			var op struct {
				OperationID string `json:"operationId"`
			}
			if err := json.Unmarshal(raw, &op); err != nil {
				t.Fatalf("%s %s: %v", method, path, err)
			}
			ops = append(ops, isoOp{id: op.OperationID, method: method, path: path})
		}
	}
	if len(ops) == 0 {
		t.Fatal("the OpenAPI document has no operations")
	}
	sort.Slice(ops, func(i, j int) bool {
		if ops[i].path != ops[j].path {
			return ops[i].path < ops[j].path
		}
		return ops[i].method < ops[j].method
	})
	return ops
}

// newIsoFixture builds the provider's catalogue, alpha with an object of
// every kind, and bravo with a caller for every organisation role.
func newIsoFixture(t *testing.T, e *env) *isoFixture {
	t.Helper()
	ctx := context.Background()
	f := &isoFixture{e: e, refs: map[string][]isoRef{}, secrets: map[string]string{}}
	f.provider = e.providerAdmin()
	e.do("POST", "/api/v1/regions", f.provider, api.RegionCreate{Name: "au-syd", Jurisdiction: "AU"}).must(t, http.StatusCreated)
	e.do("POST", "/api/v1/zones", f.provider, api.ZoneCreate{Name: "au-syd-1a", Region: "au-syd"}).must(t, http.StatusCreated)
	e.do("POST", "/api/v1/sizes", f.provider, api.SizeCreate{Name: "s1.small", VCPU: 1, MemoryMiB: 1024, DiskGiB: 10}).must(t, http.StatusCreated)
	var host api.Host
	e.do("POST", "/api/v1/hosts", f.provider, api.HostCreate{Name: "hv1", Zone: "au-syd-1a"}).must(t, http.StatusCreated).decode(t, &host)
	f.refs["region"] = []isoRef{{label: "region au-syd", value: "au-syd"}}
	f.refs["zone"] = []isoRef{{label: "zone au-syd-1a", value: "au-syd-1a"}}
	f.refs["size"] = []isoRef{{label: "size s1.small", value: "s1.small"}}
	f.refs["host"] = []isoRef{{label: "host hv1", value: host.ID}}

	// Alpha: a VDC, a finished and a running operation, a pending
	// invitation, a second member, tokens, audit events.
	alpha, admin := e.tenant(isoAlphaName, store.Residency{})
	f.alpha = admin
	adminMe := isoMe(t, e, admin)
	var atlas, relic api.VDC
	e.do("POST", "/api/v1/orgs/alpha/vdcs", admin, api.VDCCreate{Name: "atlas", Zone: "au-syd-1a"}).must(t, http.StatusCreated).decode(t, &atlas)
	e.do("POST", "/api/v1/orgs/alpha/vdcs", admin, api.VDCCreate{Name: "relic", Zone: "au-syd-1a"}).must(t, http.StatusCreated).decode(t, &relic)
	var done api.Operation
	e.do("DELETE", "/api/v1/orgs/alpha/vdcs/relic", admin, nil).must(t, http.StatusAccepted).decode(t, &done)
	for i := 0; !done.Done(); i++ {
		if i == 3 {
			t.Fatalf("VDC delete did not finish: %+v", done)
		}
		e.do("GET", "/api/v1/operations/"+done.ID+"/wait?timeout=20s", admin, nil).must(t, http.StatusOK).decode(t, &done)
	}
	var inv api.Invitation
	e.do("POST", "/api/v1/orgs/alpha/invitations", admin, api.InvitationCreate{Email: "ivy@a-corp.test", Role: api.RoleOrgMember}).
		must(t, http.StatusCreated).decode(t, &inv)
	mia := e.user("mia@a-corp.test", store.RoleBinding{OrgID: alpha.ID, Role: api.RoleOrgMember})
	miaToken := e.token(mia, alpha.ID, api.RoleOrgMember)
	miaMe := isoMe(t, e, miaToken)
	var ci api.TokenCreated
	e.do("POST", "/api/v1/tokens", admin, api.TokenCreate{Name: "ci-deploy", Org: isoAlphaName, Role: api.RoleOrgAdmin}).
		must(t, http.StatusCreated).decode(t, &ci)
	e.ops.Handle(isoHoldKind, func(ctx context.Context, _ *store.Operation, _ operation.Progress) error {
		<-ctx.Done() // held until cancelled, so that bravo has something to cancel
		return ctx.Err()
	})
	held := &store.Operation{OrgID: alpha.ID, Kind: isoHoldKind, TargetKind: "vdc", TargetID: atlas.ID, CreatedBy: adminMe.User.ID}
	if err := e.store.Tx(ctx, func(tx *store.Tx) error { return e.ops.Enqueue(ctx, tx, held) }); err != nil {
		t.Fatalf("enqueue: %v", err)
	}
	e.ops.Kick()
	var members api.List[api.RoleBinding]
	e.do("GET", "/api/v1/orgs/alpha/members", admin, nil).must(t, http.StatusOK).decode(t, &members)
	bindings := map[string]string{}
	for _, b := range members.Items {
		bindings[b.User] = b.ID
	}
	r := e.do("GET", "/api/v1/orgs/alpha", admin, nil).must(t, http.StatusOK)
	f.orgTag = r.Header.Get("ETag")
	f.vdcTag = e.do("GET", "/api/v1/orgs/alpha/vdcs/atlas", admin, nil).must(t, http.StatusOK).Header.Get("ETag")
	f.heldOp, f.invitation = held.ID, inv.ID
	f.tokenSecrets = []string{admin, miaToken, ci.Secret}
	f.tokenIDs = []string{adminMe.Token.ID, miaMe.Token.ID, ci.ID}

	f.refs["org"] = []isoRef{
		{label: "alpha by name", value: isoAlphaName, ghost: "nxorg"},
		{label: "alpha by ID", value: alpha.ID, ghost: store.NewID()},
	}
	f.refs["vdc"] = []isoRef{
		{label: "alpha's VDC by ID", value: atlas.ID, ghost: store.NewID()},
		{label: "alpha's VDC by name", value: atlas.Name, ghost: "nxvdc"},
	}
	f.refs["vdc-id"] = f.refs["vdc"][:1]
	f.refs["invitation"] = []isoRef{{label: "alpha's pending invitation", value: inv.ID, ghost: store.NewID()}}
	f.refs["token"] = []isoRef{
		{label: "alpha admin's second token", value: ci.ID, ghost: store.NewID()},
		{label: "alpha admin's token", value: adminMe.Token.ID, ghost: store.NewID()},
	}
	f.refs["member-token"] = []isoRef{{label: "alpha member's token", value: miaMe.Token.ID, ghost: store.NewID()}}
	f.refs["user"] = []isoRef{{label: "alpha's admin", value: adminMe.User.ID, ghost: store.NewID()}}
	f.refs["member"] = []isoRef{
		{label: "alpha's member by ID", value: mia.ID, ghost: store.NewID()},
		{label: "alpha's member by e-mail", value: mia.Email, ghost: "nobody@a-corp.test"},
	}
	f.refs["admin-email"] = []isoRef{{label: "alpha admin's e-mail", value: adminMe.User.Email, ghost: "nobody@alpha.test"}}
	f.refs["operation"] = []isoRef{
		{label: "alpha's running operation", value: held.ID, ghost: store.NewID()},
		{label: "alpha's finished operation", value: done.ID, ghost: store.NewID()},
	}
	f.refs["binding"] = []isoRef{
		{label: "alpha member's role binding", value: bindings[mia.ID], ghost: store.NewID()},
		{label: "alpha admin's role binding", value: bindings[adminMe.User.ID], ghost: store.NewID()},
	}
	compute := isoCompute(t, e, alpha.ID, atlas.ID, host.ID)
	for _, more := range []isoComputeObjects{compute, isoBilling(t, e, alpha.ID), isoNetworking(t, e, alpha.ID, atlas.ID, compute.refs["vm"][0].value),
		isoDisks(t, e, alpha.ID, atlas.ID, compute.refs["vm-off"][0].value), isoSSHKeys(t, e, alpha.ID)} {
		for kind, objs := range more.refs {
			f.refs[kind] = objs
		}
		for k, v := range more.secrets {
			f.secrets[k] = v
		}
	}
	for k, v := range map[string]string{
		alpha.ID:                  "alpha's ID",
		isoAlphaName:              "alpha's name",
		atlas.ID:                  "alpha's VDC ID",
		atlas.Name:                "alpha's VDC name",
		relic.ID:                  "alpha's deleted VDC ID",
		relic.Name:                "alpha's deleted VDC name",
		inv.ID:                    "alpha's invitation ID",
		inv.Email:                 "the e-mail address alpha invited",
		adminMe.User.ID:           "alpha admin's user ID",
		adminMe.User.Email:        "alpha admin's e-mail address",
		mia.ID:                    "alpha member's user ID",
		mia.Email:                 "alpha member's e-mail address",
		adminMe.Token.ID:          "alpha admin's token ID",
		ci.ID:                     "alpha admin's second token ID",
		ci.Name:                   "alpha's token name",
		miaMe.Token.ID:            "alpha member's token ID",
		held.ID:                   "alpha's running operation ID",
		done.ID:                   "alpha's finished operation ID",
		bindings[mia.ID]:          "alpha member's role binding ID",
		bindings[adminMe.User.ID]: "alpha admin's role binding ID",
	} {
		f.secrets[k] = v
	}
	var events api.List[api.AuditEvent]
	e.do("GET", "/api/v1/orgs/alpha/audit-events", admin, nil).must(t, http.StatusOK).decode(t, &events)
	if len(events.Items) == 0 {
		t.Fatal("alpha has no audit events")
	}
	for _, ev := range events.Items {
		f.secrets[ev.ID] = "alpha's audit event " + ev.Action
	}

	// Bravo: a caller for each organisation role, and a console session.
	bravo, bravoAdmin := e.tenant("bravo", store.Residency{})
	f.bravoAdmin = isoMe(t, e, bravoAdmin).User.ID
	member := e.user("max@bravo.test", store.RoleBinding{OrgID: bravo.ID, Role: api.RoleOrgMember})
	viewer := e.user("val@bravo.test", store.RoleBinding{OrgID: bravo.ID, Role: api.RoleOrgViewer})
	f.bravoUsers = []string{"admin@bravo.test", member.Email, viewer.Email}
	f.bravo = []isoWho{
		{name: "bravo org-admin token", token: bravoAdmin},
		{name: "bravo org-member token", token: e.token(member, bravo.ID, api.RoleOrgMember)},
		{name: "bravo org-viewer token", token: e.token(viewer, bravo.ID, api.RoleOrgViewer)},
		{name: "bravo org-admin console session", cookie: f.login(t, "admin@bravo.test")},
	}
	return f
}

func isoMe(t *testing.T, e *env, token string) api.Me {
	t.Helper()
	var me api.Me
	e.do("GET", "/api/v1/me", token, nil).must(t, http.StatusOK).decode(t, &me)
	if me.Token == nil {
		t.Fatalf("/me with a token shows no token: %+v", me)
	}
	return me
}

// login opens a console session the way a browser does and returns its cookie.
func (f *isoFixture) login(t *testing.T, email string) string {
	t.Helper()
	b := newCookieClient(f.e)
	b.login(t, email, isoPassword)
	u, err := url.Parse(f.e.url)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == sessionCookie {
			return c.Value
		}
	}
	t.Fatalf("login as %s set no %s cookie", email, sessionCookie)
	return ""
}

// isoCall is one request of the matrix.
type isoCall struct {
	method, path string // path with query
	body         any
	target       string // the objects it names, for messages
	// ghostPath and ghostBody are the same request naming objects that do
	// not exist; ghostPath is "" when the request names none of alpha's.
	ghostPath string
	ghostBody any
	unghost   *strings.Replacer // turns the ghost answer into the expected one
	namesOrg  bool              // names alpha's organisation
	cross     bool              // names alpha's object under bravo's own organisation
	control   bool              // alpha's admin would succeed with it
}

// expand makes the calls of an operation: every combination of the fixture
// objects its placeholders take, for every query.
func (f *isoFixture) expand(rule isoRule, method, path string) ([]isoCall, error) {
	placeholder := regexp.MustCompile(`\{([a-z_]+)\}`)
	queries := rule.queries
	if len(queries) == 0 {
		queries = []string{""}
	}
	type choice struct {
		isoRef
		kind         string
		first, cross bool
	}
	var calls []isoCall
	for _, q := range queries {
		tmpl := path
		if q != "" {
			tmpl += "?" + q
		}
		var names []string
		for _, m := range placeholder.FindAllStringSubmatch(tmpl, -1) {
			if !slices.Contains(names, m[1]) {
				names = append(names, m[1])
			}
		}
		if rule.body != nil {
			// The rest of refs fill the body.
			for _, n := range slices.Sorted(maps.Keys(rule.refs)) {
				if !slices.Contains(names, n) && !strings.Contains(strings.Join(rule.queries, "&"), "{"+n+"}") {
					names = append(names, n)
				}
			}
		}
		choices := make([][]choice, len(names))
		for i, n := range names {
			kinds := rule.refs[n]
			if kinds == nil {
				kinds = []string{n}
			}
			for j, k := range kinds {
				refs, ok := f.refs[k]
				if !ok {
					return nil, fmt.Errorf("no fixture objects of kind %q for {%s}", k, n)
				}
				for _, r := range refs {
					choices[i] = append(choices[i], choice{isoRef: r, kind: k, first: j == 0})
				}
			}
			// Alpha's objects under bravo's own organisation.
			if n == "org" && rule.kind == isoOrg && strings.Contains(path, "{org}") && strings.Count(path, "{") > 1 {
				choices[i] = append(choices[i], choice{isoRef: isoRef{label: "bravo's own organisation", value: "bravo"}, kind: "org", cross: true})
			}
		}
		for combo := range isoProduct(len(choices), func(i int) int { return len(choices[i]) }) {
			vals, ghosts := map[string]string{}, map[string]string{}
			var pairs, labels []string
			c := isoCall{method: method, control: true}
			for i, k := range combo {
				ch := choices[i][k]
				vals[names[i]], ghosts[names[i]] = ch.value, ch.value
				if ch.ghost != "" {
					ghosts[names[i]] = ch.ghost
					pairs = append(pairs, ch.ghost, ch.value)
				}
				labels = append(labels, names[i]+": "+ch.label)
				c.cross = c.cross || ch.cross
				c.namesOrg = c.namesOrg || (ch.kind == "org" && !ch.cross)
				c.control = c.control && ch.first && !ch.cross
			}
			c.target = strings.Join(labels, ", ")
			if c.target == "" {
				c.target = "no object"
			}
			c.path = isoFill(tmpl, vals)
			if rule.body != nil {
				c.body = rule.body(f, vals)
			}
			if len(pairs) > 0 {
				c.ghostPath, c.unghost = isoFill(tmpl, ghosts), strings.NewReplacer(pairs...)
				if rule.body != nil {
					c.ghostBody = rule.body(f, ghosts)
				}
			}
			calls = append(calls, c)
		}
	}
	return calls, nil
}

// isoProduct yields every combination of indices for n slots of the given sizes.
func isoProduct(n int, size func(int) int) func(func([]int) bool) {
	return func(yield func([]int) bool) {
		idx := make([]int, n)
		for i := range n {
			if size(i) == 0 {
				return
			}
		}
		for {
			if !yield(slices.Clone(idx)) {
				return
			}
			i := n - 1
			for ; i >= 0; i-- {
				idx[i]++
				if idx[i] < size(i) {
					break
				}
				idx[i] = 0
			}
			if i < 0 {
				return
			}
		}
	}
}

// isoFill puts values into a path template, escaped for where they go.
func isoFill(tmpl string, v map[string]string) string {
	path, query, _ := strings.Cut(tmpl, "?")
	for k, x := range v {
		path = strings.ReplaceAll(path, "{"+k+"}", url.PathEscape(x))
		query = strings.ReplaceAll(query, "{"+k+"}", url.QueryEscape(x))
	}
	if query != "" {
		return path + "?" + query
	}
	return path
}

func (f *isoFixture) send(who isoWho, method, path string, body any) *resp {
	var h []string
	if who.cookie != "" {
		h = []string{"Cookie", sessionCookie + "=" + who.cookie}
	}
	return f.e.do(method, path, who.token, body, h...)
}

// check makes one call of the matrix as one of bravo's callers.
func (f *isoFixture) check(t *testing.T, rule isoRule, c isoCall, who isoWho) {
	t.Helper()
	r := f.send(who, c.method, c.path, c.body)
	where := fmt.Sprintf("%s as %s, aimed at %s: %s %s", rule.op, who.name, c.target, c.method, c.path)
	code := ""
	if r.Header.Get("Content-Type") == "application/problem+json" {
		var p api.Error
		if json.Unmarshal(r.Body, &p) == nil {
			code = p.Code
		}
	}
	switch {
	case rule.kind == isoOrg || rule.kind == isoObject || rule.kind == isoList && c.namesOrg:
		// Under bravo's own organisation a role too weak for the call is
		// refused before any object is looked up, for alpha's as for none.
		if !(r.Status == http.StatusNotFound && code == api.CodeNotFound) &&
			!(c.cross && r.Status == http.StatusForbidden && code == api.CodeForbidden) {
			t.Errorf("%s: status %d %q, want 404 not_found: %s", where, r.Status, code, clip(r.Body))
		}
	case rule.kind == isoProvider:
		if !(r.Status == http.StatusForbidden && code == api.CodeForbidden) && !(r.Status == http.StatusNotFound && code == api.CodeNotFound) {
			t.Errorf("%s: status %d %q, want 403 forbidden (provider roles only): %s", where, r.Status, code, clip(r.Body))
		}
	case rule.kind == isoList || rule.kind == isoCatalog:
		if r.Status != http.StatusOK {
			t.Errorf("%s: status %d, want 200: %s", where, r.Status, clip(r.Body))
		}
	default: // isoSelf, isoPublic: whatever they answer, without alpha's objects
		if r.Status >= 500 {
			t.Errorf("%s: status %d: %s", where, r.Status, clip(r.Body))
		}
	}
	if leak := f.leaks(c, r.Body); leak != "" {
		t.Errorf("%s: the answer reveals %s: %d %s", where, leak, r.Status, clip(r.Body))
	}
	if c.ghostPath != "" {
		g := f.send(who, c.method, c.ghostPath, c.ghostBody)
		if got := c.unghost.Replace(string(g.Body)); g.Status != r.Status || got != string(r.Body) {
			t.Errorf("%s: answers differently than for objects that do not exist (%s %s), so it reveals that alpha's exist:\n"+
				"  alpha's:     %d %s\n  nonexistent: %d %s", where, c.method, c.ghostPath, r.Status, clip(r.Body), g.Status, clip(g.Body))
		}
	}
}

// leaks names the first of alpha's identifiers in body that the request did
// not send itself, or "".
func (f *isoFixture) leaks(c isoCall, body []byte) string {
	sent := c.path
	if c.body != nil {
		b, _ := json.Marshal(c.body)
		sent += string(b)
	}
	if p, err := url.PathUnescape(sent); err == nil {
		sent = p
	}
	var found []string
	for s, what := range f.secrets {
		if s != "" && strings.Contains(string(body), s) && !strings.Contains(sent, s) {
			found = append(found, fmt.Sprintf("%s (%s)", what, s))
		}
	}
	sort.Strings(found)
	return strings.Join(found, ", ")
}

// control makes the call as someone allowed to, for reads: the isolation
// checks mean nothing if the call fails for everybody.
func (f *isoFixture) control(t *testing.T, rule isoRule, c isoCall) {
	t.Helper()
	if c.method != http.MethodGet || c.cross || rule.webSocket {
		return
	}
	switch rule.kind {
	case isoOrg, isoObject:
		if !c.control {
			return
		}
		if r := f.e.do(c.method, c.path, f.alpha, nil); r.Status != http.StatusOK {
			t.Errorf("control: %s as alpha's admin, aimed at %s: %s %s: status %d, want 200: %s",
				rule.op, c.target, c.method, c.path, r.Status, clip(r.Body))
		}
	case isoList:
		r := f.e.do(c.method, c.path, f.alpha, nil)
		if r.Status != http.StatusOK || f.leaks(c, r.Body) == "" {
			t.Errorf("control: %s as alpha's admin: %s %s: status %d, want 200 listing some of alpha's objects: %s",
				rule.op, c.method, c.path, r.Status, clip(r.Body))
		}
	case isoProvider:
		if r := f.e.do(c.method, c.path, f.provider, nil); r.Status != http.StatusOK {
			t.Errorf("control: %s as provider admin: %s %s: status %d, want 200: %s", rule.op, c.method, c.path, r.Status, clip(r.Body))
		}
	}
}

// unchanged checks that alpha's objects are as they were before the matrix.
func (f *isoFixture) unchanged(t *testing.T) {
	e, admin := f.e, f.alpha
	var o api.Organisation
	r := e.do("GET", "/api/v1/orgs/alpha", admin, nil).must(t, http.StatusOK)
	r.decode(t, &o)
	if tag := r.Header.Get("ETag"); tag != f.orgTag || o.State != api.OrgActive || o.DisplayName != "" {
		t.Errorf("alpha changed: ETag %s (was %s), %+v", tag, f.orgTag, o)
	}
	var vdcs api.List[api.VDC]
	e.do("GET", "/api/v1/orgs/alpha/vdcs", admin, nil).must(t, http.StatusOK).decode(t, &vdcs)
	if len(vdcs.Items) != 1 || vdcs.Items[0].Name != "atlas" || vdcs.Items[0].State != store.VDCReady || etag(vdcs.Items[0].Version) != f.vdcTag {
		t.Errorf("alpha's VDCs changed (version was %s): %+v", f.vdcTag, vdcs.Items)
	}
	var invs api.List[api.Invitation]
	e.do("GET", "/api/v1/orgs/alpha/invitations", admin, nil).must(t, http.StatusOK).decode(t, &invs)
	if len(invs.Items) != 1 || invs.Items[0].ID != f.invitation || invs.Items[0].State != store.InvitationPending {
		t.Errorf("alpha's invitations changed: %+v", invs.Items)
	}
	var members api.List[api.RoleBinding]
	e.do("GET", "/api/v1/orgs/alpha/members", admin, nil).must(t, http.StatusOK).decode(t, &members)
	roles := map[string]string{}
	for _, b := range members.Items {
		roles[b.Email] = b.Role
	}
	if want := map[string]string{"admin@alpha.test": api.RoleOrgAdmin, "mia@a-corp.test": api.RoleOrgMember}; !maps.Equal(roles, want) {
		t.Errorf("alpha's members are %v, want %v", roles, want)
	}
	var tokens api.List[api.Token]
	e.do("GET", "/api/v1/orgs/alpha/tokens", admin, nil).must(t, http.StatusOK).decode(t, &tokens)
	var ids []string
	for _, k := range tokens.Items {
		ids = append(ids, k.ID)
	}
	if slices.Sort(ids); !slices.Equal(ids, slices.Sorted(slices.Values(f.tokenIDs))) {
		t.Errorf("alpha's tokens are %v, want %v", ids, f.tokenIDs)
	}
	for i, secret := range f.tokenSecrets {
		if r := e.do("GET", "/api/v1/me", secret, nil); r.Status != http.StatusOK {
			t.Errorf("alpha's token %d stopped working: %d %s", i, r.Status, clip(r.Body))
		}
	}
	var op api.Operation
	e.do("GET", "/api/v1/operations/"+f.heldOp, admin, nil).must(t, http.StatusOK).decode(t, &op)
	if op.Done() {
		t.Errorf("alpha's running operation ended: %+v", op)
	}
	// Bravo's refused attempts are bravo's business (and the provider's),
	// not entries in alpha's audit log showing bravo's users.
	for _, who := range f.bravoUsers {
		var events api.List[api.AuditEvent]
		e.do("GET", "/api/v1/orgs/alpha/audit-events?actor="+url.QueryEscape(who), admin, nil).must(t, http.StatusOK).decode(t, &events)
		if n := len(events.Items); n > 0 {
			t.Errorf("alpha's audit log shows %d events by bravo's %s, e.g. %+v", n, who, events.Items[0])
		}
	}
}

// clip shortens an answer for a failure message.
func clip(b []byte) string {
	const most = 400
	if len(b) > most {
		return string(b[:most]) + "…"
	}
	return string(b)
}
