// Package ldaptest runs a private OpenLDAP slapd for tests and the demo: Debian's slapd
// binary with its own configuration and data in a temporary directory, listening on a free
// loopback port, with the ppolicy overlay, a default password policy (pwdMaxIdle, lockout
// after failures) and lastbind. It never touches the system's slapd service or
// /etc/ldap/slapd.d.
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
	// AdminPassword is the rootdn's password; random when empty.
	AdminPassword string
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
	if _, err := ldap.ParseDN(o.Suffix); err != nil {
		return nil, fmt.Errorf("suffix %q: %w", o.Suffix, err)
	}
	if o.AdminPassword == "" {
		o.AdminPassword = randomHex(16)
	}
	s := &Server{opts: o, BaseDN: o.Suffix, AdminDN: "cn=admin," + o.Suffix, AdminPassword: o.AdminPassword,
		PolicyDN: "cn=default,ou=policies," + o.Suffix}
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
	err := confTemplate.Execute(&buf, map[string]any{
		"Dir": s.Dir, "Data": data, "Opts": o, "AdminDN": s.AdminDN, "PolicyDN": s.PolicyDN,
		"RootPW": o.AdminPassword, "TLS": tlsFiles,
	})
	if err != nil {
		return err
	}
	s.confPath = filepath.Join(s.Dir, "slapd.conf")
	s.logPath = filepath.Join(s.Dir, "slapd.log")
	return os.WriteFile(s.confPath, buf.Bytes(), 0o600)
}

// The rootdn manages everything. A user may authenticate with and change its own
// password and read its own entry; authenticated users read the rest (but no password hashes).
var confTemplate = template.Must(template.New("slapd.conf").Funcs(template.FuncMap{
	"q":    func(s string) string { return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"` },
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
# lastbind maintains pwdLastSuccess, which ppolicy's pwdMaxIdle needs.
lastbind on
index objectClass eq
index uid,mail,member eq
index businessCategory eq,sub

overlay ppolicy
ppolicy_default {{q .PolicyDN}}
ppolicy_hash_cleartext

access to attrs=userPassword
	by self =w
	by anonymous auth
	by * none
access to *
	by self read
	by users read
	by * none
`))

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
	entries := []struct {
		dn    string
		attrs map[string][]string
	}{
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
	}
	for _, e := range entries {
		req := ldap.NewAddRequest(e.dn, nil)
		for k, v := range e.attrs {
			req.Attribute(k, v)
		}
		if err := conn.Add(req); err != nil && !ldap.IsErrorWithCode(err, ldap.LDAPResultEntryAlreadyExists) {
			return fmt.Errorf("seed %s: %w", e.dn, err)
		}
	}
	return nil
}

// Dial opens a connection bound as the admin.
func (s *Server) Dial() (*ldap.Conn, error) {
	conn, err := ldap.DialURL(s.URL, ldap.DialWithDialer(&net.Dialer{Timeout: 2 * time.Second}))
	if err != nil {
		return nil, err
	}
	conn.SetTimeout(10 * time.Second)
	if err := conn.Bind(s.AdminDN, s.AdminPassword); err != nil {
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
