package smtp

import (
	"crypto/x509"
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"strings"
	"time"
)

// TLSMode says how the connection to the SMTP server is protected.
type TLSMode string

const (
	// TLSNone sends in clear text. Meant for a relay on the same host or in the same pod.
	TLSNone TLSMode = "none"
	// TLSStartTLS connects in clear text and requires the server to offer STARTTLS; a server
	// that does not is an error, never a silent downgrade. Usually port 587.
	TLSStartTLS TLSMode = "starttls"
	// TLSImplicit speaks TLS from the first byte (SMTPS). Usually port 465.
	TLSImplicit TLSMode = "implicit"
)

// Defaults for the zero values of Config.
const (
	DefaultConnectTimeout = 10 * time.Second
	DefaultSendTimeout    = 30 * time.Second
	// DefaultIdleTimeout is well below the five minutes RFC 5321 (4.5.3.2.7) asks servers to
	// wait for the next command, and below the shorter limits busy relays set themselves.
	DefaultIdleTimeout = 30 * time.Second
	// DefaultMaxMessagesPerConnection keeps a session below the message limits relays put on
	// one connection (Postfix, Exchange and hosted relays commonly allow 100 or more).
	DefaultMaxMessagesPerConnection = 100
)

// Bounds on the reuse and rate settings.
const (
	// MaxIdleConnectionsLimit bounds MaxIdleConnections: relays limit the sessions one
	// client may hold open, and a few are enough for the operator's workers.
	MaxIdleConnectionsLimit = 16
	// MaxPerSecondLimit bounds MaxPerSecond; a higher rate is no limit at all.
	MaxPerSecondLimit = 1e6
)

// Config configures a Sender. Secrets are values here; the caller reads them from files
// (internal/secretfile).
type Config struct {
	// Host is the server's name or IP address; with TLS it is also the name the server's
	// certificate must carry.
	Host string
	// Port is the server's port; 0 means 25, 587 or 465 for none, starttls or implicit.
	Port int
	// TLS is none, starttls or implicit; empty means none.
	TLS TLSMode
	// CAFile is a PEM file of the CAs that sign the server's certificate. Empty means the
	// system's roots. Only with starttls or implicit.
	CAFile string
	// Username and Password, when set, authenticate with AUTH PLAIN (or LOGIN when the
	// server offers only that). Both or neither.
	Username string
	Password string
	// ConnectTimeout bounds the TCP connect (and the TLS handshake with implicit TLS).
	// Default 10s.
	ConnectTimeout time.Duration
	// SendTimeout bounds one whole Send: connect, greeting, EHLO, STARTTLS, AUTH, the
	// message and QUIT; it also bounds the wait for each reply. It starts after the wait for
	// the send rate (MaxPerSecond), which only the caller's context bounds. Default 30s.
	SendTimeout time.Duration
	// HeloName is the name sent with EHLO; empty means the host name of this machine.
	HeloName string

	// MaxIdleConnections is how many sessions (connected, greeted, TLS and AUTH done) are
	// kept open between Sends for later Sends to reuse. 0, the zero value, opens a session
	// for every message and ends it with QUIT. At most MaxIdleConnectionsLimit. Sends running
	// at once each have a session of their own; this bounds only the idle ones.
	MaxIdleConnections int
	// IdleTimeout closes a kept session that no Send has used for this long. Default 30s.
	IdleTimeout time.Duration
	// MaxMessagesPerConnection closes a session, with QUIT, after this many messages instead of
	// keeping it. Default 100.
	MaxMessagesPerConnection int
	// MaxPerSecond bounds how many messages per second Send hands to the server, as a token
	// bucket holding ceil(MaxPerSecond) tokens: a burst of that many, then one message every
	// 1/MaxPerSecond seconds. 0, the zero value, is unlimited.
	MaxPerSecond float64
}

// withDefaults validates cfg and fills in defaults. The CA file is read here, so a missing
// or empty file is a startup error.
func (cfg Config) withDefaults() (Config, *x509.CertPool, error) {
	var errs []error
	if cfg.Host == "" {
		errs = append(errs, errors.New("host is empty"))
	} else if strings.Contains(cfg.Host, "://") || strings.ContainsAny(cfg.Host, " /\r\n") {
		errs = append(errs, fmt.Errorf("host %q must be a host name or IP address, without scheme or port", cfg.Host))
	} else if _, _, err := net.SplitHostPort(cfg.Host); err == nil {
		errs = append(errs, fmt.Errorf("host %q must not include a port; set port", cfg.Host))
	}
	if cfg.TLS == "" {
		cfg.TLS = TLSNone
	}
	switch cfg.TLS {
	case TLSNone, TLSStartTLS, TLSImplicit:
	default:
		errs = append(errs, fmt.Errorf("tls %q must be one of none, starttls, implicit", cfg.TLS))
	}
	if cfg.Port == 0 {
		cfg.Port = map[TLSMode]int{TLSNone: 25, TLSStartTLS: 587, TLSImplicit: 465}[cfg.TLS]
	}
	if cfg.Port < 1 || cfg.Port > 65535 {
		errs = append(errs, fmt.Errorf("port %d is out of range", cfg.Port))
	}
	if (cfg.Username == "") != (cfg.Password == "") {
		errs = append(errs, errors.New("username and password must be set together"))
	}
	if cfg.Username != "" && cfg.TLS == TLSNone && !isLoopback(cfg.Host) {
		errs = append(errs, fmt.Errorf("refusing to send credentials in clear text to %s; use tls starttls or implicit", cfg.Host))
	}
	if strings.ContainsAny(cfg.Username+cfg.Password, "\r\n\x00") {
		errs = append(errs, errors.New("username or password contains a line break or NUL"))
	}
	if cfg.ConnectTimeout < 0 || cfg.SendTimeout < 0 || cfg.IdleTimeout < 0 {
		errs = append(errs, errors.New("timeouts must not be negative"))
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = DefaultConnectTimeout
	}
	if cfg.SendTimeout == 0 {
		cfg.SendTimeout = DefaultSendTimeout
	}
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	if cfg.MaxIdleConnections < 0 || cfg.MaxIdleConnections > MaxIdleConnectionsLimit {
		errs = append(errs, fmt.Errorf("maxIdleConnections %d must be between 0 (a session per message) and %d", cfg.MaxIdleConnections, MaxIdleConnectionsLimit))
	}
	if cfg.MaxMessagesPerConnection < 0 {
		errs = append(errs, fmt.Errorf("maxMessagesPerConnection %d must not be negative", cfg.MaxMessagesPerConnection))
	}
	if cfg.MaxMessagesPerConnection == 0 {
		cfg.MaxMessagesPerConnection = DefaultMaxMessagesPerConnection
	}
	if r := cfg.MaxPerSecond; math.IsNaN(r) || r < 0 || r > MaxPerSecondLimit {
		errs = append(errs, fmt.Errorf("maxPerSecond %v must be 0 (unlimited) or a rate up to %g", r, MaxPerSecondLimit))
	}
	if cfg.HeloName != "" && strings.ContainsAny(cfg.HeloName, " \t\r\n") {
		errs = append(errs, fmt.Errorf("heloName %q must be a single host name", cfg.HeloName))
	}

	var pool *x509.CertPool
	if cfg.CAFile != "" {
		if cfg.TLS == TLSNone {
			errs = append(errs, errors.New("caFile is set but tls is none"))
		} else if pem, err := os.ReadFile(cfg.CAFile); err != nil {
			errs = append(errs, fmt.Errorf("read CA file: %w", err))
		} else {
			pool = x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				errs = append(errs, fmt.Errorf("CA file %s holds no PEM certificate", cfg.CAFile))
			}
		}
	}
	if len(errs) > 0 {
		return cfg, nil, fmt.Errorf("invalid SMTP config: %w", errors.Join(errs...))
	}
	return cfg, pool, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
