// Package mail sends outgoing e-mail: sign-up confirmations, invitations,
// credit alerts and invoices. It defines the Sender interface that the rest
// of siroccod depends on, an SMTPSender for real delivery and a LogSender
// that writes mail to the log when no SMTP server is configured (make run).
//
// Only cmd/siroccod wires a concrete Sender; other packages accept a Sender.
package mail

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	netmail "net/mail"
	"slices"
	"strings"
	"sync"
)

// Message is one plain-text e-mail to a single recipient.
type Message struct {
	To      string // RFC 5322 address, e.g. "Ann <ann@example.com>" or "ann@example.com"
	Subject string
	Body    string // plain text, UTF-8
}

// Sender delivers messages. Implementations must be safe for concurrent use.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// Validate reports whether m can be sent: the recipient must parse as an
// address and no header field may contain a line break (header injection).
func (m Message) Validate() error {
	if m.To == "" {
		return errors.New("message has no recipient")
	}
	if strings.ContainsAny(m.To, "\r\n") {
		return errors.New("recipient contains a line break")
	}
	if _, err := netmail.ParseAddress(m.To); err != nil {
		return fmt.Errorf("recipient %q: %w", m.To, err)
	}
	if strings.ContainsAny(m.Subject, "\r\n") {
		return errors.New("subject contains a line break")
	}
	return nil
}

// LogSender writes each message to a logger instead of delivering it. It is
// what make run uses, so a developer can follow sign-up links from the log.
type LogSender struct {
	log  *slog.Logger
	mu   sync.Mutex
	kept []Message // the newest last, at most keepMails
}

// keepMails bounds how many logged mails a LogSender keeps for Mails.
const keepMails = 200

var _ Sender = (*LogSender)(nil)

// NewLogSender returns a LogSender that writes to log.
func NewLogSender(log *slog.Logger) *LogSender {
	return &LogSender{log: log}
}

// Send logs the recipient, subject and body of m at Info level.
func (s *LogSender) Send(ctx context.Context, m Message) error {
	if err := m.Validate(); err != nil {
		return fmt.Errorf("send mail: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("send mail to %s: %w", m.To, err)
	}
	s.log.InfoContext(ctx, "outgoing mail logged, not delivered",
		"to", m.To, "subject", m.Subject, "body", m.Body)
	s.mu.Lock()
	s.kept = append(s.kept, m)
	if len(s.kept) > keepMails {
		s.kept = slices.Delete(s.kept, 0, len(s.kept)-keepMails)
	}
	s.mu.Unlock()
	return nil
}

// Mails returns the mails sent to address, newest first: on a cloud
// without SMTP the console shows a user the mails meant for them.
func (s *LogSender) Mails(address string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Message
	for _, m := range slices.Backward(s.kept) {
		if strings.EqualFold(m.To, address) {
			out = append(out, m)
		}
	}
	return out
}
