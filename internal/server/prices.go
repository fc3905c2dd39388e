package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/shopspring/decimal"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/internal/billing/rating"
	"github.com/sirocco-cloud/sirocco/internal/store"
)

// pricePlanOf converts a stored plan. The stored rates are JSON of decimal
// strings under the wire's names, so they decode straight into the wire
// type.
func pricePlanOf(p *store.PricePlan, inForce bool) api.PricePlan {
	out := api.PricePlan{Meta: metaOf(p.Meta), Region: p.RegionID, AllocationModel: p.Model, EffectiveFrom: p.EffectiveFrom,
		Currency: p.Currency, Description: p.Description, InForce: inForce}
	_ = json.Unmarshal([]byte(p.Rates), &out.Rates) // written by parseRates: valid
	return out
}

func priceOverrideOf(o *store.PriceOverride, inForce bool) api.PriceOverride {
	out := api.PriceOverride{Meta: metaOf(o.Meta), Org: o.OrgID, EffectiveFrom: o.EffectiveFrom, DiscountPercent: o.DiscountPercent,
		Note: o.Note, InForce: inForce}
	_ = json.Unmarshal([]byte(o.Rates), &out.Rates)
	return out
}

// parseRates checks wire rates with rating's rules and returns their
// canonical JSON (every price present, as a decimal string).
func parseRates(in api.PriceRates) (rating.Rates, string, error) {
	b, err := json.Marshal(in)
	if err != nil {
		return rating.Rates{}, "", err
	}
	r, err := rating.ParseRates(b)
	if err != nil {
		return rating.Rates{}, "", fieldError("body.rates", "", "%v", err)
	}
	out, err := json.Marshal(r)
	return r, string(out), err
}

func parseOverrideRates(in api.PriceOverrideRates) (string, error) {
	b, err := json.Marshal(in)
	if err != nil {
		return "", err
	}
	r, err := rating.ParsePartialRates(b)
	if err != nil {
		return "", fieldError("body.rates", "", "%v", err)
	}
	out, err := json.Marshal(r)
	return string(out), err
}

// effectiveFrom is when a new plan or override starts: now when absent,
// never in the past. A price applied to usage already rated would make the
// same hour cost two amounts, so changes only ever take effect ahead.
func (s *Server) effectiveFrom(from *time.Time) (time.Time, error) {
	now := s.cfg.Now().UTC()
	if from == nil {
		return now, nil
	}
	// A minute's grace for clocks a little apart.
	if from.Before(now.Add(-time.Minute)) {
		return time.Time{}, fieldError("body.effective_from", from.Format(time.RFC3339),
			"effective_from %s is in the past: prices are not retroactive; give a time from now on", from.UTC().Format(time.RFC3339))
	}
	return from.UTC(), nil
}

type (
	pricePlanListIn struct {
		Region string `query:"region" maxLength:"100" doc:"Only plans of this region"`
		Model  string `query:"allocation_model" enum:"payg,allocation,reservation," doc:"Only plans of this allocation model"`
	}
	priceOverridePath struct {
		Org string `path:"org" maxLength:"200" doc:"Organisation ID or name"`
		ID  string `path:"id" maxLength:"200"`
	}
	priceOverrideCreateIn struct {
		Org  string `path:"org" maxLength:"200" doc:"Organisation ID or name"`
		Body api.PriceOverrideCreate
	}
	quoteIn struct {
		Org  string `path:"org" maxLength:"200" doc:"Organisation ID or name"`
		Body api.QuoteRequest
	}
	quoteOut struct {
		Body api.Quote
	}
)

func (s *Server) priceRoutes() {
	tags := []string{"Prices"}

	register(s, huma.Operation{OperationID: "list-price-plans", Method: http.MethodGet, Path: "/api/v1/price-plans", Summary: "List price plans",
		Description: "Every plan, past, in force and announced, by region, allocation model and effective date. Prices are public: any signed-in user may read them.",
		Tags:        tags},
		func(ctx context.Context, in *pricePlanListIn) (*listOut[api.PricePlan], error) {
			if _, err := principal(ctx); err != nil {
				return nil, err
			}
			var rows []store.PricePlan
			err := s.store.View(ctx, func(tx *store.Tx) (err error) {
				rows, err = tx.ListPricePlans(ctx)
				return err
			})
			if err != nil {
				return nil, err
			}
			current := plansInForce(rows, s.cfg.Now())
			out := &api.List[api.PricePlan]{Items: []api.PricePlan{}}
			for i := range rows {
				p := &rows[i]
				if (in.Region != "" && p.RegionID != in.Region) || (in.Model != "" && p.Model != in.Model) {
					continue
				}
				out.Items = append(out.Items, pricePlanOf(p, current[p.ID]))
			}
			return &listOut[api.PricePlan]{Body: out}, nil
		})

	register(s, huma.Operation{OperationID: "get-price-plan", Method: http.MethodGet, Path: "/api/v1/price-plans/{id}", Summary: "Get a price plan", Tags: tags},
		func(ctx context.Context, in *idPath) (*bodyOut[api.PricePlan], error) {
			if _, err := principal(ctx); err != nil {
				return nil, err
			}
			var p *store.PricePlan
			var inForce bool
			err := s.store.View(ctx, func(tx *store.Tx) error {
				var err error
				if p, err = tx.GetPricePlan(ctx, in.ID); err != nil {
					return notFoundOr(err, "price plan", in.ID)
				}
				cur, err := tx.PricePlanAt(ctx, p.RegionID, p.Model, s.cfg.Now())
				inForce = err == nil && cur.ID == p.ID
				if errors.Is(err, store.ErrNotFound) {
					err = nil
				}
				return err
			})
			if err != nil {
				return nil, err
			}
			return &bodyOut[api.PricePlan]{ETag: etag(p.Version), Body: pricePlanOf(p, inForce)}, nil
		})

	register(s, huma.Operation{OperationID: "create-price-plan", Method: http.MethodPost, Path: "/api/v1/price-plans", Summary: "Create a price plan",
		Description: "Provider admins only. A plan applies to its region and allocation model from effective_from (now when absent, " +
			"never in the past) until the next plan. Plans are not edited: to change prices, add a plan from a later date. " +
			"The currency must be the provider's (422 otherwise).",
		Tags: tags, DefaultStatus: http.StatusCreated},
		func(ctx context.Context, in *struct{ Body api.PricePlanCreate }) (*createdOut[api.PricePlan], error) {
			if _, err := requireProviderAdmin(ctx); err != nil {
				return nil, err
			}
			b := in.Body
			from, err := s.effectiveFrom(b.EffectiveFrom)
			if err != nil {
				return nil, err
			}
			_, rates, err := parseRates(b.Rates)
			if err != nil {
				return nil, err
			}
			model := b.AllocationModel
			if model == "" {
				model = api.AllocationPAYG
			}
			p := &store.PricePlan{RegionID: b.Region, Model: model, EffectiveFrom: from, Currency: b.Currency, Rates: rates, Description: b.Description}
			err = s.store.Tx(ctx, func(tx *store.Tx) error {
				prov, err := tx.GetProvider(ctx)
				if err != nil {
					return err
				}
				if p.Currency == "" {
					p.Currency = prov.Currency
				}
				if p.Currency != prov.Currency {
					return fieldError("body.currency", p.Currency, "the provider bills in %s: a plan in %s could not be charged", prov.Currency, p.Currency)
				}
				if _, err := tx.GetRegion(ctx, p.RegionID); errors.Is(err, store.ErrNotFound) {
					return fieldError("body.region", p.RegionID, "region %q does not exist (GET /api/v1/regions lists them)", p.RegionID)
				} else if err != nil {
					return err
				}
				if err := tx.CreatePricePlan(ctx, p); err != nil {
					return conflictOr(err, api.CodeAlreadyExists, "region %s already has a %s plan from %s", p.RegionID, model, from.Format(time.RFC3339))
				}
				return s.audit(ctx, tx, "price-plan.create", "price-plan", p.ID, "",
					fmt.Sprintf("%s %s from %s in %s", p.RegionID, model, from.Format(time.RFC3339), p.Currency))
			})
			if err != nil {
				return nil, err
			}
			inForce := !p.EffectiveFrom.After(s.cfg.Now())
			return &createdOut[api.PricePlan]{Location: "/api/v1/price-plans/" + p.ID, ETag: etag(p.Version), Body: pricePlanOf(p, inForce)}, nil
		})

	register(s, huma.Operation{OperationID: "delete-price-plan", Method: http.MethodDelete, Path: "/api/v1/price-plans/{id}", Summary: "Delete a price plan",
		Description: "Provider admins only, and only a plan not yet in force (409 otherwise: usage was rated by it, and history is not rewritten).",
		Tags:        tags, DefaultStatus: http.StatusNoContent},
		func(ctx context.Context, in *idPath) (*emptyOut, error) {
			if _, err := requireProviderAdmin(ctx); err != nil {
				return nil, err
			}
			err := s.store.Tx(ctx, func(tx *store.Tx) error {
				if err := tx.DeletePricePlan(ctx, in.ID); err != nil {
					return conflictOr(notFoundOr(err, "price plan", in.ID), api.CodeConflict,
						"price plan %s is or was in force: usage was rated by it; to change prices, add a plan from a later date", in.ID)
				}
				return s.audit(ctx, tx, "price-plan.delete", "price-plan", in.ID, "", "")
			})
			return nil, err
		})

	register(s, huma.Operation{OperationID: "list-price-overrides", Method: http.MethodGet, Path: "/api/v1/orgs/{org}/price-overrides",
		Summary: "List an organisation's price overrides", Description: "Provider roles only.", Tags: tags},
		func(ctx context.Context, in *struct {
			Org string `path:"org" maxLength:"200" doc:"Organisation ID or name"`
		}) (*listOut[api.PriceOverride], error) {
			p, err := requireProviderRead(ctx)
			if err != nil {
				return nil, err
			}
			var rows []store.PriceOverride
			var current string
			err = s.store.View(ctx, func(tx *store.Tx) error {
				o, err := s.orgFor(ctx, tx, p, in.Org, canRead)
				if err != nil {
					return err
				}
				if rows, err = tx.ListPriceOverrides(ctx, o.ID); err != nil {
					return err
				}
				cur, err := tx.PriceOverrideAt(ctx, o.ID, s.cfg.Now())
				if err == nil {
					current = cur.ID
				}
				if errors.Is(err, store.ErrNotFound) {
					err = nil
				}
				return err
			})
			if err != nil {
				return nil, err
			}
			out := &api.List[api.PriceOverride]{Items: make([]api.PriceOverride, 0, len(rows))}
			for i := range rows {
				out.Items = append(out.Items, priceOverrideOf(&rows[i], rows[i].ID == current))
			}
			return &listOut[api.PriceOverride]{Body: out}, nil
		})

	register(s, huma.Operation{OperationID: "create-price-override", Method: http.MethodPost, Path: "/api/v1/orgs/{org}/price-overrides",
		Summary: "Give an organisation negotiated prices",
		Description: "Provider admins only. From effective_from (now when absent, never in the past) the override's rates replace the plans' " +
			"in every region and its discount comes off every charge, until the organisation's next override.",
		Tags: tags, DefaultStatus: http.StatusCreated},
		func(ctx context.Context, in *priceOverrideCreateIn) (*createdOut[api.PriceOverride], error) {
			p, err := requireProviderAdmin(ctx)
			if err != nil {
				return nil, err
			}
			b := in.Body
			from, err := s.effectiveFrom(b.EffectiveFrom)
			if err != nil {
				return nil, err
			}
			rates, err := parseOverrideRates(b.Rates)
			if err != nil {
				return nil, err
			}
			pct := decimal.Zero
			if b.DiscountPercent != "" {
				if pct, err = decimal.NewFromString(b.DiscountPercent); err != nil {
					return nil, fieldError("body.discount_percent", b.DiscountPercent, "not a decimal number")
				}
			}
			if err := rating.ValidateDiscount(pct); err != nil {
				return nil, fieldError("body.discount_percent", b.DiscountPercent, "%v", err)
			}
			ov := &store.PriceOverride{EffectiveFrom: from, DiscountPercent: pct.String(), Rates: rates, Note: b.Note}
			err = s.store.Tx(ctx, func(tx *store.Tx) error {
				o, err := s.orgFor(ctx, tx, p, in.Org, canRead)
				if err != nil {
					return err
				}
				ov.OrgID = o.ID
				if err := tx.CreatePriceOverride(ctx, ov); err != nil {
					return conflictOr(err, api.CodeAlreadyExists, "organisation %q already has an override from %s", o.Name, from.Format(time.RFC3339))
				}
				return s.audit(ctx, tx, "price-override.create", "price-override", ov.ID, o.ID,
					fmt.Sprintf("from %s, %s%% off", from.Format(time.RFC3339), ov.DiscountPercent))
			})
			if err != nil {
				return nil, err
			}
			return &createdOut[api.PriceOverride]{Location: "/api/v1/orgs/" + ov.OrgID + "/price-overrides/" + ov.ID, ETag: etag(ov.Version),
				Body: priceOverrideOf(ov, false)}, nil
		})

	register(s, huma.Operation{OperationID: "delete-price-override", Method: http.MethodDelete, Path: "/api/v1/orgs/{org}/price-overrides/{id}",
		Summary: "Delete a price override", Description: "Provider admins only, and only an override not yet in force (409 otherwise; add a later one to end it).",
		Tags: tags, DefaultStatus: http.StatusNoContent},
		func(ctx context.Context, in *priceOverridePath) (*emptyOut, error) {
			p, err := requireProviderAdmin(ctx)
			if err != nil {
				return nil, err
			}
			err = s.store.Tx(ctx, func(tx *store.Tx) error {
				o, err := s.orgFor(ctx, tx, p, in.Org, canRead)
				if err != nil {
					return err
				}
				if err := tx.DeletePriceOverride(ctx, o.ID, in.ID); err != nil {
					return conflictOr(notFoundOr(err, "price override", in.ID), api.CodeConflict,
						"price override %s is or was in force: usage was rated by it; to end it, add an override from a later date", in.ID)
				}
				return s.audit(ctx, tx, "price-override.delete", "price-override", in.ID, o.ID, "")
			})
			return nil, err
		})

	register(s, huma.Operation{OperationID: "get-quote", Method: http.MethodPost, Path: "/api/v1/orgs/{org}/quote", Summary: "Price something before creating it",
		Description: "The price per hour and per 730-hour month of a VM (by size, or vCPU, memory and disk), a disk or public IPs in a VDC, " +
			"under the plan in force now for the VDC's region and allocation model and the organisation's own prices. Changes nothing.",
		Tags: tags},
		func(ctx context.Context, in *quoteIn) (*quoteOut, error) {
			p, err := principal(ctx)
			if err != nil {
				return nil, err
			}
			var q *api.Quote
			err = s.store.View(ctx, func(tx *store.Tx) error {
				o, err := s.orgFor(ctx, tx, p, in.Org, canRead)
				if err != nil {
					return err
				}
				q, err = s.quote(ctx, tx, o, in.Body)
				return err
			})
			if err != nil {
				return nil, err
			}
			return &quoteOut{Body: *q}, nil
		})
}

// plansInForce marks, for each region and model, the plan in force at now.
func plansInForce(plans []store.PricePlan, now time.Time) map[string]bool {
	best := map[[2]string]*store.PricePlan{}
	for i := range plans {
		p := &plans[i]
		if p.EffectiveFrom.After(now) {
			continue
		}
		k := [2]string{p.RegionID, p.Model}
		if b := best[k]; b == nil || p.EffectiveFrom.After(b.EffectiveFrom) {
			best[k] = p
		}
	}
	out := map[string]bool{}
	for _, p := range best {
		out[p.ID] = true
	}
	return out
}

// quote prices req for organisation o with rating.Quote, with a line per
// meter so the caller sees what each costs.
func (s *Server) quote(ctx context.Context, tx *store.Tx, o *store.Org, req api.QuoteRequest) (*api.Quote, error) {
	vdc, err := s.vdcForCreate(ctx, tx, o, req.VDC)
	if err != nil {
		return nil, err
	}
	var vcpu int
	var mem, disk int64
	if req.Size != "" {
		z, err := tx.GetSize(ctx, req.Size)
		if errors.Is(err, store.ErrNotFound) {
			return nil, fieldError("body.size", req.Size, "size %q does not exist (GET /api/v1/sizes lists them)", req.Size)
		}
		if err != nil {
			return nil, err
		}
		vcpu, mem, disk = z.VCPU, z.MemoryMiB, z.DiskGiB
	}
	if req.VCPU != nil {
		vcpu = *req.VCPU
	}
	if req.MemoryMiB != nil {
		mem = *req.MemoryMiB
	}
	if req.DiskGiB != nil {
		disk = *req.DiskGiB
	}
	class := req.DiskClass
	if class == "" {
		class = rating.DefaultDiskClass
	}
	now := s.cfg.Now()
	plan, err := tx.PricePlanAt(ctx, vdc.RegionID, vdc.AllocationModel, now)
	if errors.Is(err, store.ErrNotFound) {
		return nil, api.Errorf(http.StatusConflict, api.CodeConflict,
			"no price plan is in force for %s VDCs in region %s: the provider has not priced them yet", vdc.AllocationModel, vdc.RegionID)
	}
	if err != nil {
		return nil, err
	}
	rates, err := rating.ParseRates([]byte(plan.Rates))
	if err != nil {
		return nil, fmt.Errorf("price plan %s: %w", plan.ID, err)
	}
	factor := decimal.NewFromInt(1)
	out := &api.Quote{Currency: plan.Currency, HoursPerMonth: rating.QuoteHoursPerMonth, Plan: plan.ID, Region: vdc.RegionID,
		AllocationModel: vdc.AllocationModel, Lines: []api.QuoteLine{}}
	switch ov, err := tx.PriceOverrideAt(ctx, o.ID, now); {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return nil, err
	default:
		ro, err := overrideOf(ov)
		if err != nil {
			return nil, err
		}
		rates, factor = ro.Apply(rates), ro.Factor()
		if !ro.DiscountPercent.IsZero() {
			out.DiscountPercent = ro.DiscountPercent.String()
		}
	}

	switch vdc.AllocationModel {
	case api.AllocationReservation:
		out.Note = fmt.Sprintf("compute in reservation VDC %s is covered by its monthly price; disks and public IPs are charged on top", vdc.Name)
		vcpu, mem = 0, 0
	case api.AllocationAllocation:
		out.Note = fmt.Sprintf("vCPU and memory within the %s%% of VDC %s's quotas already guaranteed cost nothing more; this is the price of use above it",
			rates.AllocationGuaranteePercent, vdc.Name)
	}
	add := func(meter string, qty, perUnitHour decimal.Decimal) {
		if qty.IsZero() {
			return
		}
		unit := perUnitHour.Mul(factor)
		out.Lines = append(out.Lines, api.QuoteLine{Meter: meter, Quantity: qty.String(), UnitPrice: unit.String(), PerHour: qty.Mul(unit).String()})
	}
	add(rating.MeterVCPU, decimal.NewFromInt(int64(vcpu)), rates.VCPUHour)
	add(rating.MeterMemory, decimal.NewFromInt(mem).Mul(decimal.New(9765625, -10)), rates.MemoryGiBHour) // MiB / 1024, exact
	add(rating.MeterDisk, decimal.NewFromInt(disk), rates.Disk(class))
	add(rating.MeterPublicIP, decimal.NewFromInt(int64(req.PublicIPs)), rates.PublicIPHour)
	// The total is rating's own quote, which the lines add up to exactly.
	perHour, _ := rating.Quote(rates, vcpu, mem, disk, class, req.PublicIPs)
	total := perHour.Mul(factor)
	perMonth := total.Mul(decimal.NewFromInt(rating.QuoteHoursPerMonth))
	out.PerHour, out.PerMonth = total.String(), perMonth.String()
	out.PerMonthDisplay = rating.Round(perMonth, plan.Currency).StringFixed(rating.MinorUnits(plan.Currency))
	return out, nil
}

// overrideOf reads a stored override for rating.
func overrideOf(o *store.PriceOverride) (rating.Override, error) {
	pct, err := decimal.NewFromString(o.DiscountPercent)
	if err != nil {
		return rating.Override{}, fmt.Errorf("price override %s: discount: %w", o.ID, err)
	}
	r, err := rating.ParsePartialRates([]byte(o.Rates))
	if err != nil {
		return rating.Override{}, fmt.Errorf("price override %s: %w", o.ID, err)
	}
	return rating.Override{OrgID: o.OrgID, EffectiveFrom: o.EffectiveFrom, DiscountPercent: pct, Rates: r}, nil
}
