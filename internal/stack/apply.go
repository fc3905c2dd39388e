package stack

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/shopspring/decimal"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/client"
)

// Plan is what apply would change, and what the stack costs.
type Plan struct {
	Stack   string   `json:"stack"`
	VDC     string   `json:"vdc,omitempty"`
	Changes []Change `json:"changes" nullable:"false"`
	// Cost is the stack's monthly price once the plan is applied; CostNow
	// what it holds today costs. Both are nil when the cloud could not
	// price them, and CostError says why.
	Cost      *Price `json:"monthly_cost,omitempty"`
	CostNow   *Price `json:"monthly_cost_now,omitempty"`
	CostError string `json:"cost_error,omitempty"`
}

// Price is an exact monthly amount (730 hours, as quotes count).
type Price struct {
	Currency string `json:"currency"`
	PerMonth string `json:"per_month"`
}

// label selects what a stack owns.
func label(name string) []string { return []string{LabelStack + "=" + name} }

// isNotFound reports a 404 from the API.
func isNotFound(err error) bool {
	e, ok := errors.AsType[*api.Error](err)
	return ok && e.Status == http.StatusNotFound
}

// Observe reads what the cloud holds of stack s in organisation org: its
// labelled networks and VMs (with NICs and firewall rules), the IDs of the
// images the file names, and its VDC. A name the file uses that another
// object, not the stack's, already holds is an error: apply would fail on
// it, and taking it over silently would be worse.
func Observe(ctx context.Context, c *client.Client, org string, s *Stack) (*State, error) {
	st := &State{Images: map[string]string{}, ImageNames: map[string]string{}}
	if s.VDC != "" {
		v, err := c.GetVDC(ctx, org, s.VDC)
		if err != nil {
			return nil, fmt.Errorf("vdc %s: %w", s.VDC, err)
		}
		st.VDC = v.Name
	}
	for _, v := range s.VMs {
		if _, ok := st.Images[v.Image]; ok {
			continue
		}
		im, err := image(ctx, c, org, v.Image)
		if err != nil {
			return nil, fmt.Errorf("vm %s: image %s: %w", v.Name, v.Image, err)
		}
		st.Images[v.Image] = im.ID
		st.ImageNames[im.ID] = im.Name
	}
	for n, err := range c.AllNetworks(ctx, org, client.NetworkListOptions{ListOptions: client.ListOptions{Labels: label(s.Name)}}) {
		if err != nil {
			return nil, fmt.Errorf("list the stack's networks: %w", err)
		}
		st.Networks = append(st.Networks, n)
	}
	for v, err := range c.AllVMs(ctx, org, client.VMListOptions{ListOptions: client.ListOptions{Labels: label(s.Name)}}) {
		if err != nil {
			return nil, fmt.Errorf("list the stack's VMs: %w", err)
		}
		full, err := c.GetVM(ctx, org, v.ID)
		if err != nil {
			return nil, fmt.Errorf("vm %s: %w", v.Name, err)
		}
		rules, err := c.ListFirewallRules(ctx, org, v.ID)
		if err != nil {
			return nil, fmt.Errorf("vm %s: firewall rules: %w", v.Name, err)
		}
		st.VMs = append(st.VMs, Current{VM: *full, Rules: rules.Items})
		if _, ok := st.ImageNames[full.Image]; !ok {
			if im, err := image(ctx, c, org, full.Image); err == nil {
				st.ImageNames[im.ID] = im.Name
			}
		}
	}
	// Names held by objects outside the stack.
	for _, n := range s.Networks {
		if slices.ContainsFunc(st.Networks, func(x api.Network) bool { return x.Name == n.Name }) {
			continue
		}
		if _, err := c.GetNetwork(ctx, org, n.Name); err == nil {
			return nil, fmt.Errorf("network %s already exists and is not part of stack %s (it has no label %s=%s)", n.Name, s.Name, LabelStack, s.Name)
		} else if !isNotFound(err) {
			return nil, fmt.Errorf("network %s: %w", n.Name, err)
		}
	}
	for _, v := range s.VMs {
		if slices.ContainsFunc(st.VMs, func(x Current) bool { return x.Name == v.Name }) {
			continue
		}
		if _, err := c.GetVM(ctx, org, v.Name); err == nil {
			return nil, fmt.Errorf("vm %s already exists and is not part of stack %s (it has no label %s=%s)", v.Name, s.Name, LabelStack, s.Name)
		} else if !isNotFound(err) {
			return nil, fmt.Errorf("vm %s: %w", v.Name, err)
		}
	}
	return st, nil
}

// image finds an image as a VM create would: the organisation's first, then
// the public catalog.
func image(ctx context.Context, c *client.Client, org, ref string) (*api.Image, error) {
	im, err := c.GetImage(ctx, org, ref)
	if isNotFound(err) {
		im, err = c.GetPublicImage(ctx, ref)
	}
	return im, err
}

// MakePlan observes the cloud, compares it with s and prices the result.
// A price the cloud cannot give (no price plan yet) leaves the costs out,
// never the plan.
func MakePlan(ctx context.Context, c *client.Client, org string, s *Stack) (*Plan, error) {
	st, err := Observe(ctx, c, org, s)
	if err != nil {
		return nil, err
	}
	resolved, err := resolveKeys(ctx, c, org, s)
	if err != nil {
		return nil, err
	}
	p := &Plan{Stack: s.Name, VDC: st.VDC, Changes: Diff(resolved, st)}
	if p.Changes == nil {
		p.Changes = []Change{}
	}
	var after, now []string
	ipsAfter, ipsNow := 0, 0
	for _, v := range s.VMs {
		after = append(after, v.Size)
		if v.PublicIP {
			ipsAfter++
		}
	}
	for _, v := range st.VMs {
		now = append(now, v.Size)
		ipsNow += len(v.publicIPs())
	}
	q := quoter{c: c, org: org, vdc: s.VDC, sizes: map[string]decimal.Decimal{}}
	if p.Cost, err = q.cost(ctx, after, ipsAfter); err == nil {
		p.CostNow, err = q.cost(ctx, now, ipsNow)
	}
	if err != nil {
		p.Cost, p.CostNow, p.CostError = nil, nil, err.Error()
	}
	return p, nil
}

// resolveKeys returns s with the SSH keys its VMs name (a registered key's
// name or ID, one word) replaced by the keys themselves, as a VM shows them,
// so that naming a key is not a change on every plan.
func resolveKeys(ctx context.Context, c *client.Client, org string, s *Stack) (*Stack, error) {
	out := *s
	out.VMs = slices.Clone(s.VMs)
	known := map[string]string{}
	for i, v := range out.VMs {
		keys := slices.Clone(v.SSHKeys)
		for j, k := range keys {
			if strings.ContainsAny(strings.TrimSpace(k), " \t") {
				continue
			}
			if _, ok := known[k]; !ok {
				key, err := c.GetSSHKey(ctx, org, k)
				if err != nil {
					return nil, fmt.Errorf("vm %s: ssh key %q: %w", v.Name, k, err)
				}
				known[k] = key.PublicKey
			}
			keys[j] = known[k]
		}
		out.VMs[i].SSHKeys = keys
	}
	return &out, nil
}

// quoter sums quotes, asking once per size.
type quoter struct {
	c        *client.Client
	org, vdc string
	currency string
	sizes    map[string]decimal.Decimal
}

func (q *quoter) quote(ctx context.Context, r api.QuoteRequest) (decimal.Decimal, error) {
	r.VDC = q.vdc
	out, err := q.c.Quote(ctx, q.org, r)
	if err != nil {
		return decimal.Zero, err
	}
	q.currency = out.Currency
	return decimal.NewFromString(out.PerMonth)
}

// cost is the monthly price of VMs of sizes and publicIPs addresses.
func (q *quoter) cost(ctx context.Context, sizes []string, publicIPs int) (*Price, error) {
	total := decimal.Zero
	for _, s := range sizes {
		m, ok := q.sizes[s]
		if !ok {
			var err error
			if m, err = q.quote(ctx, api.QuoteRequest{Size: s}); err != nil {
				return nil, fmt.Errorf("price of size %s: %w", s, err)
			}
			q.sizes[s] = m
		}
		total = total.Add(m)
	}
	if publicIPs > 0 {
		m, err := q.quote(ctx, api.QuoteRequest{PublicIPs: publicIPs})
		if err != nil {
			return nil, fmt.Errorf("price of public IPs: %w", err)
		}
		total = total.Add(m)
	}
	return &Price{Currency: q.currency, PerMonth: total.String()}, nil
}

// Logger is told what apply does, a line at a time. Apply serialises its
// calls, though VMs of one boot order are worked on together.
type Logger func(format string, args ...any)

// applier runs a plan.
type applier struct {
	c     *client.Client
	org   string
	stack *Stack
	mu    sync.Mutex
	log   Logger
}

func (a *applier) say(format string, args ...any) {
	if a.log == nil {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.log(format, args...)
}

// Apply makes the cloud match s by running p's changes: VMs going away
// first, then networks going away, then networks coming, then VMs by boot
// order (lower first; the VMs of one order together, each waited for until
// it runs before the next order starts). It stops at the first order that
// fails; running plan again shows what is left.
func Apply(ctx context.Context, c *client.Client, org string, s *Stack, p *Plan, log Logger) error {
	a := &applier{c: c, org: org, stack: s, log: log}

	// VMs going away, and the old halves of replaced ones, all at once.
	var gone []Change
	for _, ch := range p.Changes {
		if ch.Kind == KindVM && (ch.Action == Delete || ch.Action == Replace) {
			gone = append(gone, ch)
		}
	}
	if err := a.parallel(ctx, gone, a.deleteVM); err != nil {
		return err
	}
	for _, ch := range p.Changes {
		if ch.Kind == KindNetwork && (ch.Action == Delete || ch.Action == Replace) {
			if err := a.deleteNetwork(ctx, ch.Name); err != nil {
				return err
			}
		}
	}
	for _, ch := range p.Changes {
		if ch.Kind == KindNetwork && (ch.Action == Create || ch.Action == Replace) {
			if err := a.createNetwork(ctx, ch.network); err != nil {
				return err
			}
		}
	}
	// VMs by boot order.
	var vms []Change
	for _, ch := range p.Changes {
		if ch.Kind == KindVM && ch.Action != Delete {
			vms = append(vms, ch)
		}
	}
	slices.SortStableFunc(vms, func(x, y Change) int { return cmp.Compare(x.BootOrder, y.BootOrder) })
	for len(vms) > 0 {
		n := 1
		for n < len(vms) && vms[n].BootOrder == vms[0].BootOrder {
			n++
		}
		err := a.parallel(ctx, vms[:n], func(ctx context.Context, ch Change) error {
			if ch.Action == Update {
				return a.updateVM(ctx, ch)
			}
			return a.createVM(ctx, ch.vm)
		})
		if err != nil {
			return err
		}
		vms = vms[n:]
	}
	return nil
}

// Destroy deletes everything labelled with the stack called name: VMs (and
// the public IPs attached to them) first, then networks. It returns what it
// deleted.
func Destroy(ctx context.Context, c *client.Client, org, name string, log Logger) ([]Change, error) {
	s := &Stack{Name: name}
	st, err := Observe(ctx, c, org, s)
	if err != nil {
		return nil, err
	}
	p := &Plan{Stack: name, Changes: Diff(s, st)}
	return p.Changes, Apply(ctx, c, org, s, p, log)
}

// parallel runs do for every change at once and joins their errors.
func (a *applier) parallel(ctx context.Context, changes []Change, do func(context.Context, Change) error) error {
	errs := make([]error, len(changes))
	var wg sync.WaitGroup
	for i, ch := range changes {
		wg.Go(func() { errs[i] = do(ctx, ch) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// wait follows an operation to its end; anything but success is an error.
func (a *applier) wait(ctx context.Context, what string, op *api.Operation) error {
	done, err := a.c.WaitOperation(ctx, op.ID, nil)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if done.State != api.OpSucceeded {
		return fmt.Errorf("%s: operation %s was %s", what, done.ID, done.State)
	}
	return nil
}

func (a *applier) deleteVM(ctx context.Context, ch Change) error {
	cur := ch.current
	// The addresses were the stack's: the VM's delete would only detach
	// them and leave them charged.
	for _, ip := range cur.publicIPs() {
		if err := a.c.ReleasePublicIP(ctx, a.org, ip); err != nil && !isNotFound(err) {
			return fmt.Errorf("vm %s: release public IP %s: %w", cur.Name, ip, err)
		}
	}
	op, err := a.c.DeleteVM(ctx, a.org, cur.ID)
	if err != nil {
		return fmt.Errorf("vm %s: delete: %w", cur.Name, err)
	}
	if err := a.wait(ctx, "vm "+cur.Name+": delete", op); err != nil {
		return err
	}
	a.say("vm %s: deleted", cur.Name)
	return nil
}

// inUseRetry bounds how long a network delete waits for the NICs of VMs
// just deleted to let go.
const inUseRetry = 30 * time.Second

func (a *applier) deleteNetwork(ctx context.Context, name string) error {
	deadline := time.Now().Add(inUseRetry)
	for {
		err := a.c.DeleteNetwork(ctx, a.org, name)
		if err == nil || isNotFound(err) {
			a.say("network %s: deleted", name)
			return nil
		}
		if e, ok := errors.AsType[*api.Error](err); !ok || e.Code != api.CodeInUse || time.Now().After(deadline) {
			return fmt.Errorf("network %s: delete: %w", name, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

func (a *applier) createNetwork(ctx context.Context, n *Network) error {
	_, err := a.c.CreateNetwork(ctx, a.org, api.NetworkCreate{Name: n.Name, VDC: a.stack.VDC, CIDR: n.CIDR,
		Labels: api.Labels{LabelStack: a.stack.Name}})
	if err != nil {
		return fmt.Errorf("network %s: create: %w", n.Name, err)
	}
	a.say("network %s: created", n.Name)
	return nil
}

func (a *applier) createVM(ctx context.Context, v *VM) error {
	labels := api.Labels{LabelStack: a.stack.Name}
	if d := userDataDigest(v.UserData); d != "" {
		labels[LabelUserData] = d
	}
	in := api.VMCreate{Name: v.Name, VDC: a.stack.VDC, Image: v.Image, Size: v.Size, SSHKeys: v.SSHKeys,
		UserData: v.UserData, Labels: labels, PublicIP: v.PublicIP}
	for _, n := range v.Networks {
		in.Networks = append(in.Networks, api.VMNetwork{Network: n})
	}
	created, err := a.c.CreateVMs(ctx, a.org, in)
	if err != nil {
		return fmt.Errorf("vm %s: create: %w", v.Name, err)
	}
	// Rules go on before the guest is up, so it never runs unguarded by
	// what the file says.
	for _, r := range v.Firewall {
		if err := a.addRule(ctx, v.Name, r.normal()); err != nil {
			return err
		}
	}
	for _, op := range created.Operations {
		if err := a.wait(ctx, "vm "+v.Name+": create", &op); err != nil {
			return err
		}
	}
	a.say("vm %s: created", v.Name)
	return nil
}

func (a *applier) addRule(ctx context.Context, vm string, r Rule) error {
	_, err := a.c.CreateFirewallRule(ctx, a.org, vm, api.FirewallRuleCreate{Direction: api.DirectionIngress,
		Protocol: r.Protocol, PortFrom: r.Port, PortTo: r.PortTo, CIDR: r.CIDR, Description: "stack " + a.stack.Name})
	if err != nil {
		return fmt.Errorf("vm %s: firewall rule %s: %w", vm, r, err)
	}
	return nil
}

func (a *applier) updateVM(ctx context.Context, ch Change) error {
	cur := ch.current
	if ch.resize != "" {
		running := cur.PowerState == api.PowerRunning
		if running {
			op, err := a.c.StopVM(ctx, a.org, cur.ID, nil)
			if err != nil {
				return fmt.Errorf("vm %s: stop: %w", cur.Name, err)
			}
			if err := a.wait(ctx, "vm "+cur.Name+": stop", op); err != nil {
				return err
			}
		}
		op, err := a.c.ResizeVM(ctx, a.org, cur.ID, api.VMResize{Size: ch.resize})
		if err != nil {
			return fmt.Errorf("vm %s: resize: %w", cur.Name, err)
		}
		if err := a.wait(ctx, "vm "+cur.Name+": resize", op); err != nil {
			return err
		}
		if running {
			op, err := a.c.StartVM(ctx, a.org, cur.ID)
			if err != nil {
				return fmt.Errorf("vm %s: start: %w", cur.Name, err)
			}
			if err := a.wait(ctx, "vm "+cur.Name+": start", op); err != nil {
				return err
			}
		}
		a.say("vm %s: resized to %s", cur.Name, ch.resize)
	}
	for _, r := range ch.removeRules {
		if err := a.c.DeleteFirewallRule(ctx, a.org, cur.ID, r.ID); err != nil && !isNotFound(err) {
			return fmt.Errorf("vm %s: remove firewall rule %s: %w", cur.Name, currentRule(r), err)
		}
	}
	for _, r := range ch.addRules {
		if err := a.addRule(ctx, cur.ID, r); err != nil {
			return err
		}
	}
	if ch.attachIP {
		ip, err := a.c.AllocatePublicIP(ctx, a.org, api.PublicIPAllocate{VDC: a.stack.VDC})
		if err != nil {
			return fmt.Errorf("vm %s: allocate a public IP: %w", cur.Name, err)
		}
		if _, err := a.c.AttachPublicIP(ctx, a.org, ip.Address, api.PublicIPAttach{VM: cur.ID}); err != nil {
			// An address attached to nothing would be charged for nothing.
			_ = a.c.ReleasePublicIP(context.WithoutCancel(ctx), a.org, ip.Address)
			return fmt.Errorf("vm %s: attach public IP %s: %w", cur.Name, ip.Address, err)
		}
		a.say("vm %s: public IP %s attached", cur.Name, ip.Address)
	}
	for _, ip := range ch.releaseIPs {
		if err := a.c.ReleasePublicIP(ctx, a.org, ip); err != nil && !isNotFound(err) {
			return fmt.Errorf("vm %s: release public IP %s: %w", cur.Name, ip, err)
		}
		a.say("vm %s: public IP %s released", cur.Name, ip)
	}
	if len(ch.addRules)+len(ch.removeRules) > 0 {
		a.say("vm %s: firewall updated", cur.Name)
	}
	return nil
}
