package certs_test

import (
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sirocco-cloud/sirocco/internal/certs"
)

func TestLoadOrCreate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tls")
	cert, fp, err := certs.LoadOrCreate(dir, []string{"cloud.example.com", "203.0.113.7", "2001:db8::1", "localhost", ""})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if !regexp.MustCompile(`^sha256:[0-9a-f]{64}$`).MatchString(fp) {
		t.Errorf("fingerprint %q is not sha256:<64 lowercase hex>", fp)
	}
	leaf := cert.Leaf
	if leaf == nil {
		t.Fatal("Leaf is nil")
	}
	if got := certs.Fingerprint(leaf); got != fp {
		t.Errorf("Fingerprint(Leaf) = %s, want %s", got, fp)
	}

	wantDNS := []string{"cloud.example.com", "localhost"}
	if !slices.Equal(leaf.DNSNames, wantDNS) {
		t.Errorf("DNSNames = %q, want %q", leaf.DNSNames, wantDNS)
	}
	var gotIPs []string
	for _, ip := range leaf.IPAddresses {
		gotIPs = append(gotIPs, ip.String())
	}
	wantIPs := []string{"203.0.113.7", "2001:db8::1", "127.0.0.1", "::1"}
	if !slices.Equal(gotIPs, wantIPs) {
		t.Errorf("IPAddresses = %q, want %q", gotIPs, wantIPs)
	}
	if life := time.Until(leaf.NotAfter); life < 9*365*24*time.Hour || life > certs.Validity {
		t.Errorf("certificate valid for another %s, want about 10 years", life)
	}
	if leaf.IsCA {
		t.Error("self-signed leaf claims to be a CA")
	}

	tests := []struct {
		file string
		perm os.FileMode
	}{
		{certs.KeyFile, 0o600},
		{certs.CertFile, 0o644},
	}
	for _, tt := range tests {
		fi, err := os.Stat(filepath.Join(dir, tt.file))
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != tt.perm {
			t.Errorf("%s mode = %v, want %v", tt.file, got, tt.perm)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 2 {
		t.Errorf("dir holds %d entries, want only %s and %s", len(entries), certs.CertFile, certs.KeyFile)
	}

	// A second start loads the same certificate, whatever hosts it is given.
	_, fp2, err := certs.LoadOrCreate(dir, []string{"other.example.com"})
	if err != nil {
		t.Fatalf("reload: %v", err)
	}
	if fp2 != fp {
		t.Errorf("reloaded fingerprint = %s, want %s", fp2, fp)
	}

	// A key without a certificate is a half-finished creation: start over.
	if err := os.Remove(filepath.Join(dir, certs.CertFile)); err != nil {
		t.Fatal(err)
	}
	_, fp3, err := certs.LoadOrCreate(dir, nil)
	if err != nil {
		t.Fatalf("recreate: %v", err)
	}
	if fp3 == fp {
		t.Error("recreated certificate has the old fingerprint")
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	_, want, err := certs.LoadOrCreate(dir, []string{"provider.example"})
	if err != nil {
		t.Fatal(err)
	}
	cert, got, err := certs.Load(filepath.Join(dir, certs.CertFile), filepath.Join(dir, certs.KeyFile))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if got != want || cert.Leaf == nil {
		t.Errorf("Load fingerprint = %s (leaf %v), want %s", got, cert.Leaf != nil, want)
	}
	if _, _, err := certs.Load(filepath.Join(dir, "missing.crt"), filepath.Join(dir, certs.KeyFile)); err == nil {
		t.Error("Load of a missing file succeeded")
	}
	if _, _, err := certs.Load(filepath.Join(dir, certs.KeyFile), filepath.Join(dir, certs.KeyFile)); err == nil {
		t.Error("Load of a key as certificate succeeded")
	}
}

func TestFingerprint(t *testing.T) {
	cert, fp, err := certs.LoadOrCreate(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(cert.Certificate[0])
	if want := "sha256:" + hex.EncodeToString(sum[:]); fp != want {
		t.Errorf("fingerprint = %s, want %s", fp, want)
	}
}

func TestPinnedTLSConfig(t *testing.T) {
	cert, fp, err := certs.LoadOrCreate(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, otherFP, err := certs.LoadOrCreate(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}

	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "pinned")
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.StartTLS()
	defer srv.Close()
	// Dial by IP and by a name the certificate does not hold: the pin, not
	// the name, decides.
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())

	tests := []struct {
		name    string
		pin     string
		host    string
		wantErr string
	}{
		{"matching pin", fp, "127.0.0.1", ""},
		{"matching pin in upper case", strings.ToUpper(fp), "127.0.0.1", ""},
		{"matching pin, unrelated name", fp, "localhost", ""},
		{"other certificate", otherFP, "127.0.0.1", "does not match"},
		{"empty pin", "", "127.0.0.1", "does not match"},
		{"bare hex without prefix", strings.TrimPrefix(fp, "sha256:"), "127.0.0.1", "does not match"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client := &http.Client{Transport: &http.Transport{TLSClientConfig: certs.PinnedTLSConfig(tt.pin)}}
			defer client.CloseIdleConnections()
			resp, err := client.Get("https://" + net.JoinHostPort(tt.host, port) + "/")
			if tt.wantErr != "" {
				if err == nil {
					resp.Body.Close()
					t.Fatal("request succeeded, want pin mismatch")
				}
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("error = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("request: %v", err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if string(body) != "pinned" {
				t.Errorf("body = %q, want pinned", body)
			}
		})
	}
}

// Session resumption skips certificate exchange; the pin must still hold.
func TestPinnedTLSConfigResumption(t *testing.T) {
	cert, fp, err := certs.LoadOrCreate(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
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
			go func() {
				defer c.Close()
				// Tickets are sent before this byte, so a client that has
				// read it holds a ticket.
				if _, err := c.Write([]byte{'x'}); err == nil {
					io.Copy(io.Discard, c)
				}
			}()
		}
	}()

	cfg := certs.PinnedTLSConfig(fp)
	cfg.ClientSessionCache = tls.NewLRUClientSessionCache(4)
	for i, wantResumed := range []bool{false, true} {
		c, err := tls.Dial("tcp", ln.Addr().String(), cfg)
		if err != nil {
			t.Fatalf("dial %d: %v", i, err)
		}
		if _, err := io.ReadFull(c, make([]byte, 1)); err != nil {
			t.Fatalf("read %d: %v", i, err)
		}
		st := c.ConnectionState()
		c.Close()
		if st.DidResume != wantResumed {
			t.Errorf("dial %d: resumed = %v, want %v", i, st.DidResume, wantResumed)
		}
		if len(st.PeerCertificates) == 0 || certs.Fingerprint(st.PeerCertificates[0]) != fp {
			t.Errorf("dial %d: peer certificate does not match the pin", i)
		}
	}
}
