package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/shopspring/decimal"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/internal/compute/testguest"
)

// chromium finds Debian's Chromium. Without it the browser tests skip on a
// developer's machine, and fail in CI, where make deps installs it.
func chromium(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("chromium is not installed (apt-get install chromium): the console's browser tests must run in CI")
		}
		t.Skip("chromium is not installed (apt-get install chromium, or make deps): skipping the console's browser tests")
	}
	return path
}

// screenshotDir is where the tests write screenshots of the main pages for
// people to review: $SIROCCO_SCREENSHOTS, or test-output/screenshots at the
// root of the repository.
func screenshotDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("SIROCCO_SCREENSHOTS")
	if dir == "" {
		abs, err := filepath.Abs(filepath.Join("..", "test-output", "screenshots"))
		if err != nil {
			t.Fatal(err)
		}
		dir = abs
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// A failure's screenshot is about that run only.
	old, _ := filepath.Glob(filepath.Join(dir, "FAILED-*.png"))
	for _, f := range old {
		os.Remove(f)
	}
	return dir
}

// tab is one headless Chromium with one tab, logged in as nobody at first.
// It records what the page's console says, so that a test can fail on a
// Content-Security-Policy violation anywhere in the run.
type tab struct {
	t     *testing.T
	ctx   context.Context
	base  string // the console's origin
	shots string // screenshot folder; "" takes none
	name  string // prefix of failure screenshots
	js    bool   // the page runs scripts

	mu       sync.Mutex
	messages []chromedp.ConsoleMessage
}

// newTab starts a browser on base. With js false the page runs no script at
// all, as in a browser with JavaScript turned off.
func newTab(t *testing.T, base, name, shots string, js bool) *tab {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)),
		chromedp.Headless,
		chromedp.NoSandbox, // root in CI containers: Chromium's sandbox needs an unprivileged user
		chromedp.DisableGPU,
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1280, 900),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.IgnoreCertErrors, // siroccod's self-signed certificate, on loopback
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil { // starts the browser, without a timeout
		t.Fatalf("start chromium: %v", err)
	}
	b := &tab{t: t, ctx: ctx, base: base, shots: shots, name: name, js: js}
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			b.mu.Lock()
			b.messages = append(b.messages, m)
			b.mu.Unlock()
		}
	}()
	// A person confirms what data-confirm asks (app.js's window.confirm).
	dialogs := chromedp.Events(ctx, page.JavascriptDialogOpening)
	go func() {
		for _, err := range dialogs {
			if err != nil {
				return
			}
			chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
		}
	}()
	if !js {
		if _, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
			t.Fatalf("turn JavaScript off: %v", err)
		}
	}
	return b
}

// cspViolations are the console messages that say the browser refused
// something under the Content-Security-Policy.
func (b *tab) cspViolations() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for _, m := range b.messages {
		if strings.Contains(m.Text, "Content Security Policy") || strings.Contains(m.Text, "Content-Security-Policy") {
			out = append(out, m.String()+" ("+m.URL+")")
		}
	}
	return out
}

// problems are the other errors the pages logged, for the test log.
func (b *tab) problems() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for _, m := range b.messages {
		if (m.Type == chromedp.ConsoleError || m.IsException()) && !strings.HasSuffix(m.URL, "/favicon.ico") {
			out = append(out, m.String()+" ("+m.URL+")")
		}
	}
	return out
}

// within runs actions with a time limit; on error it saves a screenshot of
// the page as it was and fails the test.
func (b *tab) within(d time.Duration, what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, d)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.fail("%s: %v", what, err)
	}
}

// fail saves a screenshot of the page and the page's text, and fails the test.
func (b *tab) fail(format string, args ...any) {
	b.t.Helper()
	msg := fmt.Sprintf(format, args...)
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	if png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)); err == nil {
		dir := b.shots
		if dir == "" {
			dir = b.t.TempDir()
		}
		name := filepath.Join(dir, "FAILED-"+b.name+"-"+regexp.MustCompile(`[^A-Za-z0-9]+`).ReplaceAllString(b.t.Name(), "_")+".png")
		if os.WriteFile(name, png, 0o644) == nil {
			msg += "\nscreenshot: " + name
		}
	}
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	text, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
	b.t.Fatalf("%s\nat %s:\n%s", msg, loc, text)
}

// open loads a console page and checks it answered 200.
func (b *tab) open(path string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	res, err := chromedp.Run(ctx, chromedp.NavigateResponse(b.base+path))
	if err != nil {
		b.fail("open %s: %v", path, err)
	}
	if res.Status != http.StatusOK {
		b.fail("open %s: status %d", path, res.Status)
	}
}

// status loads path and returns its status, for pages that may not exist.
func (b *tab) status(path string) int64 {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	res, err := chromedp.Run(ctx, chromedp.NavigateResponse(b.base+path))
	if err != nil {
		b.fail("open %s: %v", path, err)
	}
	return res.Status
}

// submit clicks what sel finds (a submit button) and waits for the page the
// form leads to; it returns that page's status.
func (b *tab) submit(sel chromedp.Search) int64 {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	res, err := chromedp.RunResponse(ctx, chromedp.Click(sel, chromedp.NodeVisible))
	if err != nil {
		b.fail("submit %v: %v", sel, err)
	}
	return res.Status
}

// button finds a button (or submit input) by how its text starts.
func button(text string) chromedp.Search {
	return chromedp.Search(fmt.Sprintf(`//button[starts-with(normalize-space(.), %[1]q)] | //input[@type="submit" and starts-with(@value, %[1]q)]`, text))
}

// link finds a link by its text.
func link(text string) chromedp.Search {
	return chromedp.Search(fmt.Sprintf(`//a[normalize-space(.)=%q]`, text))
}

// labelled finds the form control whose label starts with text, as a
// person (or a screen reader) finds it.
func labelled(text string) chromedp.Search {
	return chromedp.Search(fmt.Sprintf(`//*[@id=//label[starts-with(normalize-space(.), %q)]/@for]`, text))
}

// fill types value into the field labelled label.
func (b *tab) fill(label, value string) {
	b.t.Helper()
	b.within(10*time.Second, "fill "+label, chromedp.Clear(labelled(label)), chromedp.SendKeys(labelled(label), value))
}

// choose picks the option value of the select labelled label. With
// scripts on it fires the change event a person's choice fires, which the
// pages' scripts listen to.
func (b *tab) choose(label, value string) {
	b.t.Helper()
	b.within(10*time.Second, "choose "+label, chromedp.SetValue(labelled(label), value))
	if b.js {
		b.within(10*time.Second, "choose "+label, chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => {
			const l = [...document.querySelectorAll("label")].find((l) => l.textContent.trim().startsWith(%q));
			document.getElementById(l.htmlFor).dispatchEvent(new Event("change", {bubbles: true}));
		})()`, label)))
	}
}

// text is the visible text of the page.
func (b *tab) text() string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
	if err != nil {
		b.fail("read the page: %v", err)
	}
	return s
}

// location is the page's URL path.
func (b *tab) location() string {
	b.t.Helper()
	loc, err := chromedp.Run(b.ctx, chromedp.Location())
	if err != nil {
		b.fail("location: %v", err)
	}
	return strings.TrimPrefix(loc, b.base)
}

// waitText polls the page's text until ok holds, reloading it every
// reload (0: never, the page reloads itself), and fails after limit.
func (b *tab) waitText(limit, reload time.Duration, what string, ok func(text string) bool) string {
	b.t.Helper()
	deadline := time.Now().Add(limit)
	lastReload := time.Now()
	for {
		ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
		text, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
		cancel()
		if err == nil && ok(text) {
			return text
		}
		if time.Now().After(deadline) {
			b.fail("waited %v for %s", limit, what)
		}
		if reload > 0 && time.Since(lastReload) > reload {
			lastReload = time.Now()
			ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
			chromedp.Do(ctx, chromedp.Reload())
			cancel()
		}
		time.Sleep(500 * time.Millisecond) // the poll interval of a person watching the page
	}
}

// shot saves a full-page screenshot as name.png.
func (b *tab) shot(name string) {
	b.t.Helper()
	if b.shots == "" {
		return
	}
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.fail("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(b.shots, name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// download clicks what sel finds and waits until the browser saved the
// file it leads to; it returns the file's content.
func (b *tab) download(sel chromedp.Search) []byte {
	b.t.Helper()
	dir := b.t.TempDir()
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	if _, err := chromedp.CallBrowser(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior: browser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: dir, EventsEnabled: ptr(true),
	}); err != nil {
		b.fail("allow downloads: %v", err)
	}
	progress := chromedp.BrowserEvents(ctx, browser.DownloadProgress)
	if err := chromedp.Do(ctx, chromedp.Click(sel, chromedp.NodeVisible)); err != nil {
		b.fail("click %v: %v", sel, err)
	}
	for ev, err := range progress {
		if err != nil {
			b.fail("download from %v: %v", sel, err)
		}
		switch ev.State {
		case browser.DownloadProgressStateCompleted:
			data, err := os.ReadFile(filepath.Join(dir, ev.GUID))
			if err != nil {
				b.fail("downloaded file: %v", err)
			}
			return data
		case browser.DownloadProgressStateCanceled:
			b.fail("download from %v canceled", sel)
		}
	}
	b.fail("no download from %v", sel)
	return nil
}

func ptr[T any](v T) *T { return &v }

// apiSession is a logged-in API client of one user, to read what the
// console should show (a balance) or to do what the console does not (run
// invoices).
type apiSession struct {
	t    *testing.T
	base string
	hc   *http.Client
}

func apiLogin(t *testing.T, base, email, password string) *apiSession {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	s := &apiSession{t: t, base: base, hc: &http.Client{Jar: jar, Timeout: time.Minute, Transport: insecureClient.Transport}}
	s.do(http.MethodPost, "/api/v1/login", map[string]string{"email": email, "password": password}, nil)
	return s
}

func (s *apiSession) do(method, path string, body, out any) int {
	s.t.Helper()
	var rd *bytes.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, _ := http.NewRequest(method, s.base+path, rd)
	req.Header.Set("Content-Type", "application/json")
	// The API takes cookie sessions from the console's origin only.
	req.Header.Set("Origin", s.base)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	res, err := s.hc.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	var raw bytes.Buffer
	raw.ReadFrom(res.Body)
	if res.StatusCode >= 300 {
		if out == nil {
			return res.StatusCode
		}
		s.t.Fatalf("%s %s: status %d: %s", method, path, res.StatusCode, raw.String())
	}
	if out != nil {
		if err := json.Unmarshal(raw.Bytes(), out); err != nil {
			s.t.Fatalf("%s %s: %v: %s", method, path, err, raw.String())
		}
	}
	return res.StatusCode
}

func (s *apiSession) balance(org string) api.Balance {
	s.t.Helper()
	var bal api.Balance
	s.do(http.MethodGet, "/api/v1/orgs/"+org+"/balance", nil, &bal)
	return bal
}

const consolePassword = "tenant-password-1"

// TestConsoleInBrowser walks issue 6's story in Debian's Chromium against
// the real siroccod with a real guest: a developer signs up in the browser,
// confirms the address from the mailbox page, launches a VM with the
// wizard, sees it run and its serial console print, watches the balance
// fall and downloads what billing offers; the provider grants credit,
// suspends the tenant (its VM stops) and reinstates it. Every main page is
// saved as a screenshot, no page may break the Content-Security-Policy,
// and the essentials work with JavaScript turned off.
func TestConsoleInBrowser(t *testing.T) {
	chromium(t)
	kernel, _ := testguest.Path(t)
	dataDir, vms := t.TempDir(), vmDir(t)
	// --local-host needs TLS (its agent pins the certificate): the browser
	// accepts siroccod's self-signed one, on loopback.
	d := launch(t, dataDir, "https", "--log-level", "warn", "--seed-demo", "--local-host", "--vm-dir", vms, "--accel", "tcg",
		"--demo-image", filepath.Dir(kernel))
	pw, err := os.ReadFile(filepath.Join(dataDir, "initial-admin-password"))
	if err != nil {
		t.Fatal(err)
	}
	adminPassword := strings.TrimSpace(string(pw))
	shots := screenshotDir(t)
	dev := newTab(t, d.url, "tenant", shots, true)
	admin := newTab(t, d.url, "provider", shots, true)
	tabs := []*tab{dev, admin}
	t.Cleanup(func() {
		for _, b := range tabs {
			for _, p := range b.problems() {
				t.Logf("%s browser console: %s", b.name, p)
			}
		}
	})

	const email, orgName = "dev@acme.test", "acme"
	var org string // its ID, as the console's paths have it
	var adminAPI *apiSession
	steps := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"sign up and confirm the address", func(t *testing.T) {
			dev.t = t
			org = signUpInBrowser(dev, email, orgName, "01")
			text := dev.text()
			if !strings.Contains(text, "confirmed") || !strings.Contains(text, "50.00 AUD") {
				dev.fail("the dashboard does not confirm the address and show the A$50.00 trial credit")
			}
			dev.shot("03-dashboard")
		}},
		{"launch a VM with the wizard", func(t *testing.T) {
			dev.t = t
			launchInBrowser(dev, org, "web1", "04")
			dev.shot("05-vm")
		}},
		{"serial console", func(t *testing.T) {
			dev.t = t
			if st := dev.submit(link("Console")); st != http.StatusOK {
				dev.fail("console page: status %d", st)
			}
			out := chromedp.Search(`//pre[@aria-label="Console output"]`)
			deadline := time.Now().Add(3 * time.Minute)
			for {
				ctx, cancel := context.WithTimeout(dev.ctx, 5*time.Second)
				text, err := chromedp.Run(ctx, chromedp.Text(out))
				cancel()
				if err == nil && strings.Contains(text, testguest.ReadyPrefix+"hostname=web1") {
					break
				}
				if time.Now().After(deadline) {
					dev.fail("no %q line from the guest on the console page after 3 min", testguest.ReadyPrefix)
				}
				time.Sleep(time.Second)
			}
			dev.shot("06-vm-console")
		}},
		{"balance falls while the VM runs", func(t *testing.T) {
			dev.t = t
			adminAPI = apiLogin(t, d.url, "admin@sirocco.local", adminPassword)
			// At the demo's A$0.027 an hour the balance, shown to the cent,
			// takes 11 minutes to move: the provider negotiates this tenant
			// a dearer vCPU so that a cent goes every 10 seconds.
			adminAPI.do(http.MethodPost, "/api/v1/orgs/"+org+"/price-overrides",
				api.PriceOverrideCreate{Rates: api.PriceOverrideRates{VCPUHour: "3.60"}, Note: "e2e: a balance that moves"}, &api.PriceOverride{})
			tenantAPI := apiLogin(t, d.url, email, consolePassword)
			fifty := decimal.RequireFromString("50.00")
			deadline := time.Now().Add(2 * time.Minute)
			for {
				// Read the exact balance before and after the page, so the
				// figure shown must lie between the two.
				before := decimal.RequireFromString(tenantAPI.balance(org).Available)
				dev.open("/console/o/" + org + "/")
				shown := dashboardAvailable(dev)
				after := decimal.RequireFromString(tenantAPI.balance(org).Available)
				if shown.GreaterThan(before.Round(2)) || shown.LessThan(after.Round(2)) {
					dev.fail("the dashboard shows %s AUD available; the API said %s then %s", shown, before, after)
				}
				if shown.LessThan(fifty) {
					break
				}
				if time.Now().After(deadline) {
					dev.fail("the balance still shows %s after 2 min of a running VM", shown)
				}
				time.Sleep(2 * time.Second)
			}
			dev.shot("07-dashboard-balance")
		}},
		{"download an invoice or the usage", func(t *testing.T) {
			dev.t = t
			// Invoices are made for months that are over; the API says so
			// for the running month, and the console then offers the usage
			// export of the month so far.
			period := time.Now().UTC().Format("2006-01")
			if st := adminAPI.do(http.MethodPost, "/api/v1/invoices/run", api.InvoiceRun{Period: period}, nil); st < 400 {
				t.Errorf("running invoices for the running month %s: status %d, want a refusal", period, st)
			}
			dev.open("/console/o/" + org + "/invoices")
			dev.shot("08-invoices")
			if pdf := link("Download PDF"); dev.has(pdf) {
				if data := dev.download(pdf); !bytes.HasPrefix(data, []byte("%PDF")) {
					dev.fail("the invoice download is not a PDF: %.20q", data)
				}
			}
			dev.open("/console/o/" + org + "/usage")
			dev.shot("09-usage")
			data := dev.download(link("Download CSV"))
			if !bytes.HasPrefix(data, []byte("window_start,window_end,resource_kind,")) {
				dev.fail("the usage download is not the usage CSV: %.80q", data)
			}
		}},
		{"provider grants credit, suspends and reinstates", func(t *testing.T) {
			dev.t, admin.t = t, t
			providerStory(admin, dev, adminAPI, apiLogin(t, d.url, email, consolePassword), adminPassword, org, orgName)
		}},
		{"main pages", func(t *testing.T) {
			dev.t, admin.t = t, t
			// Pages not built are skipped; a page that breaks is an error.
			n := 20
			visit := func(b *tab, path, name string) {
				switch st := b.status(path); {
				case st == http.StatusOK:
					n++
					b.shot(fmt.Sprintf("%02d-%s", n, name))
				case st >= 500:
					t.Errorf("%s: status %d", path, st)
				}
			}
			for _, p := range []string{"vms", "catalog", "networks", "public-ips", "disks", "budgets", "tokens", "members"} {
				visit(dev, "/console/o/"+org+"/"+p, p)
			}
			visit(dev, "/console/account", "account")
			for _, p := range []string{"hosts", "regions", "images", "sizes", "prices", "tenants", "revenue", "audit", "branding"} {
				visit(admin, "/console/provider/"+p, "provider-"+p)
			}
		}},
		{"essentials without JavaScript", func(t *testing.T) {
			nojs := newTab(t, d.url, "nojs", shots, false)
			tabs = append(tabs, nojs)
			org := signUpInBrowser(nojs, "ops@kiwi.test", "kiwi", "")
			// Log out and in again, with the form.
			if st := nojs.submit(button("Log out")); st != http.StatusOK {
				nojs.fail("log out: status %d", st)
			}
			nojs.open("/console/login")
			nojs.fill("E-mail address", "ops@kiwi.test")
			nojs.fill("Password", consolePassword)
			if st := nojs.submit(button("Log in")); st != http.StatusOK || !strings.HasPrefix(nojs.location(), "/console/o/") {
				nojs.fail("log in: status %d, at %s", st, nojs.location())
			}
			launchInBrowser(nojs, org, "db1", "40-nojs")
		}},
	}
	for _, s := range steps {
		if !t.Run(s.name, s.run) {
			break
		}
	}
	for _, b := range tabs {
		if v := b.cspViolations(); len(v) > 0 {
			t.Errorf("%s: Content-Security-Policy violations:\n%s", b.name, strings.Join(v, "\n"))
		}
	}
}

// signUpInBrowser signs up with the form, follows the link of the mailbox
// page and returns the organisation's ID from the dashboard it lands on.
// With shot set, it saves the sign-up and mailbox pages as shot-signup and
// the next number.
func signUpInBrowser(b *tab, email, orgName, shot string) string {
	b.t.Helper()
	b.open("/console/signup")
	b.fill("Your name", "Dev Eloper")
	b.fill("E-mail address", email)
	b.fill("Password", consolePassword)
	b.fill("Organisation short name", orgName)
	if shot != "" {
		b.shot(shot + "-signup")
	}
	if st := b.submit(button("Create account")); st != http.StatusOK {
		b.fail("sign-up: status %d", st)
	}
	// A cloud without SMTP shows its mails on the mailbox page.
	b.open("/console/mailbox")
	if shot != "" {
		b.shot("02-mailbox")
	}
	link := regexp.MustCompile(`https?://\S+/console/verify-email\?token=\S+`).FindString(b.text())
	if link == "" {
		b.fail("no verification link on the mailbox page")
	}
	b.open(link[strings.Index(link, "/console/"):])
	loc := b.location()
	rest, ok := strings.CutPrefix(loc, "/console/o/")
	if !ok {
		b.fail("after verifying, the browser is at %s, want an organisation's dashboard", loc)
	}
	return strings.Trim(rest, "/")
}

// launchInBrowser creates the first VDC and launches VM name (the test
// guest, s1.small) with the wizard, after seeing its price, and waits until
// the VM's page shows it running.
func launchInBrowser(b *tab, org, name, shot string) {
	b.t.Helper()
	b.open("/console/o/" + org + "/launch")
	if b.has(button("Create the VDC")) {
		b.choose("Zone", "au-syd-1a")
		if st := b.submit(button("Create the VDC")); st != http.StatusOK {
			b.fail("create the VDC: status %d", st)
		}
	}
	b.fill("Name", name)
	b.choose("Image", "sirocco-testguest")
	b.choose("Size", "s1.small")
	if !b.js {
		// Without the live quote, the button asks the server.
		if st := b.submit(button("Show the price")); st != http.StatusOK {
			b.fail("show the price: status %d", st)
		}
	}
	// s1.small on the demo plan: A$0.027 an hour.
	b.waitText(30*time.Second, 0, "the price of s1.small", func(text string) bool {
		return strings.Contains(text, "Price: 0.027") && strings.Contains(text, "AUD an hour")
	})
	if shot != "" {
		b.shot(shot + "-launch")
	}
	if st := b.submit(button("Launch")); st != http.StatusOK {
		b.fail("launch: status %d", st)
	}
	if loc := b.location(); !strings.Contains(loc, "/vms/"+name) {
		b.fail("after launching, the browser is at %s, want the VM's page", loc)
	}
	// With JavaScript the page follows the operation and reloads itself;
	// without, a person reloads it.
	reload := time.Duration(0)
	if !b.js {
		reload = 5 * time.Second
	}
	vmState(b, name, "running", 3*time.Minute, reload)
}

// dashboardAvailable reads the Available card of the dashboard.
func dashboardAvailable(b *tab) decimal.Decimal {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	text, err := chromedp.Run(ctx, chromedp.Text(chromedp.Search(`//*[normalize-space(text())="Available"]/following-sibling::*[1]`)))
	if err != nil {
		b.fail("no Available balance on the dashboard: %v", err)
	}
	amount, ok := strings.CutSuffix(strings.TrimSpace(text), " AUD")
	v, err := decimal.NewFromString(amount)
	if !ok || err != nil {
		b.fail("the dashboard's Available balance %q is not an amount in AUD", text)
	}
	return v
}

// has reports whether the page has what sel finds, without waiting.
func (b *tab) has(sel chromedp.Search) bool {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	nodes, err := chromedp.Run(ctx, chromedp.Nodes(sel, chromedp.AtLeast(0)))
	if err != nil {
		b.fail("look for %v: %v", sel, err)
	}
	return len(nodes) > 0
}

// providerStory is the provider's part: the admin logs in, finds the
// tenant, grants credit (the tenant's credit rises by exactly that),
// suspends it (its VM stops) and reinstates it. Where the provider console
// lacks a control, the admin does that step through the API, and the
// tenant's pages must show its effect all the same.
func providerStory(admin, dev *tab, adminAPI, tenantAPI *apiSession, password, org, orgName string) {
	t := admin.t
	t.Helper()
	admin.open("/console/login")
	admin.fill("E-mail address", "admin@sirocco.local")
	admin.fill("Password", password)
	admin.submit(button("Log in"))
	// Each page of the provider console is used where it is there (200);
	// the story goes on through the API where it is not.
	tenantPage := ""
	if admin.status("/console/provider/") == http.StatusOK {
		admin.shot("10-provider-overview")
	}
	if st := admin.status("/console/provider/tenants"); st == http.StatusOK {
		admin.shot("11-provider-tenants")
		if admin.has(link(orgName)) {
			admin.submit(link(orgName))
		} else {
			t.Logf("no link %q on the provider's tenants page: opening the tenant's page by its ID", orgName)
			admin.status("/console/provider/tenants/" + org)
		}
		if admin.has(labelled("Amount")) || admin.has(button("Suspend")) {
			tenantPage = admin.location()
			admin.shot("12-provider-tenant")
		}
	} else {
		t.Logf("the provider console has no tenants page (status %d): the admin uses the API", st)
	}

	// Credit: the tenant's credit left rises by exactly the grant.
	before := decimal.RequireFromString(tenantAPI.balance(org).CreditRemaining)
	const grant = "12.34"
	if tenantPage != "" && admin.has(labelled("Amount")) && admin.has(button("Grant credit")) {
		admin.fill("Amount", grant)
		if kind := chromedp.Search(`//select[@name="kind"]`); admin.has(kind) {
			admin.within(10*time.Second, "credit kind", chromedp.SetValue(kind, api.CreditPromo))
		}
		if admin.has(labelled("Note")) {
			admin.fill("Note", "e2e: goodwill")
		}
		if st := admin.submit(button("Grant credit")); st != http.StatusOK {
			admin.fail("grant credit: status %d", st)
		}
	} else {
		t.Logf("no Grant credit form on the provider's tenant page: granting through the API")
		adminAPI.do(http.MethodPost, "/api/v1/orgs/"+org+"/credits",
			api.CreditGrantCreate{Kind: api.CreditPromo, Amount: grant, Reason: "e2e: goodwill"}, &api.CreditGrant{})
	}
	after := decimal.RequireFromString(tenantAPI.balance(org).CreditRemaining)
	if !after.Sub(before).Equal(decimal.RequireFromString(grant)) {
		t.Errorf("credit left went from %s to %s after a grant of %s", before, after, grant)
	}
	dev.open("/console/o/" + org + "/")
	if want := after.StringFixed(2) + " AUD"; !strings.Contains(dev.text(), want) {
		dev.fail("the dashboard does not show the credit left, %s, after the grant", want)
	}
	dev.shot("13-dashboard-credit")

	// Suspension powers the tenant's VM off.
	if tenantPage != "" && admin.has(button("Suspend")) {
		if admin.has(labelled("Reason")) {
			admin.fill("Reason", "e2e: suspend")
		}
		if st := admin.submit(button("Suspend")); st != http.StatusOK {
			admin.fail("suspend: status %d", st)
		}
		admin.shot("14-provider-suspended")
	} else {
		t.Logf("no Suspend button on the provider's tenant page: suspending through the API")
		adminAPI.do(http.MethodPut, "/api/v1/orgs/"+org+"/billing-override", api.BillingOverride{State: api.OrgSuspended, Reason: "e2e: suspend"}, &api.Balance{})
	}
	dev.open("/console/o/" + org + "/vms/web1")
	vmState(dev, "web1", "stopped", 3*time.Minute, 5*time.Second)
	dev.shot("15-vm-suspended")

	// Reinstated, the organisation is active again.
	if tenantPage != "" && admin.has(button("Reinstate")) {
		if admin.has(labelled("Reason")) {
			admin.fill("Reason", "e2e: reinstate")
		}
		if st := admin.submit(button("Reinstate")); st != http.StatusOK {
			admin.fail("reinstate: status %d", st)
		}
	} else {
		t.Logf("no Reinstate button on the provider's tenant page: reinstating through the API")
		adminAPI.do(http.MethodPut, "/api/v1/orgs/"+org+"/billing-override", api.BillingOverride{State: "", Reason: "e2e: reinstate"}, &api.Balance{})
	}
	dev.waitText(2*time.Minute, 5*time.Second, "the dashboard to show the organisation active", func(string) bool {
		return tenantAPI.balance(org).State == api.OrgActive
	})
	dev.open("/console/o/" + org + "/")
	if text := dev.text(); !strings.Contains(text, "active") {
		dev.fail("the dashboard does not show the organisation active after it was reinstated")
	}
}

// vmState waits until the VM page shows name in state want, reloading the
// page every reload (0: the page reloads itself).
func vmState(b *tab, name, want string, limit, reload time.Duration) {
	b.t.Helper()
	badge := chromedp.Search(fmt.Sprintf(`//h1[normalize-space(.)=%q]/following-sibling::span[1]`, name))
	deadline := time.Now().Add(limit)
	lastReload := time.Now()
	for {
		ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
		state, err := chromedp.Run(ctx, chromedp.Text(badge))
		cancel()
		if err == nil && strings.TrimSpace(state) == want {
			return
		}
		if time.Now().After(deadline) {
			b.fail("%s is %q, not %s, after %v", name, state, want, limit)
		}
		if reload > 0 && time.Since(lastReload) > reload {
			lastReload = time.Now()
			b.open(b.location())
		}
		time.Sleep(time.Second)
	}
}
