package console

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/client"
)

// page is a console page handler. A returned *api.Error becomes an error
// page with its status (401 sends the visitor to the login page).
type page func(v *visit) error

// public serves a page anyone may see; the visitor may be logged in.
func (c *Console) public(h page) http.Handler {
	return c.serve(h, func(v *visit) error { return nil }, false)
}

// user serves a page for any logged-in visitor.
func (c *Console) user(h page) http.Handler {
	return c.serve(h, func(v *visit) error { return nil }, true)
}

// tenant serves a page of the organisation {org} of the path; the visitor
// must be one of its members.
func (c *Console) tenant(h page) http.Handler {
	return c.serve(h, func(v *visit) error {
		id := v.r.PathValue("org")
		i := slices.IndexFunc(v.me.Memberships, func(m api.Membership) bool { return m.Org == id || m.OrgName == id })
		if i < 0 {
			return api.NotFound("organisation", id)
		}
		v.org = &v.me.Memberships[i]
		return nil
	}, true)
}

// provider serves a provider console page; the visitor needs a provider role.
func (c *Console) provider(h page) http.Handler {
	return c.serve(h, func(v *visit) error {
		if v.me.Provider == "" {
			return api.Errorf(http.StatusForbidden, api.CodeForbidden, "the provider console needs a provider role")
		}
		v.view.Area = "provider"
		return nil
	}, true)
}

func (c *Console) serve(h page, check page, login bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		session := ""
		if ck, err := r.Cookie(client.SessionCookie); err == nil {
			session = ck.Value
		}
		v := &visit{c: c, w: w, r: r, api: c.sessionClient(r, session)}
		// The Server-Timing header lets a browser (and the benchmark) see
		// how long the page took to make.
		w = &timed{ResponseWriter: w, start: start}
		v.w = w
		err := c.load(v, session, login)
		if err == nil {
			err = check(v)
		}
		if err == nil {
			err = h(v)
		}
		if err != nil {
			c.fail(v, err)
		}
	})
}

// load fetches the provider's branding and, with a session, the visitor.
func (c *Console) load(v *visit, session string, login bool) error {
	ctx := v.r.Context()
	p, err := v.api.GetProvider(ctx)
	if err != nil {
		return err
	}
	v.view.Provider = *p
	if session != "" {
		me, err := v.api.Me(ctx)
		switch {
		case err == nil:
			v.me = me
		case isStatus(err, http.StatusUnauthorized):
			// An expired session on a public page is nobody.
		default:
			return err
		}
	}
	if login && v.me == nil {
		return api.Errorf(http.StatusUnauthorized, api.CodeUnauthenticated, "log in first")
	}
	return nil
}

// fail shows an error page, or sends a visitor who is not logged in to the
// login page and back.
func (c *Console) fail(v *visit, err error) {
	ae, ok := errors.AsType[*api.Error](err)
	if !ok {
		c.cfg.Log.ErrorContext(v.r.Context(), "console page", "path", v.r.URL.Path, "err", err)
		ae = api.Errorf(http.StatusInternalServerError, api.CodeInternal, "Something went wrong on our side. Please try again.")
	}
	if ae.Status == http.StatusUnauthorized {
		target := "/console/login"
		if v.r.Method == http.MethodGet && v.r.URL.Path != "/console/" {
			target += "?next=" + url.QueryEscape(v.r.URL.RequestURI())
		}
		http.Redirect(v.w, v.r, target, http.StatusSeeOther)
		return
	}
	status := ae.Status
	if status < 400 {
		status = http.StatusInternalServerError
	}
	if err := v.renderStatus(status, "error", ae); err != nil {
		c.cfg.Log.ErrorContext(v.r.Context(), "console error page", "err", err)
		http.Error(v.w, ae.Detail, status)
	}
}

func isStatus(err error, status int) bool {
	ae, ok := errors.AsType[*api.Error](err)
	return ok && ae.Status == status
}

// timed adds a Server-Timing header when the page starts its answer.
type timed struct {
	http.ResponseWriter
	start time.Time
	done  bool
}

func (t *timed) WriteHeader(status int) {
	if !t.done {
		t.done = true
		ms := float64(time.Since(t.start).Microseconds()) / 1000
		t.Header().Set("Server-Timing", "app;dur="+strconv.FormatFloat(ms, 'f', 1, 64))
	}
	t.ResponseWriter.WriteHeader(status)
}

func (t *timed) Write(p []byte) (int, error) {
	if !t.done {
		t.WriteHeader(http.StatusOK)
	}
	return t.ResponseWriter.Write(p)
}

func (t *timed) Unwrap() http.ResponseWriter { return t.ResponseWriter }
