// Package cli is the sirocco command line: one file per noun, built on the Go
// SDK (client) and the wire types (api). cmd/sirocco only wires it to the
// process.
//
// Failures end in one line on stderr, "error: <message> (<code>)", and an
// exit code a script can branch on (see the Exit constants); usage is shown
// only for usage mistakes, never for an API error.
package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/client"
)

// Exit codes.
const (
	ExitOK              = 0
	ExitError           = 1 // anything else
	ExitUsage           = 2 // bad flags or arguments
	ExitUnauthenticated = 3 // no, expired or revoked credentials
	ExitNotFound        = 4
	ExitConflict        = 5 // conflict or failed precondition
	ExitOperationFailed = 6 // a long action that was waited on failed or was cancelled
)

// Environment variables that override the current context.
const (
	EnvToken   = "SIROCCO_TOKEN"
	EnvServer  = "SIROCCO_SERVER"
	EnvOrg     = "SIROCCO_ORG"
	EnvContext = "SIROCCO_CONTEXT"
)

// userAgent identifies the CLI to the server.
const userAgent = "sirocco-cli"

// Main runs the sirocco command line with args (without the program name)
// and returns the process exit code.
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	a := &app{in: stdin, out: stdout, errw: stderr}
	root := a.root()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return ExitOK
	}
	return a.fail(cmd, err)
}

// app is one run of the command line: its streams, global flags and, once
// loaded, its configuration.
type app struct {
	in   io.Reader
	out  io.Writer
	errw io.Writer

	stdin *bufio.Reader // over in, made on first use so lines are not lost between reads

	// Global flags.
	contextName string
	server      string
	token       string
	org         string
	output      string
	fingerprint string

	cfg *Config
}

func (a *app) root() *cobra.Command {
	root := &cobra.Command{
		Use:   "sirocco",
		Short: "Drive a Sirocco cloud",
		Long: "sirocco drives a Sirocco cloud: tenants manage their organisation and VDCs, operators their\n" +
			"regions, zones, hosts and sizes.\n\n" +
			"Start with `sirocco login https://cloud.example.com`.",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	group(root)
	pf := root.PersistentFlags()
	pf.StringVar(&a.contextName, "context", "", "use this context from the config file instead of the current one (env "+EnvContext+")")
	pf.StringVar(&a.server, "server", "", "server URL, e.g. https://cloud.example.com (env "+EnvServer+")")
	pf.StringVar(&a.token, "token", "", "API token (env "+EnvToken+")")
	pf.StringVar(&a.org, "org", "", "organisation ID or name (env "+EnvOrg+"; default: the context's)")
	pf.StringVarP(&a.output, "output", "o", "table", "output format: table, json or yaml")
	pf.StringVar(&a.fingerprint, "fingerprint", "", "trust only the server certificate with this fingerprint (sha256:…), for self-signed servers")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error {
		switch a.output {
		case "table", "json", "yaml":
			return nil
		}
		return usagef("unknown output format %q: use table, json or yaml", a.output)
	}

	root.AddCommand(
		a.loginCmd(), a.logoutCmd(), a.contextCmd(),
		a.signupCmd(), a.verifyEmailCmd(), a.passwordResetCmd(), a.meCmd(),
		a.providerCmd(), a.regionCmd(), a.zoneCmd(), a.hostCmd(), a.sizeCmd(),
		a.orgCmd(), a.userCmd(), a.tokenCmd(), a.inviteCmd(),
		a.vdcCmd(), a.vmCmd(), a.imageCmd(), a.residencyCmd(),
		a.networkCmd(), a.publicIPCmd(), a.publicIPPoolCmd(), a.firewallCmd(), a.diskCmd(), a.eventsCmd(),
		a.operationCmd(), a.auditCmd(),
		a.balanceCmd(), a.usageCmd(), a.creditCmd(), a.invoiceCmd(), a.budgetCmd(), a.webhookCmd(),
		a.pricePlanCmd(), a.priceOverrideCmd(), a.quoteCmd(), a.stackCmd(),
	)
	root.AddCommand(a.sshKeyCmd())
	// org.go builds `org`; billing adds its provider override to it.
	for _, c := range root.Commands() {
		if c.Name() == "org" {
			c.AddCommand(a.billingOverrideCmd())
		}
	}
	return root
}

// group makes cmd a command that only holds subcommands: on its own it shows
// its help, and an unknown subcommand is a usage error (cobra would otherwise
// print the help and succeed).
func group(cmd *cobra.Command) *cobra.Command {
	cmd.Args = cobra.ArbitraryArgs
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 {
			return cmd.Help()
		}
		msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
		if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
			msg += fmt.Sprintf(" (did you mean %q?)", s[0])
		}
		return usageError{errors.New(msg)}
	}
	return cmd
}

// Errors and exit codes.

// usageError is a mistake in how the command was called.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// opError is a long action that was waited on and did not succeed.
type opError struct{ op *api.Operation }

func (e opError) Error() string {
	if e.op.State == api.OpCancelled {
		return fmt.Sprintf("operation %s (%s) was cancelled", e.op.ID, e.op.Kind)
	}
	return fmt.Sprintf("operation %s (%s) failed: %v", e.op.ID, e.op.Kind, client.OperationError(e.op))
}

// errNotLoggedIn is having no credentials for a call that needs them.
var errNotLoggedIn = &api.Error{Status: http.StatusUnauthorized, Code: api.CodeUnauthenticated,
	Detail: "not logged in: run 'sirocco login SERVER' or set " + EnvToken}

// fail reports err in one line and returns the exit code for it.
func (a *app) fail(cmd *cobra.Command, err error) int {
	if ue, ok := errors.AsType[usageError](err); ok {
		fmt.Fprintf(a.errw, "error: %v\n", ue.err)
		if cmd != nil {
			fmt.Fprintf(a.errw, "See '%s --help'.\n", cmd.CommandPath())
		}
		return ExitUsage
	}
	if oe, ok := errors.AsType[opError](err); ok {
		code := "cancelled"
		if ae, ok := errors.AsType[*api.Error](client.OperationError(oe.op)); ok {
			code = ae.Code
		}
		fmt.Fprintf(a.errw, "error: %s (%s)\n", oneLine(oe.Error()), code)
		return ExitOperationFailed
	}
	if ae, ok := errors.AsType[*api.Error](err); ok {
		msg := oneLine(ae.Error())
		if msg == "" {
			msg = http.StatusText(ae.Status)
		}
		switch ae.Status {
		case http.StatusUnauthorized:
			if ae != errNotLoggedIn {
				msg += ": run 'sirocco login'"
			}
			fmt.Fprintf(a.errw, "error: %s (%s)\n", msg, ae.Code)
			return ExitUnauthenticated
		case http.StatusNotFound:
			fmt.Fprintf(a.errw, "error: %s (%s)\n", msg, ae.Code)
			return ExitNotFound
		case http.StatusConflict, http.StatusPreconditionFailed, http.StatusPreconditionRequired:
			fmt.Fprintf(a.errw, "error: %s (%s)\n", msg, ae.Code)
			return ExitConflict
		}
		fmt.Fprintf(a.errw, "error: %s (%s)\n", msg, ae.Code)
		return ExitError
	}
	fmt.Fprintf(a.errw, "error: %s\n", oneLine(err.Error()))
	return ExitError
}

// oneLine folds a message onto one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// Arguments.

// args checks the number of positional arguments, naming what is expected.
func args(names ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, got []string) error {
		if len(got) == len(names) {
			return nil
		}
		if len(got) < len(names) {
			return usagef("missing %s", strings.Join(names[len(got):], " "))
		}
		return usagef("unexpected argument %q", got[len(names)])
	}
}

// optionalArg accepts zero or one argument called name.
func optionalArg(name string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, got []string) error {
		if len(got) > 1 {
			return usagef("unexpected argument %q (at most one %s)", got[1], name)
		}
		return nil
	}
}

// Credentials and the client.

// target is where and as whom a command talks: flags, then environment, then
// the context.
type target struct {
	server, token, org, fingerprint string
	context                         *Context // the context used, if any
}

func envOr(flag, env string) string {
	if flag != "" {
		return flag
	}
	return os.Getenv(env)
}

func (a *app) target() (target, error) {
	cfg, err := a.config()
	if err != nil {
		return target{}, err
	}
	var t target
	name := envOr(a.contextName, EnvContext)
	if name != "" {
		if t.context = cfg.Find(name); t.context == nil {
			return t, fmt.Errorf("no context %q in %s (see 'sirocco context list')", name, cfg.path)
		}
	} else {
		t.context = cfg.Find(cfg.CurrentContext)
	}
	t.server = envOr(a.server, EnvServer)
	// The context's credentials go only to the context's server: a token is
	// never sent to a server named on the command line for another purpose.
	same := t.context != nil && (t.server == "" || sameServer(t.server, t.context.Server))
	if same {
		t.server = t.context.Server
	}
	t.token = envOr(a.token, EnvToken)
	t.fingerprint = a.fingerprint
	t.org = envOr(a.org, EnvOrg)
	if same {
		if t.token == "" {
			t.token = t.context.Token
		}
		if t.fingerprint == "" {
			t.fingerprint = t.context.Fingerprint
		}
		if t.org == "" {
			t.org = t.context.Org
		}
	}
	return t, nil
}

// sameServer compares server URLs loosely (trailing slashes, /api/v1).
func sameServer(a, b string) bool {
	norm := func(s string) string {
		s = strings.TrimSuffix(strings.TrimSpace(s), "/")
		return strings.ToLower(strings.TrimSuffix(s, "/api/v1"))
	}
	return norm(a) == norm(b)
}

// client returns an API client for the target; auth says whether the call
// needs credentials.
func (a *app) client(auth bool) (*client.Client, target, error) {
	t, err := a.target()
	if err != nil {
		return nil, t, err
	}
	if t.server == "" {
		if !auth {
			return nil, t, usagef("no server: pass --server URL (or log in first)")
		}
		return nil, t, errNotLoggedIn
	}
	if auth && t.token == "" {
		return nil, t, errNotLoggedIn
	}
	c, err := a.newClient(t.server, t.token, t.fingerprint)
	return c, t, err
}

func (a *app) newClient(server, token, fingerprint string) (*client.Client, error) {
	opts := []client.Option{client.WithUserAgent(userAgent)}
	if token != "" {
		opts = append(opts, client.WithToken(token))
	}
	if fingerprint != "" {
		opts = append(opts, client.WithFingerprint(fingerprint))
	}
	c, err := client.New(server, opts...)
	if err != nil {
		return nil, usageError{err}
	}
	return c, nil
}

// orgOf returns the organisation the command acts in.
func orgOf(t target) (string, error) {
	if t.org == "" {
		return "", usagef("no organisation: pass --org (or log in with --org to set a default)")
	}
	return t.org, nil
}

// authed is the usual start of a command: a client with credentials.
func (a *app) authed() (*client.Client, target, error) { return a.client(true) }

// inOrg is the start of a command acting in an organisation.
func (a *app) inOrg() (*client.Client, string, error) {
	c, t, err := a.client(true)
	if err != nil {
		return nil, "", err
	}
	org, err := orgOf(t)
	return c, org, err
}
