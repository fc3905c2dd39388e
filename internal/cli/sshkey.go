package cli

import (
	"context"
	"os"
	"regexp"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/client"
)

var sshKeyCols = []col[api.SSHKey]{
	{"NAME", func(k *api.SSHKey) string { return k.Name }},
	{"TYPE", func(k *api.SSHKey) string { return k.Type }},
	{"FINGERPRINT", func(k *api.SSHKey) string { return k.Fingerprint }},
	{"COMMENT", func(k *api.SSHKey) string { return k.Comment }},
	{"AGE", func(k *api.SSHKey) string { return age(k.CreatedAt) }},
}

// defaultPublicKeys are the files ssh-keygen writes, in the order ssh-add
// tries them: what `ssh-key add NAME` registers without --file.
var defaultPublicKeys = []string{"~/.ssh/id_ed25519.pub", "~/.ssh/id_ecdsa.pub", "~/.ssh/id_rsa.pub"}

func (a *app) sshKeyCmd() *cobra.Command {
	cmd := group(&cobra.Command{Use: "ssh-key", Aliases: []string{"ssh-keys"},
		Short: "Manage the organisation's SSH keys (--org), which VMs name in --ssh-key"})

	var file string
	add := &cobra.Command{
		Use:   "add NAME [--file FILE|-]",
		Short: "Register an SSH public key under a name",
		Long: "Register a public key once; VMs then name it: sirocco vm create ... --ssh-key NAME.\n" +
			"Without --file it takes the first of " + strings.Join(defaultPublicKeys, ", ") + ";\n" +
			"--file - reads the key from standard input. A private key is refused before anything is sent.",
		Example: "  sirocco ssh-key add laptop\n" +
			"  sirocco ssh-key add ci --file ci_deploy.pub\n" +
			"  ssh-add -L | head -1 | sirocco ssh-key add agent --file -",
		Args: args("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			key, from, err := a.readPublicKeyFile(file)
			if err != nil {
				return err
			}
			c, org, err := a.inOrg()
			if err != nil {
				return err
			}
			k, err := c.CreateSSHKey(cmd.Context(), org, api.SSHKeyCreate{Name: args[0], PublicKey: key})
			if err != nil {
				return err
			}
			if from != "" {
				a.note("Registered %s as %s.", from, k.Name)
			}
			return show(a, k, sshKeyCols)
		},
	}
	add.Flags().StringVar(&file, "file", "", "public key file (.pub), or - for standard input (default: your ~/.ssh/id_*.pub)")
	cmd.AddCommand(add)

	// Keys carry no labels: the list takes paging flags only.
	list := &cobra.Command{Use: "list", Short: "List SSH keys", Args: args()}
	lf := &listFlags{}
	list.Flags().IntVar(&lf.limit, "limit", 0, "show one page of at most this many (default: everything)")
	list.Flags().StringVar(&lf.cursor, "cursor", "", "continue from this cursor (printed after a page)")
	list.RunE = func(cmd *cobra.Command, _ []string) error {
		c, org, err := a.inOrg()
		if err != nil {
			return err
		}
		l, err := fetch(cmd.Context(), lf, func(ctx context.Context, o client.ListOptions) (*api.List[api.SSHKey], error) {
			return c.ListSSHKeys(ctx, org, o)
		})
		if err != nil {
			return err
		}
		return showList(a, l, sshKeyCols)
	}
	cmd.AddCommand(list)

	cmd.AddCommand(&cobra.Command{
		Use:     "show NAME",
		Aliases: []string{"get"},
		Short:   "Show an SSH key, with its public key",
		Args:    args("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, org, err := a.inOrg()
			if err != nil {
				return err
			}
			k, err := c.GetSSHKey(cmd.Context(), org, args[0])
			if err != nil {
				return err
			}
			if err := show(a, k, sshKeyCols); err != nil || a.output != "table" {
				return err
			}
			// The key itself is too long for the table, and is what one
			// copies: on a line of its own.
			a.done("%s", k.PublicKey)
			return nil
		},
	})

	cmd.AddCommand(&cobra.Command{
		Use:   "delete NAME",
		Short: "Delete an SSH key (VMs made with it keep it)",
		Args:  args("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, org, err := a.inOrg()
			if err != nil {
				return err
			}
			if err := c.DeleteSSHKey(cmd.Context(), org, args[0]); err != nil {
				return err
			}
			a.done("Deleted SSH key %s.", args[0])
			return nil
		},
	})
	return cmd
}

// readPublicKeyFile reads the key `ssh-key add` registers: from file, from
// standard input for -, or from the first default key file that exists, and
// then says which (from). A private key stops here: it must never leave the
// machine.
func (a *app) readPublicKeyFile(file string) (key, from string, err error) {
	if file == "" {
		for _, f := range defaultPublicKeys {
			if _, err := os.Stat(expandHome(f)); err == nil {
				file, from = f, f
				break
			}
		}
		if file == "" {
			return "", "", usagef("no public key in %s: give one with --file FILE (make one with ssh-keygen -t ed25519)",
				strings.Join(defaultPublicKeys, ", "))
		}
	}
	b, err := a.readFileArg(file)
	if err != nil {
		return "", "", usagef("--file %s: %v", file, err)
	}
	s := strings.TrimSpace(string(b))
	switch {
	case strings.Contains(s, "PRIVATE KEY"):
		pub := file + ".pub"
		if file == "-" {
			pub = "the .pub file next to it"
		}
		return "", "", usagef("%s is a private key: give the public one (%s)", file, pub)
	case s == "":
		return "", "", usagef("%s is empty", file)
	}
	return s, from, nil
}

// sshKeyNameRE is the shape of a registered key's name (api.SSHKeyCreate)
// or ID.
var sshKeyNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)

// sshKeyRef tells whether a --ssh-key value names a registered key rather
// than a file: it has a name's shape, no file of that name exists, and it
// does not look like a path (a missing ~/.ssh/x.pub is a missing file, not
// a key named x.pub).
func sshKeyRef(v string) bool {
	if !sshKeyNameRE.MatchString(v) || strings.HasSuffix(v, ".pub") {
		return false
	}
	_, err := os.Stat(v)
	return err != nil
}
