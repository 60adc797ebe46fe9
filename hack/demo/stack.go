package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rosterops/staff-operator/internal/directory/ldaptest"
	"github.com/rosterops/staff-operator/internal/mail/devmail"
	"github.com/rosterops/staff-operator/internal/testenv"
)

// stack is everything the demo runs. Each part that starts registers how to stop it, and
// stop undoes them in reverse order, so a failure halfway leaves nothing behind.
type stack struct {
	o      options
	config string // the manager's configuration, absolute
	set    settings

	env        *testenv.Env
	kubeconfig string
	k8s        client.WithWatch
	slapd      *ldaptest.Server
	mail       *devmail.Server
	manager    *manager
	pageUp     bool // the manager answers on web.listen

	stops []stopStep
}

type stopStep struct {
	what string
	fn   func() error
}

func (s *stack) onStop(what string, fn func() error) {
	s.stops = append(s.stops, stopStep{what, fn})
}

func (s *stack) stop() {
	if len(s.stops) == 0 {
		return
	}
	s.say("• stop everything")
	for i := len(s.stops) - 1; i >= 0; i-- {
		if err := s.stops[i].fn(); err != nil {
			s.say("  stop %s: %v", s.stops[i].what, err)
		}
	}
	s.stops = nil
	if s.manager != nil {
		s.say("  stopped; the manager's log stays in %s", s.rel(s.managerLog()))
	}
}

func (s *stack) say(format string, args ...any) {
	fmt.Fprintf(s.o.out, format+"\n", args...)
}

// rel shows a path relative to the repository root when it is inside it.
func (s *stack) rel(path string) string {
	if r, err := filepath.Rel(s.o.root, path); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return path
}

func (s *stack) stateDir() string   { return s.o.inRoot(s.o.stateDir) }
func (s *stack) managerLog() string { return filepath.Join(s.stateDir(), "manager.log") }

// start brings the parts up in dependency order.
func (s *stack) start(ctx context.Context) error {
	steps := []struct {
		what string
		fn   func(context.Context) error
	}{
		{"check prerequisites", s.prepare},
		{"start the control plane (etcd, kube-apiserver)", s.startControlPlane},
		{"start slapd", s.startDirectory},
		{"start the mail catcher", s.startMail},
		{"build the manager (go build -o " + s.o.managerBin + " ./cmd)", s.buildManager},
		{"start the manager", s.startManager},
		{"apply config/samples", s.applySamples},
	}
	for _, step := range steps {
		if err := ctx.Err(); err != nil {
			return err
		}
		s.say("• %s", step.what)
		if err := step.fn(ctx); err != nil {
			return fmt.Errorf("%s: %w", step.what, err)
		}
	}
	return nil
}

// prepare reads the configuration and checks, before anything slow starts, that every tool
// is there and every port is free, so a missing piece is named at once with how to get it.
func (s *stack) prepare(context.Context) error {
	if err := os.MkdirAll(s.stateDir(), 0o700); err != nil {
		return err
	}
	s.config = s.o.inRoot(s.o.config)
	if s.o.freePorts {
		if err := s.useFreePorts(); err != nil {
			return err
		}
	}
	set, err := readSettings(s.config)
	if err != nil {
		return err
	}
	s.set = set
	if err := s.checkTools(); err != nil {
		return err
	}
	return s.checkPortsFree()
}

func (s *stack) useFreePorts() error {
	a, err := pickFreeAddrs()
	if err != nil {
		return err
	}
	s.o.mailWeb = fmt.Sprintf("127.0.0.1:%d", a.mailWeb)
	s.o.metrics = fmt.Sprintf("127.0.0.1:%d", a.metrics)
	s.o.probe = fmt.Sprintf("127.0.0.1:%d", a.probe)
	s.config, err = writeConfigCopy(s.config, s.stateDir(), a)
	return err
}

func (s *stack) checkTools() error {
	if _, err := os.Stat(ldaptest.DefaultSlapd); err != nil {
		return fmt.Errorf("slapd not found at %s: %s", ldaptest.DefaultSlapd, ldaptest.InstallHint)
	}
	if _, err := exec.LookPath("ldapwhoami"); err != nil {
		return fmt.Errorf("ldapwhoami not found: %s", ldaptest.InstallHint)
	}
	if _, err := os.Stat(s.o.inRoot(kubectl)); err != nil {
		return fmt.Errorf("%s not found: build it with `make control-plane` (hack/build-control-plane.sh)", kubectl)
	}
	return nil
}

func (s *stack) checkPortsFree() error {
	for _, p := range []struct{ addr, what string }{
		{fmt.Sprintf("127.0.0.1:%d", s.set.ldapPort), "slapd (directory.ldap.url)"},
		{fmt.Sprintf("127.0.0.1:%d", s.set.Mail.SMTP.Port), "the mail catcher's SMTP (mail.smtp.port)"},
		{s.o.mailWeb, "the mail catcher's web view"},
		{s.set.Web.Listen, "the invitation page (web.listen)"},
		{s.o.metrics, "the manager's metrics"},
		{s.o.probe, "the manager's health probes"},
	} {
		l, err := net.Listen("tcp", p.addr)
		if err != nil {
			return fmt.Errorf("%s is taken, and %s needs it: is another make demo, hack/devldap or hack/devmail running? (%v)", p.addr, p.what, err)
		}
		_ = l.Close()
	}
	return nil
}

func (s *stack) startControlPlane(context.Context) error {
	env, err := testenv.Start()
	if err != nil {
		return err
	}
	s.env = env
	s.onStop("control plane", env.Stop)
	if s.kubeconfig, err = env.Kubeconfig(s.stateDir()); err != nil {
		return err
	}
	// The kubeconfig is worthless once this API server is gone.
	s.onStop("kubeconfig", func() error { return os.Remove(s.kubeconfig) })
	s.k8s, err = client.NewWithWatch(env.Config, client.Options{Scheme: env.Scheme})
	if err != nil {
		return err
	}
	s.say("  kube-apiserver %s, kubeconfig %s", env.Config.Host, s.rel(s.kubeconfig))
	return nil
}

// startDirectory starts slapd where the configuration says, and writes the secret files the
// manager reads: the password of the operator's service account, which binds under the
// production access control of docs/directory.md, and the token key when there is none yet (a new key
// would invalidate links already sent).
func (s *stack) startDirectory(context.Context) error {
	l := s.set.Directory.LDAP
	srv, err := ldaptest.Start(ldaptest.Options{Port: s.set.ldapPort, Suffix: l.BaseDN})
	if err != nil {
		return err
	}
	s.slapd = srv
	s.onStop("slapd", srv.Close)
	if l.BindDN != srv.ServiceDN {
		return fmt.Errorf("directory.ldap.bindDN is %q, but the demo's slapd has the service account %q", l.BindDN, srv.ServiceDN)
	}
	pwFile := s.o.inRoot(l.BindPasswordFile)
	if err := writeSecret(pwFile, []byte(srv.ServicePassword)); err != nil {
		return err
	}
	s.onStop("ldap password file", func() error { return os.Remove(pwFile) })
	if err := ensureTokenKey(s.o.inRoot(s.set.Invitations.TokenKeyFile)); err != nil {
		return err
	}
	s.say("  %s, base %s, service account %s (password in %s)", srv.URL, srv.BaseDN, srv.ServiceDN, s.rel(pwFile))
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
func (s *stack) startMail(context.Context) error {
	_, webPort, err := net.SplitHostPort(s.o.mailWeb)
	if err != nil {
		return err
	}
	port, err := strconv.Atoi(webPort)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "staff-demo-mail-")
	if err != nil {
		return err
	}
	srv, err := devmail.Start(devmail.Config{SMTPPort: s.set.Mail.SMTP.Port, HTTPPort: port, Dir: dir, Log: os.Stderr})
	if err != nil {
		return errors.Join(err, os.RemoveAll(dir))
	}
	s.mail = srv
	s.onStop("mail catcher", func() error { return errors.Join(srv.Close(), os.RemoveAll(dir)) })
	s.say("  SMTP %s, web view %s", srv.SMTPAddr(), srv.WebURL())
	return nil
}

// applySamples applies config/samples with the real kubectl, as a person would.
func (s *stack) applySamples(ctx context.Context) error {
	out, err := s.kubectl(ctx, kubectl, "apply", "-f", "config/samples")
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		s.say("  %s", line)
	}
	return err
}

// kubectl is the kubectl that hack/build-control-plane.sh builds, relative to the root: the
// steps printed for a person name it this way too.
const kubectl = "bin/kubectl"

// kubectl runs argv (argv[0] is kubectl) in the root against the demo's API server and
// returns its combined output.
func (s *stack) kubectl(ctx context.Context, argv ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.o.inRoot(argv[0]), argv[1:]...)
	cmd.Dir = s.o.root
	cmd.Env = append(os.Environ(), "KUBECONFIG="+s.kubeconfig)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s: %w: %s", shellLine(argv), err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}
