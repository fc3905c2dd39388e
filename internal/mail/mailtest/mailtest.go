// Package mailtest provides a real SMTP server for tests: it listens on a
// loopback port, accepts every message and records it, so tests exercise the
// same code path as production (mail.SMTPSender over TCP) and can wait for a
// message to arrive.
//
// Only tests import mailtest.
package mailtest

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/quotedprintable"
	"net"
	netmail "net/mail"
	"net/textproto"
	"strings"
	"sync"
	"testing"
	"time"
)

// maxMessageBytes bounds one message; tests never need more.
const maxMessageBytes = 10 << 20

// Message is one message the server accepted.
type Message struct {
	From     string   // envelope sender (MAIL FROM)
	To       []string // envelope recipients (RCPT TO)
	Username string   // AUTH PLAIN identity, empty when the client did not authenticate
	Header   netmail.Header
	Subject  string // decoded Subject header
	Body     string // body with its Content-Transfer-Encoding undone and CRLF turned into LF
	Raw      []byte // the message as received after DATA
}

// Server is a local SMTP sink. It speaks EHLO/HELO, AUTH PLAIN (accepting
// any credentials), MAIL FROM, RCPT TO, DATA, RSET, NOOP and QUIT, which is
// everything net/smtp needs. It does not offer STARTTLS.
type Server struct {
	ln net.Listener
	wg sync.WaitGroup

	mu       sync.Mutex
	conns    map[net.Conn]struct{}
	closed   bool
	messages []Message
	taken    []bool        // taken[i]: messages[i] was returned by WaitFor
	arrived  chan struct{} // closed and replaced when a message arrives
}

// NewServer starts a server on 127.0.0.1 with a free port. It is shut down
// when the test ends.
func NewServer(t testing.TB) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("mailtest: listen: %v", err)
	}
	s := &Server{
		ln:      ln,
		conns:   make(map[net.Conn]struct{}),
		arrived: make(chan struct{}),
	}
	s.wg.Add(1)
	go s.serve()
	t.Cleanup(s.close)
	return s
}

// Addr returns the server's host:port, for mail.SMTPConfig.Addr.
func (s *Server) Addr() string {
	return s.ln.Addr().String()
}

// Messages returns a copy of every message accepted so far, oldest first.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Message, len(s.messages))
	copy(out, s.messages)
	return out
}

// WaitFor returns the oldest message to recipient to (compared without
// regard to case) that an earlier WaitFor has not returned, waiting up to
// timeout for one to arrive. It fails the test on timeout. Because each
// message is returned once, a test expecting two mails calls WaitFor twice.
func (s *Server) WaitFor(t testing.TB, to string, timeout time.Duration) Message {
	t.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		s.mu.Lock()
		for i, m := range s.messages {
			if !s.taken[i] && hasRecipient(m, to) {
				s.taken[i] = true
				s.mu.Unlock()
				return m
			}
		}
		arrived := s.arrived
		s.mu.Unlock()

		select {
		case <-arrived:
		case <-timer.C:
			t.Fatalf("mailtest: no message to %s within %s; received %d message(s) to %v",
				to, timeout, len(s.Messages()), s.recipients())
			return Message{}
		}
	}
}

func hasRecipient(m Message, to string) bool {
	for _, r := range m.To {
		if strings.EqualFold(r, to) {
			return true
		}
	}
	return false
}

func (s *Server) recipients() []string {
	var out []string
	for _, m := range s.Messages() {
		out = append(out, m.To...)
	}
	return out
}

func (s *Server) record(m Message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.messages = append(s.messages, m)
	s.taken = append(s.taken, false)
	close(s.arrived)
	s.arrived = make(chan struct{})
}

func (s *Server) close() {
	s.mu.Lock()
	s.closed = true
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.ln.Close()
	s.wg.Wait()
}

func (s *Server) serve() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return // listener closed
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			c.Close()
			return
		}
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			defer func() {
				s.mu.Lock()
				delete(s.conns, c)
				s.mu.Unlock()
				c.Close()
			}()
			s.handle(c)
		}()
	}
}

// session is the state of one SMTP conversation.
type session struct {
	helo     bool
	username string
	from     string
	fromSet  bool
	to       []string
}

func (ss *session) reset() {
	ss.from, ss.fromSet, ss.to = "", false, nil
}

func (s *Server) handle(c net.Conn) {
	tp := textproto.NewConn(c)
	reply := func(format string, args ...any) bool {
		return tp.PrintfLine(format, args...) == nil
	}
	if !reply("220 mailtest ESMTP ready") {
		return
	}
	var ss session
	for {
		line, err := tp.ReadLine()
		if err != nil {
			return
		}
		verb, arg, _ := strings.Cut(line, " ")
		verb = strings.ToUpper(verb)
		arg = strings.TrimSpace(arg)
		var ok bool
		switch verb {
		case "EHLO":
			ss.helo = true
			ss.reset()
			ok = reply("250-mailtest greets %s", arg) &&
				reply("250-8BITMIME") &&
				reply("250-AUTH PLAIN") &&
				reply("250 HELP")
		case "HELO":
			ss.helo = true
			ss.reset()
			ok = reply("250 mailtest greets %s", arg)
		case "AUTH":
			ok = s.auth(tp, &ss, arg, reply)
		case "MAIL":
			switch {
			case !ss.helo:
				ok = reply("503 5.5.1 send EHLO or HELO first")
			case ss.fromSet:
				ok = reply("503 5.5.1 nested MAIL command")
			default:
				addr, err := pathArg(arg, "FROM:")
				if err != nil {
					ok = reply("501 5.5.4 %v", err)
					break
				}
				ss.from, ss.fromSet = addr, true
				ok = reply("250 2.1.0 ok")
			}
		case "RCPT":
			if !ss.fromSet {
				ok = reply("503 5.5.1 need MAIL before RCPT")
				break
			}
			addr, err := pathArg(arg, "TO:")
			if err != nil || addr == "" {
				ok = reply("501 5.5.4 bad recipient %q", arg)
				break
			}
			ss.to = append(ss.to, addr)
			ok = reply("250 2.1.5 ok")
		case "DATA":
			if len(ss.to) == 0 {
				ok = reply("503 5.5.1 need RCPT before DATA")
				break
			}
			if !reply("354 end data with <CR><LF>.<CR><LF>") {
				return
			}
			raw, err := io.ReadAll(io.LimitReader(tp.DotReader(), maxMessageBytes+1))
			if err != nil {
				return
			}
			if len(raw) > maxMessageBytes {
				ok = reply("552 5.3.4 message too big")
				ss.reset()
				break
			}
			m, err := parse(raw)
			if err != nil {
				ok = reply("554 5.6.0 cannot parse message: %v", err)
				ss.reset()
				break
			}
			m.From, m.To, m.Username = ss.from, ss.to, ss.username
			s.record(m)
			ss.reset()
			ok = reply("250 2.0.0 ok: queued")
		case "RSET":
			ss.reset()
			ok = reply("250 2.0.0 ok")
		case "NOOP":
			ok = reply("250 2.0.0 ok")
		case "QUIT":
			reply("221 2.0.0 bye")
			return
		default:
			ok = reply("502 5.5.2 command not implemented")
		}
		if !ok {
			return
		}
	}
}

// auth handles AUTH PLAIN with or without an initial response.
func (s *Server) auth(tp *textproto.Conn, ss *session, arg string, reply func(string, ...any) bool) bool {
	mech, resp, _ := strings.Cut(arg, " ")
	if !strings.EqualFold(mech, "PLAIN") {
		return reply("504 5.5.4 only PLAIN is supported")
	}
	if !ss.helo {
		return reply("503 5.5.1 send EHLO first")
	}
	if resp == "" {
		if !reply("334 ") {
			return false
		}
		line, err := tp.ReadLine()
		if err != nil {
			return false
		}
		resp = line
	}
	dec, err := base64.StdEncoding.DecodeString(strings.TrimSpace(resp))
	if err != nil {
		return reply("501 5.5.2 bad base64")
	}
	// authzid NUL authcid NUL passwd
	parts := bytes.Split(dec, []byte{0})
	if len(parts) != 3 || len(parts[1]) == 0 {
		return reply("501 5.5.2 malformed PLAIN response")
	}
	ss.username = string(parts[1])
	return reply("235 2.7.0 authentication succeeded")
}

// pathArg extracts the address from "FROM:<addr> PARAMS" or "TO:<addr>".
func pathArg(arg, prefix string) (string, error) {
	if len(arg) < len(prefix) || !strings.EqualFold(arg[:len(prefix)], prefix) {
		return "", fmt.Errorf("want %s<address>", prefix)
	}
	rest := strings.TrimSpace(arg[len(prefix):])
	if !strings.HasPrefix(rest, "<") {
		return "", fmt.Errorf("want %s<address>", prefix)
	}
	end := strings.IndexByte(rest, '>')
	if end < 0 {
		return "", errors.New("unterminated address")
	}
	return rest[1:end], nil
}

// parse reads raw with net/mail and undoes the body's transfer encoding.
func parse(raw []byte) (Message, error) {
	msg, err := netmail.ReadMessage(bufio.NewReader(bytes.NewReader(raw)))
	if err != nil {
		return Message{}, fmt.Errorf("read message: %w", err)
	}
	var body io.Reader = msg.Body
	switch enc := strings.ToLower(strings.TrimSpace(msg.Header.Get("Content-Transfer-Encoding"))); enc {
	case "", "7bit", "8bit", "binary":
	case "quoted-printable":
		body = quotedprintable.NewReader(body)
	case "base64":
		body = base64.NewDecoder(base64.StdEncoding, body) // ignores CR and LF
	default:
		return Message{}, fmt.Errorf("unknown Content-Transfer-Encoding %q", enc)
	}
	b, err := io.ReadAll(body)
	if err != nil {
		return Message{}, fmt.Errorf("decode body: %w", err)
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		return Message{}, fmt.Errorf("decode subject: %w", err)
	}
	return Message{
		Header:  msg.Header,
		Subject: subject,
		Body:    strings.ReplaceAll(string(b), "\r\n", "\n"),
		Raw:     raw,
	}, nil
}
