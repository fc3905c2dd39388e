package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/sirocco-cloud/sirocco/internal/agent"
	"github.com/sirocco-cloud/sirocco/internal/certs"
	"github.com/sirocco-cloud/sirocco/internal/console"
	"github.com/sirocco-cloud/sirocco/internal/image"
	"github.com/sirocco-cloud/sirocco/internal/loop"
	"github.com/sirocco-cloud/sirocco/internal/mail"
	"github.com/sirocco-cloud/sirocco/internal/operation"
	"github.com/sirocco-cloud/sirocco/internal/seed"
	"github.com/sirocco-cloud/sirocco/internal/server"
	"github.com/sirocco-cloud/sirocco/internal/store"
)

func newLogger(c *serveConfig) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(c.LogLevel))
	opts := &slog.HandlerOptions{Level: lvl}
	if c.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}

func serve(ctx context.Context, c *serveConfig) error {
	log := newLogger(c)
	if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	dsn := c.DB
	if dsn == "" {
		dsn = filepath.Join(c.DataDir, "sirocco.db")
	}
	st, err := store.Open(ctx, dsn, store.Options{})
	if err != nil {
		return err
	}
	defer st.Close()
	log.Info("store open", "engine", st.Dialect())

	holder := c.Holder
	if holder == "" {
		h, _ := os.Hostname()
		holder = fmt.Sprintf("%s-%d", h, os.Getpid())
	}

	catalog := &image.Catalog{Dir: filepath.Join(c.DataDir, "catalog"), Img: &image.QemuImg{},
		Limits: image.Limits{MaxVirtualBytes: 2 << 40, MaxFileBytes: 256 << 30}}
	if c.SeedDemo {
		if err := seed.Demo(ctx, st); err != nil {
			return fmt.Errorf("seed demo provider: %w", err)
		}
		if c.DemoImage != "" {
			im, err := seed.PublicImage(ctx, st, catalog, demoImageName, filepath.Join(c.DemoImage, "vmlinuz"),
				filepath.Join(c.DemoImage, "initrd.img"), "console=ttyS0 panic=-1")
			if err != nil {
				return fmt.Errorf("publish the test guest from %s (build it with make image): %w", c.DemoImage, err)
			}
			log.Info("test guest in the public catalog", "image", im.Name, "id", im.ID)
		}
	}
	adminPassword, created, err := seed.Admin(ctx, st, c.AdminEmail)
	if err != nil {
		return fmt.Errorf("first provider admin: %w", err)
	}
	pwFile := filepath.Join(c.DataDir, "initial-admin-password")
	if created {
		if err := os.WriteFile(pwFile, []byte(adminPassword+"\n"), 0o600); err != nil {
			return fmt.Errorf("write initial admin password: %w", err)
		}
		log.Info("created the first provider admin", "email", c.AdminEmail, "password_file", pwFile)
	}

	logMail := mail.NewLogSender(log.With("component", "mail"))
	var mailer server.Mailer = logMail
	// Without SMTP the console shows users the mails they were sent.
	var mailbox console.Mailbox = logMail
	if c.SMTPAddr != "" {
		from := c.SMTPFrom
		if from == "" {
			from = "noreply@" + hostOf(c.publicURL())
		}
		cfg := mail.SMTPConfig{Addr: c.SMTPAddr, From: from, Username: c.SMTPUser}
		if c.SMTPPassFile != "" {
			b, err := os.ReadFile(c.SMTPPassFile)
			if err != nil {
				return fmt.Errorf("smtp password: %w", err)
			}
			cfg.Password = strings.TrimSpace(string(b))
		}
		m, err := mail.NewSMTPSender(cfg)
		if err != nil {
			return fmt.Errorf("smtp: %w", err)
		}
		mailer = m
	}

	// The certificate comes first: join tokens carry its fingerprint.
	var cert tls.Certificate
	fingerprint := ""
	if !c.InsecureHTTP {
		if c.TLSCert != "" {
			cert, fingerprint, err = certs.Load(c.TLSCert, c.TLSKey)
		} else {
			cert, fingerprint, err = certs.LoadOrCreate(filepath.Join(c.DataDir, "tls"), []string{hostOf(c.publicURL())})
		}
		if err != nil {
			return fmt.Errorf("tls: %w", err)
		}
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	// VM operations wait on hosts, so many run at once; they are cheap.
	ops := operation.New(st, log.With("component", "operations"), operation.Options{Holder: holder, Workers: 64})
	srv := server.New(server.Config{
		BaseURL:           c.publicURL(),
		RateLimit:         c.RateLimit,
		RateBurst:         c.RateBurst,
		SecureCookies:     !c.InsecureHTTP,
		TLSFingerprint:    fingerprint,
		HeartbeatInterval: c.Heartbeat,
		Images:            catalog,
	}, st, mailer, ops, log.With("component", "api"), reg)
	loops := loop.New(st, log.With("component", "loops"), loop.Options{Holder: holder, LeaseTTL: c.LeaseTTL, Registry: reg},
		append([]loop.Loop{
			{Name: "janitor", Every: time.Minute, Singleton: true, Run: func(ctx context.Context) error {
				return st.Tx(ctx, func(tx *store.Tx) error {
					now := time.Now()
					_, err := tx.DeleteExpired(ctx, now, now.Add(-24*time.Hour))
					return err
				})
			}},
			{Name: "host-monitor", Every: min(5*time.Second, c.Heartbeat), Singleton: true, Run: srv.CheckHeartbeats},
		}, billingLoops(st, mailer, log)...)...,
	)

	if c.SMTPAddr != "" {
		mailbox = nil
	}
	handler, err := console.Mount(srv.Handler(), console.Config{SecureCookies: !c.InsecureHTTP, Mailbox: mailbox,
		Log: log.With("component", "console")})
	if err != nil {
		return err
	}
	hs := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	ln, err := net.Listen("tcp", c.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	if !c.InsecureHTTP {
		hs.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		ln = tls.NewListener(ln, hs.TLSConfig)
	}

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Go(func() { ops.Run(runCtx) })
	wg.Go(func() { loops.Run(runCtx) })
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()

	if c.LocalHost {
		loopback := "https://" + selfAddr(ln.Addr())
		stateDir := filepath.Join(c.DataDir, "agent")
		vmDir := c.VMDir
		if vmDir == "" {
			vmDir = defaultVMDir(stateDir)
		}
		// Tenant networking (underlay, uplink) waits for --underlay and
		// --uplink in serveConfig (config.go).
		hv := hypervisor{dir: vmDir, qemuUser: c.QEMUUser, accel: c.Accel, underlay: c.Underlay, uplink: c.Uplink, routerPrefix: c.RouterPrefix, dnsUpstreams: c.DNSUpstream}
		opts, err := hv.agentOptions(stateDir, log.With("component", "agent"))
		if err != nil {
			cancel()
			hs.Close()
			wg.Wait()
			return fmt.Errorf("local host: %w", err)
		}
		a, err := agent.Local(runCtx, st, loopback, fingerprint, agent.LocalHostID(), c.LocalZone, opts)
		if err != nil {
			cancel()
			hs.Close()
			wg.Wait()
			return fmt.Errorf("local host: %w", err)
		}
		wg.Go(func() { a.Run(runCtx) })
		log.Info("local host joined", "host", a.HostID(), "zone", c.LocalZone)
	}

	log.Info("siroccod serving", "url", c.publicURL(), "listen", ln.Addr().String(), "replica", holder, "tls_fingerprint", fingerprint)
	printBanner(c, fingerprint, pwFile)

	select {
	case <-ctx.Done():
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			cancel()
			wg.Wait()
			return fmt.Errorf("serve: %w", err)
		}
	}
	log.Info("shutting down")
	shutCtx, done := context.WithTimeout(context.Background(), 10*time.Second)
	defer done()
	_ = hs.Shutdown(shutCtx)
	cancel()
	wg.Wait()
	return nil
}

func printBanner(c *serveConfig, fingerprint, pwFile string) {
	url := c.publicURL()
	fmt.Fprintf(os.Stdout, "\nSirocco is running.\n  Console:  %s/console/\n  API:      %s/api/v1  (reference: %s/api/v1/docs)\n", url, url, url)
	if fingerprint != "" {
		fmt.Fprintf(os.Stdout, "  TLS:      self-signed unless --tls-cert; fingerprint %s\n", fingerprint)
	}
	if pw, err := os.ReadFile(pwFile); err == nil {
		fmt.Fprintf(os.Stdout, "  Admin:    %s / %s  (from %s)\n", c.AdminEmail, strings.TrimSpace(string(pw)), pwFile)
	}
	login := "sirocco login " + url + " --email " + c.AdminEmail
	if fingerprint != "" {
		login += " --fingerprint " + fingerprint
	}
	fmt.Fprintf(os.Stdout, "  CLI:      %s\n\n", login)
}

// selfAddr is how this process reaches its own listener.
func selfAddr(a net.Addr) string {
	host, port, _ := net.SplitHostPort(a.String())
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

func hostOf(u string) string {
	u = strings.TrimPrefix(strings.TrimPrefix(u, "https://"), "http://")
	if h, _, err := net.SplitHostPort(u); err == nil {
		return h
	}
	return strings.TrimRight(u, "/")
}

// demoImageName is the test guest's name in the demo catalog.
const demoImageName = "sirocco-testguest"
