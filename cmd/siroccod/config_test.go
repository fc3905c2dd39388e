package main

import (
	"strings"
	"testing"
)

func TestParseServe(t *testing.T) {
	tests := []struct {
		args    []string
		wantErr string
		url     string
	}{
		{args: nil, url: "https://localhost:8443"},
		{args: []string{"--listen", "127.0.0.1:9000", "--insecure-http"}, url: "http://127.0.0.1:9000"},
		{args: []string{"--listen", "0.0.0.0:9000", "--insecure-http"}, wantErr: "only allowed on a loopback address"},
		{args: []string{"--tls-cert", "c.pem"}, wantErr: "go together"},
		{args: []string{"--db", "mysql://x"}, wantErr: "postgres://"},
		{args: []string{"--log-level", "loud"}, wantErr: "--log-level"},
		{args: []string{"--public-url", "https://cloud.example.com/"}, url: "https://cloud.example.com"},
		{args: []string{"extra"}, wantErr: "unexpected argument"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			c, err := parseServe(tt.args)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want it to mention %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := c.publicURL(); got != tt.url {
				t.Errorf("public URL %q, want %q", got, tt.url)
			}
		})
	}
}
