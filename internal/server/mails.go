package server

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/sirocco-cloud/sirocco/internal/mail"
	"github.com/sirocco-cloud/sirocco/internal/store"
)

// The texts of identity mails. Every mail carries the link for the console
// and the bare token, so a CLI or API user can paste it.

// Console pages the links in mails open.
const (
	verifyPage = "/console/verify-email"
	resetPage  = "/console/reset-password"
	invitePage = "/console/accept-invitation"
)

// mailLink is the console URL of page carrying token.
func (s *Server) mailLink(page, token string) string {
	return strings.TrimRight(s.cfg.BaseURL, "/") + page + "?token=" + url.QueryEscape(token)
}

// providerName is how mails name the cloud.
func providerName(p *store.Provider) string {
	if p.Branding.DisplayName != "" {
		return p.Branding.DisplayName
	}
	return p.Name
}

func (s *Server) verifyMail(p *store.Provider, u *store.User, token string) mail.Message {
	name := providerName(p)
	return mail.Message{
		To:      u.Email,
		Subject: "Confirm your e-mail address for " + name,
		Body: fmt.Sprintf(`Hello%s,

Please confirm that %s is your e-mail address by opening this link:

  %s

Or give this token to the sirocco CLI or the API:

  %s

The link works once and expires in %s. Until you confirm, you can log in
but not create resources.

If you did not sign up for %s, ignore this mail.
`, greeting(u.Name), u.Email, s.mailLink(verifyPage, token), token, hours(verifyTTL), name),
	}
}

func (s *Server) resetMail(p *store.Provider, u *store.User, token string) mail.Message {
	name := providerName(p)
	return mail.Message{
		To:      u.Email,
		Subject: "Reset your " + name + " password",
		Body: fmt.Sprintf(`Hello%s,

Someone (hopefully you) asked to reset the password of %s at %s.
To choose a new password, open this link:

  %s

Or give this token to the sirocco CLI or the API:

  %s

The link works once and expires in %s. Setting a new password logs you out
everywhere.

If you did not ask for this, ignore this mail: your password stays as it is.
`, greeting(u.Name), u.Email, name, s.mailLink(resetPage, token), token, hours(resetTTL)),
	}
}

// invitationMail differs for an address that already has an account (log in,
// then accept) and a new one (choose a name and password).
func (s *Server) invitationMail(p *store.Provider, inv *store.Invitation, token, orgName, inviter string, existing bool) mail.Message {
	name := providerName(p)
	next := "You will choose your name and a password when you accept."
	if existing {
		next = fmt.Sprintf("Log in to %s as %s, then accept.", name, inv.Email)
	}
	return mail.Message{
		To:      inv.Email,
		Subject: fmt.Sprintf("You are invited to %s on %s", orgName, name),
		Body: fmt.Sprintf(`Hello,

%s invites you to join the organisation %s on %s as %s.
To accept, open this link:

  %s

Or give this token to the sirocco CLI or the API:

  %s

%s The invitation works once and expires in %s.

If you do not know the sender, ignore this mail.
`, inviter, orgName, name, inv.Role, s.mailLink(invitePage, token), token, next, days(inviteTTL)),
	}
}

func greeting(name string) string {
	if name == "" {
		return ""
	}
	return " " + name
}

func hours(d time.Duration) string {
	if d == time.Hour {
		return "1 hour"
	}
	return fmt.Sprintf("%d hours", int(d/time.Hour))
}

func days(d time.Duration) string { return fmt.Sprintf("%d days", int(d/(24*time.Hour))) }

// sendMail delivers m and logs a failure instead of returning it: every mail
// here follows a committed change that must stand, and the user can ask for
// the mail again.
func (s *Server) sendMail(ctx context.Context, m mail.Message) {
	if err := s.mail.Send(ctx, m); err != nil {
		s.log.ErrorContext(ctx, "send mail", "err", err, "subject", m.Subject, "request_id", requestID(ctx))
	}
}
