// Package ldaptest runs a private OpenLDAP slapd for tests and the demo: Debian's slapd
// binary with its own configuration and data in a temporary directory, listening on a free
// loopback port, with the ppolicy overlay, a default password policy (pwdMaxIdle, lockout
// after failures), lastbind, and the access control that docs/directory.md prescribes for
// production, including the operator's service account (ServiceDN). It never touches the
// system's slapd service or /etc/ldap/slapd.d.
package ldaptest

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"text/template"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// InstallHint says how to get slapd; it is part of every "slapd not found" error.
const InstallHint = "run hack/install-packages.sh (as root) or apt-get install slapd ldap-utils"

// Defaults.
const (
	DefaultSuffix     = "dc=example,dc=test"
	DefaultSlapd      = "/usr/sbin/slapd"
	DefaultModulePath = "/usr/lib/ldap"
	DefaultSchemaDir  = "/etc/ldap/schema"
	DefaultMaxIdle    = 90 * 24 * time.Hour
	DefaultMaxFailure = 5
)

// Options configure a server. The zero value is a usable default.
type Options struct {
	// Suffix is the database suffix (dc=example,dc=test). Its first RDN must be dc, o or ou.
	Suffix string
	// BaseDN is where the operator keeps its organizations, and what the access control calls
	// the base DN: the suffix when empty, else an organizationalUnit right below it
	// (ou=staff,<suffix>), created with the server.
	BaseDN string
	// AdminPassword is the rootdn's password; random when empty.
	AdminPassword string
	// ServicePassword is the service account's password (ServiceDN); random when empty.
	ServicePassword string
	// Dir holds config, data and logs; a new temporary directory (removed on Cleanup) when empty.
	Dir string
	// Port to listen on (ldap://127.0.0.1:Port/); a free one when 0.
	Port int
	// TLS also listens for ldaps:// on a second free port and allows StartTLS, with a
	// certificate for 127.0.0.1/localhost from a fresh CA written to CAFile.
	TLS bool
	// MaxIdle is the default policy's pwdMaxIdle (rounded up to whole seconds).
	MaxIdle time.Duration
	// MaxFailure is the default policy's pwdMaxFailure.
	MaxFailure int
	// LockoutDuration is the default policy's pwdLockoutDuration; 0 locks until an admin unlocks.
	LockoutDuration time.Duration
	// Slapd, ModulePath, SchemaDir locate Debian's slapd.
	Slapd, ModulePath, SchemaDir string
	// StartTimeout bounds the wait for the server to answer (10s).
	StartTimeout time.Duration
}

// Server is a running (or stopped) private slapd.
type Server struct {
	// URL is ldap://127.0.0.1:port (StartTLS works on it when TLS is on).
	URL string
	// LDAPSURL is ldaps://127.0.0.1:port when TLS is on.
	LDAPSURL string
	// CAFile is the PEM CA certificate that signed the server certificate, when TLS is on.
	CAFile        string
	BaseDN        string
	AdminDN       string
	AdminPassword string
	// PasswordFile holds AdminPassword (no newline), for configurations that read secrets from files.
	PasswordFile string
	// ServiceDN is the operator's service account, cn=staff-operator,<suffix>: an entry with a
	// password, manage access to everything under the suffix and no size limit, as
	// docs/directory.md asks of production. Bind as it to run the backend as the manager does;
	// AdminDN (the rootdn, above every ACL) plays a human administrator.
	ServiceDN       string
	ServicePassword string
	// ServicePasswordFile holds ServicePassword (no newline).
	ServicePasswordFile string
	// ServicePolicyDN is the service account's own password policy (pwdPolicySubentry): no
	// lockout and no idle limit, so a test that shortens the default policy's pwdMaxIdle or
	// fails sign-ins never locks the operator out.
	ServicePolicyDN string
	// PolicyDN is the default password policy entry.
	PolicyDN string
	// Dir holds slapd.conf, data/ and slapd.log.
	Dir string

	opts     Options
	ownDir   bool
	confPath string
	logPath  string
	urls     string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// New starts a server for a test and stops it when the test ends. It fails the test, with
// guidance, when slapd is missing or does not start.
func New(t testing.TB, opts ...Options) *Server {
	t.Helper()
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	if o.Dir == "" {
		o.Dir = t.TempDir()
	}
	s, err := Start(o)
	if err != nil {
		t.Fatalf("ldaptest: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("ldaptest: %v", err)
		}
	})
	return s
}

// Start configures and starts a server, and waits until it answers. Call Close when done.
func Start(o Options) (*Server, error) {
	if o.Suffix == "" {
		o.Suffix = DefaultSuffix
	}
	if o.Slapd == "" {
		o.Slapd = DefaultSlapd
	}
	if o.ModulePath == "" {
		o.ModulePath = DefaultModulePath
	}
	if o.SchemaDir == "" {
		o.SchemaDir = DefaultSchemaDir
	}
	if o.MaxIdle == 0 {
		o.MaxIdle = DefaultMaxIdle
	}
	if o.MaxFailure == 0 {
		o.MaxFailure = DefaultMaxFailure
	}
	if o.StartTimeout == 0 {
		o.StartTimeout = 10 * time.Second
	}
	if _, err := os.Stat(o.Slapd); err != nil {
		return nil, fmt.Errorf("slapd not found at %s: %s", o.Slapd, InstallHint)
	}
	for _, m := range []string{"back_mdb.so", "ppolicy.so"} {
		if _, err := os.Stat(filepath.Join(o.ModulePath, m)); err != nil {
			return nil, fmt.Errorf("slapd module %s not found in %s: %s", m, o.ModulePath, InstallHint)
		}
	}
	suffix, err := ldap.ParseDN(o.Suffix)
	if err != nil {
		return nil, fmt.Errorf("suffix %q: %w", o.Suffix, err)
	}
	if o.BaseDN == "" {
		o.BaseDN = o.Suffix
	}
	if base, err := ldap.ParseDN(o.BaseDN); err != nil || !(base.EqualFold(suffix) ||
		len(base.RDNs) == len(suffix.RDNs)+1 && suffix.AncestorOfFold(base) && strings.EqualFold(base.RDNs[0].Attributes[0].Type, "ou")) {
		return nil, fmt.Errorf("base DN %q must be the suffix or ou=<name>,<suffix>", o.BaseDN)
	}
	if o.AdminPassword == "" {
		o.AdminPassword = randomHex(16)
	}
	if o.ServicePassword == "" {
		o.ServicePassword = randomHex(16)
	}
	s := &Server{opts: o, BaseDN: o.BaseDN, AdminDN: "cn=admin," + o.Suffix, AdminPassword: o.AdminPassword,
		ServiceDN: "cn=staff-operator," + o.Suffix, ServicePassword: o.ServicePassword,
		ServicePolicyDN: "cn=service,ou=policies," + o.Suffix, PolicyDN: "cn=default,ou=policies," + o.Suffix}
	if o.Dir == "" {
		d, err := os.MkdirTemp("", "ldaptest-")
		if err != nil {
			return nil, err
		}
		o.Dir, s.ownDir = d, true
	}
	s.Dir = o.Dir
	if err := s.configure(); err != nil {
		s.cleanupDir()
		return nil, err
	}
	if err := s.Start(); err != nil {
		s.cleanupDir()
		return nil, err
	}
	if err := s.seed(); err != nil {
		_ = s.Close()
		return nil, err
	}
	return s, nil
}

func (s *Server) configure() error {
	o := s.opts
	data := filepath.Join(s.Dir, "data")
	if err := os.MkdirAll(data, 0o700); err != nil {
		return err
	}
	s.PasswordFile = filepath.Join(s.Dir, "admin-password")
	if err := os.WriteFile(s.PasswordFile, []byte(s.AdminPassword), 0o600); err != nil {
		return err
	}
	s.ServicePasswordFile = filepath.Join(s.Dir, "service-password")
	if err := os.WriteFile(s.ServicePasswordFile, []byte(s.ServicePassword), 0o600); err != nil {
		return err
	}
	acl, err := accessConfig(o.Suffix, s.BaseDN, s.ServiceDN)
	if err != nil {
		return err
	}
	port := o.Port
	if port == 0 {
		p, err := freePort()
		if err != nil {
			return err
		}
		port = p
	}
	s.URL = fmt.Sprintf("ldap://127.0.0.1:%d", port)
	s.urls = s.URL + "/"
	var tlsFiles *tlsFiles
	if o.TLS {
		p, err := freePort()
		if err != nil {
			return err
		}
		s.LDAPSURL = fmt.Sprintf("ldaps://127.0.0.1:%d", p)
		s.urls += " " + s.LDAPSURL + "/"
		tlsFiles, err = writeTLSFiles(s.Dir)
		if err != nil {
			return fmt.Errorf("tls certificates: %w", err)
		}
		s.CAFile = tlsFiles.CA
	}
	var buf bytes.Buffer
	err = confTemplate.Execute(&buf, map[string]any{
		"Dir": s.Dir, "Data": data, "Opts": o, "AdminDN": s.AdminDN, "PolicyDN": s.PolicyDN,
		"RootPW": o.AdminPassword, "TLS": tlsFiles, "ACL": acl,
	})
	if err != nil {
		return err
	}
	s.confPath = filepath.Join(s.Dir, "slapd.conf")
	s.logPath = filepath.Join(s.Dir, "slapd.log")
	return os.WriteFile(s.confPath, buf.Bytes(), 0o600)
}

// confTemplate is slapd.conf; aclTemplate gives its limits and access lines. The rootdn
// (AdminDN) is above them all and plays a human administrator.
var confTemplate = template.Must(template.New("slapd.conf").Funcs(template.FuncMap{
	"q":    quote,
	"secs": func(d time.Duration) int64 { return int64((d + time.Second - 1) / time.Second) },
}).Parse(`# generated by ldaptest; private to this process
include {{.Opts.SchemaDir}}/core.schema
include {{.Opts.SchemaDir}}/cosine.schema
include {{.Opts.SchemaDir}}/inetorgperson.schema
include {{.Opts.SchemaDir}}/nis.schema
modulepath {{.Opts.ModulePath}}
moduleload back_mdb.so
moduleload ppolicy.so
pidfile {{.Dir}}/slapd.pid
argsfile {{.Dir}}/slapd.args
{{- with .TLS}}
TLSCACertificateFile {{.CA}}
TLSCertificateFile {{.Cert}}
TLSCertificateKeyFile {{.Key}}
{{- end}}

database mdb
maxsize 268435456
suffix {{q .Opts.Suffix}}
rootdn {{q .AdminDN}}
rootpw {{q .RootPW}}
directory {{.Data}}
# Test data need not survive a power cut; without fsync per write, seeding many entries is quick.
dbnosync
# lastbind maintains pwdLastSuccess, which ppolicy's pwdMaxIdle needs.
lastbind on
index objectClass eq
index uid,mail,member eq
index businessCategory eq,sub

overlay ppolicy
ppolicy_default {{q .PolicyDN}}
ppolicy_hash_cleartext

{{.ACL}}`))

// aclTemplate is the limits and access control that docs/directory.md prescribes for
// production; the doc shows it rendered with example names, and a test holds the two equal.
//
// dn.regex patterns match normalized DNs: lower case, no spaces after commas, and any special
// character in a value hex-escaped (\2C), so "[^,]" never runs into a value. A practice is a
// Kubernetes namespace, a DNS label, hence [a-z0-9-]+: the $2 taken from it is safe to expand
// into the second pattern.
var aclTemplate = template.Must(template.New("acl").Funcs(template.FuncMap{"q": quote}).Parse(`# The operator's service account may do anything under the suffix, and list it whole.
limits dn.exact={{q .ServiceDN}} size=unlimited size.prtotal=unlimited
access to dn.subtree={{q .Suffix}}
	by dn.exact={{q .ServiceDN}} manage
	by * break
# Nobody reads a password hash, their own included: one signs in with it, and may change it.
access to attrs=userPassword
	by self =w
	by anonymous auth
	by * none
access to attrs=pwdHistory
	by * none
# When someone signed in or failed to is theirs to see.
access to attrs=pwdChangedTime,pwdLastSuccess,pwdFailureTime,pwdAccountLockedTime,pwdGraceUseTime,pwdReset,pwdPolicySubentry
	by self read
	by * none
# A signed-in person may start a search at the base DN, without reading that entry, ...
access to dn.base={{q .BaseDN}} attrs=entry
	by users search
	by * none
# ... reads their own practice, ou=<practice>,<baseDN>, and nothing of another.
access to dn.regex={{q (printf "^(.+,)?ou=([a-z0-9-]+),%s$" .BaseRE)}}
	by dn.regex={{q (printf "^.+,ou=$2,%s$" .BaseRE)}} read
	by self read
	by * none
access to *
	by self read
	by * none
`))

// quote makes s one slapd.conf argument: in double quotes, backslashes and quotes escaped.
func quote(s string) string { return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"` }

// accessConfig renders aclTemplate.
func accessConfig(suffix, baseDN, serviceDN string) (string, error) {
	baseRE, err := dnRegexp(baseDN)
	if err != nil {
		return "", fmt.Errorf("base DN %q: %w", baseDN, err)
	}
	var buf bytes.Buffer
	err = aclTemplate.Execute(&buf, map[string]string{"Suffix": suffix, "BaseDN": baseDN, "ServiceDN": serviceDN, "BaseRE": baseRE})
	return buf.String(), err
}

func (s *Server) seed() error {
	conn, err := s.Dial()
	if err != nil {
		return err
	}
	defer conn.Close()
	dn, _ := ldap.ParseDN(s.opts.Suffix)
	first := dn.RDNs[0].Attributes[0]
	var oc []string
	attrs := map[string][]string{first.Type: {first.Value}}
	switch strings.ToLower(first.Type) {
	case "dc":
		oc = []string{"dcObject", "organization"}
		attrs["o"] = []string{first.Value}
	case "o":
		oc = []string{"organization"}
	case "ou":
		oc = []string{"organizationalUnit"}
	default:
		return fmt.Errorf("suffix %q: first RDN must be dc, o or ou", s.opts.Suffix)
	}
	attrs["objectClass"] = oc
	o := s.opts
	type entry struct {
		dn    string
		attrs map[string][]string
	}
	entries := []entry{
		{s.opts.Suffix, attrs},
		{"ou=policies," + s.opts.Suffix, map[string][]string{"objectClass": {"organizationalUnit"}, "ou": {"policies"}}},
		{s.PolicyDN, map[string][]string{
			"objectClass":        {"organizationalRole", "pwdPolicy"},
			"cn":                 {"default"},
			"pwdAttribute":       {"userPassword"},
			"pwdMaxIdle":         {fmt.Sprint(int64((o.MaxIdle + time.Second - 1) / time.Second))},
			"pwdLockout":         {"TRUE"},
			"pwdMaxFailure":      {fmt.Sprint(o.MaxFailure)},
			"pwdLockoutDuration": {fmt.Sprint(int64(o.LockoutDuration / time.Second))},
			"pwdMustChange":      {"FALSE"},
			"pwdAllowUserChange": {"TRUE"},
			"pwdSafeModify":      {"FALSE"},
		}},
		// The service account's own policy: never locked out, however idle, however many
		// failed binds. pwdAttribute is required by the pwdPolicy class.
		{s.ServicePolicyDN, map[string][]string{
			"objectClass":  {"organizationalRole", "pwdPolicy"},
			"cn":           {"service"},
			"pwdAttribute": {"userPassword"},
			"pwdLockout":   {"FALSE"},
		}},
		{s.ServiceDN, map[string][]string{
			"objectClass":       {"organizationalRole", "simpleSecurityObject"},
			"cn":                {"staff-operator"},
			"description":       {"staff-operator's service account"},
			"userPassword":      {s.ServicePassword},
			"pwdPolicySubentry": {s.ServicePolicyDN},
		}},
	}
	if base, _ := ldap.ParseDN(s.BaseDN); !base.EqualFold(dn) {
		entries = append(entries, entry{s.BaseDN, map[string][]string{"objectClass": {"organizationalUnit"}, "ou": {base.RDNs[0].Attributes[0].Value}}})
	}
	for _, e := range entries {
		req := ldap.NewAddRequest(e.dn, nil)
		for k, v := range e.attrs {
			req.Attribute(k, v)
		}
		err := conn.Add(req)
		if ldap.IsErrorWithCode(err, ldap.LDAPResultEntryAlreadyExists) && e.dn == s.ServiceDN {
			// Data kept from an earlier run (Options.Dir): the entry stays, with this run's password.
			mod := ldap.NewModifyRequest(e.dn, nil)
			mod.Replace("userPassword", []string{s.ServicePassword})
			err = conn.Modify(mod)
		}
		if err != nil && !ldap.IsErrorWithCode(err, ldap.LDAPResultEntryAlreadyExists) {
			return fmt.Errorf("seed %s: %w", e.dn, err)
		}
	}
	return nil
}

// Dial opens a connection bound as the admin.
func (s *Server) Dial() (*ldap.Conn, error) { return s.DialAs(s.AdminDN, s.AdminPassword) }

// DialAs opens a connection bound as dn, as a person or the service account would.
func (s *Server) DialAs(dn, password string) (*ldap.Conn, error) {
	conn, err := ldap.DialURL(s.URL, ldap.DialWithDialer(&net.Dialer{Timeout: 2 * time.Second}))
	if err != nil {
		return nil, err
	}
	conn.SetTimeout(10 * time.Second)
	if err := conn.Bind(dn, password); err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}

// Start starts slapd (again, after Stop) on the same port and data, and waits until it
// answers. It is a no-op when the server runs.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return nil
	}
	logf, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	// -d 0 keeps slapd in the foreground, under our control, without debug output; its
	// own errors still go to stderr, which lands in slapd.log.
	cmd := exec.Command(s.opts.Slapd, "-f", s.confPath, "-h", s.urls, "-d", "0")
	cmd.Stdout, cmd.Stderr = logf, logf
	// Own process group, so teardown reaches everything; killed if this process dies.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start slapd: %w (%s)", err, InstallHint)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		logf.Close()
		close(done)
	}()
	s.cmd, s.done = cmd, done
	if err := s.waitReady(done); err != nil {
		s.stopLocked()
		return fmt.Errorf("slapd did not start: %w; log %s:\n%s", err, s.logPath, s.logTail())
	}
	return nil
}

func (s *Server) waitReady(done <-chan struct{}) error {
	deadline := time.Now().Add(s.opts.StartTimeout)
	var last error
	for time.Now().Before(deadline) {
		select {
		case <-done:
			return errors.New("slapd exited")
		default:
		}
		conn, err := s.Dial()
		if err == nil {
			conn.Close()
			return nil
		}
		last = err
		// A refused connection is answered at once; pace the loop a little.
		select {
		case <-done:
			return errors.New("slapd exited")
		case <-time.After(20 * time.Millisecond):
		}
	}
	return fmt.Errorf("no answer within %s: %v", s.opts.StartTimeout, last)
}

// Stop stops slapd (SIGTERM to its process group, SIGKILL after 10s) and waits for it to
// exit. Data and port stay, for Start.
func (s *Server) Stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stopLocked()
}

func (s *Server) stopLocked() error {
	if s.cmd == nil {
		return nil
	}
	pgid := s.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-s.done
	}
	s.cmd, s.done = nil, nil
	return nil
}

// Close stops slapd and removes the directory when Start created it.
func (s *Server) Close() error {
	err := s.Stop()
	s.cleanupDir()
	return err
}

func (s *Server) cleanupDir() {
	if s.ownDir {
		_ = os.RemoveAll(s.Dir)
	}
}

func (s *Server) logTail() string {
	b, _ := os.ReadFile(s.logPath)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// dnRegexp returns a POSIX extended regular expression that matches dn as slapd normalizes it
// (what dn.regex patterns are matched against): attribute types and values in lower case,
// no space after a comma, and the characters that need escaping in a value as \XX. Only
// single-valued RDNs of case-insensitive attributes (dc, o, ou, cn) with ASCII values are
// supported, as in a suffix or base DN: slapd's Unicode normalization is not repeated here.
func dnRegexp(dn string) (string, error) {
	d, err := ldap.ParseDN(dn)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for i, rdn := range d.RDNs {
		if len(rdn.Attributes) != 1 {
			return "", fmt.Errorf("multi-valued RDN in %q", dn)
		}
		a := rdn.Attributes[0]
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strings.ToLower(a.Type))
		b.WriteByte('=')
		v := strings.ToLower(a.Value)
		if strings.ContainsFunc(v, func(r rune) bool { return r > 0x7f }) {
			return "", fmt.Errorf("non-ASCII value in %q", dn)
		}
		for j := 0; j < len(v); j++ {
			c := v[j]
			if strings.IndexByte(`,+"\<>;=`, c) >= 0 || c < 0x20 || (j == 0 && (c == '#' || c == ' ')) || (j == len(v)-1 && c == ' ') {
				fmt.Fprintf(&b, `\%02X`, c)
				continue
			}
			b.WriteByte(c)
		}
	}
	return regexp.QuoteMeta(b.String()), nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}
