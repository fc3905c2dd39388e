package cli

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"

	"github.com/spf13/cobra"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/client"
)

func (a *app) loginCmd() *cobra.Command {
	var email, name string
	var pwStdin bool
	cmd := &cobra.Command{
		Use:   "login [SERVER]",
		Short: "Log in and save a context with an API token",
		Long: "Log in with your e-mail and password, mint an API token named cli@<hostname> with your widest\n" +
			"role (a provider token if you have a provider role, otherwise an organisation token for --org or\n" +
			"your first organisation) and save it as a context in the configuration file.\n\n" +
			"SERVER defaults to --server, " + EnvServer + " or the current context's server. For a server with a\n" +
			"self-signed certificate, pass the --fingerprint siroccod printed.",
		Example: "  sirocco login https://cloud.example.com\n" +
			"  echo \"$PASSWORD\" | sirocco login https://cloud.example.com --email me@example.com --password-stdin",
		Args: optionalArg("SERVER"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			cfg, err := a.config()
			if err != nil {
				return err
			}
			t, err := a.target()
			if err != nil {
				return err
			}
			server := t.server
			if len(args) == 1 {
				server = args[0]
			}
			if server == "" {
				return usagef("missing SERVER")
			}
			u, err := url.Parse(server)
			if err != nil || u.Host == "" {
				return usagef("SERVER %q: want https://host[:port]", server)
			}
			if name == "" {
				name = u.Hostname()
			}
			fingerprint := a.fingerprint
			prev := cfg.Find(name)
			if fingerprint == "" && prev != nil && sameServer(prev.Server, server) {
				fingerprint = prev.Fingerprint
			}
			if email == "" {
				if pwStdin {
					return usagef("--email is required with --password-stdin")
				}
				if email, err = a.ask("E-mail: ", "--email"); err != nil {
					return err
				}
			}
			pw, err := a.password(pwStdin, false)
			if err != nil {
				return err
			}

			anon, err := a.newClient(server, "", fingerprint)
			if err != nil {
				return err
			}
			session, me, err := anon.Login(ctx, email, pw)
			if err != nil {
				return err
			}
			sc, err := anon.With(client.WithSession(session))
			if err != nil {
				return err
			}
			// The session was only needed to mint the token.
			defer func() { _ = sc.Logout(context.WithoutCancel(ctx)) }()

			req, err := widestToken(me, envOr(a.org, EnvOrg))
			if err != nil {
				return err
			}
			tok, err := sc.CreateToken(ctx, req)
			if err != nil {
				return err
			}
			if prev != nil && prev.Token != "" && sameServer(prev.Server, server) {
				a.revokeQuietly(ctx, server, prev.Token, fingerprint)
			}
			c := Context{Name: name, Server: anon.BaseURL(), Token: tok.Secret, Fingerprint: fingerprint, User: me.User.Email}
			switch {
			case req.Org != "":
				c.Org = req.Org
			case a.org != "":
				c.Org = a.org
			case prev != nil && sameServer(prev.Server, server):
				c.Org = prev.Org
			}
			cfg.Put(c)
			cfg.CurrentContext = name
			if err := cfg.Save(); err != nil {
				return err
			}
			where := ""
			if req.Org != "" {
				where = " in " + req.Org
			}
			a.note("Logged in to %s as %s (%s%s). Context %q saved in %s and now current.",
				c.Server, me.User.Email, req.Role, where, name, cfg.path)
			return nil
		},
	}
	cmd.Flags().StringVar(&email, "email", "", "your e-mail address (prompted for when omitted)")
	cmd.Flags().BoolVar(&pwStdin, "password-stdin", false, "read the password from the first line of standard input")
	cmd.Flags().StringVar(&name, "name", "", "name of the context to save (default: the server's host name)")
	return cmd
}

// widestToken chooses the token login mints: provider-wide if the user has a
// provider role, otherwise for org (ID or name) or their first organisation.
func widestToken(me *api.Me, org string) (api.TokenCreate, error) {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown"
	}
	t := api.TokenCreate{Name: "cli@" + host}
	if me.Provider != "" {
		t.Role = me.Provider
		return t, nil
	}
	for _, m := range me.Memberships {
		if org == "" || org == m.Org || org == m.OrgName {
			t.Org, t.Role = m.OrgName, m.Role
			if t.Org == "" {
				t.Org = m.Org
			}
			return t, nil
		}
	}
	if org != "" {
		return t, fmt.Errorf("%s has no role in organisation %q", me.User.Email, org)
	}
	return t, fmt.Errorf("%s has no role in any organisation yet: ask an org-admin for an invitation", me.User.Email)
}

// revokeQuietly revokes a token the CLI is about to forget, if it still works.
func (a *app) revokeQuietly(ctx context.Context, server, token, fingerprint string) {
	c, err := a.newClient(server, token, fingerprint)
	if err != nil {
		return
	}
	me, err := c.Me(ctx)
	if err != nil || me.Token == nil {
		return
	}
	_ = c.RevokeToken(ctx, me.Token.ID)
}

func (a *app) logoutCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "logout",
		Short: "Revoke the context's token and forget it",
		Args:  args(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			cfg, err := a.config()
			if err != nil {
				return err
			}
			t, err := a.target()
			if err != nil {
				return err
			}
			if t.context == nil || t.context.Token == "" {
				return errNotLoggedIn
			}
			c, err := a.newClient(t.context.Server, t.context.Token, t.context.Fingerprint)
			if err != nil {
				return err
			}
			me, err := c.Me(ctx)
			if err == nil && me.Token != nil {
				err = c.RevokeToken(ctx, me.Token.ID)
			}
			// A token the server no longer accepts is as good as revoked.
			if ae, ok := errors.AsType[*api.Error](err); ok && ae.Code == api.CodeUnauthenticated {
				err = nil
			}
			if err != nil {
				return err
			}
			t.context.Token = ""
			if err := cfg.Save(); err != nil {
				return err
			}
			a.note("Logged out of %s (context %q).", t.context.Server, t.context.Name)
			return nil
		},
	}
}
