// Package stack is a declarative multi-VM application: a YAML file naming
// networks and VMs (with public addresses, firewall rules and a boot order)
// that plan compares with what the cloud holds and apply makes true, like a
// vCloud vApp. Every object a stack makes carries the label stack=<name>, so
// the cloud itself is the state: there is no state file to lose.
package stack

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"regexp"
	"slices"

	"sigs.k8s.io/yaml"
)

// Labels a stack puts on what it owns.
const (
	// LabelStack names the stack an object belongs to.
	LabelStack = "stack"
	// LabelUserData holds a digest of a VM's user-data, which the API does
	// not show back, so a change to it can still be seen.
	LabelUserData = "stack-user-data"
)

// Stack is a stack file.
type Stack struct {
	Name     string    `json:"name"`
	VDC      string    `json:"vdc,omitempty"`
	Networks []Network `json:"networks,omitempty"`
	VMs      []VM      `json:"vms"`
}

// Network is a network of the stack.
type Network struct {
	Name string `json:"name"`
	CIDR string `json:"cidr"`
}

// VM is a VM of the stack.
type VM struct {
	Name     string   `json:"name"`
	Image    string   `json:"image"`
	Size     string   `json:"size"`
	Networks []string `json:"networks,omitempty"`
	PublicIP bool     `json:"public_ip,omitempty"`
	SSHKeys  []string `json:"ssh_keys,omitempty"`
	UserData string   `json:"user_data,omitempty"`
	Firewall []Rule   `json:"firewall,omitempty"`
	// BootOrder starts VMs with a lower order first; VMs of one order
	// start together.
	BootOrder int `json:"boot_order,omitempty"`
}

// Rule allows ingress traffic to a VM.
type Rule struct {
	Protocol string `json:"protocol,omitempty"` // tcp (default), udp, icmp or any
	Port     int    `json:"port,omitempty"`     // none: every port
	PortTo   int    `json:"port_to,omitempty"`  // end of a range; default Port
	CIDR     string `json:"cidr,omitempty"`     // default 0.0.0.0/0
}

// normal fills a rule's defaults so that two rules meaning the same compare
// equal.
func (r Rule) normal() Rule {
	if r.Protocol == "" {
		r.Protocol = "tcp"
	}
	if r.CIDR == "" {
		r.CIDR = "0.0.0.0/0"
	}
	if r.Protocol != "tcp" && r.Protocol != "udp" {
		r.Port, r.PortTo = 0, 0
	}
	if r.PortTo == 0 {
		r.PortTo = r.Port
	}
	return r
}

// String shows a rule as plan prints it, e.g. tcp/443 from 0.0.0.0/0.
func (r Rule) String() string {
	r = r.normal()
	ports := ""
	switch {
	case r.Port == 0:
	case r.PortTo == r.Port:
		ports = fmt.Sprintf("/%d", r.Port)
	default:
		ports = fmt.Sprintf("/%d-%d", r.Port, r.PortTo)
	}
	return r.Protocol + ports + " from " + r.CIDR
}

// userDataDigest is what LabelUserData holds for user-data ud.
func userDataDigest(ud string) string {
	if ud == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(ud))
	return hex.EncodeToString(sum[:8])
}

// Load reads and checks a stack file.
func Load(path string) (*Stack, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	s, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// Parse reads a stack from YAML (or JSON) and checks it. Unknown fields are
// mistakes, not extensions: a misspelt public_ip would otherwise silently
// mean false.
func Parse(b []byte) (*Stack, error) {
	var s Stack
	if err := yaml.UnmarshalStrict(b, &s); err != nil {
		return nil, err
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return &s, nil
}

var nameRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$`)

// ValidName reports whether name can name a stack.
func ValidName(name string) bool { return nameRE.MatchString(name) }

// Validate checks what can be checked without asking the cloud.
func (s *Stack) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if !ValidName(s.Name) {
		bad("name %q: want 1-40 lower-case letters, digits and dashes", s.Name)
	}
	nets := map[string]bool{}
	for i, n := range s.Networks {
		if n.Name == "" {
			bad("networks[%d]: name is required", i)
		} else if nets[n.Name] {
			bad("network %s: named twice", n.Name)
		}
		nets[n.Name] = true
		if _, err := netip.ParsePrefix(n.CIDR); err != nil {
			bad("network %s: cidr %q: want an IPv4 subnet such as 10.0.0.0/24", n.Name, n.CIDR)
		}
	}
	if len(s.VMs) == 0 {
		bad("no vms")
	}
	vms := map[string]bool{}
	for i, v := range s.VMs {
		if v.Name == "" {
			bad("vms[%d]: name is required", i)
		} else if vms[v.Name] {
			bad("vm %s: named twice", v.Name)
		}
		vms[v.Name] = true
		if v.Image == "" || v.Size == "" {
			bad("vm %s: image and size are required", v.Name)
		}
		for _, n := range v.Networks {
			if !nets[n] {
				bad("vm %s: network %q is not one of the stack's networks", v.Name, n)
			}
		}
		if len(v.Networks) != len(slicesCompact(v.Networks)) {
			bad("vm %s: a network is listed twice", v.Name)
		}
		if v.PublicIP && len(v.Networks) == 0 && len(s.Networks) > 0 {
			bad("vm %s: a public IP needs a network: list one under networks", v.Name)
		}
		for _, r := range v.Firewall {
			n := r.normal()
			switch n.Protocol {
			case "tcp", "udp", "icmp", "any":
			default:
				bad("vm %s: firewall rule %s: protocol %q: want tcp, udp, icmp or any", v.Name, r, r.Protocol)
			}
			if n.Port < 0 || n.Port > 65535 || n.PortTo < n.Port || n.PortTo > 65535 {
				bad("vm %s: firewall rule %s: ports must be 1-65535, port_to not below port", v.Name, r)
			}
			if _, err := netip.ParsePrefix(n.CIDR); err != nil {
				bad("vm %s: firewall rule %s: cidr %q is not a subnet", v.Name, r, r.CIDR)
			}
		}
		if v.BootOrder < 0 {
			bad("vm %s: boot_order cannot be negative", v.Name)
		}
	}
	return errors.Join(errs...)
}

// slicesCompact returns the distinct values of s.
func slicesCompact(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return slices.Compact(c)
}
