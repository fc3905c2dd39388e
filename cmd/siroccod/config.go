package main

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

var errHelp = errors.New("help requested")

// serveConfig is everything `siroccod serve` is told.
type serveConfig struct {
	DataDir      string
	DB           string
	Listen       string
	PublicURL    string
	TLSCert      string
	TLSKey       string
	InsecureHTTP bool
	SeedDemo     bool
	AdminEmail   string
	SMTPAddr     string
	SMTPFrom     string
	SMTPUser     string
	SMTPPassFile string
	LogLevel     string
	LogFormat    string
	Holder       string
	LeaseTTL     time.Duration
	RateLimit    float64
	RateBurst    int
	Heartbeat    time.Duration
	LocalHost    bool
	LocalZone    string
	VMDir        string
	QEMUUser     string
	Underlay     string
	Uplink       string
	RouterPrefix string
	DNSUpstream  string
	Accel        string
	DemoImage    string
}

func defaultDataDir() string {
	if os.Geteuid() == 0 {
		return "/var/lib/sirocco"
	}
	if d, err := os.UserHomeDir(); err == nil {
		return filepath.Join(d, ".local", "share", "sirocco")
	}
	return "sirocco-data"
}

func parseServe(args []string) (*serveConfig, error) {
	c := &serveConfig{}
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.StringVar(&c.DataDir, "data-dir", defaultDataDir(), "directory for the embedded database, TLS material and local state")
	fs.StringVar(&c.DB, "db", "", "database: empty for SQLite in the data directory, or postgres://user:pass@host/db")
	fs.StringVar(&c.Listen, "listen", ":8443", "address to serve the API and console on")
	fs.StringVar(&c.PublicURL, "public-url", "", "URL users reach this control plane at (links in mails); default derived from --listen")
	fs.StringVar(&c.TLSCert, "tls-cert", "", "TLS certificate file (PEM); default: a self-signed certificate created in the data directory")
	fs.StringVar(&c.TLSKey, "tls-key", "", "TLS private key file (PEM), with --tls-cert")
	fs.BoolVar(&c.InsecureHTTP, "insecure-http", false, "serve plain HTTP (only allowed on a loopback address)")
	fs.BoolVar(&c.SeedDemo, "seed-demo", false, "seed the demo provider (region au-syd, zone au-syd-1a, AUD, sizes) if missing")
	fs.StringVar(&c.AdminEmail, "admin-email", "admin@sirocco.local", "e-mail of the first provider admin, created with a random password when none exists")
	fs.StringVar(&c.SMTPAddr, "smtp", "", "SMTP server host:port for mail; empty writes mails to the log")
	fs.StringVar(&c.SMTPFrom, "smtp-from", "", "sender address of mails (default noreply@<public host>)")
	fs.StringVar(&c.SMTPUser, "smtp-user", "", "SMTP user name")
	fs.StringVar(&c.SMTPPassFile, "smtp-password-file", "", "file holding the SMTP password")
	fs.StringVar(&c.LogLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&c.LogFormat, "log-format", "text", "text or json")
	fs.StringVar(&c.Holder, "replica-name", "", "name of this replica in leases (default host name and process ID)")
	fs.DurationVar(&c.LeaseTTL, "lease-ttl", 15*time.Second, "how long a singleton loop's lease outlives its holder")
	fs.Float64Var(&c.RateLimit, "rate-limit", 50, "API requests per second per token, session or anonymous address")
	fs.IntVar(&c.RateBurst, "rate-burst", 100, "API request burst above --rate-limit")
	fs.BoolVar(&c.LocalHost, "local-host", false, "also make this machine a hypervisor host, with an in-process agent (a one-machine cloud)")
	fs.StringVar(&c.LocalZone, "local-zone", "au-syd-1a", "zone of the local host, with --local-host")
	fs.StringVar(&c.VMDir, "vm-dir", "", "with --local-host: where VM disks and the image cache live (default /var/lib/sirocco/hypervisor for root, else <data-dir>/agent)")
	fs.StringVar(&c.QEMUUser, "qemu-user", defaultQEMUUser(), "with --local-host: the unprivileged user QEMU runs as (empty: siroccod's own user)")
	fs.StringVar(&c.Underlay, "underlay", "", "with --local-host: this host's address for VXLAN between hosts; tenant networks need it")
	fs.StringVar(&c.Uplink, "uplink", "", "with --local-host: the interface on the provider's external network (public IPs)")
	fs.StringVar(&c.DNSUpstream, "dns-upstream", "", "with --local-host: resolvers (IPv4, comma-separated) tenant networks' routers forward DNS to")
	fs.StringVar(&c.RouterPrefix, "router-prefix", "", "with --local-host: prefix of the router namespaces (default srtr-)")
	fs.StringVar(&c.Accel, "accel", "", "with --local-host: force the accelerator, kvm or tcg (default: kvm only where the CPU shows vmx/svm and /dev/kvm works)")
	fs.StringVar(&c.DemoImage, "demo-image", "", "with --seed-demo: a directory holding the test guest (vmlinuz, initrd.img, from 'make image') to publish as image sirocco-testguest")
	fs.DurationVar(&c.Heartbeat, "heartbeat-interval", 10*time.Second, "how often agents report; a host missing three reports is marked down")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, errHelp
		}
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return c, c.validate()
}

func (c *serveConfig) validate() error {
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return errors.New("--tls-cert and --tls-key go together")
	}
	if c.InsecureHTTP {
		if c.TLSCert != "" {
			return errors.New("--insecure-http and --tls-cert exclude each other")
		}
		host, _, err := net.SplitHostPort(c.Listen)
		if err != nil {
			return fmt.Errorf("--listen %q: %w", c.Listen, err)
		}
		if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return fmt.Errorf("--insecure-http is only allowed on a loopback address, not %q: use TLS", c.Listen)
		}
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("--log-level %q: want debug, info, warn or error", c.LogLevel)
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		return fmt.Errorf("--log-format %q: want text or json", c.LogFormat)
	}
	if c.LocalHost && c.InsecureHTTP {
		return errors.New("--local-host needs TLS: its agent pins the control plane's certificate like any other")
	}
	if c.Accel != "" && c.Accel != "kvm" && c.Accel != "tcg" {
		return fmt.Errorf("--accel %q: want kvm or tcg", c.Accel)
	}
	if c.Heartbeat < time.Second {
		return errors.New("--heartbeat-interval must be at least 1s")
	}
	if c.LeaseTTL < time.Second {
		return errors.New("--lease-ttl must be at least 1s")
	}
	if c.DB != "" && !strings.HasPrefix(c.DB, "postgres://") && !strings.HasPrefix(c.DB, "postgresql://") {
		return fmt.Errorf("--db must be a postgres:// URL (leave it empty for the embedded SQLite store)")
	}
	return nil
}

// publicURL is where users reach the server.
func (c *serveConfig) publicURL() string {
	if c.PublicURL != "" {
		return strings.TrimRight(c.PublicURL, "/")
	}
	host, port, err := net.SplitHostPort(c.Listen)
	if err != nil {
		return "https://localhost:8443"
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "localhost"
	}
	scheme := "https"
	if c.InsecureHTTP {
		scheme = "http"
	}
	return scheme + "://" + net.JoinHostPort(host, port)
}
