package console_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/internal/store"
)

func TestTokenSecretShownOnceThenRevoked(t *testing.T) {
	e := newEnv(t)
	b, org := e.signup("dev@kiwi.test", "kiwi")
	base := "/console/o/" + org + "/tokens"

	p := b.get(base)
	mustContain(t, p, "No token yet.", `<label for="role">`, `<option value="org-viewer"`)

	p = b.post(base, url.Values{"name": {"ci"}, "role": {"org-member"}, "expires_days": {"30"}})
	if p.Status != http.StatusOK {
		t.Fatalf("create a token: %d\n%s", p.Status, p.Body)
	}
	if cc := p.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("the page with the secret is cached: Cache-Control %q", cc)
	}
	secret := regexp.MustCompile(`id="token-secret"[^>]*value="([^"]+)"`).FindStringSubmatch(p.Body)
	if secret == nil {
		t.Fatalf("no secret on the result page:\n%s", p.Body)
	}
	mustContain(t, p, "only time it is shown", "org-member")

	// The secret works, as the role given.
	req, _ := http.NewRequest(http.MethodGet, e.URL+"/api/v1/me", nil)
	req.Header.Set("Authorization", "Bearer "+secret[1])
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("the new token: GET /api/v1/me answers %d", res.StatusCode)
	}

	p = b.get(base)
	mustContain(t, p, "<td>ci</td>", "org-member", secret[1][:12])
	if strings.Contains(p.Body, secret[1]) {
		t.Error("the token list shows the secret")
	}
	id := regexp.MustCompile(`action="/console/o/[^/]+/tokens/([^/]+)/revoke"`).FindStringSubmatch(p.Body)
	if id == nil {
		t.Fatalf("no revoke button:\n%s", p.Body)
	}
	if p := b.post(base+"/"+id[1]+"/revoke", nil); p.Status != http.StatusSeeOther {
		t.Fatalf("revoke: %d\n%s", p.Status, p.Body)
	}
	p = b.get(base)
	mustContain(t, p, "No token yet.", "The token is revoked")
	req, _ = http.NewRequest(http.MethodGet, e.URL+"/api/v1/me", nil)
	req.Header.Set("Authorization", "Bearer "+secret[1])
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != http.StatusUnauthorized {
		t.Errorf("the revoked token still works: %v %v", res.StatusCode, err)
	}

	// A bad lifetime is shown next to its field; a viewer cannot make an
	// admin token.
	p = b.post(base, url.Values{"name": {"ci"}, "role": {"org-member"}, "expires_days": {"soon"}})
	if p.Status < 400 || !regexp.MustCompile(`(?s)id="expires_days"[^>]*>\s*<span class="field-error"`).MatchString(p.Body) {
		t.Errorf("expires_days=soon: %d, want an error next to the field:\n%s", p.Status, p.Body)
	}
	e.User("viewer@kiwi.test", store.RoleBinding{OrgID: org, Role: api.RoleOrgViewer})
	viewer := e.browser()
	viewer.login("viewer@kiwi.test")
	p = viewer.get(base)
	if strings.Contains(p.Body, `<option value="org-admin"`) {
		t.Error("a viewer is offered admin tokens")
	}
	p = viewer.post(base, url.Values{"name": {"sneaky"}, "role": {"org-admin"}})
	if p.Status != http.StatusForbidden || !strings.Contains(p.Body, "exceeds your role") {
		t.Errorf("a viewer makes an admin token: %d\n%s", p.Status, p.Body)
	}
}

func TestMembersAndInvitations(t *testing.T) {
	e := newEnv(t)
	b, org := e.signup("dev@kiwi.test", "kiwi")
	base := "/console/o/" + org + "/members"
	bob := e.User("bob@kiwi.test", store.RoleBinding{OrgID: org, Role: api.RoleOrgMember})

	p := b.get(base)
	mustContain(t, p, "dev@kiwi.test", "(you)", "bob@kiwi.test", "No pending invitation.", `<label for="email">`)

	p = b.post(base+"/"+bob.ID+"/role", url.Values{"role": {"org-viewer"}})
	if p.Status != http.StatusSeeOther {
		t.Fatalf("change bob's role: %d\n%s", p.Status, p.Body)
	}
	p = b.get(base)
	mustContain(t, p, "bob@kiwi.test is now org-viewer.")
	if !regexp.MustCompile(`(?s)bob@kiwi.test</td>\s*<td>org-viewer</td>`).MatchString(p.Body) {
		t.Errorf("bob is not listed as org-viewer:\n%s", p.Body)
	}

	// Bob, a viewer, sees the members but cannot change anything.
	bobB := e.browser()
	bobB.login("bob@kiwi.test")
	p = bobB.get(base)
	mustContain(t, p, "dev@kiwi.test", "Only the organisation's admins")
	if strings.Contains(p.Body, "Send the invitation") || strings.Contains(p.Body, "Change role") {
		t.Error("a viewer gets the admin forms")
	}

	p = b.post("/console/o/"+org+"/invitations", url.Values{"email": {"not an address"}, "role": {"org-member"}})
	if p.Status < 400 || !strings.Contains(p.Body, `role="alert"`) || !strings.Contains(p.Body, `value="not an address"`) {
		t.Errorf("invite 'not an address': %d\n%s", p.Status, p.Body)
	}
	p = b.post("/console/o/"+org+"/invitations", url.Values{"email": {"carol@example.com"}, "role": {"org-member"}})
	if p.Status != http.StatusSeeOther {
		t.Fatalf("invite: %d\n%s", p.Status, p.Body)
	}
	m := e.Mail.WaitFor(t, "carol@example.com", 10*time.Second)
	if !strings.Contains(m.Body, "/console/accept-invitation?token=") {
		t.Errorf("the invitation mail has no link:\n%s", m.Body)
	}
	p = b.get(base)
	mustContain(t, p, "We sent an invitation to carol@example.com.", "<td>carol@example.com</td><td>org-member</td>")
	id := regexp.MustCompile(`action="/console/o/[^/]+/invitations/([^/]+)/revoke"`).FindStringSubmatch(p.Body)
	if id == nil {
		t.Fatal("no revoke button for the invitation")
	}
	if p := b.post("/console/o/"+org+"/invitations/"+id[1]+"/revoke", nil); p.Status != http.StatusSeeOther {
		t.Fatalf("revoke the invitation: %d\n%s", p.Status, p.Body)
	}
	mustContain(t, b.get(base), "No pending invitation.")

	p = b.post(base+"/"+bob.ID+"/remove", url.Values{"email": {"bob@kiwi.test"}})
	if p.Status != http.StatusSeeOther {
		t.Fatalf("remove bob: %d\n%s", p.Status, p.Body)
	}
	p = b.get(base)
	mustContain(t, p, "bob@kiwi.test was removed")
	if strings.Contains(p.Body, "<td>bob@kiwi.test") {
		t.Error("bob is still listed")
	}
	if p := bobB.get(base); p.Status != http.StatusNotFound {
		t.Errorf("bob, removed, still sees the members: %d", p.Status)
	}
}

func TestLastAdminCannotBeDemoted(t *testing.T) {
	e := newEnv(t)
	b, org := e.signup("dev@kiwi.test", "kiwi")
	p := b.get("/console/o/" + org + "/members")
	id := regexp.MustCompile(`action="/console/o/[^/]+/members/([^/]+)/role"`).FindStringSubmatch(p.Body)
	if id == nil {
		t.Fatalf("no role form:\n%s", p.Body)
	}
	p = b.post("/console/o/"+org+"/members/"+id[1]+"/role", url.Values{"role": {"org-viewer"}})
	if p.Status != http.StatusConflict && p.Status != http.StatusUnprocessableEntity && p.Status != http.StatusForbidden {
		t.Errorf("demote the last admin: %d", p.Status)
	}
	mustContain(t, p, `role="alert"`, "dev@kiwi.test")
}

func TestAccountPage(t *testing.T) {
	e := newEnv(t)
	b, org := e.signup("dev@kiwi.test", "kiwi")
	p := b.get("/console/account")
	if p.Status != http.StatusOK {
		t.Fatalf("account: %d\n%s", p.Status, p.Body)
	}
	mustContain(t, p, "dev@kiwi.test", `<span class="badge ok">confirmed</span>`, `href="/console/o/`+org+`/">kiwi</a>`, "org-admin",
		`action="/console/reset-password"`)
	if strings.Contains(p.Body, "Send the link again") {
		t.Error("a confirmed address is offered a new confirmation link")
	}

	// Someone who has not confirmed their address gets the resend button.
	u := b.post("/console/signup", url.Values{"email": {"new@kiwi.test"}, "password": {"correct horse battery"}, "org_name": {"newco"}})
	if u.Status != http.StatusSeeOther {
		t.Fatalf("sign up: %d", u.Status)
	}
	p = b.get("/console/account")
	mustContain(t, p, "new@kiwi.test", "not yet", "Send the link again")

	// The reset button mails a reset link.
	if p := b.post("/console/reset-password", url.Values{"email": {"new@kiwi.test"}}); p.Status != http.StatusSeeOther {
		t.Fatalf("reset: %d", p.Status)
	}
	// The verification mail came first; the reset mail follows.
	var reset bool
	for range 2 {
		reset = reset || strings.Contains(e.Mail.WaitFor(t, "new@kiwi.test", 10*time.Second).Body, "reset-password?token=")
	}
	if !reset {
		t.Error("no reset mail")
	}

	if p := e.browser().get("/console/account"); p.Status != http.StatusSeeOther || !strings.HasPrefix(p.Location, "/console/login") {
		t.Errorf("account without login: %d %q", p.Status, p.Location)
	}
}

// TestBillingAndAccountPagesRender opens every page of this area for a
// tenant with some of everything.
func TestBillingAndAccountPagesRender(t *testing.T) {
	e := newEnv(t)
	b, org := e.signup("dev@kiwi.test", "kiwi")
	month, _ := billUsage(t, e, b, org)
	o := "/console/o/" + org
	for _, f := range []struct {
		path string
		form url.Values
	}{
		{o + "/budgets", url.Values{"name": {"monthly"}, "amount": {"10"}}},
		{o + "/tokens", url.Values{"name": {"ci"}, "role": {"org-viewer"}}},
		{o + "/invitations", url.Values{"email": {"carol@example.com"}, "role": {"org-viewer"}}},
	} {
		if p := b.post(f.path, f.form); p.Status >= 400 {
			t.Fatalf("POST %s: %d\n%s", f.path, p.Status, p.Body)
		}
	}
	for _, path := range []string{o + "/usage", o + "/usage?month=" + month.Format("2006-01"), o + "/budgets", o + "/invoices",
		o + "/tokens", o + "/members", "/console/account"} {
		p := b.get(path)
		if p.Status != http.StatusOK {
			t.Errorf("GET %s: %d\n%s", path, p.Status, p.Body)
		}
		if strings.Contains(p.Body, "style=") || strings.Contains(p.Body, "<script>") {
			t.Errorf("GET %s has inline style or script", path)
		}
	}
}
