package config

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/mail"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/rosterops/staff-operator/internal/web/invitationstore"
)

// Bounds on durations: outside them a setting is almost certainly a mistake.
const (
	minInvitationTTL = 5 * time.Minute
	maxInvitationTTL = 30 * 24 * time.Hour
	maxNoticeWindow  = 30 * 24 * time.Hour
	// maxAutoResends is the Invitation CRD's bound on spec.autoResend.maxResends.
	maxAutoResends   = 10
	maxContactLength = 200 // characters
	minResyncPeriod  = 10 * time.Second
	maxWorkers       = 64
	// maxLDAPConnections is the directory client's limit (internal/directory/ldap).
	maxLDAPConnections = 32
	maxPasswordFloor   = 64 // NIST SP 800-63B: at least 64 characters must always be accepted.
	minTokenKeyBytes   = 32
)

// Bounds on the SMTP relay settings. maxSMTPIdle is internal/mail/smtp's own limit; a rate
// above maxSMTPRate is far beyond what any relay accepts from one sender, so a typo.
const (
	maxSMTPIdle = 16
	maxSMTPRate = 1000 // mails per second
)

// validate reports every problem in the configuration, one error per field.
func (c *Config) validate() error {
	var errs []error
	add := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}

	if c.Directory.LDAP == nil {
		add("directory.ldap", "is required")
	} else {
		validateLDAP(c.Directory.LDAP, add)
	}
	validateMail(&c.Mail, add)
	validateWeb(&c.Web, add)

	if ttl := c.Invitations.DefaultTTL.Duration; ttl < minInvitationTTL || ttl > maxInvitationTTL {
		add("invitations.defaultTTL", "must be between 5m and 720h, got %s", ttl)
	}
	if ttl := c.Invitations.PasswordResetTTL.Duration; ttl < minInvitationTTL || ttl > 24*time.Hour {
		add("invitations.passwordResetTTL", "must be between 5m and 24h, got %s", ttl)
	}
	if w := c.Invitations.EmailChangeNoticeWindow.Duration; w <= 0 || w > maxNoticeWindow {
		add("invitations.emailChangeNoticeWindow", "must be between 0 (the default, 24h) and 720h; the notice cannot be turned off, got %s", w)
	}
	if r := c.Invitations.ReminderBefore; r != nil && (r.Duration < 0 || r.Duration > maxInvitationTTL) {
		add("invitations.reminderBefore", "must be between 0s (no reminders) and 720h, got %s", r.Duration)
	}
	if n := c.Invitations.AutoResend.MaxResends; n < 0 || n > maxAutoResends {
		add("invitations.autoResend.maxResends", "must be between 0 and %d, as an Invitation's spec.autoResend.maxResends, got %d", maxAutoResends, n)
	}
	if c.Invitations.TokenKeyFile == "" {
		add("invitations.tokenKeyFile", "is required: a file with at least 32 random bytes (head -c 32 /dev/urandom > FILE)")
	}
	for _, w := range []struct {
		field string
		n     int
	}{{"workers.staffMembers", c.Workers.StaffMembers}, {"workers.invitations", c.Workers.Invitations}, {"workers.groups", c.Workers.Groups}} {
		if w.n < 1 || w.n > maxWorkers {
			add(w.field, "must be between 1 and %d, got %d", maxWorkers, w.n)
		}
	}
	if c.ResyncPeriod.Duration < minResyncPeriod {
		add("resyncPeriod", "must be at least %s, got %s", minResyncPeriod, c.ResyncPeriod.Duration)
	}
	validateRemovalGuard(c.RemovalGuard, add)
	return errors.Join(errs...)
}

type addFunc func(field, format string, args ...any)

// validateRemovalGuard keeps the guard meaningful: a negative count or a share above 100% would
// switch it off without saying so.
func validateRemovalGuard(g RemovalGuard, add addFunc) {
	if g.MaxEntries < 0 {
		add("removalGuard.maxEntries", "must be 0 (default 20) or more, got %d", g.MaxEntries)
	}
	if g.MaxPercent < 0 || g.MaxPercent > 100 {
		add("removalGuard.maxPercent", "must be between 0 (default 10) and 100, got %d", g.MaxPercent)
	}
	if g.Window.Duration < 0 {
		add("removalGuard.window", "must be 0 (default 10m) or more, got %s", g.Window.Duration)
	}
}

func validateLDAP(l *LDAP, add addFunc) {
	if l.URL == "" {
		add("directory.ldap.url", "is required, such as ldaps://ldap.example.org:636")
	} else if u, err := url.Parse(l.URL); err != nil || (u.Scheme != "ldap" && u.Scheme != "ldaps") || u.Host == "" {
		add("directory.ldap.url", "must be ldap://host:port or ldaps://host:port, got %q", l.URL)
	} else if u.Scheme == "ldaps" && l.StartTLS {
		add("directory.ldap.startTLS", "cannot be used with an ldaps:// URL, which is TLS already")
	} else if u.Scheme == "ldap" && !l.StartTLS && !l.AllowInsecure && !isLoopbackHost(u.Hostname()) {
		add("directory.ldap.url", "ldap:// to %s without startTLS sends the bind password and every password set through the invitation page in clear text; "+
			"use ldaps://, or set directory.ldap.startTLS: true, or (only on a network you trust) set directory.ldap.allowInsecure: true", u.Hostname())
	}
	if l.BindDN == "" {
		add("directory.ldap.bindDN", "is required")
	}
	if l.Connections < 0 || l.Connections > maxLDAPConnections {
		add("directory.ldap.connections", "must be between 1 and %d (0 means 4), got %d", maxLDAPConnections, l.Connections)
	}
	if l.BindPasswordFile == "" {
		add("directory.ldap.bindPasswordFile", "is required: the file holding the bind password")
	}
	if l.BaseDN == "" {
		add("directory.ldap.baseDN", "is required, such as dc=example,dc=org")
	}
	if t := l.Timeout.Duration; t < 0 {
		add("directory.ldap.timeout", "must be positive, got %s", t)
	} else if t > invitationstore.MaxDirectoryTimeout {
		add("directory.ldap.timeout", "must be at most %s, got %s: a password submit on the invitation page holds a %s claim on its link "+
			"(invitationstore.ClaimTimeout), starts no directory request after %s, and its last request may wait several timeouts "+
			"(connect, StartTLS, bind, the request), all of which must end inside the claim",
			invitationstore.MaxDirectoryTimeout, t, invitationstore.ClaimTimeout, invitationstore.RedeemTimeout)
	}
}

// isLoopbackHost reports whether host (without port or brackets) is this machine: localhost,
// 127.0.0.0/8 or ::1. Only then may secrets travel without TLS.
func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	addr, err := netip.ParseAddr(host)
	return err == nil && addr.Unmap().IsLoopback()
}

func validateMail(m *Mail, add addFunc) {
	s := &m.SMTP
	if s.Host == "" {
		add("mail.smtp.host", "is required")
	}
	if s.Port < 1 || s.Port > 65535 {
		add("mail.smtp.port", "must be between 1 and 65535, got %d", s.Port)
	}
	switch s.TLS {
	case TLSNone, TLSStartTLS, TLSImplicit:
	default:
		add("mail.smtp.tls", "must be none, starttls or implicit, got %q", s.TLS)
	}
	if (s.UsernameFile == "") != (s.PasswordFile == "") {
		add("mail.smtp.usernameFile", "and mail.smtp.passwordFile must be set together, for AUTH")
	}
	if s.Timeout.Duration < 0 {
		add("mail.smtp.timeout", "must be positive, got %s", s.Timeout.Duration)
	}
	if n := s.MaxIdleConnections; n != nil && (*n < 0 || *n > maxSMTPIdle) {
		add("mail.smtp.maxIdleConnections", "must be between 0 (a new session for every mail) and %d, got %d", maxSMTPIdle, *n)
	}
	if r := s.MaxPerSecond; math.IsNaN(r) || r < 0 || r > maxSMTPRate {
		add("mail.smtp.maxPerSecond", "must be 0 (unlimited) or a rate of at most %d mails per second, such as 5 or 0.5, got %v", maxSMTPRate, r)
	}
	if m.From == "" {
		add("mail.from", "is required, such as \"Staff Accounts <no-reply@example.org>\"")
	} else if _, err := mail.ParseAddress(m.From); err != nil {
		add("mail.from", "is not a mail address: %v", err)
	}
	// Contact is shown inside a sentence of every notice and may be put into a subject by a
	// template override, so it must be one short line.
	if !isOneLine(m.Contact) {
		add("mail.contact", "must be a single line without control characters, such as \"the front office at +1 312 555 0100\"")
	} else if n := utf8.RuneCountInString(m.Contact); n > maxContactLength {
		add("mail.contact", "must be at most %d characters, got %d", maxContactLength, n)
	}
}

// isOneLine reports whether s is valid UTF-8 without control characters (which include CR,
// LF, tab and NUL) and without Unicode line or paragraph separators.
func isOneLine(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return false
		}
	}
	return true
}

func validateWeb(w *Web, add addFunc) {
	if _, port, err := net.SplitHostPort(w.Listen); err != nil {
		add("web.listen", "must be host:port or :port, got %q", w.Listen)
	} else if _, err := strconv.Atoi(port); err != nil {
		add("web.listen", "must have a numeric port, got %q", w.Listen)
	}
	if w.PublicURL == "" {
		add("web.publicURL", "is required: links in mails start with it, such as https://staff.example.org")
	} else if !isHTTPURL(w.PublicURL) {
		add("web.publicURL", "must be an http:// or https:// URL, got %q", w.PublicURL)
	} else if u, _ := url.Parse(w.PublicURL); u.Scheme == "http" && !w.AllowInsecure && !isLoopbackHost(u.Hostname()) {
		add("web.publicURL", "http:// to %s sends the links in mails and the passwords typed into the page in clear text; "+
			"use https:// (with web.tlsCertFile and web.tlsKeyFile, or TLS at the ingress), or (only for a test installation) set web.allowInsecure: true", u.Hostname())
	}
	if w.SignInURL != "" && !isHTTPURL(w.SignInURL) {
		add("web.signInURL", "must be an http:// or https:// URL, got %q", w.SignInURL)
	}
	if (w.TLSCertFile == "") != (w.TLSKeyFile == "") {
		add("web.tlsCertFile", "and web.tlsKeyFile must be set together")
	}
	if w.MinPasswordLength < 8 || w.MinPasswordLength > maxPasswordFloor {
		add("web.minPasswordLength", "must be between 8 and %d, got %d", maxPasswordFloor, w.MinPasswordLength)
	}
	if w.TrustForwardedFor {
		add("web.trustForwardedFor", "is no longer supported: it trusted X-Forwarded-For from any client, so a client could choose its own rate-limit key; "+
			"remove it and list the addresses of the proxies in front of the page in web.trustedProxies instead, such as [\"10.0.0.0/8\"]")
	}
	w.Proxies = parseProxies(w.TrustedProxies, add)
}

// parseProxies parses web.trustedProxies: CIDRs, or single addresses taken as /32 or /128.
func parseProxies(entries []string, add addFunc) []netip.Prefix {
	var out []netip.Prefix
	for i, e := range entries {
		field := fmt.Sprintf("web.trustedProxies[%d]", i)
		p, err := netip.ParsePrefix(e)
		if err != nil {
			addr, aerr := netip.ParseAddr(e)
			if aerr != nil || addr.Zone() != "" {
				add(field, "must be a CIDR such as 10.0.0.0/8 or an IP address such as 10.1.2.3, got %q", e)
				continue
			}
			addr = addr.Unmap()
			p = netip.PrefixFrom(addr, addr.BitLen())
		}
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			// ::ffff:10.0.0.0/104 is written as 10.0.0.0/8 by clients; compare in one form.
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		if p.Bits() == 0 {
			add(field, "%q trusts every address, so any client could choose its own rate-limit key; list only the proxies in front of the page", e)
			continue
		}
		out = append(out, p.Masked())
	}
	return out
}

func isHTTPURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}
