package console

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/client"
	"github.com/sirocco-cloud/sirocco/internal/mail"
)

// Mailbox lists the mails the cloud sent to an address, newest first. A
// demo cloud without SMTP keeps them so that its console can show a user
// their own.
type Mailbox interface {
	Mails(address string) []mail.Message
}

func (c *Console) authRoutes() {
	c.mux.Handle("GET /console/{$}", c.public(c.home))
	c.mux.Handle("GET /console/login", c.public(c.loginPage))
	c.mux.Handle("POST /console/login", c.public(c.login))
	c.mux.Handle("POST /console/logout", c.public(c.logout))
	c.mux.Handle("GET /console/signup", c.public(c.signupPage))
	c.mux.Handle("POST /console/signup", c.public(c.signup))
	c.mux.Handle("GET /console/verify-email", c.public(c.verifyEmail))
	c.mux.Handle("POST /console/verify-email/resend", c.user(c.resendVerification))
	c.mux.Handle("GET /console/reset-password", c.public(c.resetPage))
	c.mux.Handle("POST /console/reset-password", c.public(c.reset))
	c.mux.Handle("GET /console/accept-invitation", c.public(c.invitationPage))
	c.mux.Handle("POST /console/accept-invitation", c.public(c.acceptInvitation))
	c.mux.Handle("GET /console/switch", c.user(c.switchOrg))
	c.mux.Handle("GET /console/mailbox", c.user(c.mailbox))
	c.mux.Handle("/console/", c.public(func(v *visit) error { return api.NotFound("page", v.r.URL.Path) }))
}

// home sends the visitor where they most likely want to be: their first
// organisation's dashboard, the provider console, or the login page.
func (c *Console) home(v *visit) error {
	switch {
	case v.me == nil:
		http.Redirect(v.w, v.r, "/console/login", http.StatusSeeOther)
	case len(v.me.Memberships) > 0:
		http.Redirect(v.w, v.r, "/console/o/"+url.PathEscape(v.me.Memberships[0].Org)+"/", http.StatusSeeOther)
	case v.me.Provider != "":
		http.Redirect(v.w, v.r, "/console/provider/", http.StatusSeeOther)
	default:
		http.Redirect(v.w, v.r, "/console/account", http.StatusSeeOther)
	}
	return nil
}

// safeNext keeps a post-login redirect inside the console.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/console/") || strings.HasPrefix(next, "//") || strings.Contains(next, "\\") {
		return "/console/"
	}
	return next
}

type loginData struct {
	Next string
}

func (c *Console) loginPage(v *visit) error {
	if v.me != nil {
		http.Redirect(v.w, v.r, safeNext(v.r.URL.Query().Get("next")), http.StatusSeeOther)
		return nil
	}
	return v.render("login", loginData{Next: v.r.URL.Query().Get("next")})
}

func (c *Console) login(v *visit) error {
	f := v.form()
	data := loginData{Next: f.Get("next")}
	session, _, err := v.api.Login(v.r.Context(), strings.TrimSpace(f.Get("email")), f.Get("password"))
	if err != nil {
		if isStatus(err, http.StatusUnauthorized) {
			v.view.Error = "The e-mail address or the password is wrong."
			return v.renderStatus(http.StatusUnauthorized, "login", data)
		}
		return v.formError("login", data, err)
	}
	c.setSession(v.w, session)
	http.Redirect(v.w, v.r, safeNext(data.Next), http.StatusSeeOther)
	return nil
}

// setSession sets the session cookie the API reads, for the browser; an
// empty session clears it. The cookie lasts as long as the browser session:
// the server decides when the session itself expires.
func (c *Console) setSession(w http.ResponseWriter, session string) {
	ck := &http.Cookie{Name: client.SessionCookie, Value: session, Path: "/",
		HttpOnly: true, Secure: c.cfg.SecureCookies, SameSite: http.SameSiteLaxMode}
	if session == "" {
		ck.MaxAge = -1
	}
	http.SetCookie(w, ck)
}

func (c *Console) logout(v *visit) error {
	if v.me != nil {
		if err := v.api.Logout(v.r.Context()); err != nil && !isStatus(err, http.StatusUnauthorized) {
			return err
		}
	}
	c.setSession(v.w, "")
	return v.redirect("/console/login", "You are logged out.")
}

func (c *Console) signupPage(v *visit) error {
	if !v.view.Provider.SignupEnabled {
		return api.Errorf(http.StatusForbidden, api.CodeForbidden, "sign-up is closed on this cloud: ask its provider for an invitation")
	}
	return v.render("signup", nil)
}

func (c *Console) signup(v *visit) error {
	f := v.form()
	ctx := v.r.Context()
	in := api.Signup{Email: strings.TrimSpace(f.Get("email")), Password: f.Get("password"), Name: strings.TrimSpace(f.Get("name")),
		OrgName: strings.TrimSpace(f.Get("org_name"))}
	if _, err := v.api.Signup(ctx, in); err != nil {
		return v.formError("signup", nil, err)
	}
	session, _, err := v.api.Login(ctx, in.Email, in.Password)
	if err != nil {
		return err
	}
	c.setSession(v.w, session)
	return v.redirect("/console/", fmt.Sprintf("Welcome! We sent a link to %s: open it to confirm your address before you create resources.", in.Email))
}

func (c *Console) verifyEmail(v *visit) error {
	if _, err := v.api.VerifyEmail(v.r.Context(), v.r.URL.Query().Get("token")); err != nil {
		return v.formError("message", message{Title: "Confirm your e-mail address"}, err)
	}
	return v.redirect("/console/", "Your e-mail address is confirmed.")
}

func (c *Console) resendVerification(v *visit) error {
	if err := v.api.ResendVerification(v.r.Context()); err != nil {
		return err
	}
	return v.redirect(safeNext(v.r.Referer()), "We sent you a new confirmation link.")
}

// message is a page that only says something.
type message struct {
	Title, Text string
}

type tokenData struct {
	Token string
}

func (c *Console) resetPage(v *visit) error {
	return v.render("reset", tokenData{Token: v.r.URL.Query().Get("token")})
}

func (c *Console) reset(v *visit) error {
	f := v.form()
	data := tokenData{Token: f.Get("token")}
	if data.Token == "" {
		// Step one: ask for the mail.
		if err := v.api.PasswordReset(v.r.Context(), strings.TrimSpace(f.Get("email"))); err != nil {
			return v.formError("reset", data, err)
		}
		return v.redirect("/console/login", "If that address has an account, a reset link is on its way.")
	}
	if err := v.api.PasswordResetConfirm(v.r.Context(), data.Token, f.Get("password")); err != nil {
		return v.formError("reset", data, err)
	}
	return v.redirect("/console/login", "Your password is changed. Log in with the new one.")
}

func (c *Console) invitationPage(v *visit) error {
	return v.render("invitation", tokenData{Token: v.r.URL.Query().Get("token")})
}

func (c *Console) acceptInvitation(v *visit) error {
	f := v.form()
	data := tokenData{Token: f.Get("token")}
	m, err := v.api.AcceptInvitation(v.r.Context(), api.InvitationAccept{Token: data.Token, Name: strings.TrimSpace(f.Get("name")), Password: f.Get("password")})
	if err != nil {
		return v.formError("invitation", data, err)
	}
	if v.me == nil {
		return v.redirect("/console/login", fmt.Sprintf("You joined %s. Log in to start.", m.OrgName))
	}
	return v.redirect("/console/o/"+url.PathEscape(m.Org)+"/", fmt.Sprintf("You joined %s.", m.OrgName))
}

func (c *Console) switchOrg(v *visit) error {
	org := v.r.URL.Query().Get("org")
	for _, m := range v.me.Memberships {
		if m.Org == org {
			http.Redirect(v.w, v.r, "/console/o/"+url.PathEscape(m.Org)+"/", http.StatusSeeOther)
			return nil
		}
	}
	return api.NotFound("organisation", org)
}

// mailbox shows the visitor the mails a demo cloud without SMTP sent them.
func (c *Console) mailbox(v *visit) error {
	if c.cfg.Mailbox == nil {
		return api.NotFound("page", v.r.URL.Path)
	}
	return v.render("mailbox", c.cfg.Mailbox.Mails(v.me.User.Email))
}

// brandCSS turns the provider's colours into the custom properties the
// stylesheet uses; a stylesheet, because the CSP forbids inline styles.
func (c *Console) brandCSS(v *visit) error {
	b := v.view.Provider.Branding
	v.w.Header().Set("Content-Type", "text/css; charset=utf-8")
	v.w.Header().Set("Cache-Control", "no-cache")
	fmt.Fprintln(v.w, ":root {")
	// The API's pattern guarantees #rrggbb; check again, this is CSS.
	for name, colour := range map[string]string{"--primary": b.PrimaryColor, "--accent": b.AccentColor} {
		if isHexColour(colour) {
			fmt.Fprintf(v.w, "  %s: %s;\n", name, colour)
		}
	}
	fmt.Fprintln(v.w, "}")
	return nil
}

func isHexColour(s string) bool {
	if len(s) != 7 || s[0] != '#' {
		return false
	}
	for _, r := range s[1:] {
		if !strings.ContainsRune("0123456789abcdefABCDEF", r) {
			return false
		}
	}
	return true
}
