package image

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestFetch(t *testing.T) {
	payload := bytes.Repeat([]byte("sirocco"), 1000)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/image":
			w.Write(payload)
		case "/redirect":
			http.Redirect(w, r, "/image", http.StatusFound)
		case "/loop":
			http.Redirect(w, r, "/loop", http.StatusFound)
		case "/to-file":
			http.Redirect(w, r, "file:///etc/passwd", http.StatusFound)
		case "/slow":
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
			case <-time.After(10 * time.Second):
			}
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()

	tests := []struct {
		name    string
		f       Fetcher
		url     string
		want    []byte // body expected on success
		code    string // rejection code expected
		forbid  bool   // expect ErrForbiddenAddress
		errWith string // other failures: part of the message
	}{
		{"loopback refused", Fetcher{}, srv.URL + "/image", nil, "", true, ""},
		{"loopback by name refused", Fetcher{}, strings.Replace(srv.URL, "127.0.0.1", "localhost", 1) + "/image", nil, "", true, ""},
		{"loopback allowed for the provider", Fetcher{AllowPrivate: true}, srv.URL + "/image", payload, "", false, ""},
		{"redirect followed", Fetcher{AllowPrivate: true}, srv.URL + "/redirect", payload, "", false, ""},
		{"limit exceeded", Fetcher{AllowPrivate: true, MaxBytes: 100}, srv.URL + "/image", nil, CodeTooLarge, false, ""},
		{"limit met exactly", Fetcher{AllowPrivate: true, MaxBytes: int64(len(payload))}, srv.URL + "/image", payload, "", false, ""},
		{"not found", Fetcher{AllowPrivate: true}, srv.URL + "/missing", nil, "", false, "404"},
		{"redirect loop", Fetcher{AllowPrivate: true}, srv.URL + "/loop", nil, "", false, "redirects"},
		{"redirect to file scheme", Fetcher{AllowPrivate: true}, srv.URL + "/to-file", nil, "", false, `scheme "file"`},
		{"file scheme", Fetcher{AllowPrivate: true}, "file:///etc/passwd", nil, "", false, `scheme "file"`},
		{"ftp scheme", Fetcher{AllowPrivate: true}, "ftp://example.com/x", nil, "", false, `scheme "ftp"`},
		{"no host", Fetcher{AllowPrivate: true}, "http:///x", nil, "", false, "no host"},
		{"timeout", Fetcher{AllowPrivate: true, Timeout: 200 * time.Millisecond}, srv.URL + "/slow", nil, "", false, "deadline"},
		{"private address refused", Fetcher{Timeout: 5 * time.Second}, "http://10.255.255.1/x", nil, "", true, ""},
		{"metadata address refused", Fetcher{Timeout: 5 * time.Second}, "http://169.254.169.254/latest/meta-data/", nil, "", true, ""},
		{"IPv4-mapped loopback refused", Fetcher{Timeout: 5 * time.Second}, "http://[::ffff:127.0.0.1]:1/x", nil, "", true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			n, err := tt.f.Fetch(context.Background(), tt.url, &buf)
			switch {
			case tt.want != nil:
				if err != nil {
					t.Fatalf("Fetch: %v", err)
				}
				if !bytes.Equal(buf.Bytes(), tt.want) || n != int64(len(tt.want)) {
					t.Errorf("got %d bytes, want %d", n, len(tt.want))
				}
			case tt.forbid:
				if !errors.Is(err, ErrForbiddenAddress) {
					t.Fatalf("Fetch: %v, want ErrForbiddenAddress", err)
				}
				if buf.Len() != 0 {
					t.Errorf("wrote %d bytes from a forbidden address", buf.Len())
				}
			case tt.code != "":
				if got := RejectionCode(err); got != tt.code {
					t.Fatalf("Fetch: code %q (%v), want %q", got, err, tt.code)
				}
			default:
				if err == nil || !strings.Contains(err.Error(), tt.errWith) {
					t.Fatalf("Fetch: %v, want an error containing %q", err, tt.errWith)
				}
				if errors.Is(err, ErrForbiddenAddress) {
					t.Errorf("Fetch: %v is not about a forbidden address", err)
				}
			}
		})
	}
}

// TestFetchRedirectToLoopbackRefused: a public server that redirects to the
// control plane's own loopback must not get through. The first server stands
// in for a public one: the guard exempts its port only.
func TestFetchRedirectToLoopbackRefused(t *testing.T) {
	inner := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Error("the redirect target was reached")
		w.Write([]byte("secret"))
	}))
	defer inner.Close()
	outer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/public" {
			w.Write([]byte("public"))
			return
		}
		http.Redirect(w, r, inner.URL+"/secret", http.StatusFound)
	}))
	defer outer.Close()
	outerAddr := netip.MustParseAddrPort(strings.TrimPrefix(outer.URL, "http://"))
	f := &Fetcher{exempt: func(ap netip.AddrPort) bool { return ap == outerAddr }}

	var buf bytes.Buffer
	if _, err := f.Fetch(context.Background(), outer.URL+"/public", &buf); err != nil || buf.String() != "public" {
		t.Fatalf("the stand-in public server: %q, %v", buf.String(), err)
	}
	buf.Reset()
	_, err := f.Fetch(context.Background(), outer.URL+"/start", &buf)
	if !errors.Is(err, ErrForbiddenAddress) {
		t.Fatalf("Fetch: %v, want ErrForbiddenAddress", err)
	}
	if buf.Len() != 0 {
		t.Errorf("got %q", buf.String())
	}
}

func TestForbidden(t *testing.T) {
	for _, tt := range []struct {
		ip   string
		want bool
	}{
		{"127.0.0.1", true}, {"127.8.9.10", true}, {"::1", true},
		{"10.1.2.3", true}, {"172.16.0.1", true}, {"192.168.1.1", true}, {"fd00::1", true},
		{"169.254.169.254", true}, {"fe80::1", true},
		{"100.64.0.1", true}, {"100.127.255.254", true},
		{"0.0.0.0", true}, {"::", true}, {"224.0.0.1", true}, {"ff02::1", true}, {"255.255.255.255", true},
		{"::ffff:10.0.0.1", true}, {"64:ff9b::a00:1", true}, {"2002:7f00:1::", true},
		{"8.8.8.8", false}, {"1.1.1.1", false}, {"100.128.0.1", false}, {"2606:4700:4700::1111", false},
		{"64:ff9b::808:808", false}, {"172.32.0.1", false},
	} {
		if got := Forbidden(netip.MustParseAddr(tt.ip)); got != tt.want {
			t.Errorf("Forbidden(%s) = %t, want %t", tt.ip, got, tt.want)
		}
	}
}
