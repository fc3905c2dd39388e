package mail_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"testing"

	"github.com/sirocco-cloud/sirocco/internal/mail"
)

func TestLogSender(t *testing.T) {
	var buf bytes.Buffer
	s := mail.NewLogSender(slog.New(slog.NewJSONHandler(&buf, nil)))
	m := mail.Message{To: "ann@example.com", Subject: "Confirm your e-mail", Body: "Open https://cloud.example/confirm?t=abc\n"}
	if err := s.Send(t.Context(), m); err != nil {
		t.Fatalf("Send: %v", err)
	}
	var got map[string]any
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatalf("log line %q: %v", buf.String(), err)
	}
	for k, want := range map[string]string{"to": m.To, "subject": m.Subject, "body": m.Body} {
		if got[k] != want {
			t.Errorf("log %s = %v, want %q", k, got[k], want)
		}
	}
}

func TestLogSenderErrors(t *testing.T) {
	var buf bytes.Buffer
	s := mail.NewLogSender(slog.New(slog.NewJSONHandler(&buf, nil)))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	tests := []struct {
		name string
		ctx  context.Context
		msg  mail.Message
	}{
		{"invalid message", t.Context(), mail.Message{To: "nobody"}},
		{"canceled context", ctx, mail.Message{To: "ann@example.com"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			buf.Reset()
			if err := s.Send(tt.ctx, tt.msg); err == nil {
				t.Error("Send succeeded, want error")
			}
			if buf.Len() != 0 {
				t.Errorf("logged %q, want nothing", buf.String())
			}
		})
	}
}
