// Package stack runs staff-operator's local stack on 127.0.0.1 only, for hack/demo and
// hack/benchscale: the local control plane with the CRDs installed (internal/testenv), a
// private slapd under the production access control (internal/directory/ldaptest), the mail
// catcher (internal/mail/devmail) and the real manager binary built from ./cmd. Each part
// that starts registers how to stop it, and Stop undoes them in reverse order, so a failure
// halfway, or Ctrl-C, leaves nothing behind.
package stack

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rosterops/staff-operator/internal/directory/ldaptest"
	"github.com/rosterops/staff-operator/internal/mail/devmail"
	"github.com/rosterops/staff-operator/internal/testenv"
)

// Options say what to run and where.
type Options struct {
	// Name is the program's name ("demo", "bench"), in messages and temporary folder names.
	Name string
	// Root is the repository's root, the working directory of the manager.
	Root string
	// Config is the manager's configuration, relative to Root. It decides the ports of slapd,
	// SMTP and the invitation page, and where the secret files go.
	Config string
	// StateDir receives the kubeconfig and the manager's log (and, with FreePorts, the secrets
	// and a configuration of its own), relative to Root unless absolute.
	StateDir string
	// MailWeb, Metrics and Probe are the listen addresses of the mail view and the manager's
	// metrics and health probes.
	MailWeb, Metrics, Probe string
	// ManagerBin is where the manager is built, relative to Root unless absolute.
	ManagerBin string
	// ManagerArgs are further command-line flags for the manager (--pprof-bind-address).
	ManagerArgs []string
	// FreePorts puts every listener on a free loopback port and writes a copy of Config with
	// those ports into StateDir.
	FreePorts bool
	// ConfigOverrides are further settings of the copy, by dotted path (resyncPeriod); they
	// need FreePorts.
	ConfigOverrides map[string]any
	// RequirePage makes a manager that does not serve the invitation page a failure to start,
	// not a warning.
	RequirePage bool
	// Require checks, with the prerequisites, the tools the caller needs besides slapd.
	Require func() error
	Out     io.Writer
}

// InRoot makes a path relative to the repository root absolute.
func (o Options) InRoot(path string) string {
	if filepath.IsAbs(path) {
		return path
	}
	return filepath.Join(o.Root, path)
}

// Stack is everything that runs. Its fields are set as the parts start.
type Stack struct {
	O Options
	// ConfigFile is the manager's configuration, absolute.
	ConfigFile string
	Set        Settings

	Env        *testenv.Env
	Kubeconfig string
	K8s        client.WithWatch
	Slapd      *ldaptest.Server
	Mail       *devmail.Server
	Manager    *Manager
	// PageUp: the manager answers on web.listen.
	PageUp bool

	stops []stopStep
}

// New returns a stack that has started nothing yet.
func New(o Options) *Stack { return &Stack{O: o} }

// Step is one thing Run does, announced with What.
type Step struct {
	What string
	Fn   func(context.Context) error
}

type stopStep struct {
	what string
	fn   func() error
}

// OnStop registers fn to run on Stop, before what was registered earlier.
func (s *Stack) OnStop(what string, fn func() error) {
	s.stops = append(s.stops, stopStep{what, fn})
}

// Stop stops everything started so far, in reverse order. It is safe to call more than once.
func (s *Stack) Stop() {
	if len(s.stops) == 0 {
		return
	}
	s.Say("• stop everything")
	for i := len(s.stops) - 1; i >= 0; i-- {
		if err := s.stops[i].fn(); err != nil {
			s.Say("  stop %s: %v", s.stops[i].what, err)
		}
	}
	s.stops = nil
	if s.Manager != nil {
		s.Say("  stopped; the manager's log stays in %s", s.Rel(s.ManagerLog()))
	}
}

// Say prints one line (or more) to the output.
func (s *Stack) Say(format string, args ...any) {
	fmt.Fprintf(s.O.Out, format+"\n", args...)
}

// Rel shows a path relative to the repository root when it is inside it.
func (s *Stack) Rel(path string) string {
	if r, err := filepath.Rel(s.O.Root, path); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return path
}

// StateDir is Options.StateDir, absolute.
func (s *Stack) StateDir() string { return s.O.InRoot(s.O.StateDir) }

// ManagerLog is the file the manager writes its output to.
func (s *Stack) ManagerLog() string { return filepath.Join(s.StateDir(), "manager.log") }

// PartsSteps start everything but the manager, in dependency order.
func (s *Stack) PartsSteps() []Step {
	return []Step{
		{"check prerequisites", s.prepare},
		{"start the control plane (etcd, kube-apiserver)", s.startControlPlane},
		{"start slapd", s.startDirectory},
		{"start the mail catcher", s.startMail},
	}
}

// ManagerSteps build and start the manager; they come after PartsSteps.
func (s *Stack) ManagerSteps() []Step { return []Step{s.BuildManagerStep(), s.StartManagerStep()} }

// BuildManagerStep builds the manager binary from ./cmd.
func (s *Stack) BuildManagerStep() Step {
	return Step{"build the manager (go build -o " + s.O.ManagerBin + " ./cmd)", s.buildManager}
}

// StartManagerStep starts the manager and waits until it is ready; it comes after PartsSteps
// and BuildManagerStep.
func (s *Stack) StartManagerStep() Step { return Step{"start the manager", s.startManager} }

// Run announces and runs the steps in order, and stops at the first that fails.
func (s *Stack) Run(ctx context.Context, steps ...Step) error {
	for _, step := range steps {
		if err := ctx.Err(); err != nil {
			return err
		}
		s.Say("• %s", step.What)
		if err := step.Fn(ctx); err != nil {
			return fmt.Errorf("%s: %w", step.What, err)
		}
	}
	return nil
}

// prepare reads the configuration and checks, before anything slow starts, that every tool
// is there and every port is free, so a missing piece is named at once with how to get it.
func (s *Stack) prepare(context.Context) error {
	if err := os.MkdirAll(s.StateDir(), 0o700); err != nil {
		return err
	}
	s.ConfigFile = s.O.InRoot(s.O.Config)
	if len(s.O.ConfigOverrides) > 0 && !s.O.FreePorts {
		return errors.New("configuration overrides need free ports (a copy of the configuration)")
	}
	if s.O.FreePorts {
		if err := s.useFreePorts(); err != nil {
			return err
		}
	}
	set, err := ReadSettings(s.ConfigFile)
	if err != nil {
		return err
	}
	s.Set = set
	if _, err := os.Stat(ldaptest.DefaultSlapd); err != nil {
		return fmt.Errorf("slapd not found at %s: %s", ldaptest.DefaultSlapd, ldaptest.InstallHint)
	}
	if s.O.Require != nil {
		if err := s.O.Require(); err != nil {
			return err
		}
	}
	return s.checkPortsFree()
}

func (s *Stack) useFreePorts() error {
	a, err := PickFreeAddrs()
	if err != nil {
		return err
	}
	s.O.MailWeb = fmt.Sprintf("127.0.0.1:%d", a.MailWeb)
	s.O.Metrics = fmt.Sprintf("127.0.0.1:%d", a.Metrics)
	s.O.Probe = fmt.Sprintf("127.0.0.1:%d", a.Probe)
	s.ConfigFile, err = WriteConfigCopy(s.ConfigFile, s.StateDir(), a, s.O.ConfigOverrides)
	return err
}

func (s *Stack) checkPortsFree() error {
	for _, p := range []struct{ addr, what string }{
		{fmt.Sprintf("127.0.0.1:%d", s.Set.LDAPPort), "slapd (directory.ldap.url)"},
		{fmt.Sprintf("127.0.0.1:%d", s.Set.Mail.SMTP.Port), "the mail catcher's SMTP (mail.smtp.port)"},
		{s.O.MailWeb, "the mail catcher's web view"},
		{s.Set.Web.Listen, "the invitation page (web.listen)"},
		{s.O.Metrics, "the manager's metrics"},
		{s.O.Probe, "the manager's health probes"},
	} {
		l, err := net.Listen("tcp", p.addr)
		if err != nil {
			return fmt.Errorf("%s is taken, and %s needs it: is another make demo, hack/devldap or hack/devmail running? (%v)", p.addr, p.what, err)
		}
		_ = l.Close()
	}
	return nil
}

func (s *Stack) startControlPlane(context.Context) error {
	env, err := testenv.Start()
	if err != nil {
		return err
	}
	s.Env = env
	s.OnStop("control plane", env.Stop)
	if s.Kubeconfig, err = env.Kubeconfig(s.StateDir()); err != nil {
		return err
	}
	// The kubeconfig is worthless once this API server is gone.
	s.OnStop("kubeconfig", func() error { return os.Remove(s.Kubeconfig) })
	s.K8s, err = client.NewWithWatch(env.Config, client.Options{Scheme: env.Scheme})
	if err != nil {
		return err
	}
	s.Say("  kube-apiserver %s, kubeconfig %s", env.Config.Host, s.Rel(s.Kubeconfig))
	return nil
}

// startDirectory starts slapd where the configuration says, and writes the secret files the
// manager reads: the password of the operator's service account, which binds under the
// production access control of docs/directory.md, and the token key when there is none yet (a new key
// would invalidate links already sent).
func (s *Stack) startDirectory(context.Context) error {
	l := s.Set.Directory.LDAP
	srv, err := ldaptest.Start(ldaptest.Options{Port: s.Set.LDAPPort, Suffix: l.BaseDN})
	if err != nil {
		return err
	}
	s.Slapd = srv
	s.OnStop("slapd", srv.Close)
	if l.BindDN != srv.ServiceDN {
		return fmt.Errorf("directory.ldap.bindDN is %q, but the %s's slapd has the service account %q", l.BindDN, s.O.Name, srv.ServiceDN)
	}
	pwFile := s.O.InRoot(l.BindPasswordFile)
	if err := writeSecret(pwFile, []byte(srv.ServicePassword)); err != nil {
		return err
	}
	s.OnStop("ldap password file", func() error { return os.Remove(pwFile) })
	if err := ensureTokenKey(s.O.InRoot(s.Set.Invitations.TokenKeyFile)); err != nil {
		return err
	}
	s.Say("  %s, base %s, service account %s (password in %s)", srv.URL, srv.BaseDN, srv.ServiceDN, s.Rel(pwFile))
	return nil
}

func writeSecret(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o600)
}

func ensureTokenKey(path string) error {
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return err
	}
	return writeSecret(path, key)
}

// startMail starts the catcher with its .eml files in a temporary folder, removed on stop:
// the web view is where a person reads them.
func (s *Stack) startMail(context.Context) error {
	_, webPort, err := net.SplitHostPort(s.O.MailWeb)
	if err != nil {
		return err
	}
	port, err := strconv.Atoi(webPort)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "staff-"+s.O.Name+"-mail-")
	if err != nil {
		return err
	}
	srv, err := devmail.Start(devmail.Config{SMTPPort: s.Set.Mail.SMTP.Port, HTTPPort: port, Dir: dir, Log: os.Stderr})
	if err != nil {
		return errors.Join(err, os.RemoveAll(dir))
	}
	s.Mail = srv
	s.OnStop("mail catcher", func() error { return errors.Join(srv.Close(), os.RemoveAll(dir)) })
	s.Say("  SMTP %s, web view %s", srv.SMTPAddr(), srv.WebURL())
	return nil
}
