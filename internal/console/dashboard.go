package console

import (
	"cmp"
	"errors"
	"net/http"
	"slices"

	"github.com/shopspring/decimal"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/client"
)

// dashboardRoutes registers the pages of this file.
func (c *Console) dashboardRoutes() {
	c.mux.Handle("GET /console/o/{org}/{$}", c.tenant(c.dashboard))
}

type dashData struct {
	Unverified bool
	// Balance is nil when the visitor's role may not read it.
	Balance *api.Balance
	// StateText says in plain words what the organisation's state means.
	StateText string
	// Expiring is the usable grant with credit left that lapses first.
	Expiring *api.CreditGrant
	// Forecast is this calendar month so far and by its end; nil when the
	// visitor's role may not read it.
	Forecast  *api.Forecast
	VMs       int
	VMStates  []stateCount
	PublicIPs int
	Networks  int
}

type stateCount struct {
	State string
	N     int
}

// stateTexts explain an organisation's billing state to its members.
var stateTexts = map[string]string{
	api.OrgActive: "All good: your resources run and you can create new ones.",
	api.OrgWarn:   "Your credit is running low. Add credit soon: when it runs out you can no longer create resources.",
	api.OrgGrace: "Your credit has run out. What runs keeps running for now, but you cannot create anything new. " +
		"Add credit before the grace period ends, or your VMs are powered off.",
	api.OrgSuspended: "Your organisation is suspended: VMs are powered off and public IPs detached; disks are kept. " +
		"Add credit or contact support to restore it.",
	api.OrgClosed: "This organisation is closed.",
}

func (c *Console) dashboard(v *visit) error {
	v.view.Area = "dashboard"
	ctx := v.r.Context()
	org := v.org.Org
	d := dashData{Unverified: !v.me.User.EmailVerified}

	// Billing pages may be closed to some roles: the dashboard then shows
	// the rest rather than nothing.
	bal, err := v.api.GetBalance(ctx, org)
	if err := allowForbidden(err); err != nil {
		return err
	}
	if bal != nil {
		d.Balance = bal
		d.StateText = stateTexts[bal.State]
		if bal.Override != "" {
			d.StateText += " Your provider set this state by hand."
		}
	}
	credits, err := v.api.ListCredits(ctx, org)
	if err := allowForbidden(err); err != nil {
		return err
	}
	if credits != nil {
		d.Expiring = soonestExpiring(credits.Items)
	}
	// The month so far and its forecast come from the API, which prices
	// what rating has not reached yet as the balance does.
	fc, err := v.api.Forecast(ctx, org)
	if err := allowForbidden(err); err != nil {
		return err
	}
	d.Forecast = fc

	vms, err := collect(v.api.AllVMs(ctx, org, client.VMListOptions{}))
	if err != nil {
		return err
	}
	d.VMs = len(vms)
	byState := map[string]int{}
	for _, vm := range vms {
		byState[vm.State]++
	}
	for s, n := range byState {
		d.VMStates = append(d.VMStates, stateCount{State: s, N: n})
	}
	slices.SortFunc(d.VMStates, func(a, b stateCount) int { return cmp.Or(b.N-a.N, cmp.Compare(a.State, b.State)) })
	ips, err := collect(v.api.AllPublicIPs(ctx, org, client.PublicIPListOptions{}))
	if err != nil {
		return err
	}
	nets, err := collect(v.api.AllNetworks(ctx, org, client.NetworkListOptions{}))
	if err != nil {
		return err
	}
	d.PublicIPs, d.Networks = len(ips), len(nets)
	return v.render("dash-home", d)
}

// allowForbidden lets a page go on without what the visitor's role may not
// read.
func allowForbidden(err error) error {
	if ae, ok := errors.AsType[*api.Error](err); ok && ae.Status == http.StatusForbidden {
		return nil
	}
	return err
}

// soonestExpiring is the usable grant with credit left that expires first.
func soonestExpiring(grants []api.CreditGrant) *api.CreditGrant {
	var best *api.CreditGrant
	for i := range grants {
		g := &grants[i]
		if !g.Usable || g.ExpiresAt == nil {
			continue
		}
		if left, err := decimal.NewFromString(g.Remaining); err != nil || !left.IsPositive() {
			continue
		}
		if best == nil || g.ExpiresAt.Before(*best.ExpiresAt) {
			best = g
		}
	}
	return best
}
