package stack

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/sirocco-cloud/sirocco/api"
)

// State is what the cloud holds of a stack, as Observe reads it.
type State struct {
	VDC        string            // the file's VDC, by name
	Images     map[string]string // each image the file names -> its ID
	ImageNames map[string]string // image ID -> name, for showing what a VM runs now
	Networks   []api.Network     // labelled with the stack
	VMs        []Current         // labelled with the stack
}

// Current is one VM of a stack as it is.
type Current struct {
	api.VM                    // with its NICs
	Rules  []api.FirewallRule // every firewall rule of the VM
}

// publicIPs are the addresses attached to the VM's NICs.
func (c *Current) publicIPs() []string {
	var out []string
	for _, n := range c.NICs {
		if n.PublicIP != "" {
			out = append(out, n.PublicIP)
		}
	}
	return out
}

// Action is what a change does to an object.
type Action string

// Actions, in the order plan shows their marks.
const (
	Create  Action = "create"
	Update  Action = "update"  // in place: size, firewall rules, public IP
	Replace Action = "replace" // deleted and made again: what cannot change in place
	Delete  Action = "delete"
)

// Kinds of object a stack holds.
const (
	KindNetwork = "network"
	KindVM      = "vm"
)

// Change is one step of a plan.
type Change struct {
	Action    Action   `json:"action"`
	Kind      string   `json:"kind"`
	Name      string   `json:"name"`
	Details   []string `json:"details,omitempty"`
	BootOrder int      `json:"boot_order,omitempty"`

	// What apply needs.
	network     *Network
	vm          *VM
	current     *Current
	resize      string             // new size
	addRules    []Rule             // rules to add
	removeRules []api.FirewallRule // rules to remove
	attachIP    bool               // allocate and attach a public IP
	releaseIPs  []string           // public IPs to release
}

// Mark is the sign plan shows before a change.
func (c Change) Mark() string {
	switch c.Action {
	case Create:
		return "+"
	case Update:
		return "~"
	case Replace:
		return "-/+"
	}
	return "-"
}

// String is the change as plan prints it.
func (c Change) String() string {
	s := c.Mark() + " " + c.Kind + " " + c.Name
	if len(c.Details) > 0 {
		s += ": " + strings.Join(c.Details, "; ")
	}
	return s
}

// Diff compares the stack s with what the cloud holds, st, and returns the
// changes that make the cloud match, in the order apply runs them: VMs
// going away, then networks going away, then networks coming, then VMs by
// boot order. It asks nothing of the cloud.
func Diff(s *Stack, st *State) []Change {
	var vmDeletes, netDeletes, netCreates, vmChanges []Change

	// Networks.
	haveNet := map[string]*api.Network{}
	for i := range st.Networks {
		haveNet[st.Networks[i].Name] = &st.Networks[i]
	}
	replacedNet := map[string]bool{}
	wantNet := map[string]bool{}
	for i := range s.Networks {
		n := &s.Networks[i]
		wantNet[n.Name] = true
		cur, ok := haveNet[n.Name]
		if !ok {
			netCreates = append(netCreates, Change{Action: Create, Kind: KindNetwork, Name: n.Name, Details: []string{n.CIDR}, network: n})
			continue
		}
		var why []string
		if !samePrefix(cur.CIDR, n.CIDR) {
			why = append(why, fmt.Sprintf("cidr %s -> %s", cur.CIDR, n.CIDR))
		}
		if st.VDC != "" && cur.VDC != st.VDC {
			why = append(why, fmt.Sprintf("vdc %s -> %s", cur.VDC, st.VDC))
		}
		if len(why) > 0 {
			replacedNet[n.Name] = true
			netCreates = append(netCreates, Change{Action: Replace, Kind: KindNetwork, Name: n.Name, Details: why, network: n})
		}
	}
	for _, cur := range st.Networks {
		if !wantNet[cur.Name] {
			netDeletes = append(netDeletes, Change{Action: Delete, Kind: KindNetwork, Name: cur.Name, Details: []string{cur.CIDR}})
		}
	}

	// VMs.
	haveVM := map[string]*Current{}
	for i := range st.VMs {
		haveVM[st.VMs[i].Name] = &st.VMs[i]
	}
	wantVM := map[string]bool{}
	for i := range s.VMs {
		v := &s.VMs[i]
		wantVM[v.Name] = true
		cur, ok := haveVM[v.Name]
		if !ok {
			vmChanges = append(vmChanges, Change{Action: Create, Kind: KindVM, Name: v.Name, Details: describeVM(v),
				BootOrder: v.BootOrder, vm: v})
			continue
		}
		if why := replaceReasons(v, cur, st, replacedNet); len(why) > 0 {
			vmChanges = append(vmChanges, Change{Action: Replace, Kind: KindVM, Name: v.Name, Details: why,
				BootOrder: v.BootOrder, vm: v, current: cur})
			continue
		}
		ch := Change{Action: Update, Kind: KindVM, Name: v.Name, BootOrder: v.BootOrder, vm: v, current: cur}
		if v.Size != cur.Size {
			ch.resize = v.Size
			how := "resize"
			if cur.PowerState == api.PowerRunning {
				how = "stop, resize, start"
			}
			ch.Details = append(ch.Details, fmt.Sprintf("size %s -> %s (%s)", cur.Size, v.Size, how))
		}
		ips := cur.publicIPs()
		switch {
		case v.PublicIP && len(ips) == 0:
			ch.attachIP = true
			ch.Details = append(ch.Details, "attach a public IP")
		case !v.PublicIP && len(ips) > 0:
			ch.releaseIPs = ips
			ch.Details = append(ch.Details, "release public IP "+strings.Join(ips, ", "))
		}
		ch.addRules, ch.removeRules = diffRules(v.Firewall, cur.Rules)
		for _, r := range ch.addRules {
			ch.Details = append(ch.Details, "firewall +"+r.String())
		}
		for _, r := range ch.removeRules {
			ch.Details = append(ch.Details, "firewall -"+currentRule(r))
		}
		if len(ch.Details) > 0 {
			vmChanges = append(vmChanges, ch)
		}
	}
	for i := range st.VMs {
		cur := &st.VMs[i]
		if !wantVM[cur.Name] {
			vmDeletes = append(vmDeletes, Change{Action: Delete, Kind: KindVM, Name: cur.Name, current: cur})
		}
	}

	byName := func(a, b Change) int { return cmp.Compare(a.Name, b.Name) }
	slices.SortFunc(vmDeletes, byName)
	slices.SortFunc(netDeletes, byName)
	slices.SortFunc(netCreates, byName)
	slices.SortFunc(vmChanges, func(a, b Change) int {
		return cmp.Or(cmp.Compare(a.BootOrder, b.BootOrder), cmp.Compare(a.Name, b.Name))
	})
	return slices.Concat(vmDeletes, netDeletes, netCreates, vmChanges)
}

// replaceReasons are what differ between v and cur that only a new VM can
// change.
func replaceReasons(v *VM, cur *Current, st *State, replacedNet map[string]bool) []string {
	var why []string
	if id := st.Images[v.Image]; id != cur.Image {
		was := cur.Image
		if n := st.ImageNames[cur.Image]; n != "" {
			was = n
		}
		why = append(why, fmt.Sprintf("image %s -> %s", was, v.Image))
	}
	var nets []string
	for _, n := range cur.NICs {
		nets = append(nets, n.Network)
	}
	// Without networks in the file the VM takes the VDC's default one,
	// which is not the stack's to compare.
	if len(v.Networks) > 0 && !slices.Equal(nets, v.Networks) {
		why = append(why, fmt.Sprintf("networks [%s] -> [%s]", strings.Join(nets, ", "), strings.Join(v.Networks, ", ")))
	}
	for _, n := range v.Networks {
		if replacedNet[n] {
			why = append(why, "network "+n+" is replaced")
		}
	}
	if !slices.Equal(slicesCompact(cur.SSHKeys), slicesCompact(v.SSHKeys)) {
		why = append(why, "ssh_keys changed")
	}
	if cur.Labels[LabelUserData] != userDataDigest(v.UserData) {
		why = append(why, "user_data changed")
	}
	if st.VDC != "" && cur.VDC != st.VDC {
		why = append(why, fmt.Sprintf("vdc %s -> %s", cur.VDC, st.VDC))
	}
	return why
}

// diffRules returns the rules of want the VM lacks and the VM's rules not
// in want (any egress rule among them: the stack owns the VM's firewall).
func diffRules(want []Rule, have []api.FirewallRule) (add []Rule, remove []api.FirewallRule) {
	left := slices.Clone(have)
	for _, w := range want {
		n := w.normal()
		i := slices.IndexFunc(left, func(r api.FirewallRule) bool {
			return r.Direction == api.DirectionIngress && sameRule(n, r)
		})
		if i < 0 {
			add = append(add, n)
			continue
		}
		left = slices.Delete(left, i, i+1)
	}
	return add, left
}

// sameRule compares a normalised rule of the file with a rule of the VM.
func sameRule(n Rule, r api.FirewallRule) bool {
	to := r.PortTo
	if to == 0 {
		to = r.PortFrom
	}
	return n.Protocol == r.Protocol && n.Port == r.PortFrom && n.PortTo == to && samePrefix(n.CIDR, r.CIDR)
}

// currentRule shows a rule of the VM as Rule.String does.
func currentRule(r api.FirewallRule) string {
	s := Rule{Protocol: r.Protocol, Port: r.PortFrom, PortTo: r.PortTo, CIDR: r.CIDR}.String()
	if r.Direction == api.DirectionEgress {
		s = "egress " + strings.Replace(s, " from ", " to ", 1)
	}
	return s
}

// samePrefix compares two CIDRs as subnets, so 10.0.0.0/24 equals
// 10.0.0.1/24 as the server would store it.
func samePrefix(a, b string) bool {
	pa, errA := netip.ParsePrefix(a)
	pb, errB := netip.ParsePrefix(b)
	if errA != nil || errB != nil {
		return a == b
	}
	return pa.Masked() == pb.Masked()
}

// describeVM is what plan says about a VM it creates.
func describeVM(v *VM) []string {
	d := []string{"image " + v.Image, "size " + v.Size}
	if len(v.Networks) > 0 {
		d = append(d, "networks "+strings.Join(v.Networks, ", "))
	}
	if v.PublicIP {
		d = append(d, "public IP")
	}
	for _, r := range v.Firewall {
		d = append(d, "firewall +"+r.String())
	}
	if v.BootOrder != 0 {
		d = append(d, fmt.Sprintf("boot order %d", v.BootOrder))
	}
	return d
}

// Summary counts changes by action, e.g. "2 to create, 1 to update".
func Summary(changes []Change) string {
	n := map[Action]int{}
	for _, c := range changes {
		n[c.Action]++
	}
	return fmt.Sprintf("%d to create, %d to update, %d to replace, %d to delete", n[Create], n[Update], n[Replace], n[Delete])
}
