package console

import (
	"fmt"
	"html/template"
	"strings"
	"time"

	"github.com/shopspring/decimal"
)

// funcs are the helpers every template may call.
var funcs = template.FuncMap{
	"money":    money,
	"date":     func(t time.Time) string { return fmtTime(t, "2 Jan 2006") },
	"datetime": func(t time.Time) string { return fmtTime(t, "2 Jan 2006 15:04 UTC") },
	"ago":      ago,
	"mib":      func(m int64) string { return fmtMiB(m) },
	"join":     strings.Join,
	"state":    stateClass,
	"add":      func(a, b int) int { return a + b },
	"deref": func(p *time.Time) time.Time {
		if p == nil {
			return time.Time{}
		}
		return *p
	},
	"brandName": func(v *view) string {
		if v.Provider.Branding.DisplayName != "" {
			return v.Provider.Branding.DisplayName
		}
		return v.Provider.Name
	},
	"field": func(v *view, name string) string { return v.Fields[name] },
	"value": func(v *view, name string) string { return v.Form.Get(name) },
	"checked": func(v *view, name, want string) bool {
		for _, got := range v.Form[name] {
			if got == want {
				return true
			}
		}
		return false
	},
}

// money shows an exact decimal amount rounded half-up to cents, with the
// currency code: rounding happens only for display.
func money(amount, currency string) string {
	d, err := decimal.NewFromString(amount)
	if err != nil {
		return amount + " " + currency
	}
	return d.Round(2).StringFixed(2) + " " + currency
}

func fmtTime(t time.Time, layout string) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format(layout)
}

// ago says how long before now t was; templates pass the page's .Now.
func ago(now, t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	d := now.Sub(t)
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return fmt.Sprintf("%d min ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h ago", int(d.Hours()))
	}
	return fmt.Sprintf("%d days ago", int(d.Hours()/24))
}

func fmtMiB(m int64) string {
	if m >= 1024 && m%1024 == 0 {
		return fmt.Sprintf("%d GiB", m/1024)
	}
	if m >= 1024 {
		return fmt.Sprintf("%.1f GiB", float64(m)/1024)
	}
	return fmt.Sprintf("%d MiB", m)
}

// stateClass is the CSS class of a state badge.
func stateClass(s string) string {
	switch s {
	case "running", "active", "ready", "attached", "paid", "finalized", "succeeded", "available":
		return "ok"
	case "error", "failed", "suspended", "down", "closed", "void":
		return "bad"
	case "warn", "grace", "draining", "stopping", "starting", "creating", "pending", "running-op", "draft", "deleting":
		return "warn"
	}
	return "neutral"
}
