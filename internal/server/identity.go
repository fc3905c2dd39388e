package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/internal/auth"
	"github.com/sirocco-cloud/sirocco/internal/metering"
	"github.com/sirocco-cloud/sirocco/internal/store"
)

// Lifetimes and limits of the identity flows.
const (
	verifyTTL = 48 * time.Hour
	resetTTL  = time.Hour
	inviteTTL = 7 * 24 * time.Hour
	// mailGap is the least time between two verification or reset mails to
	// one user, so these endpoints cannot flood a mailbox.
	mailGap = time.Minute
	// After loginMaxFailures failed logins for one address within
	// loginWindow, logins for it are refused until the oldest failure is
	// older than loginWindow.
	loginMaxFailures = 10
	loginWindow      = 15 * time.Minute
	// minPassword matches api.Signup's minLength, for the flows whose
	// password field is optional in the schema.
	minPassword = 10
)

var jurisdictionPattern = regexp.MustCompile(`^[A-Z]{2}$`)

// noAuth marks an operation as public in the OpenAPI document.
func noAuth() []map[string][]string { return []map[string][]string{} }

type (
	// sessionOut is a login's answer: the cookie and the caller.
	sessionOut struct {
		SetCookie http.Cookie `header:"Set-Cookie"`
		Body      api.Me
	}
	cookieOut struct {
		SetCookie http.Cookie `header:"Set-Cookie"`
	}
	signupOut struct {
		Body api.SignupResult
	}
	userOut struct {
		Body api.User
	}
	meOut struct {
		Body api.Me
	}
)

func (s *Server) identityRoutes() {
	tags := []string{"Identity"}

	register(s, huma.Operation{OperationID: "signup", Method: http.MethodPost, Path: "/api/v1/signup", Summary: "Sign up",
		Description: "Creates a user, their organisation (with the user as org-admin) and sends a mail to verify the address. " +
			"The user can log in at once, but creates resources only after verifying. Refused with signup_disabled when the provider turned sign-up off.",
		Tags: tags, DefaultStatus: http.StatusCreated, Security: noAuth()},
		func(ctx context.Context, in *struct{ Body api.Signup }) (*signupOut, error) {
			res, err := s.signup(ctx, &in.Body)
			if err != nil {
				return nil, err
			}
			return &signupOut{Body: *res}, nil
		})

	register(s, huma.Operation{OperationID: "verify-email", Method: http.MethodPost, Path: "/api/v1/verify-email", Summary: "Verify an e-mail address",
		Description: "Takes the token from the verification mail. A token works once.", Tags: tags, Security: noAuth()},
		func(ctx context.Context, in *struct{ Body api.TokenRequest }) (*userOut, error) {
			var u *store.User
			err := s.store.Tx(ctx, func(tx *store.Tx) error {
				mt, err := tx.UseMailToken(ctx, auth.HashSecret(in.Body.Token), store.MailVerify, s.cfg.Now())
				if err != nil {
					return invalidTokenOr(err, "verification")
				}
				if u, err = tx.GetUser(ctx, mt.UserID); err != nil {
					return err
				}
				u.EmailVerified = true
				if err := tx.UpdateUser(ctx, u); err != nil {
					return err
				}
				if err := tx.DeleteMailTokens(ctx, u.ID, store.MailVerify); err != nil {
					return err
				}
				if err := s.grantTrial(ctx, tx, u); err != nil {
					return err
				}
				return s.auditAs(ctx, tx, u, "user.verify_email", "user", u.ID, "", "")
			})
			if err != nil {
				return nil, err
			}
			return &userOut{Body: userOf(u)}, nil
		})

	register(s, huma.Operation{OperationID: "resend-verification", Method: http.MethodPost, Path: "/api/v1/verify-email/resend",
		Summary: "Send the verification mail again", Description: "At most one mail a minute; earlier links keep working until they expire.",
		Tags: tags, DefaultStatus: http.StatusAccepted},
		func(ctx context.Context, _ *struct{}) (*emptyOut, error) {
			p, err := principal(ctx)
			if err != nil {
				return nil, err
			}
			return nil, s.resendVerification(ctx, p)
		})

	register(s, huma.Operation{OperationID: "login", Method: http.MethodPost, Path: "/api/v1/login", Summary: "Log in",
		Description: "Checks e-mail and password and sets the HttpOnly session cookie " + sessionCookie + ". " +
			"After " + strconv.Itoa(loginMaxFailures) + " failed logins for an address within " + strconv.Itoa(int(loginWindow/time.Minute)) + " minutes" +
			", logins for it are refused with 429 and Retry-After.",
		Tags: tags, Security: noAuth()},
		func(ctx context.Context, in *struct{ Body api.Login }) (*sessionOut, error) {
			return s.login(ctx, &in.Body)
		})

	register(s, huma.Operation{OperationID: "logout", Method: http.MethodPost, Path: "/api/v1/logout", Summary: "Log out",
		Description: "Ends the console session and clears its cookie. API tokens are revoked with DELETE /api/v1/tokens/{id} instead.",
		Tags:        tags, DefaultStatus: http.StatusNoContent},
		func(ctx context.Context, _ *struct{}) (*cookieOut, error) {
			p := info(ctx).principal
			if p != nil && p.TokenID != "" {
				return nil, api.Errorf(http.StatusBadRequest, api.CodeInvalidRequest,
					"logout ends a console session; to revoke an API token, DELETE /api/v1/tokens/%s", p.TokenID)
			}
			if p != nil && p.SessionID != "" {
				err := s.store.Tx(ctx, func(tx *store.Tx) error {
					if err := tx.DeleteSession(ctx, p.SessionID); err != nil {
						return err
					}
					return s.audit(ctx, tx, "session.delete", "session", p.SessionID, "", "")
				})
				if err != nil {
					return nil, err
				}
			}
			// An expired or unknown cookie is cleared too: the caller is logged out either way.
			return &cookieOut{SetCookie: s.sessionCookie("", time.Unix(0, 0))}, nil
		})

	register(s, huma.Operation{OperationID: "get-me", Method: http.MethodGet, Path: "/api/v1/me", Summary: "Who am I",
		Description: "The caller, their memberships and provider role. With an API token, these are narrowed to what the token allows.",
		Tags:        tags},
		func(ctx context.Context, _ *struct{}) (*meOut, error) {
			p, err := principal(ctx)
			if err != nil {
				return nil, err
			}
			var me api.Me
			err = s.store.View(ctx, func(tx *store.Tx) error {
				me, err = s.me(ctx, tx, p)
				return err
			})
			if err != nil {
				return nil, err
			}
			return &meOut{Body: me}, nil
		})

	register(s, huma.Operation{OperationID: "request-password-reset", Method: http.MethodPost, Path: "/api/v1/password-reset",
		Summary: "Ask for a password reset mail",
		Description: "Always answers 202, whether or not the address has an account, so the answer does not reveal who has one. " +
			"A known address gets a mail with a link valid for one hour (at most one mail a minute).",
		Tags: tags, DefaultStatus: http.StatusAccepted, Security: noAuth()},
		func(ctx context.Context, in *struct{ Body api.PasswordResetRequest }) (*emptyOut, error) {
			return nil, s.requestPasswordReset(ctx, in.Body.Email)
		})

	register(s, huma.Operation{OperationID: "reset-password", Method: http.MethodPost, Path: "/api/v1/password-reset/confirm",
		Summary: "Set a new password", Description: "Takes the token from the reset mail. Ends every session of the user and marks the address verified.",
		Tags: tags, DefaultStatus: http.StatusNoContent, Security: noAuth()},
		func(ctx context.Context, in *struct{ Body api.PasswordReset }) (*emptyOut, error) {
			return nil, s.resetPassword(ctx, &in.Body)
		})

	s.invitationRoutes()
}

// signup creates the user, organisation, binding and verification token in
// one transaction, then mails the token.
func (s *Server) signup(ctx context.Context, in *api.Signup) (*api.SignupResult, error) {
	// Check before hashing, so a closed sign-up costs no argon2 time.
	var prov *store.Provider
	err := s.store.View(ctx, func(tx *store.Tx) (err error) {
		prov, err = tx.GetProvider(ctx)
		return err
	})
	if err != nil {
		return nil, err
	}
	if !prov.SignupEnabled {
		return nil, signupDisabled(prov)
	}
	res, err := residencyFromSignup(in.Residency)
	if err != nil {
		return nil, err
	}
	hash, err := auth.HashPassword(in.Password)
	if err != nil {
		return nil, err
	}
	u := &store.User{Email: store.NormalizeEmail(in.Email), Name: strings.TrimSpace(in.Name), PasswordHash: hash}
	o := &store.Org{Name: in.OrgName, State: api.OrgActive, Residency: res}
	var token string
	err = s.store.Tx(ctx, func(tx *store.Tx) error {
		// Again inside the transaction: a provider switching sign-up off wins.
		if prov, err = tx.GetProvider(ctx); err != nil {
			return err
		}
		if !prov.SignupEnabled {
			return signupDisabled(prov)
		}
		for i, r := range res.Regions {
			if _, err := tx.GetRegion(ctx, r); err != nil {
				if errors.Is(err, store.ErrNotFound) {
					return invalidField(fmt.Sprintf("body.residency.regions[%d]", i), "region %q does not exist", r, r)
				}
				return err
			}
		}
		if err := tx.CreateUser(ctx, u); err != nil {
			return conflictOr(err, api.CodeAlreadyExists, "an account with the e-mail address %s already exists: log in, or reset your password", u.Email)
		}
		if err := tx.CreateOrg(ctx, o); err != nil {
			return conflictOr(err, api.CodeAlreadyExists, "the organisation name %q is taken: choose another", o.Name)
		}
		if err := tx.PutRoleBinding(ctx, &store.RoleBinding{UserID: u.ID, OrgID: o.ID, Role: api.RoleOrgAdmin}); err != nil {
			return err
		}
		if err := s.defaultVDC(ctx, tx, u, o); err != nil {
			return err
		}
		// The trial credit comes when the address is verified (grantTrial),
		// once per address, so a throwaway address earns nothing.
		if token, err = s.issueMailToken(ctx, tx, u.ID, store.MailVerify, verifyTTL); err != nil {
			return err
		}
		return s.auditAs(ctx, tx, u, "user.signup", "user", u.ID, o.ID, "organisation "+o.Name)
	})
	if err != nil {
		return nil, err
	}
	// The sign-up stands even if this mail fails: POST /verify-email/resend sends another.
	s.sendMail(ctx, s.verifyMail(prov, u, token))
	return &api.SignupResult{User: userOf(u), Organisation: orgOf(o)}, nil
}

// defaultVDC gives a new organisation a pay-as-you-go VDC named "default"
// in the first zone its residency policy allows, so that a new user can
// launch a VM at once. With no such zone there is none; the user makes one
// when the provider has added a zone.
func (s *Server) defaultVDC(ctx context.Context, tx *store.Tx, u *store.User, o *store.Org) error {
	zones, _, err := tx.ListZones(ctx, "", store.Page{Limit: store.MaxLimit})
	if err != nil {
		return err
	}
	allowed := api.Residency{Jurisdictions: o.Residency.Jurisdictions, Regions: o.Residency.Regions}
	for _, z := range zones {
		if !allowed.Allows(z.RegionID, z.Jurisdiction) {
			continue
		}
		v := &store.VDC{OrgID: o.ID, Name: "default", Description: "Made at sign-up", ZoneID: z.ID, RegionID: z.RegionID,
			Jurisdiction: z.Jurisdiction, AllocationModel: api.AllocationPAYG, Quotas: vdcQuotas(api.DefaultQuotas)}
		if err := tx.CreateVDC(ctx, v); err != nil {
			return err
		}
		if err := metering.VDCCreated(ctx, tx, v); err != nil {
			return err
		}
		return s.auditAs(ctx, tx, u, "vdc.create", "vdc", v.ID, o.ID, fmt.Sprintf("%s in zone %s (payg), at sign-up", v.Name, z.ID))
	}
	return nil
}

func signupDisabled(p *store.Provider) error {
	return api.Errorf(http.StatusForbidden, api.CodeSignupDisabled,
		"%s does not accept sign-ups at the moment: ask the provider for an invitation", providerName(p))
}

// residencyFromSignup checks the shape of a residency policy; the regions'
// existence is checked in the transaction.
func residencyFromSignup(r *api.Residency) (store.Residency, error) {
	var out store.Residency
	if r == nil {
		return out, nil
	}
	if len(r.Jurisdictions) > 50 || len(r.Regions) > 50 {
		return out, invalidField("body.residency", "a residency policy lists at most 50 jurisdictions and 50 regions", nil)
	}
	for i, j := range r.Jurisdictions {
		if !jurisdictionPattern.MatchString(j) {
			return out, invalidField(fmt.Sprintf("body.residency.jurisdictions[%d]", i),
				"jurisdiction %q is not an ISO 3166-1 alpha-2 code (two capital letters, e.g. AU)", j, j)
		}
		if !slices.Contains(out.Jurisdictions, j) {
			out.Jurisdictions = append(out.Jurisdictions, j)
		}
	}
	for _, g := range r.Regions {
		if !slices.Contains(out.Regions, g) {
			out.Regions = append(out.Regions, g)
		}
	}
	return out, nil
}

func (s *Server) resendVerification(ctx context.Context, p *auth.Principal) error {
	var u *store.User
	var prov *store.Provider
	var token string
	err := s.store.Tx(ctx, func(tx *store.Tx) error {
		var err error
		if u, err = tx.GetUser(ctx, p.UserID); err != nil {
			return err
		}
		if u.EmailVerified {
			return api.Errorf(http.StatusConflict, api.CodeConflict, "the e-mail address %s is already verified", u.Email)
		}
		if err := mailThrottle(ctx, tx, u.ID, store.MailVerify); err != nil {
			return err
		}
		if prov, err = tx.GetProvider(ctx); err != nil {
			return err
		}
		if token, err = s.issueMailToken(ctx, tx, u.ID, store.MailVerify, verifyTTL); err != nil {
			return err
		}
		return s.audit(ctx, tx, "user.verify_email_resend", "user", u.ID, "", "")
	})
	if err != nil {
		return err
	}
	s.sendMail(ctx, s.verifyMail(prov, u, token))
	return nil
}

// mailThrottle refuses a second mail of one purpose to a user within mailGap.
func mailThrottle(ctx context.Context, tx *store.Tx, userID, purpose string) error {
	last, err := tx.LastMailToken(ctx, userID, purpose)
	if err != nil {
		return err
	}
	if wait := last.Add(mailGap).Sub(tx.Now()); !last.IsZero() && wait > 0 {
		return tooSoon(wait, "a mail was sent less than a minute ago: check your inbox (and spam folder)")
	}
	return nil
}

func (s *Server) login(ctx context.Context, in *api.Login) (*sessionOut, error) {
	email := store.NormalizeEmail(in.Email)
	if wait, ok := s.logins.attempt(email); !ok {
		return nil, tooSoon(wait, "too many failed logins for this address: wait, or reset the password")
	}
	var u *store.User
	err := s.store.View(ctx, func(tx *store.Tx) (err error) {
		u, err = tx.GetUserByEmail(ctx, email)
		return err
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		// Spend the time a password check takes, so the answer's timing does
		// not reveal which addresses have an account.
		auth.EqualiseTiming(in.Password)
		return nil, badLogin()
	case err != nil:
		return nil, err
	case !auth.CheckPassword(u.PasswordHash, in.Password):
		return nil, badLogin()
	}
	s.logins.reset(email)

	secret, hash := auth.NewSecret(auth.PrefixSession)
	sess := &store.Session{Hash: hash, UserID: u.ID, ExpiresAt: s.cfg.Now().Add(s.cfg.SessionTTL)}
	var me api.Me
	err = s.store.Tx(ctx, func(tx *store.Tx) error {
		sess.ID = ""
		if err := tx.CreateSession(ctx, sess); err != nil {
			return err
		}
		if err := s.auditAs(ctx, tx, u, "session.create", "session", sess.ID, "", ""); err != nil {
			return err
		}
		p, err := s.loadPrincipal(ctx, tx, u.ID, nil)
		if err != nil {
			return err
		}
		me, err = s.me(ctx, tx, p)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &sessionOut{SetCookie: s.sessionCookie(secret, sess.ExpiresAt), Body: me}, nil
}

// badLogin is the one answer for an unknown address and a wrong password.
func badLogin() error {
	return api.Errorf(http.StatusUnauthorized, api.CodeUnauthenticated, "the e-mail address or the password is wrong")
}

// sessionCookie is the console session cookie; an empty value with an expiry
// in the past clears it.
func (s *Server) sessionCookie(value string, expires time.Time) http.Cookie {
	c := http.Cookie{Name: sessionCookie, Value: value, Path: "/", Expires: expires,
		HttpOnly: true, Secure: s.cfg.SecureCookies, SameSite: http.SameSiteLaxMode}
	if value == "" {
		c.MaxAge = -1
	}
	return c
}

// me describes the caller. The memberships are the effective ones: with a
// token, only the organisation it is scoped to.
func (s *Server) me(ctx context.Context, tx *store.Tx, p *auth.Principal) (api.Me, error) {
	u, err := tx.GetUser(ctx, p.UserID)
	if err != nil {
		return api.Me{}, err
	}
	me := api.Me{User: userOf(u), Memberships: []api.Membership{}, Provider: p.Provider}
	if len(p.Orgs) > 0 {
		ids := make([]string, 0, len(p.Orgs))
		for id := range p.Orgs {
			ids = append(ids, id)
		}
		orgs, _, err := tx.ListOrgs(ctx, ids, store.Page{Limit: store.MaxLimit})
		if err != nil {
			return api.Me{}, err
		}
		for _, o := range orgs {
			me.Memberships = append(me.Memberships, api.Membership{Org: o.ID, OrgName: o.Name, Role: p.Orgs[o.ID]})
		}
		slices.SortFunc(me.Memberships, func(a, b api.Membership) int { return strings.Compare(a.OrgName, b.OrgName) })
	}
	if p.TokenID != "" {
		k, err := tx.GetToken(ctx, p.TokenID)
		if err != nil {
			return api.Me{}, err
		}
		me.Token = &api.TokenSummary{ID: k.ID, Name: k.Name, Org: k.OrgID, Role: k.Role}
	}
	return me, nil
}

func (s *Server) requestPasswordReset(ctx context.Context, email string) error {
	var u *store.User
	var prov *store.Provider
	var token string
	err := s.store.Tx(ctx, func(tx *store.Tx) error {
		u, token = nil, ""
		found, err := tx.GetUserByEmail(ctx, email)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := mailThrottle(ctx, tx, found.ID, store.MailReset); err != nil {
			// Saying "too soon" would reveal that the address has an account.
			if ae, ok := errors.AsType[*api.Error](err); ok && ae.Code == api.CodeRateLimited {
				return nil
			}
			return err
		}
		if prov, err = tx.GetProvider(ctx); err != nil {
			return err
		}
		if token, err = s.issueMailToken(ctx, tx, found.ID, store.MailReset, resetTTL); err != nil {
			return err
		}
		u = found
		return s.audit(ctx, tx, "user.password_reset_request", "user", u.ID, "", "")
	})
	if err != nil || u == nil {
		return err
	}
	// Sent after answering, so that the answer takes as long for a known
	// address as for an unknown one. A mail lost to a shutdown can be asked
	// for again.
	m := s.resetMail(prov, u, token)
	go s.sendMail(context.WithoutCancel(ctx), m)
	return nil
}

func (s *Server) resetPassword(ctx context.Context, in *api.PasswordReset) error {
	hash, err := auth.HashPassword(in.Password)
	if err != nil {
		return err
	}
	var u *store.User
	err = s.store.Tx(ctx, func(tx *store.Tx) error {
		mt, err := tx.UseMailToken(ctx, auth.HashSecret(in.Token), store.MailReset, s.cfg.Now())
		if err != nil {
			return invalidTokenOr(err, "password reset")
		}
		if u, err = tx.GetUser(ctx, mt.UserID); err != nil {
			return err
		}
		u.PasswordHash = hash
		u.EmailVerified = true // the mail reached them: they control the address
		if err := tx.UpdateUser(ctx, u); err != nil {
			return err
		}
		// Whoever knew the old password is logged out, and older reset mails stop working.
		if err := tx.DeleteUserSessions(ctx, u.ID); err != nil {
			return err
		}
		if err := tx.DeleteMailTokens(ctx, u.ID, store.MailReset); err != nil {
			return err
		}
		return s.auditAs(ctx, tx, u, "user.password_reset", "user", u.ID, "", "")
	})
	if err != nil {
		return err
	}
	s.logins.reset(u.Email)
	return nil
}

// issueMailToken stores a new one-time token and returns its secret.
func (s *Server) issueMailToken(ctx context.Context, tx *store.Tx, userID, purpose string, ttl time.Duration) (string, error) {
	secret, hash := auth.NewSecret(auth.PrefixMail)
	err := tx.CreateMailToken(ctx, &store.MailToken{Hash: hash, UserID: userID, Purpose: purpose, ExpiresAt: s.cfg.Now().Add(ttl)})
	return secret, err
}

// invalidTokenOr maps an unknown, used or expired token to its 400.
func invalidTokenOr(err error, what string) error {
	if errors.Is(err, store.ErrNotFound) {
		return api.Errorf(http.StatusBadRequest, api.CodeInvalidToken, "the %s token is invalid, expired or already used", what)
	}
	return err
}

// auditAs records an event whose actor is u, for flows in which the caller
// is not (yet) authenticated but has proved to be u: signing up, following a
// mail link, logging in.
func (s *Server) auditAs(ctx context.Context, tx *store.Tx, u *store.User, action, kind, id, org, detail string) error {
	ri := info(ctx)
	ri.audited = true
	return tx.InsertAudit(ctx, &store.AuditEvent{
		ActorType: "user", ActorID: u.ID, ActorEmail: u.Email,
		OrgID: org, Action: action, ResourceKind: kind, ResourceID: id, Outcome: "success",
		SourceIP: ri.sourceIP, RequestID: ri.id, Detail: detail,
	})
}

// tooSoon is a 429 that tells the client when to try again.
func tooSoon(wait time.Duration, msg string) *api.Error {
	secs := int((wait + time.Second - 1) / time.Second)
	e := api.Errorf(http.StatusTooManyRequests, api.CodeRateLimited, "%s (retry after %d s)", msg, secs)
	e.RetryAfter = secs
	return e
}

// loginBrake slows password guessing against one address. Every attempt
// counts as a failure until it succeeds; after loginMaxFailures within
// loginWindow, attempts for the address are refused until the oldest one
// leaves the window. Unknown addresses are braked alike, so the brake does
// not reveal which addresses have an account.
//
// It lives in memory, per control-plane replica: a restart forgets it, and
// behind N replicas a guesser gets N times the allowance. It is a brake on
// top of the per-client rate limit, not a lockout; a password reset lifts it.
type loginBrake struct {
	mu       sync.Mutex
	now      func() time.Time
	failures map[string][]time.Time // oldest first, all within loginWindow
	swept    time.Time
}

// loginBrakeMax bounds the addresses remembered. Beyond it the brake forgets
// everything rather than grow without limit.
const loginBrakeMax = 100_000

func newLoginBrake(now func() time.Time) *loginBrake {
	return &loginBrake{now: now, failures: map[string][]time.Time{}}
}

// attempt records a login attempt for email, or says how long to wait.
func (b *loginBrake) attempt(email string) (time.Duration, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	if now.Sub(b.swept) > time.Minute {
		for k, ts := range b.failures {
			if now.Sub(ts[len(ts)-1]) >= loginWindow {
				delete(b.failures, k)
			}
		}
		b.swept = now
	}
	ts := b.failures[email]
	for len(ts) > 0 && now.Sub(ts[0]) >= loginWindow {
		ts = ts[1:]
	}
	if len(ts) >= loginMaxFailures {
		b.failures[email] = ts
		return ts[0].Add(loginWindow).Sub(now), false
	}
	if len(b.failures) >= loginBrakeMax {
		clear(b.failures)
	}
	b.failures[email] = append(ts, now)
	return 0, true
}

// reset forgets the attempts for email after a successful login or reset.
func (b *loginBrake) reset(email string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.failures, store.NormalizeEmail(email))
}

// grantTrial gives the organisation a user signed up with (the one they are
// org-admin of) the provider's trial credit, once per e-mail address, in the
// transaction that verifies the address.
func (s *Server) grantTrial(ctx context.Context, tx *store.Tx, u *store.User) error {
	bindings, err := tx.ListRoleBindings(ctx, u.ID, "", false)
	if err != nil {
		return err
	}
	for _, b := range bindings {
		if b.OrgID == "" || b.Role != api.RoleOrgAdmin {
			continue
		}
		prov, err := tx.GetProvider(ctx)
		if err != nil {
			return err
		}
		granted, err := s.creditLedger().GrantTrial(ctx, tx, b.OrgID, u.Email, prov, s.cfg.Now())
		if err != nil {
			return fmt.Errorf("trial credit: %w", err)
		}
		if granted {
			return s.auditAs(ctx, tx, u, "credit.trial", "org", b.OrgID, b.OrgID,
				fmt.Sprintf("%s %s for %d days", prov.TrialAmount, prov.Currency, prov.TrialDays))
		}
		return nil
	}
	return nil
}
