package console_test

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/client"
	"github.com/sirocco-cloud/sirocco/internal/console"
	"github.com/sirocco-cloud/sirocco/internal/seed"
	"github.com/sirocco-cloud/sirocco/internal/servertest"
	"github.com/sirocco-cloud/sirocco/internal/store"
)

// env is a real API server with the console mounted beside it.
type env struct {
	*servertest.Env
	t *testing.T
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := servertest.NewWrapped(t, false, func(h http.Handler) (http.Handler, error) {
		return console.Mount(h, console.Config{})
	})
	// The demo provider: region au-syd, zone au-syd-1a, sizes, AUD prices,
	// sign-up open with a trial credit.
	if err := seed.Demo(t.Context(), e.Store); err != nil {
		t.Fatalf("seed demo: %v", err)
	}
	return &env{Env: e, t: t}
}

// browser is a visitor: it keeps cookies, does not follow redirects (so
// tests see them) and sends what a browser sends with a same-origin form.
type browser struct {
	e  *env
	hc *http.Client
}

func (e *env) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{e: e, hc: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

// page is one answer: status, Location, body.
type page struct {
	Status   int
	Location string
	Body     string
	Header   http.Header
}

func (b *browser) do(req *http.Request) page {
	b.e.t.Helper()
	res, err := b.hc.Do(req)
	if err != nil {
		b.e.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return page{Status: res.StatusCode, Location: res.Header.Get("Location"), Body: string(body), Header: res.Header}
}

func (b *browser) get(path string) page {
	b.e.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, b.e.URL+path, nil)
	req.Header.Set("Sec-Fetch-Site", "none")
	return b.do(req)
}

// post submits a form from a console page.
func (b *browser) post(path string, form url.Values) page {
	b.e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, b.e.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	req.Header.Set("Origin", b.e.URL)
	return b.do(req)
}

// sdk is an SDK client acting with the browser's console session, for
// setting things up as the visitor.
func (b *browser) sdk() *client.Client {
	b.e.t.Helper()
	for _, c := range b.hc.Jar.Cookies(mustURL(b.e.t, b.e.URL)) {
		if c.Name == client.SessionCookie {
			cl, err := client.New(b.e.URL, client.WithSession(c.Value))
			if err != nil {
				b.e.t.Fatal(err)
			}
			return cl
		}
	}
	b.e.t.Fatal("the browser has no session")
	return nil
}

// login logs the browser in as email with servertest.Password.
func (b *browser) login(email string) {
	b.e.t.Helper()
	p := b.post("/console/login", url.Values{"email": {email}, "password": {servertest.Password}})
	if p.Status != http.StatusSeeOther {
		b.e.t.Fatalf("login %s: status %d, want 303:\n%s", email, p.Status, p.Body)
	}
}

// signup signs a new user up through the console, follows the link in the
// verification mail and returns their logged-in browser and organisation ID.
func (e *env) signup(email, orgName string) (*browser, string) {
	e.t.Helper()
	b := e.browser()
	p := b.post("/console/signup", url.Values{"email": {email}, "password": {servertest.Password}, "org_name": {orgName}})
	if p.Status != http.StatusSeeOther {
		e.t.Fatalf("sign up %s: status %d:\n%s", email, p.Status, p.Body)
	}
	m := e.Mail.WaitFor(e.t, email, 10*time.Second)
	link := regexp.MustCompile(`https?://\S+/console/verify-email\?token=\S+`).FindString(m.Body)
	if link == "" {
		e.t.Fatalf("no verification link in:\n%s", m.Body)
	}
	u, _ := url.Parse(link)
	if p := b.get(u.RequestURI()); p.Status != http.StatusSeeOther {
		e.t.Fatalf("verify %s: status %d:\n%s", email, p.Status, p.Body)
	}
	p = b.get("/console/")
	org, ok := strings.CutPrefix(p.Location, "/console/o/")
	if !ok {
		e.t.Fatalf("after sign-up /console/ sends to %q, want an organisation", p.Location)
	}
	return b, strings.TrimSuffix(org, "/")
}

// providerAdmin returns a logged-in browser of a provider admin.
func (e *env) providerAdmin() *browser {
	e.t.Helper()
	e.User("admin@provider.test", store.RoleBinding{Role: api.RoleProviderAdmin})
	b := e.browser()
	b.login("admin@provider.test")
	return b
}

func mustContain(t *testing.T, p page, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(p.Body, w) {
			t.Errorf("page (status %d) lacks %q:\n%s", p.Status, w, p.Body)
		}
	}
}
