package cli

import (
	"testing"
	"time"
)

func TestMoney(t *testing.T) {
	tests := []struct {
		amount, currency, want string
	}{
		{"0.027", "AUD", "A$0.03"},
		{"19.71", "AUD", "A$19.71"},
		{"0.005", "AUD", "A$0.01"},   // half-up
		{"0.00499", "AUD", "A$0.00"}, // below half
		{"3.685", "USD", "US$3.69"},
		{"47.9595833", "EUR", "€47.96"},
		{"1234.5", "JPY", "¥1235"}, // no minor unit
		{"-2.345", "AUD", "-A$2.35"},
		{"-0.001", "AUD", "A$0.00"}, // no negative zero
		{"12", "CHF", "12.00 CHF"},
		{"", "AUD", ""},
		{"n/a", "AUD", "n/a AUD"},
	}
	for _, tt := range tests {
		if got := money(tt.amount, tt.currency); got != tt.want {
			t.Errorf("money(%q, %q) = %q, want %q", tt.amount, tt.currency, got, tt.want)
		}
	}
}

func TestParseExpiry(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Time
		bad  bool
	}{
		{in: "30d", want: time.Date(2026, 12, 30, 12, 0, 0, 0, time.UTC)},
		{in: "12h", want: now.Add(12 * time.Hour)},
		{in: "2027-01-01", want: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)},
		{in: "2027-01-01T09:30:00+10:00", want: time.Date(2026, 12, 31, 23, 30, 0, 0, time.UTC)},
		{in: "-5h", bad: true},
		{in: "0d", bad: true},
		{in: "next week", bad: true},
	}
	for _, tt := range tests {
		got, err := parseExpiry("expires", tt.in, now)
		if tt.bad {
			if err == nil {
				t.Errorf("parseExpiry(%q) = %v, want an error", tt.in, got)
			}
			continue
		}
		if err != nil || !got.Equal(tt.want) {
			t.Errorf("parseExpiry(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}
