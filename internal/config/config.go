// Package config loads the manager's configuration file (--config). The file is YAML, read
// strictly: an unknown field is an error, so a typo never silently falls back to a default.
// Secrets are never in the file itself: it names files that hold them, and Load reads those.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"

	"github.com/rosterops/staff-operator/internal/secretfile"
)

// Config is the manager's configuration.
type Config struct {
	Directory   Directory   `json:"directory"`
	Mail        Mail        `json:"mail"`
	Web         Web         `json:"web"`
	Invitations Invitations `json:"invitations"`
	// ResyncPeriod is how often every managed account is compared with the directory, to find
	// changes made there by hand.
	ResyncPeriod metav1.Duration `json:"resyncPeriod"`
	// Workers is how many passes of each reconciler run at once.
	Workers Workers `json:"workers"`
	// RemovalGuard holds back mass removals of directory entries (deletionPolicy Delete).
	RemovalGuard RemovalGuard `json:"removalGuard"`
}

// RemovalGuard: when more members of one practice than the larger of MaxEntries and MaxPercent
// of the practice are removed within Window, the removal of the entries beyond it waits for an
// approval on the practice's Namespace (staff.rosterops.io/removals-approved-at); their accounts
// are locked at once regardless. 0 is the default.
type RemovalGuard struct {
	// MaxEntries (default 20).
	MaxEntries int `json:"maxEntries"`
	// MaxPercent of the practice's members (default 10).
	MaxPercent int `json:"maxPercent"`
	// Window (default 10m).
	Window metav1.Duration `json:"window"`
}

// Workers sizes each reconciler's concurrency. More workers converge a burst of new staff
// faster, against more load on the directory and the mail server; a deactivation is queued
// ahead of the burst whatever the number. 0 is the default.
type Workers struct {
	// StaffMembers: passes of the StaffMember reconciler at once (default 4).
	StaffMembers int `json:"staffMembers"`
	// Invitations: passes of the Invitation reconciler, each of which may send a mail (default 4).
	Invitations int `json:"invitations"`
	// Groups: passes of the Role reconciler and of the Location reconciler, each (default 2).
	Groups int `json:"groups"`
}

// Directory selects and configures the user directory. Only LDAP exists today.
type Directory struct {
	LDAP *LDAP `json:"ldap"`
}

// LDAP configures an LDAPv3 directory with the ppolicy overlay.
type LDAP struct {
	// URL is ldap://host:port or ldaps://host:port.
	URL string `json:"url"`
	// StartTLS upgrades an ldap:// connection to TLS before binding.
	StartTLS bool `json:"startTLS"`
	// AllowInsecure allows an ldap:// URL without StartTLS to a host other than loopback
	// (127.0.0.0/8, ::1, localhost). Without it such a URL is refused: the bind password and
	// every password set through the invitation page would cross the network in clear text.
	AllowInsecure bool `json:"allowInsecure"`
	// CAFile is a PEM bundle to verify the server's certificate with; the system roots otherwise.
	CAFile string `json:"caFile"`
	// BindDN is the operator's own account.
	BindDN string `json:"bindDN"`
	// BindPasswordFile holds the operator's password.
	BindPasswordFile string `json:"bindPasswordFile"`
	// BaseDN is the subtree the operator manages; each organization gets its own subtree below.
	BaseDN string `json:"baseDN"`
	// AdoptExisting lets the operator take over an unmanaged entry with a member's email.
	AdoptExisting bool `json:"adoptExisting"`
	// PolicyDN is the ppolicy entry whose pwdMaxIdle tells idle lockouts apart; the server's
	// default policy when empty.
	PolicyDN string `json:"policyDN"`
	// Timeout bounds connecting and each request: 5s by default, at most 6s
	// (invitationstore.MaxDirectoryTimeout), so that a password submit on the invitation page
	// ends inside its one-minute claim on the link.
	Timeout metav1.Duration `json:"timeout"`
	// Connections is how many connections the operator keeps to the server: requests share
	// them, and each paged search (the resync, a group's members) has one to itself, so this is
	// how many run at once. 0 means 4; at most 32.
	Connections int `json:"connections"`

	// BindPassword is read from BindPasswordFile by Load.
	BindPassword string `json:"-"`
}

// Mail configures mail delivery.
type Mail struct {
	SMTP SMTP `json:"smtp"`
	// From is the sender, such as "Staff Accounts <no-reply@example.test>".
	From string `json:"from"`
	// TemplatesDir holds templates that override the built-in ones; empty uses the built-in ones.
	TemplatesDir string `json:"templatesDir"`
	// Contact is whom a notice about an account (an email change, a password reset mailed to a
	// new address) tells its reader to turn to, such as "the front office at +1 312 555 0100".
	// One line of at most 200 characters; empty names "the administrator of <practice>".
	Contact string `json:"contact"`
}

// SMTP TLS modes.
const (
	TLSNone     = "none"
	TLSStartTLS = "starttls"
	TLSImplicit = "implicit"
)

// SMTP configures the mail relay.
type SMTP struct {
	Host string `json:"host"`
	Port int    `json:"port"`
	// TLS is none, starttls or implicit.
	TLS string `json:"tls"`
	// CAFile is a PEM bundle to verify the relay's certificate with; the system roots otherwise.
	CAFile string `json:"caFile"`
	// UsernameFile and PasswordFile hold AUTH credentials; both empty means no AUTH.
	UsernameFile string `json:"usernameFile"`
	PasswordFile string `json:"passwordFile"`
	// Timeout bounds connecting and sending one message.
	Timeout metav1.Duration `json:"timeout"`
	// MaxIdleConnections is how many sessions with the relay (connected, TLS and AUTH done)
	// stay open between mails for the next ones to reuse; 0 opens a session for every mail.
	// Default 4 (one per invitation worker) when unset, at most 16. An idle session is closed
	// after 30s.
	MaxIdleConnections *int `json:"maxIdleConnections"`
	// MaxPerSecond bounds how many mails per second go to the relay, in bursts of at most
	// ceil(MaxPerSecond); 0, the default, is unlimited. Set it below the relay's own limit.
	MaxPerSecond float64 `json:"maxPerSecond"`

	// Username and Password are read from UsernameFile and PasswordFile by Load.
	Username string `json:"-"`
	Password string `json:"-"`
}

// Web configures the invitation page.
type Web struct {
	// Listen is the address the invitation page is served on.
	Listen string `json:"listen"`
	// PublicURL is how invitees reach the page; links in mails start with it. An http:// URL
	// to a host other than loopback is refused unless AllowInsecure is set: the link and the
	// password typed into the page would cross the network in clear text.
	PublicURL string `json:"publicURL"`
	// AllowInsecure allows an http:// PublicURL to a host other than loopback (127.0.0.0/8,
	// ::1, localhost), for a test installation without TLS.
	AllowInsecure bool `json:"allowInsecure"`
	// SignInURL is where the success page sends people to sign in.
	SignInURL string `json:"signInURL"`
	// TLSCertFile and TLSKeyFile serve the page over TLS when both are set.
	TLSCertFile string `json:"tlsCertFile"`
	TLSKeyFile  string `json:"tlsKeyFile"`
	// MinPasswordLength is the shortest password accepted (NIST SP 800-63B).
	MinPasswordLength int `json:"minPasswordLength"`
	// TrustedProxies lists the proxies in front of the page (an ingress controller's pods), as
	// CIDRs or single IP addresses. A request whose connection comes from one of them is
	// counted by the per-client rate limit under the right-most X-Forwarded-For address that
	// is not itself a trusted proxy; any other request under its connection's address, so a
	// client that reaches the page directly cannot choose its own key with the header. Empty
	// (the default) trusts no header: behind a proxy all visitors then share one limit.
	TrustedProxies []string `json:"trustedProxies"`
	// TrustForwardedFor is no longer supported: it trusted the header from any client. Load
	// refuses true with a message that points to TrustedProxies; false is accepted, so older
	// files that spell out the default still load.
	TrustForwardedFor bool `json:"trustForwardedFor"`

	// Proxies is TrustedProxies parsed, by Parse.
	Proxies []netip.Prefix `json:"-"`
}

// Invitations configures invitation and password-reset links.
type Invitations struct {
	// DefaultTTL is how long an invitation link lives when an Invitation does not say.
	DefaultTTL metav1.Duration `json:"defaultTTL"`
	// PasswordResetTTL is how long a password-reset link lives.
	PasswordResetTTL metav1.Duration `json:"passwordResetTTL"`
	// TokenKeyFile holds the secret key (at least 32 bytes) that link tokens are derived from.
	// Deriving them, rather than storing them, lets a restarted manager send exactly the mail
	// it was about to send; only the tokens' SHA-256 is ever stored.
	TokenKeyFile string `json:"tokenKeyFile"`
	// EmailChangeNoticeWindow: a password reset requested within this time after an email
	// change is announced to the previous address too, since whoever changed the email to an
	// address they read could take the account over with the reset link. Default (and 0) 24h,
	// at most 720h; it cannot be turned off.
	EmailChangeNoticeWindow metav1.Duration `json:"emailChangeNoticeWindow"`
	// ReminderBefore is how long before an invitation link expires the person is reminded of
	// it, once per link. Only links that live longer than 48h get a reminder: for a shorter one
	// it would come right after the invitation itself. Absent means 24h; 0s turns reminders
	// off; at most 720h. A pointer, so that 0s is told apart from absent.
	ReminderBefore *metav1.Duration `json:"reminderBefore,omitempty"`
	// AutoResend is the autoResend policy of the Invitations the operator creates for members
	// (an Invitation committed in Git has its own spec.autoResend).
	AutoResend AutoResend `json:"autoResend"`

	// TokenKey is read from TokenKeyFile by Load.
	TokenKey []byte `json:"-"`
}

// AutoResend bounds the automatic resends of the operator's own Invitations.
type AutoResend struct {
	// MaxResends is how many times an expired link is replaced by a fresh one, 0 (the default:
	// never) to 10, as an Invitation's spec.autoResend.maxResends.
	MaxResends int32 `json:"maxResends"`
}

// Defaults.
const (
	DefaultListen            = ":8082"
	DefaultInvitationTTL     = time.Hour
	DefaultPasswordResetTTL  = 15 * time.Minute
	DefaultResyncPeriod      = 10 * time.Minute
	DefaultMemberWorkers     = 4
	DefaultInvitationWorkers = 4
	DefaultGroupWorkers      = 2
	DefaultTimeout           = 10 * time.Second
	// DefaultLDAPTimeout is below invitationstore.MaxDirectoryTimeout (6s), which bounds it.
	DefaultLDAPTimeout       = 5 * time.Second
	DefaultMinPasswordLength = 15
	// DefaultEmailChangeNoticeWindow covers a reset requested the day after a change, before
	// the previous owner of the account may have read the change notice.
	DefaultEmailChangeNoticeWindow = 24 * time.Hour
	// DefaultReminderBefore reminds a person of a link that lives longer than 48h a day before
	// it expires.
	DefaultReminderBefore = 24 * time.Hour

	// DefaultSMTPMaxIdleConnections keeps a session for each invitation worker
	// (DefaultInvitationWorkers), so that a burst of mails dials once per worker.
	DefaultSMTPMaxIdleConnections = DefaultInvitationWorkers
)

// Load reads, defaults and validates the configuration file at path, then reads the secrets it
// names. Every problem is reported, one line each, naming the field.
func Load(path string) (*Config, error) {
	if path == "" {
		return nil, errors.New("no configuration file: pass --config FILE")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read configuration: %w", err)
	}
	cfg, err := Parse(data)
	if err != nil {
		return nil, inFile(path, err)
	}
	if err := cfg.readSecrets(); err != nil {
		return nil, inFile(path, err)
	}
	return cfg, nil
}

// inFile prefixes each problem of a joined error with the file it is in, so that every line of
// the manager's exit message stands on its own.
func inFile(path string, err error) error {
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok {
		return fmt.Errorf("%s: %w", path, err)
	}
	var errs []error
	for _, e := range joined.Unwrap() {
		errs = append(errs, inFile(path, e))
	}
	return errors.Join(errs...)
}

// Parse decodes, defaults and validates a configuration without reading secret files.
func Parse(data []byte) (*Config, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, errors.New("the configuration is empty")
	}
	cfg, err := decodeStrict(data)
	if err != nil {
		return nil, err
	}
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// decodeStrict decodes YAML the way the Kubernetes API server decodes objects: field names match
// case-sensitively, and unknown or duplicate fields are errors that name the field's full path.
func decodeStrict(data []byte) (*Config, error) {
	js, err := yaml.YAMLToJSONStrict(data)
	if err != nil {
		return nil, fmt.Errorf("invalid YAML: %w", err)
	}
	var cfg Config
	strictErrs, err := sigsjson.UnmarshalStrict(js, &cfg, sigsjson.DisallowUnknownFields)
	if err != nil {
		return nil, fmt.Errorf("invalid configuration: %w", err)
	}
	if len(strictErrs) > 0 {
		return nil, errors.Join(strictErrs...)
	}
	return &cfg, nil
}

func (c *Config) setDefaults() {
	if l := c.Directory.LDAP; l != nil && l.Timeout.Duration == 0 {
		l.Timeout.Duration = DefaultLDAPTimeout
	}
	if c.Mail.SMTP.TLS == "" {
		c.Mail.SMTP.TLS = TLSNone
	}
	if c.Mail.SMTP.Timeout.Duration == 0 {
		c.Mail.SMTP.Timeout.Duration = DefaultTimeout
	}
	if c.Mail.SMTP.MaxIdleConnections == nil {
		// 0 means no reuse, so only an absent field takes the default.
		n := DefaultSMTPMaxIdleConnections
		c.Mail.SMTP.MaxIdleConnections = &n
	}
	if c.Web.Listen == "" {
		c.Web.Listen = DefaultListen
	}
	if c.Web.MinPasswordLength == 0 {
		c.Web.MinPasswordLength = DefaultMinPasswordLength
	}
	if c.Invitations.DefaultTTL.Duration == 0 {
		c.Invitations.DefaultTTL.Duration = DefaultInvitationTTL
	}
	if c.Invitations.PasswordResetTTL.Duration == 0 {
		c.Invitations.PasswordResetTTL.Duration = DefaultPasswordResetTTL
	}
	if c.Invitations.EmailChangeNoticeWindow.Duration == 0 {
		c.Invitations.EmailChangeNoticeWindow.Duration = DefaultEmailChangeNoticeWindow
	}
	if c.Invitations.ReminderBefore == nil {
		// 0s turns reminders off, so only an absent field takes the default.
		c.Invitations.ReminderBefore = &metav1.Duration{Duration: DefaultReminderBefore}
	}
	for _, w := range []struct {
		n   *int
		def int
	}{{&c.Workers.StaffMembers, DefaultMemberWorkers}, {&c.Workers.Invitations, DefaultInvitationWorkers}, {&c.Workers.Groups, DefaultGroupWorkers}} {
		if *w.n == 0 {
			*w.n = w.def
		}
	}
	if c.ResyncPeriod.Duration == 0 {
		c.ResyncPeriod.Duration = DefaultResyncPeriod
	}
}

func (c *Config) readSecrets() error {
	var errs []error
	read := func(field, path string, into *string) {
		if path == "" {
			return
		}
		v, err := secretfile.Read(path)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", field, err))
			return
		}
		*into = v
	}
	if l := c.Directory.LDAP; l != nil {
		read("directory.ldap.bindPasswordFile", l.BindPasswordFile, &l.BindPassword)
	}
	s := &c.Mail.SMTP
	read("mail.smtp.usernameFile", s.UsernameFile, &s.Username)
	read("mail.smtp.passwordFile", s.PasswordFile, &s.Password)
	if err := c.Invitations.readTokenKey(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// readTokenKey reads the token key as raw bytes: random bytes may include line breaks, which
// must not be trimmed as they are from a password.
func (inv *Invitations) readTokenKey() error {
	if inv.TokenKeyFile == "" {
		return nil
	}
	key, err := os.ReadFile(inv.TokenKeyFile)
	if err != nil {
		return fmt.Errorf("invitations.tokenKeyFile: cannot read secret file: %w", err)
	}
	if len(key) < minTokenKeyBytes {
		return fmt.Errorf("invitations.tokenKeyFile: the key must be at least %d bytes, got %d (make one with: head -c 32 /dev/urandom > FILE)", minTokenKeyBytes, len(key))
	}
	inv.TokenKey = key
	return nil
}
