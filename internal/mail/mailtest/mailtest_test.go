package mailtest_test

import (
	"fmt"
	"net/smtp"
	"testing"
	"time"

	"github.com/sirocco-cloud/sirocco/internal/mail/mailtest"
)

// send speaks SMTP with net/smtp directly, so these tests do not depend on
// package mail.
func send(t *testing.T, addr, from string, to []string, subject, body string) {
	t.Helper()
	msg := fmt.Sprintf("From: %s\r\nSubject: %s\r\n\r\n%s", from, subject, body)
	if err := smtp.SendMail(addr, nil, from, to, []byte(msg)); err != nil {
		t.Fatalf("SendMail: %v", err)
	}
}

func TestWaitForReturnsEachMessageOnce(t *testing.T) {
	srv := mailtest.NewServer(t)
	send(t, srv.Addr(), "a@example.com", []string{"ann@example.com"}, "first", "1\n")
	send(t, srv.Addr(), "a@example.com", []string{"bob@example.com"}, "other", "x\n")
	send(t, srv.Addr(), "a@example.com", []string{"ANN@example.com"}, "second", "2\n")

	for _, want := range []string{"first", "second"} {
		if got := srv.WaitFor(t, "ann@example.com", time.Second); got.Subject != want {
			t.Errorf("WaitFor subject = %q, want %q", got.Subject, want)
		}
	}
	if got := srv.WaitFor(t, "bob@example.com", time.Second); got.Subject != "other" || got.Body != "x\n" {
		t.Errorf("WaitFor(bob) = %q/%q, want other/x", got.Subject, got.Body)
	}
	if n := len(srv.Messages()); n != 3 {
		t.Errorf("Messages() has %d, want 3", n)
	}
}

func TestWaitForWaitsForArrival(t *testing.T) {
	srv := mailtest.NewServer(t)
	errc := make(chan error, 1)
	go func() {
		msg := "Subject: late\r\n\r\nbody\r\n"
		errc <- smtp.SendMail(srv.Addr(), nil, "a@example.com", []string{"ann@example.com"}, []byte(msg))
	}()
	got := srv.WaitFor(t, "ann@example.com", 10*time.Second)
	if err := <-errc; err != nil {
		t.Fatalf("SendMail: %v", err)
	}
	if got.Subject != "late" {
		t.Errorf("subject = %q, want late", got.Subject)
	}
}

func TestSessionCommands(t *testing.T) {
	srv := mailtest.NewServer(t)
	c, err := smtp.Dial(srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	step := func(name string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	step("HELO", c.Hello("client.example"))
	step("NOOP", c.Noop())
	step("MAIL", c.Mail("dropped@example.com"))
	step("RCPT", c.Rcpt("dropped@example.com"))
	step("RSET", c.Reset())
	if err := c.Rcpt("x@example.com"); err == nil {
		t.Error("RCPT after RSET without MAIL succeeded, want 503")
	}
	step("MAIL", c.Mail("from@example.com"))
	step("RCPT", c.Rcpt("one@example.com"))
	step("RCPT", c.Rcpt("two@example.com"))
	w, err := c.Data()
	step("DATA", err)
	_, err = fmt.Fprint(w, "Subject: =?utf-8?q?caf=C3=A9?=\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nna=C3=AFve\r\n")
	step("write", err)
	step("end of DATA", w.Close())
	step("QUIT", c.Quit())

	msgs := srv.Messages()
	if len(msgs) != 1 {
		t.Fatalf("got %d messages, want 1", len(msgs))
	}
	m := msgs[0]
	if m.From != "from@example.com" || len(m.To) != 2 || m.To[0] != "one@example.com" || m.To[1] != "two@example.com" {
		t.Errorf("envelope = %q -> %q, want from@example.com -> [one two]", m.From, m.To)
	}
	if m.Subject != "café" || m.Body != "naïve\n" {
		t.Errorf("decoded = %q/%q, want café/naïve", m.Subject, m.Body)
	}
}
