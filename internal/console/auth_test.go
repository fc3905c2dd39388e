package console_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestLoginLogout(t *testing.T) {
	e := newEnv(t)
	e.User("ann@example.com")
	b := e.browser()

	if p := b.get("/console/vms"); p.Status != http.StatusNotFound {
		t.Errorf("unknown page: status %d", p.Status)
	}
	p := b.get("/")
	if p.Status != http.StatusFound || p.Location != "/console/" {
		t.Errorf("/ answers %d %q, want a redirect to /console/", p.Status, p.Location)
	}
	p = b.get("/console/")
	if p.Location != "/console/login" {
		t.Errorf("a visitor who is not logged in goes to %q, want the login page", p.Location)
	}
	p = b.get("/console/login")
	mustContain(t, p, `<label for="email">`, `<label for="password">`, "Create an account")
	if csp := p.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("Content-Security-Policy %q must allow only the console's own scripts", csp)
	}

	p = b.post("/console/login", url.Values{"email": {"ann@example.com"}, "password": {"wrong password"}})
	if p.Status != http.StatusUnauthorized {
		t.Errorf("a wrong password: status %d, want 401", p.Status)
	}
	mustContain(t, p, "The e-mail address or the password is wrong.", `value="ann@example.com"`)

	b.login("ann@example.com")
	var session *http.Cookie
	for _, c := range b.hc.Jar.Cookies(mustURL(t, e.URL)) {
		if c.Name == "sirocco_session" {
			session = c
		}
	}
	if session == nil {
		t.Fatal("no session cookie after login")
	}
	// The same session works for the API, as the console's scripts need.
	req, _ := http.NewRequest(http.MethodGet, e.URL+"/api/v1/me", nil)
	if p := b.do(req); p.Status != http.StatusOK || !strings.Contains(p.Body, "ann@example.com") {
		t.Errorf("GET /api/v1/me with the console session: %d %s", p.Status, p.Body)
	}

	p = b.post("/console/logout", nil)
	if p.Status != http.StatusSeeOther || p.Location != "/console/login" {
		t.Errorf("logout: %d %q", p.Status, p.Location)
	}
	// The old session is gone on the server, not only in this browser.
	req, _ = http.NewRequest(http.MethodGet, e.URL+"/api/v1/me", nil)
	req.AddCookie(session)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized {
		t.Errorf("the session still works after logout: %d", res.StatusCode)
	}
}

func TestCrossSiteFormIsRefused(t *testing.T) {
	e := newEnv(t)
	e.User("ann@example.com")
	b := e.browser()
	req, _ := http.NewRequest(http.MethodPost, e.URL+"/console/login",
		strings.NewReader(url.Values{"email": {"ann@example.com"}, "password": {"correct horse battery"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	if p := b.do(req); p.Status != http.StatusForbidden {
		t.Errorf("a cross-site form post: status %d, want 403", p.Status)
	}
}

func TestSignupVerifiesAndLandsInTheOrganisation(t *testing.T) {
	e := newEnv(t)
	_, org := e.signup("dev@kiwi.test", "kiwi")
	if org == "" {
		t.Fatal("no organisation")
	}
}

func TestLoginRedirectStaysInTheConsole(t *testing.T) {
	e := newEnv(t)
	e.User("ann@example.com")
	b := e.browser()
	p := b.post("/console/login", url.Values{"email": {"ann@example.com"}, "password": {"correct horse battery"}, "next": {"https://evil.example/"}})
	if p.Location != "/console/" {
		t.Errorf("login with next=https://evil.example/ goes to %q", p.Location)
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
