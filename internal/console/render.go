package console

import (
	"bytes"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/client"
)

// parsePages parses each page template with the layout and the partials.
// A page file templates/<name>.html defines "title" and "content" (and may
// define "head" for extra stylesheets or scripts).
func parsePages() (map[string]*template.Template, error) {
	pages := map[string]*template.Template{}
	names, err := fs.Glob(files, "templates/*.html")
	if err != nil {
		return nil, err
	}
	partials, err := fs.Glob(files, "templates/partials/*.html")
	if err != nil {
		return nil, err
	}
	for _, p := range names {
		name := strings.TrimSuffix(path.Base(p), ".html")
		if name == "layout" {
			continue
		}
		t := template.New(name).Funcs(funcs)
		if _, err := t.ParseFS(files, append([]string{"templates/layout.html", p}, partials...)...); err != nil {
			return nil, fmt.Errorf("template %s: %w", name, err)
		}
		pages[name] = t
	}
	return pages, nil
}

// view is what every page template gets.
type view struct {
	Provider api.Provider
	Me       *api.Me
	// Org is the organisation the page is about, on tenant pages.
	Org *api.Membership
	// Area highlights the navigation entry ("vms", "networks", ...).
	Area string
	// Section highlights the entry inside the provider's navigation
	// ("hosts", "tenants", ...), where Area is "provider".
	Section string
	Flash   string
	// Error is a failed action's message, shown above the form.
	Error string
	// Fields are a failed form's per-field messages, by JSON field name.
	Fields map[string]string
	// Form holds the submitted values, to fill a form shown again.
	Form url.Values
	Data any
	Now  time.Time
}

// visit is one request to a page: the visitor's API client and identity.
type visit struct {
	c    *Console
	w    http.ResponseWriter
	r    *http.Request
	api  *client.Client
	me   *api.Me // nil on public pages when nobody is logged in
	org  *api.Membership
	view view
}

// render writes page name with data, status 200 unless an error was set.
func (v *visit) render(name string, data any) error {
	return v.renderStatus(http.StatusOK, name, data)
}

func (v *visit) renderStatus(status int, name string, data any) error {
	t, ok := v.c.pages[name]
	if !ok {
		return fmt.Errorf("no page template %q", name)
	}
	v.view.Me, v.view.Org, v.view.Data, v.view.Now = v.me, v.org, data, v.c.cfg.Now()
	if v.view.Form == nil && v.r.Method == http.MethodPost {
		v.view.Form = v.r.PostForm
	}
	if f, err := v.r.Cookie(flashCookie); err == nil {
		if msg, err := url.QueryUnescape(f.Value); err == nil {
			v.view.Flash = msg
		}
		http.SetCookie(v.w, &http.Cookie{Name: flashCookie, Path: "/console/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: v.c.cfg.SecureCookies})
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", &v.view); err != nil {
		return fmt.Errorf("render %s: %w", name, err)
	}
	v.w.Header().Set("Content-Type", "text/html; charset=utf-8")
	v.w.Header().Set("Cache-Control", "no-store")
	v.w.WriteHeader(status)
	_, err := v.w.Write(buf.Bytes())
	return err
}

// formError shows page name again with a failed action's error: the API's
// message and its per-field details next to the fields.
func (v *visit) formError(name string, data any, err error) error {
	ae, ok := errors.AsType[*api.Error](err)
	if !ok {
		return err
	}
	if ae.Status == http.StatusUnauthorized {
		return err
	}
	v.view.Error = ae.Detail
	if v.view.Error == "" {
		v.view.Error = ae.Title
	}
	v.view.Fields = map[string]string{}
	for _, d := range ae.Errors {
		field := strings.TrimPrefix(d.Location, "body.")
		v.view.Fields[field] = d.Message
	}
	status := ae.Status
	if status < 400 {
		status = http.StatusBadRequest
	}
	return v.renderStatus(status, name, data)
}

const flashCookie = "sirocco_flash"

// redirect ends a successful form post: 303 to target, with a message shown
// once on the next page.
func (v *visit) redirect(target, flash string) error {
	if flash != "" {
		http.SetCookie(v.w, &http.Cookie{Name: flashCookie, Value: url.QueryEscape(flash), Path: "/console/", MaxAge: 60,
			HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: v.c.cfg.SecureCookies})
	}
	http.Redirect(v.w, v.r, target, http.StatusSeeOther)
	return nil
}

// orgPath is the console path of page in the visit's organisation.
func (v *visit) orgPath(page string, args ...any) string {
	p := "/console/o/" + url.PathEscape(v.org.Org)
	if page != "" {
		p += "/" + fmt.Sprintf(page, args...)
	}
	return p
}

// form parses and returns the posted form.
func (v *visit) form() url.Values {
	v.r.ParseForm()
	return v.r.PostForm
}
