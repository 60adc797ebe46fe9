// Package ldap implements directory.Backend on an LDAPv3 server with the ppolicy overlay
// (OpenLDAP 2.5+), using only standard schema: inetOrgPerson for accounts, groupOfNames for
// roles and locations. docs/directory.md describes the DN layout, the managed marker, the
// attributes the operator owns and the server settings it relies on.
package ldap

import (
	"errors"
	"fmt"
	"net/url"
	"time"

	goldap "github.com/go-ldap/ldap/v3"
	"github.com/rosterops/staff-operator/internal/secretfile"
)

// Config configures the backend.
type Config struct {
	// URL is ldap://host:port or ldaps://host:port.
	URL string
	// StartTLS upgrades an ldap:// connection with the StartTLS extended operation.
	StartTLS bool
	// CAFile is a PEM bundle that verifies the server certificate (ldaps:// or StartTLS);
	// the system roots when empty.
	CAFile string
	// ServerName overrides the name the server certificate is checked against (the URL's host).
	ServerName string
	// BindDN and its password. BindPassword wins; otherwise BindPasswordFile is read at
	// every (re)connect, so a rotated secret is picked up without a restart.
	BindDN           string
	BindPassword     string
	BindPasswordFile string
	// BaseDN holds one subtree per organization (namespace): ou=<namespace>,<BaseDN>.
	BaseDN string
	// AdoptExisting lets AdoptAccount take over an unmanaged entry with the same email.
	AdoptExisting bool
	// PolicyDN is the server's default password policy (ppolicy_default), read for
	// pwdMaxIdle, pwdLockout and pwdLockoutDuration, so that SignInFacts can tell an idle
	// lockout. Entries with their own pwdPolicySubentry use that one. When empty and an
	// entry has no pwdPolicySubentry, idle lockouts are not reported.
	PolicyDN string
	// DialTimeout bounds connecting (and the TLS handshake); 10s when zero.
	DialTimeout time.Duration
	// RequestTimeout bounds each request; 30s when zero.
	RequestTimeout time.Duration
	// PageSize is the page size of paged searches; 500 when zero.
	PageSize uint32
	// Connections is the number of connections the client keeps to the server, 1 to 32; 4
	// when zero. Each connection carries any number of plain requests at once, but only one
	// paged search, so Connections bounds how many paged searches (ListManaged, group
	// member reads) run in parallel.
	Connections int
	// Observer, when set, is called after every request to the server with the operation
	// ("bind", "search", "add", "modify", "modifyDN", "delete", "passwordModify"), its error and duration:
	// the hook for metrics.
	Observer func(op string, err error, d time.Duration)
}

func (c *Config) defaults() error {
	if c.DialTimeout == 0 {
		c.DialTimeout = 10 * time.Second
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = 30 * time.Second
	}
	if c.PageSize == 0 {
		c.PageSize = 500
	}
	if c.Connections == 0 {
		c.Connections = defaultConnections
	}
	if c.Connections < 1 || c.Connections > maxConnections {
		return fmt.Errorf("connections %d: must be between 1 and %d (0 means %d)", c.Connections, maxConnections, defaultConnections)
	}
	u, err := url.Parse(c.URL)
	if err != nil {
		return fmt.Errorf("url %q: %w", c.URL, err)
	}
	switch u.Scheme {
	case "ldap":
	case "ldaps":
		if c.StartTLS {
			return errors.New("startTLS with an ldaps:// URL: choose one")
		}
	default:
		return fmt.Errorf("url %q: scheme must be ldap or ldaps", c.URL)
	}
	if c.BaseDN == "" {
		return errors.New("baseDN is required")
	}
	if _, err := goldap.ParseDN(c.BaseDN); err != nil {
		return fmt.Errorf("baseDN %q: %w", c.BaseDN, err)
	}
	if c.BindDN != "" && c.BindPassword == "" && c.BindPasswordFile == "" {
		return errors.New("bindDN needs bindPassword or bindPasswordFile")
	}
	return nil
}

func (c *Config) bindPassword() (string, error) {
	if c.BindPassword != "" || c.BindPasswordFile == "" {
		return c.BindPassword, nil
	}
	return secretfile.Read(c.BindPasswordFile)
}
