// Package certs provides siroccod's TLS material: it loads a certificate the
// provider supplies, or creates and keeps a self-signed one so a fresh
// installation serves HTTPS at once. Agents and the CLI trust a self-signed
// server by pinning its fingerprint, the way kubeadm joins pin
// --discovery-token-ca-cert-hash, instead of trusting any CA.
//
// cmd/siroccod, the agent and the client side of the CLI import certs.
package certs

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// File names inside the directory given to LoadOrCreate.
const (
	CertFile = "tls.crt"
	KeyFile  = "tls.key"
)

// Validity is how long a certificate made by LoadOrCreate is valid.
const Validity = 10 * 365 * 24 * time.Hour

// fingerprintPrefix names the hash in a fingerprint string.
const fingerprintPrefix = "sha256:"

// LoadOrCreate returns the certificate kept in dir and its fingerprint. When
// dir holds no certificate yet, it creates a self-signed ECDSA P-256 one for
// hosts (DNS names or IP addresses) plus localhost, 127.0.0.1 and ::1, and
// writes it to dir/tls.crt and dir/tls.key (mode 0600).
//
// The key is written before the certificate, each file atomically, so a
// present certificate means a complete pair. A key without a certificate is
// what an interrupted creation leaves behind, and is replaced.
func LoadOrCreate(dir string, hosts []string) (tls.Certificate, string, error) {
	certPath := filepath.Join(dir, CertFile)
	keyPath := filepath.Join(dir, KeyFile)
	_, err := os.Stat(certPath)
	switch {
	case err == nil:
		return Load(certPath, keyPath)
	case !errors.Is(err, fs.ErrNotExist):
		return tls.Certificate{}, "", fmt.Errorf("load or create certificate: %w", err)
	}

	certPEM, keyPEM, err := selfSigned(hosts, time.Now())
	if err != nil {
		return tls.Certificate{}, "", fmt.Errorf("create certificate: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return tls.Certificate{}, "", fmt.Errorf("create certificate: %w", err)
	}
	if err := writeFileAtomic(keyPath, keyPEM, 0o600); err != nil {
		return tls.Certificate{}, "", fmt.Errorf("create certificate: %w", err)
	}
	if err := writeFileAtomic(certPath, certPEM, 0o644); err != nil {
		return tls.Certificate{}, "", fmt.Errorf("create certificate: %w", err)
	}
	return Load(certPath, keyPath)
}

// Load reads a PEM certificate chain and its private key, as a provider
// supplies them, and returns the pair with Leaf set and the leaf's
// fingerprint.
func Load(certFile, keyFile string) (tls.Certificate, string, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return tls.Certificate{}, "", fmt.Errorf("load certificate %s: %w", certFile, err)
	}
	if cert.Leaf == nil {
		leaf, err := x509.ParseCertificate(cert.Certificate[0])
		if err != nil {
			return tls.Certificate{}, "", fmt.Errorf("load certificate %s: %w", certFile, err)
		}
		cert.Leaf = leaf
	}
	return cert, Fingerprint(cert.Leaf), nil
}

// Fingerprint returns "sha256:" followed by the lowercase hex SHA-256 of the
// certificate's DER encoding. This is the value agents and the CLI pin.
func Fingerprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	return fingerprintPrefix + hex.EncodeToString(sum[:])
}

// PinnedTLSConfig returns a client configuration that trusts exactly one
// server certificate: the leaf whose Fingerprint is fingerprint (compared
// without regard to case). Chains, names and expiry are not checked, because
// the pin already identifies the one certificate the operator vouched for.
func PinnedTLSConfig(fingerprint string) *tls.Config {
	want := []byte(strings.ToLower(strings.TrimSpace(fingerprint)))
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		// The standard verification is replaced, not skipped:
		// VerifyConnection runs on every handshake, resumptions included.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("server presented no certificate")
			}
			got := Fingerprint(cs.PeerCertificates[0])
			if subtle.ConstantTimeCompare([]byte(got), want) != 1 {
				return fmt.Errorf("server certificate fingerprint %s does not match the pinned fingerprint", got)
			}
			return nil
		},
	}
}

// selfSigned creates a PEM certificate and PKCS #8 key valid from now.
func selfSigned(hosts []string, now time.Time) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generate key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, nil, fmt.Errorf("generate serial: %w", err)
	}
	dnsNames, ips := sans(hosts)
	cn := "localhost"
	if len(dnsNames) > 0 {
		cn = dnsNames[0]
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{Organization: []string{"Sirocco"}, CommonName: cn},
		NotBefore:             now.Add(-time.Hour), // tolerate clients whose clocks lag
		NotAfter:              now.Add(Validity),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		DNSNames:              dnsNames,
		IPAddresses:           ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("sign certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("encode key: %w", err)
	}
	certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	return certPEM, keyPEM, nil
}

// sans splits hosts into DNS names and IP addresses, adds the loopback
// names and drops duplicates, keeping the caller's order first.
func sans(hosts []string) (dnsNames []string, ips []net.IP) {
	seen := make(map[string]bool)
	for _, h := range append(append([]string(nil), hosts...), "localhost", "127.0.0.1", "::1") {
		h = strings.TrimSpace(h)
		if h == "" {
			continue
		}
		if ip := net.ParseIP(h); ip != nil {
			if v4 := ip.To4(); v4 != nil {
				ip = v4
			}
			if key := ip.String(); !seen[key] {
				seen[key] = true
				ips = append(ips, ip)
			}
			continue
		}
		h = strings.ToLower(h)
		if !seen[h] {
			seen[h] = true
			dnsNames = append(dnsNames, h)
		}
	}
	return dnsNames, ips
}

// writeFileAtomic writes data to a temporary file beside path and renames it
// into place, so readers see the old file or the whole new one.
func writeFileAtomic(path string, data []byte, perm os.FileMode) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err := f.Chmod(perm); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}
