package server

import (
	"bytes"
	"context"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/internal/store"
)

// invoiceEnv registers the invoice routes when routes() does not yet.
func invoiceEnv(e *env) {
	if e.srv.OpenAPI().Paths["/api/v1/invoices/run"] == nil {
		e.srv.invoiceRoutes()
	}
}

// rateAndPost stores a rated line for org and charges it to the ledger
// (owed, no credit), as the rating and posting loops would.
func rateAndPost(t *testing.T, e *env, orgID, res string, window time.Time, qty, price, amount string) {
	t.Helper()
	ctx := context.Background()
	err := e.store.Tx(ctx, func(tx *store.Tx) error {
		l := &store.RatedLine{ID: store.NewID(), OrgID: orgID, ResourceKind: "vm", ResourceID: res, ResourceName: res, Meter: "vcpu",
			WindowStart: window, WindowEnd: window.Add(time.Hour), Quantity: qty, Unit: "vcpu-hour", UnitPrice: price, Amount: amount,
			Currency: "USD", PlanID: "plan", InputHash: store.NewID(), RunID: "run"}
		if _, err := tx.InsertRatedLine(ctx, l); err != nil {
			return err
		}
		txn, _, err := tx.PostLedgerTxn(ctx, &store.LedgerTxn{OrgID: orgID, Kind: "usage", IdempotencyKey: "usage:" + l.ID,
			Entries: []store.LedgerEntry{{Account: store.AccountRevenue, Amount: "-" + amount, Currency: "USD"},
				{Account: store.ReceivableAccount(orgID), Amount: amount, Currency: "USD"}}})
		if err != nil {
			return err
		}
		return tx.MarkRatedLinesPosted(ctx, []string{l.ID}, txn)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestInvoiceRoutes(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		invoiceEnv(e)
		admin := e.providerAdmin()
		acme, acmeTok := e.tenant("acme", store.Residency{})
		_, otherTok := e.tenant("other", store.Residency{})
		oct := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
		rateAndPost(t, e, acme.ID, "vm-1", oct.Add(3*time.Hour), "27.5", "0.067", "1.8425")
		rateAndPost(t, e, acme.ID, "vm-1", oct.Add(50*time.Hour), "27.5", "0.067", "1.8425")

		// Only the provider runs invoicing, and only for a month that is over.
		e.do("POST", "/api/v1/invoices/run", acmeTok, map[string]string{"period": "2026-10"}).must(t, http.StatusForbidden)
		e.do("POST", "/api/v1/invoices/run", admin, map[string]string{"period": "2999-01"}).must(t, http.StatusUnprocessableEntity)
		var run api.InvoiceRunResult
		e.do("POST", "/api/v1/invoices/run", admin, map[string]string{"period": "2026-10"}).must(t, http.StatusOK).decode(t, &run)
		if len(run.Invoices) != 1 || run.Invoices[0].Total != "3.69" || *run.Invoices[0].Number != 1 {
			t.Fatalf("run %+v", run)
		}
		id := run.Invoices[0].ID
		base := "/api/v1/orgs/acme/invoices/"

		var list api.List[api.Invoice]
		e.do("GET", "/api/v1/orgs/acme/invoices", acmeTok, nil).must(t, http.StatusOK).decode(t, &list)
		if len(list.Items) != 1 || list.Items[0].ID != id {
			t.Fatalf("list %+v", list)
		}
		var inv api.Invoice
		e.do("GET", base+id, acmeTok, nil).must(t, http.StatusOK).decode(t, &inv)
		if len(inv.Lines) != 1 || inv.Lines[0].Amount != "3.69" || inv.Lines[0].Quantity != "55" || inv.State != "finalized" {
			t.Fatalf("invoice %+v", inv)
		}
		// Another tenant sees neither the organisation nor the invoice.
		e.do("GET", base+id, otherTok, nil).must(t, http.StatusNotFound)
		e.do("GET", "/api/v1/orgs/other/invoices/"+id, otherTok, nil).must(t, http.StatusNotFound)

		csv := e.do("GET", base+id+"/csv", acmeTok, nil).must(t, http.StatusOK)
		if !strings.HasPrefix(csv.Header.Get("Content-Type"), "text/csv") || !strings.Contains(string(csv.Body), ",3.69,USD") {
			t.Fatalf("CSV %s: %s", csv.Header.Get("Content-Type"), csv.Body)
		}
		pdf := e.do("GET", base+id+"/pdf", acmeTok, nil).must(t, http.StatusOK)
		if pdf.Header.Get("Content-Type") != "application/pdf" || !bytes.HasPrefix(pdf.Body, []byte("%PDF")) {
			t.Fatalf("PDF %s", pdf.Header.Get("Content-Type"))
		}
		cmd := exec.Command("pdftotext", "-", "-")
		cmd.Stdin = bytes.NewReader(pdf.Body)
		if out, err := cmd.Output(); err != nil || !strings.Contains(string(out), "3.69") {
			t.Fatalf("PDF text %s %v", out, err)
		}

		var usage api.Usage
		e.do("GET", "/api/v1/orgs/acme/usage?from=2026-10-01&to=2026-11-01&group=day", acmeTok, nil).must(t, http.StatusOK).decode(t, &usage)
		if len(usage.Items) != 2 || usage.Items[0].Key != "2026-10-01" || usage.Items[0].Amount != "1.8425" || usage.Items[0].AmountRounded != "1.84" {
			t.Fatalf("usage %+v", usage)
		}
		u := e.do("GET", "/api/v1/orgs/acme/usage.csv?from=2026-10-01&to=2026-11-01", acmeTok, nil).must(t, http.StatusOK)
		if strings.Count(string(u.Body), "\n") != 3 {
			t.Fatalf("usage CSV %s", u.Body)
		}
		f := e.do("GET", "/api/v1/orgs/acme/costs.focus.csv?from=2026-10-01&to=2026-11-01", acmeTok, nil).must(t, http.StatusOK)
		if !strings.HasPrefix(string(f.Body), "BilledCost,EffectiveCost,ListCost,ContractedCost,BillingCurrency") {
			t.Fatalf("FOCUS %s", f.Body)
		}

		// Corrections: tenants may not; the provider credits, within limits.
		e.do("POST", base+id+"/credit-notes", acmeTok, map[string]string{"amount": "1.00", "reason": "x"}).must(t, http.StatusForbidden)
		e.do("POST", base+id+"/credit-notes", admin, map[string]string{"amount": "3.70", "reason": "too much"}).must(t, http.StatusUnprocessableEntity)
		var note api.Invoice
		e.do("POST", base+id+"/credit-notes", admin, map[string]string{"amount": "1.00", "reason": "outage"}).must(t, http.StatusCreated).decode(t, &note)
		if note.Kind != "credit_note" || note.Corrects != id || *note.Number != 2 || note.Total != "1.00" {
			t.Fatalf("credit note %+v", note)
		}
		e.do("POST", base+id+"/pay", acmeTok, nil).must(t, http.StatusForbidden)
		var paid api.Invoice
		e.do("POST", base+id+"/pay", admin, nil).must(t, http.StatusOK).decode(t, &paid)
		if paid.State != "paid" || paid.PaidAt == nil {
			t.Fatalf("paid %+v", paid)
		}
		e.do("POST", base+id+"/void", admin, nil).must(t, http.StatusConflict)
	})
}
