package server

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"

	"github.com/danielgtaylor/huma/v2"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/internal/store"
)

// maxRulesPerVM bounds a VM's rule set: each rule is nftables work on every
// packet through its tap.
const maxRulesPerVM = 100

func ruleOf(r *store.FirewallRule) api.FirewallRule {
	return api.FirewallRule{ID: r.ID, VM: r.VMID, Direction: r.Direction, Protocol: r.Protocol, PortFrom: r.PortFrom, PortTo: r.PortTo,
		CIDR: r.CIDR, Description: r.Description, CreatedAt: r.CreatedAt}
}

type (
	rulesPath struct {
		Org string `path:"org" maxLength:"200" doc:"Organisation ID or name"`
		VM  string `path:"vm" maxLength:"200" doc:"VM ID or name"`
	}
	rulePath struct {
		Org  string `path:"org" maxLength:"200" doc:"Organisation ID or name"`
		VM   string `path:"vm" maxLength:"200" doc:"VM ID or name"`
		Rule string `path:"rule" maxLength:"200" doc:"Rule ID"`
	}
	ruleCreateIn struct {
		Org  string `path:"org" maxLength:"200" doc:"Organisation ID or name"`
		VM   string `path:"vm" maxLength:"200" doc:"VM ID or name"`
		Body api.FirewallRuleCreate
	}
	rulesOut struct {
		Body *api.List[api.FirewallRule]
	}
	ruleOut struct {
		Body api.FirewallRule
	}
	ruleCreatedOut struct {
		Location string `header:"Location"`
		Body     api.FirewallRule
	}
)

func (s *Server) firewallRoutes() {
	tags := []string{"Firewall"}
	const base = "/api/v1/orgs/{org}/vms/{vm}/firewall-rules"

	register(s, huma.Operation{OperationID: "list-firewall-rules", Method: http.MethodGet, Path: base, Summary: "List a VM's firewall rules",
		Description: "All of them, oldest first.", Tags: tags},
		func(ctx context.Context, in *rulesPath) (*rulesOut, error) {
			var rows []store.FirewallRule
			err := s.inVM(ctx, in.Org, in.VM, canRead, func(tx *store.Tx, _ *store.Org, vm *store.VM) (err error) {
				rows, err = tx.ListFirewallRules(ctx, vm.ID)
				return err
			})
			if err != nil {
				return nil, err
			}
			return &rulesOut{Body: listOf(rows, "", ruleOf)}, nil
		})

	register(s, huma.Operation{OperationID: "get-firewall-rule", Method: http.MethodGet, Path: base + "/{rule}", Summary: "Get a firewall rule", Tags: tags},
		func(ctx context.Context, in *rulePath) (*ruleOut, error) {
			var r *store.FirewallRule
			err := s.inVM(ctx, in.Org, in.VM, canRead, func(tx *store.Tx, _ *store.Org, vm *store.VM) (err error) {
				r, err = tx.GetFirewallRule(ctx, vm.ID, in.Rule)
				return notFoundOr(err, "firewall rule", in.Rule)
			})
			if err != nil {
				return nil, err
			}
			return &ruleOut{Body: ruleOf(r)}, nil
		})

	register(s, huma.Operation{OperationID: "create-firewall-rule", Method: http.MethodPost, Path: base, Summary: "Add a firewall rule",
		Description: "Needs the org-member role or higher. Ingress from outside the VM's networks is dropped unless a rule allows it; " +
			"once a VM has an egress rule, it may only send what egress rules allow. Ports apply to tcp and udp; port_to defaults to " +
			"port_from; no ports means all. The VM's host applies the rule within seconds.",
		Tags: tags, DefaultStatus: http.StatusCreated},
		func(ctx context.Context, in *ruleCreateIn) (*ruleCreatedOut, error) {
			r, err := parseRule(in.Body)
			if err != nil {
				return nil, err
			}
			var host string
			err = s.inVM(ctx, in.Org, in.VM, canWrite, func(tx *store.Tx, o *store.Org, vm *store.VM) error {
				if vm.Power == store.PowerDeleted {
					return api.Errorf(http.StatusConflict, api.CodeConflict, "VM %q is being deleted", vm.Name)
				}
				have, err := tx.ListFirewallRules(ctx, vm.ID)
				if err != nil {
					return err
				}
				if len(have) >= maxRulesPerVM {
					return api.Errorf(http.StatusConflict, api.CodeConflict, "VM %q has %d rules, the most allowed: merge or delete some", vm.Name, len(have))
				}
				r.ID, r.OrgID, r.VMID = "", o.ID, vm.ID
				if err := tx.CreateFirewallRule(ctx, r); err != nil {
					return err
				}
				if err := tx.BumpHostGeneration(ctx, vm.HostID); err != nil {
					return err
				}
				host = vm.HostID
				return s.audit(ctx, tx, "firewall-rule.create", "firewall-rule", r.ID, o.ID, fmt.Sprintf("VM %s: %s", vm.Name, describeRule(r)))
			})
			if err != nil {
				return nil, err
			}
			s.hub.kickHost(host)
			return &ruleCreatedOut{Location: "/api/v1/orgs/" + r.OrgID + "/vms/" + r.VMID + "/firewall-rules/" + r.ID, Body: ruleOf(r)}, nil
		})

	register(s, huma.Operation{OperationID: "delete-firewall-rule", Method: http.MethodDelete, Path: base + "/{rule}", Summary: "Delete a firewall rule",
		Description: "Needs the org-member role or higher.", Tags: tags, DefaultStatus: http.StatusNoContent},
		func(ctx context.Context, in *rulePath) (*emptyOut, error) {
			var host string
			err := s.inVM(ctx, in.Org, in.VM, canWrite, func(tx *store.Tx, o *store.Org, vm *store.VM) error {
				r, err := tx.GetFirewallRule(ctx, vm.ID, in.Rule)
				if err != nil {
					return notFoundOr(err, "firewall rule", in.Rule)
				}
				if err := tx.DeleteFirewallRule(ctx, r.ID); err != nil {
					return err
				}
				if err := tx.BumpHostGeneration(ctx, vm.HostID); err != nil {
					return err
				}
				host = vm.HostID
				return s.audit(ctx, tx, "firewall-rule.delete", "firewall-rule", r.ID, o.ID, fmt.Sprintf("VM %s: %s", vm.Name, describeRule(r)))
			})
			if err == nil {
				s.hub.kickHost(host)
			}
			return nil, err
		})
}

// inVM runs fn on a VM of an organisation the caller may access with need,
// in a read transaction for canRead and a write one otherwise. An
// organisation or VM the caller cannot see is 404.
func (s *Server) inVM(ctx context.Context, orgRef, vmRef string, need access, fn func(tx *store.Tx, o *store.Org, vm *store.VM) error) error {
	p, err := principal(ctx)
	if err != nil {
		return err
	}
	run := s.store.Tx
	if need == canRead {
		run = s.store.View
	}
	return run(ctx, func(tx *store.Tx) error {
		o, err := s.orgFor(ctx, tx, p, orgRef, need)
		if err != nil {
			return err
		}
		vm, err := tx.GetVM(ctx, o.ID, vmRef)
		if err != nil {
			return notFoundOr(err, "VM", vmRef)
		}
		return fn(tx, o, vm)
	})
}

// parseRule validates a rule: ports only for tcp and udp, a sane range, an
// IPv4 CIDR written as its network address.
func parseRule(b api.FirewallRuleCreate) (*store.FirewallRule, error) {
	r := &store.FirewallRule{Direction: b.Direction, Protocol: b.Protocol, PortFrom: b.PortFrom, PortTo: b.PortTo,
		CIDR: b.CIDR, Description: b.Description}
	switch r.Protocol {
	case "tcp", "udp":
		if r.PortTo == 0 {
			r.PortTo = r.PortFrom
		}
		if r.PortFrom == 0 && r.PortTo != 0 {
			return nil, fieldError("body.port_from", "0", "give port_from with port_to")
		}
		if r.PortFrom > r.PortTo {
			return nil, fieldError("body.port_to", fmt.Sprint(b.PortTo), "port_to %d is below port_from %d", r.PortTo, r.PortFrom)
		}
	default:
		if r.PortFrom != 0 || r.PortTo != 0 {
			return nil, fieldError("body.port_from", fmt.Sprint(b.PortFrom), "ports apply to tcp and udp only, not %s", r.Protocol)
		}
	}
	if r.CIDR == "" {
		r.CIDR = "0.0.0.0/0"
	}
	pfx, err := netip.ParsePrefix(r.CIDR)
	if err != nil {
		// A bare address means that one host.
		if a, aerr := netip.ParseAddr(r.CIDR); aerr == nil && a.Is4() {
			pfx, err = netip.PrefixFrom(a, 32), nil
		}
	}
	if err != nil || !pfx.Addr().Is4() {
		return nil, fieldError("body.cidr", b.CIDR, "%q is not an IPv4 CIDR such as 198.51.100.0/24", b.CIDR)
	}
	if pfx.Masked() != pfx {
		return nil, fieldError("body.cidr", b.CIDR, "%q has host bits set: did you mean %s?", b.CIDR, pfx.Masked())
	}
	r.CIDR = pfx.String()
	return r, nil
}

// describeRule says what a rule allows, for the audit log.
func describeRule(r *store.FirewallRule) string {
	ports := ""
	switch {
	case r.PortFrom != 0 && r.PortFrom == r.PortTo:
		ports = fmt.Sprintf(" port %d", r.PortFrom)
	case r.PortFrom != 0:
		ports = fmt.Sprintf(" ports %d-%d", r.PortFrom, r.PortTo)
	}
	dir := "from"
	if r.Direction == store.DirectionEgress {
		dir = "to"
	}
	return fmt.Sprintf("allow %s %s%s %s %s", r.Direction, r.Protocol, ports, dir, r.CIDR)
}
