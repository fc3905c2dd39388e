// Package seed puts the first things into a new installation: the first
// provider admin, and, for `make run`, the demo provider of DESIGN "The
// story" (region au-syd in Australia, zone au-syd-1a, prices in AUD, a trial
// credit of A$50 for 30 days, a few sizes). Seeding only adds what is missing,
// so running it again keeps existing data and the provider's own edits.
package seed

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/internal/auth"
	"github.com/sirocco-cloud/sirocco/internal/store"
)

// DemoSizes are the demo catalog's sizes.
var DemoSizes = []store.Size{
	{Meta: store.Meta{ID: "s1.tiny"}, Description: "1 vCPU, 512 MiB", VCPU: 1, MemoryMiB: 512, DiskGiB: 5, PriceClass: "standard"},
	{Meta: store.Meta{ID: "s1.small"}, Description: "1 vCPU, 1 GiB", VCPU: 1, MemoryMiB: 1024, DiskGiB: 10, PriceClass: "standard"},
	{Meta: store.Meta{ID: "s1.medium"}, Description: "2 vCPU, 2 GiB", VCPU: 2, MemoryMiB: 2048, DiskGiB: 20, PriceClass: "standard"},
	{Meta: store.Meta{ID: "s1.large"}, Description: "4 vCPU, 8 GiB", VCPU: 4, MemoryMiB: 8192, DiskGiB: 40, PriceClass: "standard"},
	{Meta: store.Meta{ID: "m1.large"}, Description: "4 vCPU, 16 GiB, memory optimised", VCPU: 4, MemoryMiB: 16384, DiskGiB: 40, PriceClass: "memory"},
}

// Demo seeds the demo provider where it is missing.
func Demo(ctx context.Context, st *store.Store) error {
	return st.Tx(ctx, func(tx *store.Tx) error {
		p, err := tx.GetProvider(ctx)
		if err != nil {
			return err
		}
		if p.Version == 0 { // never saved: the provider has not set anything yet
			p.Name = "Sirocco Demo Cloud"
			p.Currency = "AUD"
			p.TrialAmount = "50.00"
			p.TrialDays = 30
			p.SignupEnabled = true
			p.Branding = store.Branding{DisplayName: "Sirocco Demo Cloud", PrimaryColor: "#0b5fff", AccentColor: "#ff8a00",
				SupportEmail: "support@sirocco.local"}
			if err := tx.PutProvider(ctx, p); err != nil {
				return err
			}
		}
		if _, err := tx.GetRegion(ctx, "au-syd"); errors.Is(err, store.ErrNotFound) {
			if err := tx.CreateRegion(ctx, &store.Region{Meta: store.Meta{ID: "au-syd"}, DisplayName: "Sydney", Jurisdiction: "AU"}); err != nil {
				return err
			}
		} else if err != nil {
			return err
		}
		if _, err := tx.GetZone(ctx, "au-syd-1a"); errors.Is(err, store.ErrNotFound) {
			if err := tx.CreateZone(ctx, &store.Zone{Meta: store.Meta{ID: "au-syd-1a"}, RegionID: "au-syd", DisplayName: "Sydney 1a"}); err != nil {
				return err
			}
		} else if err != nil {
			return err
		}
		for _, s := range DemoSizes {
			if _, err := tx.GetSize(ctx, s.ID); errors.Is(err, store.ErrNotFound) {
				if err := tx.CreateSize(ctx, &s); err != nil {
					return err
				}
			} else if err != nil {
				return err
			}
		}
		return demoPrices(ctx, tx)
	})
}

// DemoRates are the demo price plan of au-syd, in AUD per hour: an s1.small
// (1 vCPU, 1 GiB, 10 GiB disk) costs A$0.027 an hour while on.
const DemoRates = `{"vcpu_hour": "0.02", "memory_gib_hour": "0.005", "disk_gib_hour": {"standard": "0.0002"},
	"snapshot_gib_hour": "0.0001", "public_ip_hour": "0.005", "egress_gib": "0.09",
	"reservation_vcpu_month": "10", "reservation_memory_gib_month": "2.5", "allocation_guarantee_percent": "50"}`

// demoEpoch is when the demo prices take effect: before anything is used.
var demoEpoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// demoPrices gives au-syd a plan for each allocation model, unless it has
// plans already.
func demoPrices(ctx context.Context, tx *store.Tx) error {
	plans, err := tx.ListPricePlans(ctx)
	if err != nil {
		return err
	}
	for _, model := range []string{api.AllocationPAYG, api.AllocationAllocation, api.AllocationReservation} {
		if slices.ContainsFunc(plans, func(p store.PricePlan) bool { return p.RegionID == "au-syd" && p.Model == model }) {
			continue
		}
		p := &store.PricePlan{RegionID: "au-syd", Model: model, EffectiveFrom: demoEpoch, Currency: "AUD", Rates: DemoRates,
			Description: "Demo prices"}
		if err := tx.CreatePricePlan(ctx, p); err != nil {
			return err
		}
	}
	return nil
}

// Admin makes sure a provider admin exists. When none does, it creates one
// with email and a random password, which it returns with created = true.
func Admin(ctx context.Context, st *store.Store, email string) (password string, created bool, err error) {
	err = st.Tx(ctx, func(tx *store.Tx) error {
		n, err := tx.CountRoleBindings(ctx, "", api.RoleProviderAdmin)
		if err != nil || n > 0 {
			return err
		}
		b := make([]byte, 15)
		if _, err := rand.Read(b); err != nil {
			return err
		}
		password = base64.RawURLEncoding.EncodeToString(b)
		hash, err := auth.HashPassword(password)
		if err != nil {
			return err
		}
		u, err := tx.GetUserByEmail(ctx, email)
		switch {
		case errors.Is(err, store.ErrNotFound):
			u = &store.User{Email: email, Name: "Provider admin", PasswordHash: hash, EmailVerified: true}
			if err := tx.CreateUser(ctx, u); err != nil {
				return err
			}
		case err != nil:
			return err
		default:
			u.PasswordHash, u.EmailVerified = hash, true
			if err := tx.UpdateUser(ctx, u); err != nil {
				return err
			}
		}
		if err := tx.PutRoleBinding(ctx, &store.RoleBinding{UserID: u.ID, Role: api.RoleProviderAdmin}); err != nil {
			return err
		}
		created = true
		return tx.InsertAudit(ctx, &store.AuditEvent{ActorType: "system", Action: "user.bootstrap-admin", ResourceKind: "user",
			ResourceID: u.ID, Outcome: "success", Detail: "first provider admin " + email})
	})
	if err != nil {
		return "", false, fmt.Errorf("bootstrap admin: %w", err)
	}
	return password, created, nil
}
