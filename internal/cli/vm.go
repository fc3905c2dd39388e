package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/client"
)

var vmCols = []col[api.VM]{
	{"NAME", func(v *api.VM) string { return v.Name }},
	{"STATE", func(v *api.VM) string { return v.State }},
	{"SIZE", func(v *api.VM) string { return v.Size }},
	{"VCPU", func(v *api.VM) string { return itoa(v.VCPU) }},
	{"MEMORY MIB", func(v *api.VM) string { return itoa(v.MemoryMiB) }},
	{"ZONE", func(v *api.VM) string { return v.Zone }},
	{"HOST", func(v *api.VM) string { return v.Host }},
	{"LABELS", func(v *api.VM) string { return labels(v.Labels) }},
	{"AGE", func(v *api.VM) string { return age(v.CreatedAt) }},
	{"MESSAGE", func(v *api.VM) string { return v.Message }},
}

var nicCols = []col[api.NIC]{
	{"NETWORK", func(n *api.NIC) string { return n.Network }},
	{"IP", func(n *api.NIC) string { return n.IP }},
	{"PUBLIC IP", func(n *api.NIC) string { return n.PublicIP }},
	{"MAC", func(n *api.NIC) string { return n.MAC }},
}

var snapshotCols = []col[api.Snapshot]{
	{"NAME", func(s *api.Snapshot) string { return s.Name }},
	{"STATE", func(s *api.Snapshot) string { return s.State }},
	{"ID", func(s *api.Snapshot) string { return s.ID }},
	{"AGE", func(s *api.Snapshot) string { return age(s.CreatedAt) }},
}

// detachKey is Ctrl-], as telnet and virsh console use it: a key a guest
// almost never needs.
const detachKey = 0x1d

// addNoWaitFlag adds --no-wait to a command that waits for its long action
// by default: VM actions are quick enough that waiting is what people want.
func addNoWaitFlag(cmd *cobra.Command) *bool {
	w := new(bool)
	cmd.Flags().BoolVar(w, "no-wait", false, "return once the action is accepted instead of waiting for it to finish")
	return w
}

// vmActionCmd is `vm <action> NAME` for an action that is one operation.
func vmActionCmd(a *app, use, short string, act func(ctx context.Context, c *client.Client, org, vm string) (*api.Operation, error)) *cobra.Command {
	cmd := &cobra.Command{Use: use + " NAME", Short: short, Args: args("NAME")}
	noWait := addNoWaitFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		c, org, err := a.inOrg()
		if err != nil {
			return err
		}
		op, err := act(cmd.Context(), c, org, args[0])
		if err != nil {
			return err
		}
		return a.follow(cmd.Context(), c, op, !*noWait)
	}
	return cmd
}

func (a *app) vmCmd() *cobra.Command {
	cmd := group(&cobra.Command{Use: "vm", Aliases: []string{"vms"}, Short: "Manage virtual machines of the organisation (--org)"})

	var vdc, host string
	var everyOrg bool
	list := &cobra.Command{Use: "list", Short: "List VMs", Args: args()}
	lf := addListFlags(list)
	list.Flags().StringVar(&vdc, "vdc", "", "only VMs in this VDC")
	list.Flags().BoolVar(&everyOrg, "all", false, "VMs of every organisation, or of --org only if given (provider roles)")
	list.Flags().StringVar(&host, "host", "", "only VMs on this host (provider roles; implies --all)")
	list.RunE = func(cmd *cobra.Command, _ []string) error {
		if everyOrg || host != "" {
			if vdc != "" {
				return usagef("--vdc cannot be combined with --all or --host")
			}
			c, _, err := a.authed()
			if err != nil {
				return err
			}
			// Only an organisation named explicitly narrows the list, not
			// the context's default.
			org := envOr(a.org, EnvOrg)
			l, err := fetch(cmd.Context(), lf, func(ctx context.Context, o client.ListOptions) (*api.List[api.VM], error) {
				return c.ListProviderVMs(ctx, client.ProviderVMListOptions{ListOptions: o, Host: host, Org: org})
			})
			if err != nil {
				return err
			}
			return showList(a, l, vmCols)
		}
		c, org, err := a.inOrg()
		if err != nil {
			return err
		}
		l, err := fetch(cmd.Context(), lf, func(ctx context.Context, o client.ListOptions) (*api.List[api.VM], error) {
			return c.ListVMs(ctx, org, client.VMListOptions{ListOptions: o, VDC: vdc})
		})
		if err != nil {
			return err
		}
		return showList(a, l, vmCols)
	}
	cmd.AddCommand(list)

	cmd.AddCommand(&cobra.Command{
		Use:   "get NAME",
		Short: "Show a VM",
		Args:  args("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, org, err := a.inOrg()
			if err != nil {
				return err
			}
			v, err := c.GetVM(cmd.Context(), org, args[0])
			if err != nil {
				return err
			}
			if err := show(a, v, vmCols); err != nil || a.output != "table" || len(v.NICs) == 0 {
				return err
			}
			fmt.Fprintln(a.out)
			return table(a, v.NICs, nicCols)
		},
	})

	cmd.AddCommand(a.vmCreateCmd())

	cmd.AddCommand(
		vmActionCmd(a, "start", "Power a stopped VM on", func(ctx context.Context, c *client.Client, org, vm string) (*api.Operation, error) {
			return c.StartVM(ctx, org, vm)
		}),
		vmActionCmd(a, "reboot", "Restart a running VM's guest", func(ctx context.Context, c *client.Client, org, vm string) (*api.Operation, error) {
			return c.RebootVM(ctx, org, vm)
		}),
		vmActionCmd(a, "force-off", "Cut a VM's power at once, as pulling the plug would", func(ctx context.Context, c *client.Client, org, vm string) (*api.Operation, error) {
			return c.ForceOffVM(ctx, org, vm)
		}),
		vmActionCmd(a, "delete", "Delete a VM with its disks and snapshots", func(ctx context.Context, c *client.Client, org, vm string) (*api.Operation, error) {
			return c.DeleteVM(ctx, org, vm)
		}),
	)

	var timeout time.Duration
	stop := vmActionCmd(a, "stop", "Ask a VM's guest to power off, forcing it off after --timeout",
		func(ctx context.Context, c *client.Client, org, vm string) (*api.Operation, error) {
			var s *api.VMStop
			if timeout > 0 {
				// Whole seconds, rounded up: a guest never gets less time than asked.
				s = &api.VMStop{TimeoutSeconds: int((timeout + time.Second - 1) / time.Second)}
			}
			return c.StopVM(ctx, org, vm, s)
		})
	stop.Flags().DurationVar(&timeout, "timeout", 0, "how long the guest gets to shut down before it is forced off (default: the server's, 60s)")
	stop.PreRunE = func(cmd *cobra.Command, _ []string) error {
		if cmd.Flags().Changed("timeout") && timeout <= 0 {
			return usagef("--timeout must be positive: use 'sirocco vm force-off' to stop at once")
		}
		return nil
	}
	cmd.AddCommand(stop)

	var size string
	resize := vmActionCmd(a, "resize", "Change a stopped VM's size (the root disk only grows)",
		func(ctx context.Context, c *client.Client, org, vm string) (*api.Operation, error) {
			return c.ResizeVM(ctx, org, vm, api.VMResize{Size: size})
		})
	resize.Use = "resize NAME --size SIZE"
	resize.Flags().StringVar(&size, "size", "", "the new size (required)")
	resize.PreRunE = func(*cobra.Command, []string) error {
		if size == "" {
			return usagef("--size is required")
		}
		return nil
	}
	cmd.AddCommand(resize)

	cmd.AddCommand(a.snapshotCmd(), a.consoleCmd())
	return cmd
}

func (a *app) vmCreateCmd() *cobra.Command {
	var in api.VMCreate
	var sshKeys, createLabels, networks []string
	var userData string
	var stopped bool
	create := &cobra.Command{
		Use:   "create NAME --image IMAGE --size SIZE",
		Short: "Create one VM, or --count of them, and wait until they run",
		Long: "Create a VM from an image (the organisation's private images first, then the public catalog)\n" +
			"in a VDC (--vdc may be left out when the organisation has exactly one). With --count N the VMs\n" +
			"are named NAME-1 ... NAME-N; --anti-affinity puts each VM of a group on a different host.\n" +
			"Each --network gives the VM a NIC on that network (without one, it joins the VDC's only network);\n" +
			"--public-ip attaches a new public address to the first NIC; each --disk attaches a data disk\n" +
			"(see 'sirocco disk create'), which puts the VM on the disk's host.\n" +
			"It waits until every VM runs (or, with --stopped, is ready), then prints them.",
		Example: "  sirocco vm create web --image debian-12 --size s1.small --ssh-key ~/.ssh/id_ed25519.pub\n" +
			"  sirocco vm create web --image debian-12 --size s1.small --ssh-key laptop   # registered with 'sirocco ssh-key add laptop'\n" +
			"  sirocco vm create worker --image debian-12 --size s1.small --count 3 --anti-affinity workers --user-data cloud-init.yaml\n" +
			"  sirocco vm create app --image debian-12 --size s1.small --network lan --network db=10.1.0.20 --public-ip\n" +
			"  sirocco vm create db --image debian-12 --size s1.small --disk pgdata",
		Args: args("NAME"),
	}
	noWait := addNoWaitFlag(create)
	create.RunE = func(cmd *cobra.Command, args []string) error {
		f := cmd.Flags()
		if in.Image == "" || in.Size == "" {
			return usagef("--image and --size are required")
		}
		if f.Changed("count") && in.Count < 1 {
			return usagef("--count must be at least 1")
		}
		keys, err := readSSHKeys(sshKeys)
		if err != nil {
			return err
		}
		l, err := parseLabels(createLabels)
		if err != nil {
			return err
		}
		if userData != "" {
			b, err := a.readFileArg(userData)
			if err != nil {
				return usageError{fmt.Errorf("--user-data: %w", err)}
			}
			in.UserData = string(b)
		}
		nets, err := parseVMNetworks(networks)
		if err != nil {
			return err
		}
		c, org, err := a.inOrg()
		if err != nil {
			return err
		}
		in.Name, in.SSHKeys, in.Labels, in.Networks = args[0], keys, l, nets
		if stopped {
			in.PowerOn = new(bool)
		}
		a.notePrice(cmd.Context(), c, org, in.VDC, in.Size, in.Count)
		created, err := c.CreateVMs(cmd.Context(), org, in)
		if err != nil {
			return err
		}
		return a.finishCreate(cmd.Context(), c, org, created, !*noWait)
	}
	cf := create.Flags()
	cf.StringVar(&in.Image, "image", "", "image ID or name (required)")
	cf.StringVar(&in.Size, "size", "", "size name (required; see 'sirocco size list')")
	cf.StringVar(&in.VDC, "vdc", "", "VDC to create it in (default: the organisation's only VDC)")
	cf.StringArrayVar(&sshKeys, "ssh-key", nil, "name of a key registered with 'sirocco ssh-key add', an OpenSSH public key, or a file of them such as ~/.ssh/id_ed25519.pub (@FILE: always a file) (repeatable)")
	cf.StringVar(&userData, "user-data", "", "file of cloud-init user-data (- for standard input)")
	cf.IntVar(&in.Count, "count", 0, "how many VMs to create, named NAME-1 ... NAME-N")
	cf.StringVar(&in.AntiAffinityGroup, "anti-affinity", "", "anti-affinity group: each VM of the group on a different host")
	cf.StringVar(&in.Hostname, "hostname", "", "the guest's hostname (default: the VM's name)")
	cf.BoolVar(&stopped, "stopped", false, "create the VM without powering it on")
	cf.StringArrayVar(&networks, "network", nil, "network to join, NAME or NAME=IP for a fixed address, one NIC each in order (repeatable; default: the VDC's only network)")
	cf.BoolVar(&in.PublicIP, "public-ip", false, "allocate a public address and attach it to the first NIC (charged until released)")
	cf.StringArrayVar(&in.Disks, "disk", nil, "data disk to attach, by name or ID, in order (repeatable; only with one VM)")
	cf.StringArrayVar(&createLabels, "label", nil, "label key=value (repeatable)")
	return create
}

// parseVMNetworks reads --network values: NAME, or NAME=IP for a fixed
// address.
func parseVMNetworks(values []string) ([]api.VMNetwork, error) {
	var out []api.VMNetwork
	for _, v := range values {
		name, ip, fixed := strings.Cut(v, "=")
		name, ip = strings.TrimSpace(name), strings.TrimSpace(ip)
		if name == "" || (fixed && ip == "") {
			return nil, usagef("--network %q: want NAME or NAME=IP", v)
		}
		if fixed {
			if a, err := netip.ParseAddr(ip); err != nil || !a.Is4() {
				return nil, usagef("--network %q: %q is not an IPv4 address", v, ip)
			}
		}
		out = append(out, api.VMNetwork{Network: name, IP: ip})
	}
	return out, nil
}

// finishCreate shows what a create made: at once with wait unset, otherwise
// after every VM's operation has ended, as it ended. A VM that failed to come
// up fails the command (after the VMs are shown).
func (a *app) finishCreate(ctx context.Context, c *client.Client, org string, created *api.VMCreated, wait bool) error {
	if !wait {
		if ok, err := a.encoded(created); ok {
			return err
		}
		if err := table(a, created.VMs, vmCols); err != nil {
			return err
		}
		for _, op := range created.Operations {
			a.note("Operation %s (%s %s) is %s; follow it with: sirocco operation wait %s", op.ID, op.Kind, op.Target.ID, op.State, op.ID)
		}
		return nil
	}
	final, err := a.waitAll(ctx, c, created.Operations)
	if err != nil {
		return err
	}
	out := api.VMCreated{VMs: make([]api.VM, len(created.VMs)), Operations: final}
	for i, vm := range created.VMs {
		out.VMs[i] = vm
		// Show the VM as it is now; one that failed and is gone stays as
		// it was created, its operation says why.
		if v, err := c.GetVM(ctx, org, vm.ID); err == nil {
			out.VMs[i] = *v
		} else if ae, ok := errors.AsType[*api.Error](err); !ok || ae.Code != api.CodeNotFound {
			return err
		}
	}
	if ok, err := a.encoded(out); !ok {
		if err := table(a, out.VMs, vmCols); err != nil {
			return err
		}
	} else if err != nil {
		return err
	}
	for i := range final {
		if err := finished(&final[i], false); err != nil {
			return err
		}
	}
	return nil
}

// waitAll follows several operations at once with one progress display (a
// bar of their mean progress on a terminal, a line per change otherwise)
// and returns them as they ended. It fails only when waiting itself does; a
// failed operation is the caller's to report.
func (a *app) waitAll(ctx context.Context, c *client.Client, ops []api.Operation) ([]api.Operation, error) {
	final := append([]api.Operation(nil), ops...)
	pending := 0
	for i := range final {
		if !final[i].Done() {
			pending++
		}
	}
	if pending == 0 {
		return final, nil
	}
	agg := api.Operation{Kind: ops[0].Kind, Target: ops[0].Target, State: api.OpRunning}
	if len(ops) > 1 {
		agg.Target.ID = fmt.Sprintf("%d %ss", len(ops), ops[0].Target.Kind)
	}
	p := a.progress(&agg)
	lines := make([]*progress, len(ops)) // without a terminal: one line printer per operation
	for i := range lines {
		lines[i] = &progress{a: a}
	}
	var mu sync.Mutex
	observe := func(i int, op api.Operation) {
		mu.Lock()
		defer mu.Unlock()
		final[i] = op
		if p.bar == nil {
			lines[i].update(op)
			return
		}
		if len(ops) == 1 {
			p.update(op)
			return
		}
		sum, done := 0, 0
		for _, o := range final {
			sum += o.Progress
			if o.Done() {
				done++
				if o.State == api.OpSucceeded {
					sum += 100 - o.Progress
				}
			}
		}
		agg.Progress = sum / len(final)
		agg.Message = fmt.Sprintf("%d of %d done", done, len(final))
		p.update(agg)
	}
	var wg sync.WaitGroup
	errs := make([]error, len(ops))
	for i := range final {
		if final[i].Done() {
			continue
		}
		wg.Go(func() {
			op, err := c.WaitOperation(ctx, final[i].ID, func(op api.Operation) { observe(i, op) })
			if op == nil || !op.Done() {
				errs[i] = err
			}
		})
	}
	wg.Wait()
	agg.State = api.OpSucceeded
	for _, o := range final {
		if o.State != api.OpSucceeded {
			agg.State = api.OpFailed
		}
	}
	p.close(&agg)
	if ctx.Err() != nil {
		return final, fmt.Errorf("stopped waiting; the actions go on (see: sirocco operation list --state running)")
	}
	return final, errors.Join(errs...)
}

// readSSHKeys reads --ssh-key values: each is a public key itself, a file
// of them (one per line, as in authorized_keys; @FILE forces a file), or
// the name or ID of a key registered with `ssh-key add`, which the server
// resolves.
func readSSHKeys(values []string) ([]string, error) {
	var keys []string
	for _, v := range values {
		v = strings.TrimSpace(v)
		if isPublicKey(v) {
			keys = append(keys, v)
			continue
		}
		file, forced := strings.CutPrefix(v, "@")
		if !forced && sshKeyRef(v) {
			keys = append(keys, v)
			continue
		}
		v = file
		b, err := os.ReadFile(expandHome(v))
		if err != nil {
			return nil, usagef("--ssh-key %s: neither a public key nor a file that can be read (%v)", v, unwrapPath(err))
		}
		if strings.Contains(string(b), "PRIVATE KEY") {
			// The easy slip: the key file without .pub. Never send it.
			return nil, usagef("--ssh-key %s is a private key: give the public one (%s.pub)", v, v)
		}
		n := 0
		for line := range strings.Lines(string(b)) {
			line = strings.TrimSpace(line)
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			if !isPublicKey(line) {
				return nil, usagef("--ssh-key %s: %q is not an OpenSSH public key", v, truncate(line, 40))
			}
			keys = append(keys, line)
			n++
		}
		if n == 0 {
			return nil, usagef("--ssh-key %s: the file has no public key", v)
		}
	}
	return keys, nil
}

// isPublicKey recognises an OpenSSH public key line by its type.
func isPublicKey(s string) bool {
	typ, rest, ok := strings.Cut(s, " ")
	if !ok || strings.TrimSpace(rest) == "" {
		return false
	}
	return strings.HasPrefix(typ, "ssh-") || strings.HasPrefix(typ, "ecdsa-sha2-") || strings.HasPrefix(typ, "sk-")
}

// expandHome expands a leading ~/, which a shell leaves alone in --flag=~/x.
func expandHome(p string) string {
	if rest, ok := strings.CutPrefix(p, "~/"); ok {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, rest)
		}
	}
	return p
}

// unwrapPath drops the path from an *os.PathError: the message names it already.
func unwrapPath(err error) error {
	if pe, ok := errors.AsType[*os.PathError](err); ok {
		return pe.Err
	}
	return err
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// readFileArg reads a file named by a flag, or standard input for "-".
func (a *app) readFileArg(name string) ([]byte, error) {
	if name == "-" {
		return io.ReadAll(a.in)
	}
	b, err := os.ReadFile(expandHome(name))
	if err != nil {
		return nil, unwrapPath(err)
	}
	return b, nil
}

// Snapshots.

func (a *app) snapshotCmd() *cobra.Command {
	cmd := group(&cobra.Command{Use: "snapshot", Aliases: []string{"snapshots", "snap"}, Short: "Manage snapshots of a VM's root disk"})

	list := &cobra.Command{Use: "list VM", Short: "List a VM's snapshots", Args: args("VM")}
	lf := addListFlags(list)
	list.RunE = func(cmd *cobra.Command, args []string) error {
		c, org, err := a.inOrg()
		if err != nil {
			return err
		}
		l, err := fetch(cmd.Context(), lf, func(ctx context.Context, o client.ListOptions) (*api.List[api.Snapshot], error) {
			return c.ListSnapshots(ctx, org, args[0], o)
		})
		if err != nil {
			return err
		}
		return showList(a, l, snapshotCols)
	}
	cmd.AddCommand(list)

	create := &cobra.Command{
		Use:     "create VM [NAME]",
		Short:   "Snapshot a stopped VM's root disk (NAME defaults to snap-<date>-<time>)",
		Example: "  sirocco vm snapshot create web before-upgrade",
		Args: func(_ *cobra.Command, got []string) error {
			switch {
			case len(got) == 0:
				return usagef("missing VM")
			case len(got) > 2:
				return usagef("unexpected argument %q", got[2])
			}
			return nil
		},
	}
	createWait := addNoWaitFlag(create)
	create.RunE = func(cmd *cobra.Command, args []string) error {
		name := time.Now().UTC().Format("snap-20060102-150405")
		if len(args) == 2 {
			name = args[1]
		}
		c, org, err := a.inOrg()
		if err != nil {
			return err
		}
		op, err := c.CreateSnapshot(cmd.Context(), org, args[0], api.SnapshotCreate{Name: name})
		if err != nil {
			return err
		}
		return a.follow(cmd.Context(), c, op, !*createWait)
	}
	cmd.AddCommand(create)

	snapAction := func(use, short string, act func(ctx context.Context, c *client.Client, org, vm, snap string) (*api.Operation, error)) *cobra.Command {
		sc := &cobra.Command{Use: use + " VM NAME", Short: short, Args: args("VM", "NAME")}
		noWait := addNoWaitFlag(sc)
		sc.RunE = func(cmd *cobra.Command, args []string) error {
			c, org, err := a.inOrg()
			if err != nil {
				return err
			}
			op, err := act(cmd.Context(), c, org, args[0], args[1])
			if err != nil {
				return err
			}
			return a.follow(cmd.Context(), c, op, !*noWait)
		}
		return sc
	}
	cmd.AddCommand(
		snapAction("revert", "Put a stopped VM's root disk back to a snapshot (what was written since is lost)",
			func(ctx context.Context, c *client.Client, org, vm, snap string) (*api.Operation, error) {
				return c.RevertSnapshot(ctx, org, vm, snap)
			}),
		snapAction("delete", "Delete a snapshot",
			func(ctx context.Context, c *client.Client, org, vm, snap string) (*api.Operation, error) {
				return c.DeleteSnapshot(ctx, org, vm, snap)
			}),
	)
	return cmd
}

// Console.

func (a *app) consoleCmd() *cobra.Command {
	var duration time.Duration
	cmd := &cobra.Command{
		Use:   "console NAME",
		Short: "Attach to a VM's serial console (Ctrl-] detaches)",
		Long: "Attach to a VM's serial console: it prints the recent output, then what the guest prints, and\n" +
			"sends what you type. On a terminal, keys go to the guest as typed (Ctrl-C included); Ctrl-]\n" +
			"detaches. Without a terminal, standard input is sent as is. With --duration it prints the\n" +
			"output for that long and exits 0, for scripts. It also ends when the server closes the console.",
		Example: "  sirocco vm console web\n" +
			"  sirocco vm console web --duration 10s",
		Args: args("NAME"),
	}
	cmd.Flags().DurationVar(&duration, "duration", 0, "print the output for this long, then exit (no terminal mode)")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if cmd.Flags().Changed("duration") && duration <= 0 {
			return usagef("--duration must be positive")
		}
		c, org, err := a.inOrg()
		if err != nil {
			return err
		}
		return a.console(cmd.Context(), c, org, args[0], duration)
	}
	return cmd
}

// console runs one console session until the server closes it, the user
// detaches or duration (when not zero) passes.
func (a *app) console(parent context.Context, c *client.Client, org, vm string, duration time.Duration) error {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	if duration > 0 {
		ctx, cancel = context.WithTimeout(ctx, duration)
		defer cancel()
	}
	conn, err := c.ConsoleVM(ctx, org, vm)
	if err != nil {
		if duration > 0 && ctx.Err() != nil && parent.Err() == nil {
			return fmt.Errorf("console of %s: no connection within %s", vm, duration)
		}
		return err
	}
	defer conn.Close()

	fd, tty := terminal(a.in)
	interactive := tty && duration == 0
	nl := "\n"
	if interactive {
		old, err := term.MakeRaw(fd)
		if err != nil {
			return fmt.Errorf("console: put the terminal in raw mode: %w", err)
		}
		defer func() {
			_ = term.Restore(fd, old)
			fmt.Fprintln(a.errw)
		}()
		nl = "\r\n" // raw mode: the terminal no longer adds carriage returns
		fmt.Fprintf(a.errw, "Connected to the console of %s; Ctrl-] detaches.%s", vm, nl)
	}
	if !tty || interactive {
		go a.keystrokes(conn, interactive, cancel)
	}

	_, err = io.Copy(a.out, conn)
	switch {
	case err == nil:
		a.note("Console closed by the server.%s", strings.TrimSuffix(nl, "\n"))
		return nil
	case ctx.Err() != nil && parent.Err() == nil:
		return nil // detached, or --duration passed
	}
	return fmt.Errorf("console of %s: %w", vm, err)
}

// keystrokes sends standard input to the console. On a terminal Ctrl-]
// ends the session (through detach) instead of being sent.
func (a *app) keystrokes(conn io.Writer, interactive bool, detach func()) {
	buf := make([]byte, 4096)
	for {
		n, err := a.in.Read(buf)
		if n > 0 {
			b := buf[:n]
			if interactive {
				if i := strings.IndexByte(string(b), detachKey); i >= 0 {
					if i > 0 {
						_, _ = conn.Write(b[:i])
					}
					detach()
					return
				}
			}
			if _, werr := conn.Write(b); werr != nil {
				return
			}
		}
		if err != nil {
			// The end of piped input is not the end of the session: the
			// guest's answer is still to come.
			return
		}
	}
}
