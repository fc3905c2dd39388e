package mail_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/sirocco-cloud/sirocco/internal/mail"
	"github.com/sirocco-cloud/sirocco/internal/mail/mailtest"
)

func TestSMTPSenderDelivers(t *testing.T) {
	srv := mailtest.NewServer(t)
	s, err := mail.NewSMTPSender(mail.SMTPConfig{Addr: srv.Addr(), From: "Sirocco <noreply@cloud.example>"})
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name   string
		msg    mail.Message
		wantTo string
	}{
		{
			name:   "plain",
			msg:    mail.Message{To: "ann@example.com", Subject: "Welcome", Body: "Hello Ann.\n"},
			wantTo: "ann@example.com",
		},
		{
			name:   "display name",
			msg:    mail.Message{To: "Bob Jones <bob@example.com>", Subject: "Invoice", Body: "Attached."},
			wantTo: "bob@example.com",
		},
		{
			name: "unicode subject and body",
			msg: mail.Message{To: "chloe@example.com", Subject: "Crédit d'essai: A$50 ✓",
				Body: "Bonjour Chloé,\nvotre crédit expire le 30 juin.\n"},
			wantTo: "chloe@example.com",
		},
		{
			name: "dots and long lines",
			msg: mail.Message{To: "dan@example.com", Subject: "Dots",
				Body: ".\n..\n.leading dot\n" + strings.Repeat("x", 500) + "\nend\n"},
			wantTo: "dan@example.com",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			if err := s.Send(ctx, tt.msg); err != nil {
				t.Fatalf("Send: %v", err)
			}
			got := srv.WaitFor(t, tt.wantTo, 10*time.Second)
			if got.From != "noreply@cloud.example" {
				t.Errorf("envelope from = %q, want %q", got.From, "noreply@cloud.example")
			}
			if len(got.To) != 1 || got.To[0] != tt.wantTo {
				t.Errorf("envelope to = %q, want [%q]", got.To, tt.wantTo)
			}
			if got.Subject != tt.msg.Subject {
				t.Errorf("subject = %q, want %q", got.Subject, tt.msg.Subject)
			}
			// SMTP ends DATA with a line break, so every body arrives with one.
			wantBody := tt.msg.Body
			if !strings.HasSuffix(wantBody, "\n") {
				wantBody += "\n"
			}
			if got.Body != wantBody {
				t.Errorf("body = %q, want %q", got.Body, wantBody)
			}
			if got.Username != "" {
				t.Errorf("username = %q, want none", got.Username)
			}
			for _, h := range []string{"From", "To", "Date", "Message-Id"} {
				if got.Header.Get(h) == "" {
					t.Errorf("header %s missing", h)
				}
			}
		})
	}
	if n := len(srv.Messages()); n != len(tests) {
		t.Errorf("server holds %d messages, want %d", n, len(tests))
	}
}

func TestSMTPSenderAuthenticatesOnLoopback(t *testing.T) {
	srv := mailtest.NewServer(t)
	s, err := mail.NewSMTPSender(mail.SMTPConfig{
		Addr: srv.Addr(), From: "noreply@cloud.example", Username: "relay-user", Password: "secret",
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(t.Context(), mail.Message{To: "ann@example.com", Subject: "hi", Body: "hi"}); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if got := srv.WaitFor(t, "ann@example.com", 10*time.Second).Username; got != "relay-user" {
		t.Errorf("authenticated as %q, want %q", got, "relay-user")
	}
}

// A server that accepts connections but never greets must not hang Send
// past the caller's deadline.
func TestSMTPSenderHonoursContext(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close() // hold the connection open, silently
		}
	}()

	s, err := mail.NewSMTPSender(mail.SMTPConfig{Addr: ln.Addr().String(), From: "noreply@cloud.example"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = s.Send(ctx, mail.Message{To: "ann@example.com", Subject: "hi", Body: "hi"})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Send error = %v, want context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Send returned after %s, want about 200ms", d)
	}
}

func TestSMTPSenderRejectsBadMessage(t *testing.T) {
	srv := mailtest.NewServer(t)
	s, err := mail.NewSMTPSender(mail.SMTPConfig{Addr: srv.Addr(), From: "noreply@cloud.example"})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Send(t.Context(), mail.Message{To: "ann@example.com", Subject: "hi\r\nBcc: eve@example.com"})
	if err == nil {
		t.Fatal("Send accepted a subject with a line break")
	}
	if n := len(srv.Messages()); n != 0 {
		t.Errorf("server received %d messages, want 0", n)
	}
}

func TestSMTPConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		cfg     mail.SMTPConfig
		wantErr bool
	}{
		{"minimal", mail.SMTPConfig{Addr: "smtp.example.com:587", From: "noreply@example.com"}, false},
		{"with name and auth", mail.SMTPConfig{Addr: "[::1]:25", From: "Sirocco <noreply@example.com>", Username: "u", Password: "p"}, false},
		{"no port", mail.SMTPConfig{Addr: "smtp.example.com", From: "noreply@example.com"}, true},
		{"empty host", mail.SMTPConfig{Addr: ":25", From: "noreply@example.com"}, true},
		{"no from", mail.SMTPConfig{Addr: "smtp.example.com:25"}, true},
		{"bad from", mail.SMTPConfig{Addr: "smtp.example.com:25", From: "not an address"}, true},
		{"from with newline", mail.SMTPConfig{Addr: "smtp.example.com:25", From: "a@example.com\r\nBcc: x@example.com"}, true},
		{"password without user", mail.SMTPConfig{Addr: "smtp.example.com:25", From: "a@example.com", Password: "p"}, true},
		{"negative timeout", mail.SMTPConfig{Addr: "smtp.example.com:25", From: "a@example.com", Timeout: -time.Second}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if (err != nil) != tt.wantErr {
				t.Errorf("Validate() = %v, want error: %v", err, tt.wantErr)
			}
			if _, err := mail.NewSMTPSender(tt.cfg); (err != nil) != tt.wantErr {
				t.Errorf("NewSMTPSender() error = %v, want error: %v", err, tt.wantErr)
			}
		})
	}
}

func TestMessageValidate(t *testing.T) {
	tests := []struct {
		name    string
		msg     mail.Message
		wantErr bool
	}{
		{"ok", mail.Message{To: "ann@example.com", Subject: "s", Body: "b"}, false},
		{"ok with name", mail.Message{To: `"Ann, Smith" <ann@example.com>`}, false},
		{"no recipient", mail.Message{Subject: "s"}, true},
		{"bad recipient", mail.Message{To: "ann"}, true},
		{"two recipients", mail.Message{To: "ann@example.com, bob@example.com"}, true},
		{"recipient injection", mail.Message{To: "ann@example.com\nBcc: eve@example.com"}, true},
		{"subject injection", mail.Message{To: "ann@example.com", Subject: "s\nBcc: eve@example.com"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.msg.Validate(); (err != nil) != tt.wantErr {
				t.Errorf("Validate() = %v, want error: %v", err, tt.wantErr)
			}
		})
	}
}
