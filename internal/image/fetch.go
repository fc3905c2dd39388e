package image

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"syscall"
	"time"
)

// ErrForbiddenAddress is the error for a download that would connect to an
// address Sirocco refuses to reach on a user's behalf: loopback, private,
// link-local, CGNAT, unspecified, multicast or reserved.
var ErrForbiddenAddress = errors.New("address not allowed")

// Defaults for [Fetcher].
const (
	DefaultFetchTimeout = 30 * time.Minute
	maxRedirects        = 5
)

// Fetcher downloads image files from HTTP(S) URLs that users give. An import
// URL is a server-side request forgery vector: without a guard a tenant could
// make the control plane fetch its own metadata, admin ports or anything on
// the provider's private network and read the answer back as an image. The
// guard runs in the dialer on the address actually connected to, after DNS
// resolution, so a name that resolves (or later re-resolves) to a private
// address and a redirect to one are refused alike. Proxies from the
// environment are not used: a proxy would hide the real destination from the
// guard.
type Fetcher struct {
	// AllowPrivate lets the download reach private and loopback addresses.
	// Only the provider's own admins get it.
	AllowPrivate bool
	// MaxBytes caps the body; 0 means no cap. Passing it is a *Rejected
	// too_large.
	MaxBytes int64
	// Timeout bounds the whole download. Default DefaultFetchTimeout.
	Timeout time.Duration

	// exempt, in tests, lets one loopback server stand in for a public one.
	exempt func(netip.AddrPort) bool
}

// Fetch downloads rawURL into w and returns the number of bytes written.
// Only http and https are accepted, at most 5 redirects are followed, and any
// answer but 200 is an error.
func (f *Fetcher) Fetch(ctx context.Context, rawURL string, w io.Writer) (int64, error) {
	if err := CheckURL(rawURL); err != nil {
		return 0, err
	}
	timeout := f.Timeout
	if timeout <= 0 {
		timeout = DefaultFetchTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	dialer := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	if !f.AllowPrivate {
		dialer.Control = func(network, address string, _ syscall.RawConn) error {
			return refusePrivate(address, f.exempt)
		}
	}
	tr := &http.Transport{
		Proxy:                 nil,
		DialContext:           dialer.DialContext,
		TLSHandshakeTimeout:   30 * time.Second,
		ResponseHeaderTimeout: time.Minute,
		MaxIdleConns:          1,
		DisableKeepAlives:     true,
		ForceAttemptHTTP2:     true,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{
		Transport: tr,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) > maxRedirects {
				return fmt.Errorf("stopped after %d redirects", maxRedirects)
			}
			return checkScheme(req.URL)
		},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return 0, fmt.Errorf("fetch %s: %w", redact(rawURL), err)
	}
	req.Header.Set("User-Agent", "sirocco-image-import")
	res, err := client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("fetch %s: %w", redact(rawURL), unwrapURLError(err))
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("fetch %s: the server answered %s", redact(rawURL), res.Status)
	}
	if f.MaxBytes > 0 && res.ContentLength > f.MaxBytes {
		return 0, fmt.Errorf("fetch %s: %w", redact(rawURL),
			reject(CodeTooLarge, "the server announces %d bytes, the limit is %d", res.ContentLength, f.MaxBytes))
	}
	body := io.Reader(res.Body)
	if f.MaxBytes > 0 {
		body = io.LimitReader(body, f.MaxBytes+1)
	}
	n, err := io.CopyBuffer(w, body, make([]byte, 1<<20))
	if err != nil {
		return n, fmt.Errorf("fetch %s: %w", redact(rawURL), err)
	}
	if f.MaxBytes > 0 && n > f.MaxBytes {
		return n, fmt.Errorf("fetch %s: %w", redact(rawURL), reject(CodeTooLarge, "the download is larger than the limit of %d bytes", f.MaxBytes))
	}
	return n, nil
}

// CheckURL checks that rawURL is an absolute http or https URL with a host.
// It does not resolve the host: the address is checked when connecting.
func CheckURL(rawURL string) error {
	u, err := url.Parse(rawURL)
	if err != nil {
		return fmt.Errorf("fetch: invalid URL: %w", err)
	}
	if err := checkScheme(u); err != nil {
		return err
	}
	if u.Hostname() == "" {
		return fmt.Errorf("fetch %s: the URL has no host", redact(rawURL))
	}
	return nil
}

func checkScheme(u *url.URL) error {
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("fetch: scheme %q is not allowed (use http or https)", u.Scheme)
	}
	return nil
}

// redact drops credentials from a URL before it goes into an error message.
func redact(rawURL string) string {
	if u, err := url.Parse(rawURL); err == nil {
		return u.Redacted()
	}
	return "URL"
}

// unwrapURLError strips the *url.Error wrapper, whose message repeats the
// URL (with any password in it); the cause stays in the chain.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// refusePrivate runs in the dialer's Control on every connection attempt,
// with the resolved IP address, and refuses forbidden ones.
func refusePrivate(address string, exempt func(netip.AddrPort) bool) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: %q is not an IP address and port", ErrForbiddenAddress, address)
	}
	if exempt != nil && exempt(ap) {
		return nil
	}
	if ip := ap.Addr(); Forbidden(ip) {
		return fmt.Errorf("%w: %s is a loopback, private, link-local or reserved address", ErrForbiddenAddress, ip)
	}
	return nil
}

// reserved are ranges the net/netip predicates do not cover.
var reserved = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),      // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),  // carrier-grade NAT (RFC 6598)
	netip.MustParsePrefix("192.0.0.0/24"),   // IETF protocol assignments
	netip.MustParsePrefix("198.18.0.0/15"),  // benchmarking
	netip.MustParsePrefix("240.0.0.0/4"),    // reserved, and broadcast
	netip.MustParsePrefix("64:ff9b:1::/48"), // local-use NAT64
	netip.MustParsePrefix("2001:db8::/32"),  // documentation
	netip.MustParsePrefix("fec0::/10"),      // deprecated site-local
	netip.MustParsePrefix("100::/64"),       // discard
	netip.MustParsePrefix("2001:10::/28"),   // ORCHID
}

// nat64 is the well-known NAT64 prefix: its last 32 bits are an IPv4 address
// that the translator connects to.
var nat64 = netip.MustParsePrefix("64:ff9b::/96")

// sixToFour is the 6to4 prefix: bits 16-47 are an IPv4 address.
var sixToFour = netip.MustParsePrefix("2002::/16")

// Forbidden reports whether a download may not connect to ip unless private
// addresses are allowed.
func Forbidden(ip netip.Addr) bool {
	ip = ip.Unmap()
	if nat64.Contains(ip) {
		b := ip.As16()
		return Forbidden(netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]}))
	}
	if sixToFour.Contains(ip) {
		b := ip.As16()
		return Forbidden(netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]}))
	}
	if !ip.IsValid() || ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsInterfaceLocalMulticast() || ip.IsMulticast() || ip.IsUnspecified() {
		return true
	}
	for _, p := range reserved {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}
