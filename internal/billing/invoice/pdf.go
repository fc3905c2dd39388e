package invoice

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"
	"unicode"

	"github.com/johnfercher/maroto/v2"
	"github.com/johnfercher/maroto/v2/pkg/components/col"
	"github.com/johnfercher/maroto/v2/pkg/components/row"
	"github.com/johnfercher/maroto/v2/pkg/components/text"
	"github.com/johnfercher/maroto/v2/pkg/config"
	"github.com/johnfercher/maroto/v2/pkg/consts/align"
	"github.com/johnfercher/maroto/v2/pkg/consts/fontstyle"
	"github.com/johnfercher/maroto/v2/pkg/core"
	"github.com/johnfercher/maroto/v2/pkg/props"
	"github.com/johnfercher/maroto/v2/pkg/repository"

	"github.com/sirocco-cloud/sirocco/internal/store"
)

// pdfFont and pdfCJKFont are the family names the embedded TrueType fonts
// are registered as.
const (
	pdfFont    = "invoice-font"
	pdfCJKFont = "invoice-cjk"
)

// onlyCJK reports whether s is written in Chinese, Japanese or Korean
// alone (spaces aside): the CJK font draws those, and DejaVu does not; the
// CJK font has no Latin letters or digits, so a text mixing both scripts
// stays with DejaVu (its CJK characters then show as missing glyphs).
func onlyCJK(s string) bool {
	cjk := false
	for _, r := range s {
		switch {
		case unicode.IsSpace(r):
		case unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Hangul) || r >= 0x3000 && r <= 0x303f || r >= 0xff00 && r <= 0xffef:
			cjk = true
		default:
			return false
		}
	}
	return cjk
}

func (iv *Invoicer) PDF(ctx context.Context, orgID, id string) ([]byte, error) {
	var inv *store.Invoice
	var prov *store.Provider
	var org *store.Org
	err := iv.Store.View(ctx, func(tx *store.Tx) (err error) {
		if inv, err = tx.GetInvoice(ctx, orgID, id); err != nil {
			return err
		}
		if org, err = tx.GetOrg(ctx, inv.OrgID); err != nil {
			return err
		}
		prov, err = tx.GetProvider(ctx)
		return err
	})
	if err != nil {
		return nil, err
	}
	return iv.render(inv, prov, org)
}

func (iv *Invoicer) render(inv *store.Invoice, prov *store.Provider, org *store.Org) ([]byte, error) {
	path := iv.FontPath
	if path == "" {
		path = DefaultFontPath
	}
	font, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("invoice font: %w", err)
	}
	// The bold face beside it (DejaVuSans-Bold.ttf) when there is one;
	// otherwise headings use the regular face.
	boldFont := font
	if b, err := os.ReadFile(strings.TrimSuffix(path, ".ttf") + "-Bold.ttf"); err == nil {
		boldFont = b
	}
	repo := repository.New().
		AddUTF8FontFromBytes(pdfFont, fontstyle.Normal, font).
		AddUTF8FontFromBytes(pdfFont, fontstyle.Bold, boldFont).
		AddUTF8FontFromBytes(pdfFont, fontstyle.Italic, font).
		AddUTF8FontFromBytes(pdfFont, fontstyle.BoldItalic, boldFont)
	// A name in Chinese, Japanese or Korean is drawn with the CJK font
	// (one family per text: the PDF library has no per-glyph fallback).
	family := func(string) string { return pdfFont }
	cjkPath := iv.CJKFontPath
	if cjkPath == "" {
		cjkPath = DefaultCJKFontPath
	}
	needed := onlyCJK(prov.Name) || onlyCJK(prov.Branding.DisplayName) || onlyCJK(org.Name) || onlyCJK(org.DisplayName)
	for _, l := range inv.Lines {
		needed = needed || onlyCJK(l.Description)
	}
	if cjk, err := os.ReadFile(cjkPath); err == nil && needed {
		for _, st := range []fontstyle.Type{fontstyle.Normal, fontstyle.Bold, fontstyle.Italic, fontstyle.BoldItalic} {
			repo = repo.AddUTF8FontFromBytes(pdfCJKFont, st, cjk)
		}
		family = func(s string) string {
			if onlyCJK(s) {
				return pdfCJKFont
			}
			return pdfFont
		}
	}
	fonts, err := repo.Load()
	if err != nil {
		return nil, fmt.Errorf("invoice font: %w", err)
	}
	issuer := prov.Name
	if prov.Branding.DisplayName != "" {
		issuer = prov.Branding.DisplayName
	}
	title := "Invoice"
	if inv.Kind == store.InvoiceKindCreditNote {
		title = "Credit note"
	}
	number := "DRAFT"
	if inv.Number != nil {
		number = fmt.Sprintf("%d", *inv.Number)
	}
	orgName := org.DisplayName
	if orgName == "" {
		orgName = org.Name
	}
	// A fixed creation date keeps the file a function of the invoice: the
	// same invoice renders to the same bytes.
	created := inv.CreatedAt
	if inv.FinalizedAt != nil {
		created = *inv.FinalizedAt
	}
	cfg := config.NewBuilder().
		WithCustomFonts(fonts).
		WithDefaultFont(&props.Font{Family: pdfFont, Size: 9}).
		WithLeftMargin(15).WithRightMargin(15).WithTopMargin(15).
		WithCreationDate(created).
		WithTitle(fmt.Sprintf("%s %s", title, number), true).
		WithAuthor(issuer, true).
		WithPageNumber().
		Build()
	m := maroto.New(cfg)

	bold := props.Text{Style: fontstyle.Bold}
	right := props.Text{Align: align.Right}
	boldRight := props.Text{Style: fontstyle.Bold, Align: align.Right}
	m.AddRows(
		text.NewRow(10, issuer, props.Text{Size: 16, Style: fontstyle.Bold, Family: family(issuer)}),
		text.NewRow(8, fmt.Sprintf("%s %s", title, number), props.Text{Size: 13}),
	)
	if prov.Branding.SupportEmail != "" || prov.Branding.SupportURL != "" {
		m.AddRows(text.NewRow(5, joinNonEmpty(prov.Branding.SupportEmail, prov.Branding.SupportURL), props.Text{Size: 8}))
	}
	m.AddRows(
		kvf("Billed to", orgName, family(orgName)),
		kv("Organisation ID", org.ID),
		kv("Period", fmt.Sprintf("%s to %s (UTC)", inv.PeriodStart.UTC().Format(time.DateOnly),
			inv.PeriodEnd.UTC().Add(-time.Second).Format(time.DateOnly))),
		kv("State", inv.State),
	)
	if inv.FinalizedAt != nil {
		m.AddRows(kv("Issued", inv.FinalizedAt.UTC().Format(time.DateOnly)))
	}
	if inv.Corrects != "" {
		m.AddRows(kv("Corrects invoice", inv.Corrects))
	}
	m.AddRows(row.New(6))
	m.AddRow(7,
		text.NewCol(6, "Description", bold),
		text.NewCol(2, "Quantity", boldRight),
		text.NewCol(2, "Unit price", boldRight),
		text.NewCol(2, "Amount ("+inv.Currency+")", boldRight),
	)
	for _, l := range inv.Lines {
		m.AddRow(6,
			text.NewCol(6, l.Description, props.Text{Family: family(l.Description)}),
			text.NewCol(2, l.Quantity+" "+l.Unit, right),
			text.NewCol(2, l.UnitPrice, right),
			text.NewCol(2, l.Amount, right),
		)
	}
	m.AddRows(row.New(4))
	total := func(label, amount string, p props.Text) core.Row {
		return row.New(6).Add(col.New(6), text.NewCol(4, label, p), text.NewCol(2, amount, p))
	}
	m.AddRows(
		total("Subtotal", inv.Subtotal, right),
		total("Credits applied", "-"+inv.Credits, right),
		total("Total due ("+inv.Currency+")", inv.Total, boldRight),
	)
	doc, err := m.Generate()
	if err != nil {
		return nil, fmt.Errorf("render invoice %s: %w", inv.ID, err)
	}
	return doc.GetBytes(), nil
}

func kv(k, v string) core.Row { return kvf(k, v, pdfFont) }

// kvf is a label and a value drawn with font family.
func kvf(k, v, family string) core.Row {
	return row.New(5).Add(text.NewCol(3, k, props.Text{Style: fontstyle.Bold}), text.NewCol(9, v, props.Text{Family: family}))
}

func joinNonEmpty(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + " · " + b
}
