package notify_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/internal/billing/notify"
	"github.com/sirocco-cloud/sirocco/internal/mail"
	"github.com/sirocco-cloud/sirocco/internal/mail/mailtest"
	"github.com/sirocco-cloud/sirocco/internal/store"
)

func TestCrossed(t *testing.T) {
	d := decimal.RequireFromString
	for _, tt := range []struct {
		amount, spend string
		want          []int
	}{
		{"10", "4.99", nil},
		{"10", "5", []int{50}},
		{"10", "9.999999", []int{50, 80}},
		{"10", "10", []int{50, 80, 100}},
		{"10", "25", []int{50, 80, 100}},
		{"0", "25", nil}, // no amount, no percentage
	} {
		got := notify.Crossed(d(tt.amount), d(tt.spend), []int{50, 80, 100})
		if len(got) != len(tt.want) || (len(got) > 0 && got[len(got)-1] != tt.want[len(tt.want)-1]) {
			t.Errorf("Crossed(%s of %s) = %v, want %v", tt.spend, tt.amount, got, tt.want)
		}
	}
}

// spend adds a rated line of amount to an organisation (and VDC) in the
// hour starting at window.
func spend(t *testing.T, s *store.Store, org, vdc string, window time.Time, amount string) {
	t.Helper()
	ctx := context.Background()
	l := &store.RatedLine{ID: store.NewID(), OrgID: org, VDCID: vdc, ResourceKind: "vm", ResourceID: store.NewID(), Meter: "vcpu",
		WindowStart: window, WindowEnd: window.Add(time.Hour), Quantity: "1", Unit: "vcpu-hour", UnitPrice: amount, Amount: amount,
		Currency: "AUD", PlanID: "plan", InputHash: "h", RunID: "run", CreatedAt: window.Add(time.Hour)}
	if err := s.Tx(ctx, func(tx *store.Tx) error { _, err := tx.InsertRatedLine(ctx, l); return err }); err != nil {
		t.Fatal(err)
	}
}

func TestBudgetThresholdsFireOncePerMonth(t *testing.T) {
	engines(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		acme := createOrg(t, s, "acme")
		prov := store.DefaultProvider()
		prov.Name, prov.Currency = "Southern Cloud", "AUD"
		if err := s.Tx(ctx, func(tx *store.Tx) error { return tx.PutProvider(ctx, &prov) }); err != nil {
			t.Fatal(err)
		}
		vdc := store.NewID()
		whole := &store.Budget{OrgID: acme, Name: "monthly", Amount: "10", Thresholds: []int{50, 80, 100},
			Emails: []string{"finance@acme.test", "cto@acme.test"}}
		perVDC := &store.Budget{OrgID: acme, VDCID: vdc, Name: "prod", Amount: "100", Thresholds: []int{50}, Emails: []string{"prod@acme.test"}}
		err := s.Tx(ctx, func(tx *store.Tx) error {
			if err := tx.CreateBudget(ctx, whole); err != nil {
				return err
			}
			return tx.CreateBudget(ctx, perVDC)
		})
		if err != nil {
			t.Fatal(err)
		}
		hook := createWebhook(t, s, acme, "https://hooks.acme.test/in", api.EventBudgetThreshold)

		sink := mailtest.NewServer(t)
		sender, err := mail.NewSMTPSender(mail.SMTPConfig{Addr: sink.Addr(), From: "billing@cloud.test"})
		if err != nil {
			t.Fatal(err)
		}
		clk := newClock(t0)
		n := &notify.Notifier{Store: s, Mail: sender, Now: clk.Now}
		check := func(now time.Time) {
			t.Helper()
			clk.set(now)
			if err := n.CheckBudgets(ctx, now); err != nil {
				t.Fatalf("CheckBudgets at %s: %v", now, err)
			}
		}
		mails := func() int { return len(sink.Messages()) }
		may := notify.MonthStart(t0)

		spend(t, s, acme, "", may.Add(-time.Hour), "50") // April's spend does not count in May
		spend(t, s, acme, "", may, "4.99")
		check(t0)
		if mails() != 0 {
			t.Fatalf("alert below 50%%: %v", sink.Messages())
		}

		// 5.50 of 10: 50 % fires, to every address, once.
		spend(t, s, acme, "", may.Add(time.Hour), "0.51")
		check(t0.Add(time.Hour))
		m := sink.WaitFor(t, "finance@acme.test", 5*time.Second)
		sink.WaitFor(t, "cto@acme.test", 5*time.Second)
		if !strings.Contains(m.Subject, "monthly reached 50%") || !strings.Contains(m.Subject, "AUD 5.50 of AUD 10.00") ||
			!strings.Contains(m.Body, "Southern Cloud") || !strings.Contains(m.Body, "May 2028") {
			t.Errorf("alert mail %q:\n%s", m.Subject, m.Body)
		}
		check(t0.Add(2 * time.Hour))
		if mails() != 2 {
			t.Errorf("%d mails after checking again, want the 2 of the 50%% alert", mails())
		}

		// Straight past 80 and 100: one alert naming 100, and neither fires again.
		spend(t, s, acme, "", may.Add(2*time.Hour), "6")
		check(t0.Add(3 * time.Hour))
		m = sink.WaitFor(t, "finance@acme.test", 5*time.Second)
		sink.WaitFor(t, "cto@acme.test", 5*time.Second)
		if !strings.Contains(m.Subject, "reached 100%") {
			t.Errorf("second alert %q, want 100%%", m.Subject)
		}
		check(t0.Add(4 * time.Hour))
		if mails() != 4 {
			t.Errorf("%d mails, want 4", mails())
		}

		// The VDC budget counts only its VDC's lines: 11.50 of the
		// organisation is not 50 of 100.
		spend(t, s, acme, vdc, may.Add(3*time.Hour), "49.99")
		check(t0.Add(5 * time.Hour))
		if mails() != 4 {
			t.Errorf("VDC budget fired at 49.99 of 100")
		}
		spend(t, s, acme, vdc, may.Add(4*time.Hour), "0.01")
		check(t0.Add(6 * time.Hour))
		if m := sink.WaitFor(t, "prod@acme.test", 5*time.Second); !strings.Contains(m.Body, "VDC "+vdc) {
			t.Errorf("VDC alert body:\n%s", m.Body)
		}

		// June starts over: nothing until June's own spend crosses 50 %.
		june := may.AddDate(0, 1, 0)
		check(june.Add(time.Hour))
		if mails() != 5 {
			t.Errorf("%d mails at the start of June, want 5", mails())
		}
		spend(t, s, acme, "", june, "5")
		check(june.Add(2 * time.Hour))
		if m := sink.WaitFor(t, "finance@acme.test", 5*time.Second); !strings.Contains(m.Subject, "reached 50%") || !strings.Contains(m.Body, "June 2028") {
			t.Errorf("June alert %q", m.Subject)
		}

		// Each alert raised one budget.threshold event: 50 and 100 in May,
		// the VDC's 50, 50 in June.
		var got []string
		for _, d := range deliveries(t, s, hook.ID) {
			var ev struct {
				Data api.BudgetThresholdData `json:"data"`
			}
			if err := json.Unmarshal([]byte(d.Payload), &ev); err != nil {
				t.Fatal(err)
			}
			got = append(got, ev.Data.Name+"@"+ev.Data.PeriodStart.Format("01")+":"+itoa(ev.Data.Threshold)+"="+ev.Data.Spent)
		}
		want := []string{"monthly@05:50=5.5", "monthly@05:100=11.5", "prod@05:50=50", "monthly@06:50=5"}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("events %v, want %v", got, want)
		}
	})
}

func itoa(n int) string { return decimal.NewFromInt(int64(n)).String() }
