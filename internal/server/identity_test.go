package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/internal/store"
)

const mailWait = 10 * time.Second

var mailTokenPattern = regexp.MustCompile(`mt_[A-Za-z0-9_-]{43}`)

// mailToken waits for the next mail to addr and returns the one-time token in
// it, checking that the mail also carries the console link for page.
func mailToken(t *testing.T, e *env, addr, page string) string {
	t.Helper()
	m := e.mail.WaitFor(t, addr, mailWait)
	tok := mailTokenPattern.FindString(m.Body)
	if tok == "" {
		t.Fatalf("no token in mail %q:\n%s", m.Subject, m.Body)
	}
	if link := "https://cloud.sirocco.test" + page + "?token=" + tok; !strings.Contains(m.Body, link) {
		t.Errorf("mail %q lacks link %s:\n%s", m.Subject, link, m.Body)
	}
	return tok
}

// cookieClient is a browser: it keeps the session cookie between requests.
type cookieClient struct {
	e *env
	c *http.Client
}

func newCookieClient(e *env) *cookieClient {
	jar, err := cookiejar.New(nil)
	if err != nil {
		e.t.Fatal(err)
	}
	return &cookieClient{e: e, c: &http.Client{Jar: jar, Transport: e.http.Client().Transport}}
}

func (c *cookieClient) do(method, path string, body any) *resp {
	c.e.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			c.e.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.e.url+path, rd)
	if err != nil {
		c.e.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := c.c.Do(req)
	if err != nil {
		c.e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return &resp{Status: res.StatusCode, Header: res.Header, Body: b}
}

func (c *cookieClient) login(t *testing.T, email, password string) api.Me {
	t.Helper()
	var me api.Me
	c.do("POST", "/api/v1/login", api.Login{Email: email, Password: password}).must(t, http.StatusOK).decode(t, &me)
	return me
}

func wantCode(t *testing.T, r *resp, status int, code string) {
	t.Helper()
	if p := r.must(t, status).problem(t); p.Code != code {
		t.Errorf("code %q, want %q (%s)", p.Code, code, p.Detail)
	}
}

func TestSignupVerifyLogin(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		if err := e.store.Tx(ctx, func(tx *store.Tx) error {
			return tx.CreateRegion(ctx, &store.Region{Meta: store.Meta{ID: "au-syd"}, Jurisdiction: "AU"})
		}); err != nil {
			t.Fatal(err)
		}
		const pw = "a long enough secret"
		var res api.SignupResult
		e.do("POST", "/api/v1/signup", "", api.Signup{Email: " Ann@Example.COM ", Password: pw, Name: "Ann", OrgName: "ann-co",
			Residency: &api.Residency{Jurisdictions: []string{"AU"}, Regions: []string{"au-syd"}}}).
			must(t, http.StatusCreated).decode(t, &res)
		if res.User.Email != "ann@example.com" || res.User.EmailVerified || res.User.Name != "Ann" {
			t.Errorf("user %+v", res.User)
		}
		if o := res.Organisation; o.Name != "ann-co" || o.State != api.OrgActive ||
			len(o.Residency.Jurisdictions) != 1 || len(o.Residency.Regions) != 1 {
			t.Errorf("organisation %+v", o)
		}
		token := mailToken(t, e, "ann@example.com", "/console/verify-email")

		// Logging in works before verifying; the cookie is a proper session cookie.
		b := newCookieClient(e)
		r := b.do("POST", "/api/v1/login", api.Login{Email: "ANN@example.com", Password: pw}).must(t, http.StatusOK)
		cookie := r.Header.Get("Set-Cookie")
		for _, want := range []string{sessionCookie + "=ses_", "Path=/", "HttpOnly", "SameSite=Lax", "Expires="} {
			if !strings.Contains(cookie, want) {
				t.Errorf("Set-Cookie %q lacks %q", cookie, want)
			}
		}
		if strings.Contains(cookie, "Secure") {
			t.Errorf("Set-Cookie %q is Secure without SecureCookies", cookie)
		}
		var me api.Me
		r.decode(t, &me)
		if me.User.EmailVerified || len(me.Memberships) != 1 || me.Memberships[0].OrgName != "ann-co" || me.Memberships[0].Role != api.RoleOrgAdmin {
			t.Errorf("me before verification: %+v", me)
		}
		// Creating things (here: an invitation) waits for verification.
		wantCode(t, b.do("POST", "/api/v1/orgs/ann-co/invitations", api.InvitationCreate{Email: "bob@example.com", Role: api.RoleOrgMember}),
			http.StatusForbidden, api.CodeEmailNotVerified)

		wantCode(t, e.do("POST", "/api/v1/verify-email", "", api.TokenRequest{Token: "mt_nonsense"}), http.StatusBadRequest, api.CodeInvalidToken)
		var u api.User
		e.do("POST", "/api/v1/verify-email", "", api.TokenRequest{Token: token}).must(t, http.StatusOK).decode(t, &u)
		if !u.EmailVerified {
			t.Errorf("verified user %+v", u)
		}
		wantCode(t, e.do("POST", "/api/v1/verify-email", "", api.TokenRequest{Token: token}), http.StatusBadRequest, api.CodeInvalidToken)

		me = api.Me{}
		b.do("GET", "/api/v1/me", nil).must(t, http.StatusOK).decode(t, &me)
		if !me.User.EmailVerified || me.Token != nil {
			t.Errorf("me after verification: %+v", me)
		}
		wantCode(t, b.do("POST", "/api/v1/verify-email/resend", nil), http.StatusConflict, api.CodeConflict)
		b.do("POST", "/api/v1/orgs/ann-co/invitations", api.InvitationCreate{Email: "bob@example.com", Role: api.RoleOrgMember}).must(t, http.StatusCreated)

		b.do("POST", "/api/v1/logout", nil).must(t, http.StatusNoContent)
		wantCode(t, b.do("GET", "/api/v1/me", nil), http.StatusUnauthorized, api.CodeUnauthenticated)
	})
}

func TestSignupRefused(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		signup := func(email, org string, res *api.Residency) api.Signup {
			return api.Signup{Email: email, Password: "a long enough secret", OrgName: org, Residency: res}
		}
		e.do("POST", "/api/v1/signup", "", signup("ann@example.com", "ann-co", nil)).must(t, http.StatusCreated)
		tests := []struct {
			name   string
			body   api.Signup
			status int
			code   string
		}{
			{"same e-mail", signup("ANN@example.com", "other-co", nil), http.StatusConflict, api.CodeAlreadyExists},
			{"same organisation", signup("bob@example.com", "ann-co", nil), http.StatusConflict, api.CodeAlreadyExists},
			{"bad jurisdiction", signup("bob@example.com", "bob-co", &api.Residency{Jurisdictions: []string{"au"}}), http.StatusUnprocessableEntity, api.CodeValidation},
			{"unknown region", signup("bob@example.com", "bob-co", &api.Residency{Regions: []string{"mars-1"}}), http.StatusUnprocessableEntity, api.CodeValidation},
			{"short password", api.Signup{Email: "bob@example.com", Password: "short", OrgName: "bob-co"}, http.StatusUnprocessableEntity, api.CodeValidation},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				wantCode(t, e.do("POST", "/api/v1/signup", "", tt.body), tt.status, tt.code)
			})
		}
		// Nothing of the refused sign-ups was kept: bob can still sign up.
		ctx := context.Background()
		err := e.store.Tx(ctx, func(tx *store.Tx) error {
			p, err := tx.GetProvider(ctx)
			if err != nil {
				return err
			}
			p.SignupEnabled = false
			return tx.PutProvider(ctx, p)
		})
		if err != nil {
			t.Fatal(err)
		}
		wantCode(t, e.do("POST", "/api/v1/signup", "", signup("bob@example.com", "bob-co", nil)), http.StatusForbidden, api.CodeSignupDisabled)
		err = e.store.View(ctx, func(tx *store.Tx) error {
			_, err := tx.GetUserByEmail(ctx, "bob@example.com")
			return err
		})
		if err == nil {
			t.Error("a refused sign-up left a user behind")
		}
	})
}

func TestLogin(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		e.user("ann@example.com")
		wrong := e.do("POST", "/api/v1/login", "", api.Login{Email: "ann@example.com", Password: "wrong password"}).must(t, http.StatusUnauthorized).problem(t)
		unknown := e.do("POST", "/api/v1/login", "", api.Login{Email: "nobody@example.com", Password: "wrong password"}).must(t, http.StatusUnauthorized).problem(t)
		if wrong.Code != api.CodeUnauthenticated || wrong.Detail != unknown.Detail {
			t.Errorf("wrong password %+v and unknown address %+v differ", wrong, unknown)
		}
		e.do("GET", "/api/v1/me", "", nil, "Cookie", sessionCookie+"=ses_forged").must(t, http.StatusUnauthorized)

		// The brake: after 10 failures in 15 minutes even the right password
		// is refused for a while, and the client learns for how long.
		for i := 0; i < loginMaxFailures-1; i++ {
			e.do("POST", "/api/v1/login", "", api.Login{Email: "ann@example.com", Password: "wrong password"}).must(t, http.StatusUnauthorized)
		}
		r := e.do("POST", "/api/v1/login", "", api.Login{Email: "Ann@example.com", Password: "correct horse battery"})
		wantCode(t, r, http.StatusTooManyRequests, api.CodeRateLimited)
		if ra := r.Header.Get("Retry-After"); ra == "" || ra == "0" {
			t.Errorf("Retry-After %q", ra)
		}
		// Other addresses are not affected.
		e.user("bob@example.com")
		newCookieClient(e).login(t, "bob@example.com", "correct horse battery")
	})
}

func TestPasswordReset(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		const oldPW, newPW = "the first password", "the second password"
		e.do("POST", "/api/v1/signup", "", api.Signup{Email: "ann@example.com", Password: oldPW, OrgName: "ann-co"}).must(t, http.StatusCreated)
		mailToken(t, e, "ann@example.com", "/console/verify-email") // not followed
		b := newCookieClient(e)
		b.login(t, "ann@example.com", oldPW)

		e.do("POST", "/api/v1/password-reset", "", api.PasswordResetRequest{Email: "nobody@example.com"}).must(t, http.StatusAccepted)
		e.do("POST", "/api/v1/password-reset", "", api.PasswordResetRequest{Email: "Ann@Example.com"}).must(t, http.StatusAccepted)
		token := mailToken(t, e, "ann@example.com", "/console/reset-password")
		// A second request within a minute answers alike but sends nothing more.
		e.do("POST", "/api/v1/password-reset", "", api.PasswordResetRequest{Email: "ann@example.com"}).must(t, http.StatusAccepted)

		wantCode(t, e.do("POST", "/api/v1/password-reset/confirm", "", api.PasswordReset{Token: "mt_nonsense", Password: newPW}),
			http.StatusBadRequest, api.CodeInvalidToken)
		e.do("POST", "/api/v1/password-reset/confirm", "", api.PasswordReset{Token: token, Password: newPW}).must(t, http.StatusNoContent)
		wantCode(t, e.do("POST", "/api/v1/password-reset/confirm", "", api.PasswordReset{Token: token, Password: "a third password"}),
			http.StatusBadRequest, api.CodeInvalidToken)

		wantCode(t, b.do("GET", "/api/v1/me", nil), http.StatusUnauthorized, api.CodeUnauthenticated)
		wantCode(t, e.do("POST", "/api/v1/login", "", api.Login{Email: "ann@example.com", Password: oldPW}), http.StatusUnauthorized, api.CodeUnauthenticated)
		if me := b.login(t, "ann@example.com", newPW); !me.User.EmailVerified {
			t.Errorf("after a reset the address should count as verified: %+v", me.User)
		}
		for _, m := range e.mail.Messages() {
			if strings.Contains(strings.Join(m.To, ","), "nobody@") {
				t.Errorf("mail sent to an unknown address: %q", m.Subject)
			}
		}
		if n := countMails(e, "ann@example.com", "Reset"); n != 1 {
			t.Errorf("%d reset mails, want 1", n)
		}
	})
}

func countMails(e *env, to, subjectPrefix string) int {
	n := 0
	for _, m := range e.mail.Messages() {
		if strings.EqualFold(strings.Join(m.To, ","), to) && strings.HasPrefix(m.Subject, subjectPrefix) {
			n++
		}
	}
	return n
}

func TestResendVerification(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		const pw = "a long enough secret"
		var res api.SignupResult
		e.do("POST", "/api/v1/signup", "", api.Signup{Email: "ann@example.com", Password: pw, OrgName: "ann-co"}).must(t, http.StatusCreated).decode(t, &res)
		first := mailToken(t, e, "ann@example.com", "/console/verify-email")
		b := newCookieClient(e)
		b.login(t, "ann@example.com", pw)
		wantCode(t, e.do("POST", "/api/v1/verify-email/resend", "", nil), http.StatusUnauthorized, api.CodeUnauthenticated)
		r := b.do("POST", "/api/v1/verify-email/resend", nil)
		wantCode(t, r, http.StatusTooManyRequests, api.CodeRateLimited)
		if r.Header.Get("Retry-After") == "" {
			t.Error("no Retry-After")
		}
		// Once the earlier mail is gone (expired and swept), a new one is sent.
		ctx := context.Background()
		if err := e.store.Tx(ctx, func(tx *store.Tx) error { return tx.DeleteMailTokens(ctx, res.User.ID, store.MailVerify) }); err != nil {
			t.Fatal(err)
		}
		b.do("POST", "/api/v1/verify-email/resend", nil).must(t, http.StatusAccepted)
		second := mailToken(t, e, "ann@example.com", "/console/verify-email")
		if second == first {
			t.Fatal("the resent mail has the old token")
		}
		wantCode(t, e.do("POST", "/api/v1/verify-email", "", api.TokenRequest{Token: first}), http.StatusBadRequest, api.CodeInvalidToken)
		e.do("POST", "/api/v1/verify-email", "", api.TokenRequest{Token: second}).must(t, http.StatusOK)
	})
}

func TestInvitations(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		acme, admin := e.tenant("acme", store.Residency{})
		_, otherAdmin := e.tenant("other", store.Residency{})
		member := e.token(e.user("member@acme.test", store.RoleBinding{OrgID: acme.ID, Role: api.RoleOrgMember}), acme.ID, api.RoleOrgMember)
		viewer := e.token(e.user("viewer@acme.test", store.RoleBinding{OrgID: acme.ID, Role: api.RoleOrgViewer}), acme.ID, api.RoleOrgViewer)
		invite := func(token, email, role string) *resp {
			return e.do("POST", "/api/v1/orgs/acme/invitations", token, api.InvitationCreate{Email: email, Role: role})
		}

		t.Run("who may invite", func(t *testing.T) {
			wantCode(t, invite(member, "x@example.com", api.RoleOrgViewer), http.StatusForbidden, api.CodeForbidden)
			wantCode(t, invite(viewer, "x@example.com", api.RoleOrgViewer), http.StatusForbidden, api.CodeForbidden)
			wantCode(t, invite(otherAdmin, "x@example.com", api.RoleOrgViewer), http.StatusNotFound, api.CodeNotFound)
			wantCode(t, e.do("GET", "/api/v1/orgs/acme/invitations", member, nil), http.StatusForbidden, api.CodeForbidden)
			wantCode(t, e.do("GET", "/api/v1/orgs/acme/invitations", otherAdmin, nil), http.StatusNotFound, api.CodeNotFound)
			wantCode(t, invite(admin, "member@acme.test", api.RoleOrgAdmin), http.StatusConflict, api.CodeAlreadyExists)
		})

		t.Run("new user", func(t *testing.T) {
			var inv api.Invitation
			invite(admin, "New@Example.com", api.RoleOrgMember).must(t, http.StatusCreated).decode(t, &inv)
			if inv.Email != "new@example.com" || inv.State != "pending" || inv.Org != acme.ID || inv.Role != api.RoleOrgMember {
				t.Errorf("invitation %+v", inv)
			}
			token := mailToken(t, e, "new@example.com", "/console/accept-invitation")
			wantCode(t, invite(admin, "new@example.com", api.RoleOrgMember), http.StatusConflict, api.CodeAlreadyExists)
			wantCode(t, e.do("POST", "/api/v1/invitations/accept", "", api.InvitationAccept{Token: token}), http.StatusUnprocessableEntity, api.CodeValidation)

			var m api.Membership
			e.do("POST", "/api/v1/invitations/accept", "", api.InvitationAccept{Token: token, Name: "Nina", Password: "nina's long password"}).
				must(t, http.StatusOK).decode(t, &m)
			if m.Org != acme.ID || m.OrgName != "acme" || m.Role != api.RoleOrgMember {
				t.Errorf("membership %+v", m)
			}
			wantCode(t, e.do("POST", "/api/v1/invitations/accept", "", api.InvitationAccept{Token: token, Name: "Nina", Password: "nina's long password"}),
				http.StatusBadRequest, api.CodeInvalidToken)
			me := newCookieClient(e).login(t, "new@example.com", "nina's long password")
			if !me.User.EmailVerified || me.User.Name != "Nina" || len(me.Memberships) != 1 || me.Memberships[0].OrgName != "acme" {
				t.Errorf("invited user: %+v", me)
			}
		})

		t.Run("existing user", func(t *testing.T) {
			e.user("bob@example.com")
			invite(admin, "bob@example.com", api.RoleOrgViewer).must(t, http.StatusCreated)
			token := mailToken(t, e, "bob@example.com", "/console/accept-invitation")
			accept := api.InvitationAccept{Token: token}
			wantCode(t, e.do("POST", "/api/v1/invitations/accept", "", accept), http.StatusUnauthorized, api.CodeUnauthenticated)
			wantCode(t, e.do("POST", "/api/v1/invitations/accept", member, accept), http.StatusForbidden, api.CodeForbidden)
			b := newCookieClient(e)
			b.login(t, "bob@example.com", "correct horse battery")
			var m api.Membership
			b.do("POST", "/api/v1/invitations/accept", accept).must(t, http.StatusOK).decode(t, &m)
			if m.OrgName != "acme" || m.Role != api.RoleOrgViewer {
				t.Errorf("membership %+v", m)
			}
			var me api.Me
			b.do("GET", "/api/v1/me", nil).must(t, http.StatusOK).decode(t, &me)
			if len(me.Memberships) != 1 || me.Memberships[0].Role != api.RoleOrgViewer {
				t.Errorf("me: %+v", me)
			}
		})

		t.Run("revoked", func(t *testing.T) {
			var inv api.Invitation
			invite(admin, "carol@example.com", api.RoleOrgMember).must(t, http.StatusCreated).decode(t, &inv)
			token := mailToken(t, e, "carol@example.com", "/console/accept-invitation")
			wantCode(t, e.do("DELETE", "/api/v1/orgs/other/invitations/"+inv.ID, otherAdmin, nil), http.StatusNotFound, api.CodeNotFound)
			wantCode(t, e.do("DELETE", "/api/v1/orgs/acme/invitations/"+inv.ID, member, nil), http.StatusForbidden, api.CodeForbidden)
			e.do("DELETE", "/api/v1/orgs/acme/invitations/"+inv.ID, admin, nil).must(t, http.StatusNoContent)
			wantCode(t, e.do("DELETE", "/api/v1/orgs/acme/invitations/"+inv.ID, admin, nil), http.StatusConflict, api.CodeConflict)
			wantCode(t, e.do("POST", "/api/v1/invitations/accept", "", api.InvitationAccept{Token: token, Name: "Carol", Password: "carol's long password"}),
				http.StatusBadRequest, api.CodeInvalidToken)

			var list api.List[api.Invitation]
			e.do("GET", "/api/v1/orgs/acme/invitations?state=revoked", admin, nil).must(t, http.StatusOK).decode(t, &list)
			if len(list.Items) != 1 || list.Items[0].ID != inv.ID || list.Items[0].State != "revoked" {
				t.Errorf("revoked invitations: %+v", list.Items)
			}
			list = api.List[api.Invitation]{}
			e.do("GET", "/api/v1/orgs/"+acme.ID+"/invitations?limit=2", admin, nil).must(t, http.StatusOK).decode(t, &list)
			if len(list.Items) != 2 || list.NextCursor == "" || list.Items[0].State != "accepted" {
				t.Fatalf("page 1: %+v", list)
			}
			cursor := list.NextCursor
			list = api.List[api.Invitation]{}
			e.do("GET", "/api/v1/orgs/acme/invitations?limit=2&cursor="+cursor, admin, nil).must(t, http.StatusOK).decode(t, &list)
			if len(list.Items) != 1 || list.Items[0].ID != inv.ID || list.NextCursor != "" {
				t.Errorf("page 2: %+v", list)
			}
		})
	})
}

func TestMeWithToken(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		a, _ := e.tenant("acme", store.Residency{})
		b, _ := e.tenant("beta", store.Residency{})
		u := e.user("ann@example.com", store.RoleBinding{OrgID: a.ID, Role: api.RoleOrgAdmin}, store.RoleBinding{OrgID: b.ID, Role: api.RoleOrgMember})
		tok := e.token(u, a.ID, api.RoleOrgViewer)
		var me api.Me
		e.do("GET", "/api/v1/me", tok, nil).must(t, http.StatusOK).decode(t, &me)
		if len(me.Memberships) != 1 || me.Memberships[0].OrgName != "acme" || me.Memberships[0].Role != api.RoleOrgViewer {
			t.Errorf("memberships through an org-viewer token: %+v", me.Memberships)
		}
		if me.Token == nil || me.Token.Org != a.ID || me.Token.Role != api.RoleOrgViewer {
			t.Errorf("token summary %+v", me.Token)
		}
		me = newCookieClient(e).login(t, "ann@example.com", "correct horse battery")
		if len(me.Memberships) != 2 || me.Memberships[0].OrgName != "acme" || me.Memberships[1].Role != api.RoleOrgMember {
			t.Errorf("memberships of a session: %+v", me.Memberships)
		}
		wantCode(t, e.do("POST", "/api/v1/logout", tok, nil), http.StatusBadRequest, api.CodeInvalidRequest)
	})
}
