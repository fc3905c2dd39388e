package mail

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net"
	netmail "net/mail"
	"net/smtp"
	"os"
	"strings"
	"time"
)

// DefaultSMTPTimeout bounds one Send when the caller's context has no deadline.
const DefaultSMTPTimeout = 30 * time.Second

// SMTPConfig configures an SMTPSender.
type SMTPConfig struct {
	// Addr is the mail submission server as host:port, for example
	// "smtp.example.com:587".
	Addr string
	// From is the sender address, for example "Sirocco <noreply@example.com>".
	From string
	// Username and Password, when Username is set, authenticate with AUTH
	// PLAIN. Credentials are only sent after STARTTLS or to a loopback server;
	// otherwise Send fails rather than leak them.
	Username string
	Password string
	// Timeout bounds one Send (dial and the whole SMTP conversation) when the
	// caller's context has no deadline. Zero means DefaultSMTPTimeout.
	Timeout time.Duration
}

// Validate reports whether c is complete and well formed.
func (c SMTPConfig) Validate() error {
	host, port, err := net.SplitHostPort(c.Addr)
	if err != nil {
		return fmt.Errorf("smtp address %q: %w", c.Addr, err)
	}
	if host == "" || port == "" {
		return fmt.Errorf("smtp address %q: want host:port", c.Addr)
	}
	if c.From == "" {
		return errors.New("smtp from address is empty")
	}
	if strings.ContainsAny(c.From, "\r\n") {
		return errors.New("smtp from address contains a line break")
	}
	if _, err := netmail.ParseAddress(c.From); err != nil {
		return fmt.Errorf("smtp from address %q: %w", c.From, err)
	}
	if c.Username == "" && c.Password != "" {
		return errors.New("smtp password is set without a username")
	}
	if c.Timeout < 0 {
		return fmt.Errorf("smtp timeout %s is negative", c.Timeout)
	}
	return nil
}

// SMTPSender delivers messages to an SMTP submission server, one connection
// per message. It upgrades to TLS with STARTTLS whenever the server offers it.
type SMTPSender struct {
	cfg     SMTPConfig
	host    string
	from    *netmail.Address
	timeout time.Duration
}

var _ Sender = (*SMTPSender)(nil)

// NewSMTPSender validates cfg and returns a sender for it.
func NewSMTPSender(cfg SMTPConfig) (*SMTPSender, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("smtp sender: %w", err)
	}
	host, _, _ := net.SplitHostPort(cfg.Addr) // checked by Validate
	from, _ := netmail.ParseAddress(cfg.From) // checked by Validate
	timeout := cfg.Timeout
	if timeout == 0 {
		timeout = DefaultSMTPTimeout
	}
	return &SMTPSender{cfg: cfg, host: host, from: from, timeout: timeout}, nil
}

// Send delivers m. It returns once the server has accepted the message, or
// with an error when ctx is done, the server refuses it or the connection
// fails.
func (s *SMTPSender) Send(ctx context.Context, m Message) error {
	if err := m.Validate(); err != nil {
		return fmt.Errorf("send mail: %w", err)
	}
	to, _ := netmail.ParseAddress(m.To) // checked by Validate
	if err := s.send(ctx, to, m); err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil && !errors.Is(err, ctxErr) {
			return fmt.Errorf("send mail to %s: %w (%w)", to.Address, ctxErr, err)
		}
		return fmt.Errorf("send mail to %s: %w", to.Address, err)
	}
	return nil
}

func (s *SMTPSender) send(ctx context.Context, to *netmail.Address, m Message) (err error) {
	defer func() {
		// The connection's deadline is ctx's, so a connection timeout is
		// ctx's deadline passing, even when the connection's timer fired a
		// moment before ctx's own.
		if errors.Is(err, os.ErrDeadlineExceeded) && !errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("%w: %w", context.DeadlineExceeded, err)
		}
	}()
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.timeout)
		defer cancel()
	}
	msg, err := s.compose(to, m)
	if err != nil {
		return err
	}

	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("dial %s: %w", s.cfg.Addr, err)
	}
	// net/smtp has no context support: the deadline bounds every read and
	// write, and closing the connection on cancellation unblocks them early.
	deadline, _ := ctx.Deadline()
	if err := conn.SetDeadline(deadline); err != nil {
		conn.Close()
		return fmt.Errorf("set deadline: %w", err)
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()

	c, err := smtp.NewClient(conn, s.host)
	if err != nil {
		conn.Close()
		return fmt.Errorf("greeting from %s: %w", s.cfg.Addr, err)
	}
	defer c.Close()

	secure := false
	if ok, _ := c.Extension("STARTTLS"); ok {
		if err := c.StartTLS(&tls.Config{ServerName: s.host, MinVersion: tls.VersionTLS12}); err != nil {
			return fmt.Errorf("starttls: %w", err)
		}
		secure = true
	}
	if s.cfg.Username != "" {
		if !plainAuthAllowed(s.host, secure) {
			return fmt.Errorf("refusing to send credentials to %s: server offers no STARTTLS and is not loopback", s.host)
		}
		ok, mechs := c.Extension("AUTH")
		if !ok || !hasWord(mechs, "PLAIN") {
			return fmt.Errorf("server %s does not offer AUTH PLAIN", s.host)
		}
		if err := c.Auth(plainAuth{username: s.cfg.Username, password: s.cfg.Password}); err != nil {
			return fmt.Errorf("auth: %w", err)
		}
	}
	if err := c.Mail(s.from.Address); err != nil {
		return fmt.Errorf("mail from: %w", err)
	}
	if err := c.Rcpt(to.Address); err != nil {
		return fmt.Errorf("rcpt to: %w", err)
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("data: %w", err)
	}
	if _, err := w.Write(msg); err != nil {
		return fmt.Errorf("write message: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("end of data: %w", err)
	}
	// The server has accepted the message; a failed QUIT does not undo that.
	_ = c.Quit()
	return nil
}

// compose renders m as an RFC 5322 message with a quoted-printable UTF-8
// body, so any text survives 7-bit relays.
func (s *SMTPSender) compose(to *netmail.Address, m Message) ([]byte, error) {
	id := make([]byte, 16)
	if _, err := rand.Read(id); err != nil {
		return nil, fmt.Errorf("message id: %w", err)
	}
	domain := "localhost"
	if at := strings.LastIndexByte(s.from.Address, '@'); at >= 0 {
		domain = s.from.Address[at+1:]
	}

	var b bytes.Buffer
	header := func(k, v string) { fmt.Fprintf(&b, "%s: %s\r\n", k, v) }
	header("From", s.from.String())
	header("To", to.String())
	header("Subject", mime.QEncoding.Encode("utf-8", m.Subject))
	header("Date", time.Now().Format(time.RFC1123Z))
	header("Message-ID", "<"+hex.EncodeToString(id)+"@"+domain+">")
	header("MIME-Version", "1.0")
	header("Content-Type", "text/plain; charset=utf-8")
	header("Content-Transfer-Encoding", "quoted-printable")
	b.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&b)
	if _, err := qp.Write([]byte(m.Body)); err != nil {
		return nil, fmt.Errorf("encode body: %w", err)
	}
	if err := qp.Close(); err != nil {
		return nil, fmt.Errorf("encode body: %w", err)
	}
	return b.Bytes(), nil
}

// plainAuthAllowed reports whether AUTH PLAIN credentials may be sent to
// host: only over TLS, or to the local machine where nobody can sniff them.
func plainAuthAllowed(host string, secure bool) bool {
	if secure {
		return true
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func hasWord(list, word string) bool {
	for _, w := range strings.Fields(list) {
		if strings.EqualFold(w, word) {
			return true
		}
	}
	return false
}

// plainAuth is RFC 4616 PLAIN. Unlike smtp.PlainAuth it does not decide by
// itself when sending credentials is safe: plainAuthAllowed does, once.
type plainAuth struct {
	username, password string
}

func (a plainAuth) Start(*smtp.ServerInfo) (string, []byte, error) {
	return "PLAIN", []byte("\x00" + a.username + "\x00" + a.password), nil
}

func (a plainAuth) Next(_ []byte, more bool) ([]byte, error) {
	if more {
		return nil, errors.New("unexpected server challenge during AUTH PLAIN")
	}
	return nil, nil
}
