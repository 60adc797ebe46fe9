// Command demo runs staff-operator end to end on local defaults, on 127.0.0.1 only: the local
// control plane with the CRDs installed (internal/testenv), a private slapd
// (internal/directory/ldaptest), the mail catcher (internal/mail/devmail) and the real manager
// binary with config/local/config.yaml. It applies config/samples, waits until the sample
// member ana-ruiz is invited and her mail has arrived, prints the steps to follow in another
// terminal, and reports each step as it happens until Ctrl-C; then it stops everything.
//
//	make demo                   builds what is missing, then runs this
//	go run ./hack/demo -check   the same flow without a person; exits 0 when it all worked
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"syscall"

	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/rosterops/staff-operator/hack/internal/stack"
	"github.com/rosterops/staff-operator/internal/testenv"
)

// options say what to run and where. The defaults are the demo's; the test changes them so
// that it can run beside a demo and beside other tests.
type options struct {
	// check runs the whole flow without a person and returns.
	check bool
	stack.Options
}

func defaultOptions() options {
	return options{Options: stack.Options{
		Name:       "demo",
		Config:     "config/local/config.yaml",
		StateDir:   "bin/demo",
		MailWeb:    "127.0.0.1:8025",
		Metrics:    "127.0.0.1:8080",
		Probe:      "127.0.0.1:8081",
		ManagerBin: "bin/manager",
		Out:        os.Stdout,
	}}
}

// demo is the running stack and what the demo does with it.
type demo struct {
	*stack.Stack
	// checking: no person follows the guide; check does what it says.
	checking bool
}

func main() {
	o := defaultOptions()
	flag.BoolVar(&o.check, "check", false,
		"run the flow without a person: set the password over HTTP, bind, deactivate, see the bind fail, exit 0")
	flag.Parse()

	quietControllerRuntime()
	root, err := testenv.RepoRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
	o.Root = root
	// Ctrl-C, kill and a closed terminal all stop the demo in order. A closed terminal or
	// pipe must not kill it with SIGPIPE before it has stopped what it started.
	signal.Ignore(syscall.SIGPIPE)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

// quietControllerRuntime drops the logs of controller-runtime's packages (envtest, the
// client): the demo's own output is what a person reads. The manager logs to its own file.
func quietControllerRuntime() {
	ctrllog.SetLogger(zap.New(zap.WriteTo(io.Discard)))
}

// run starts everything, runs the flow (guided or checked) and stops everything again,
// whatever happened. Ctrl-C is how a person ends a guided demo, so it is no error there,
// whatever step it cut short.
func run(ctx context.Context, o options) error {
	// A person can live without the page (the demo says so); the check cannot.
	o.RequirePage = o.check
	o.Require = func() error { return checkTools(o.InRoot(kubectl)) }
	s := &demo{Stack: stack.New(o.Options), checking: o.check}
	defer s.Stop()
	err := s.flow(ctx)
	if !o.check && ctx.Err() != nil {
		return nil
	}
	return err
}

func (s *demo) flow(parent context.Context) error {
	steps := slices.Concat(s.PartsSteps(), s.ManagerSteps(), []stack.Step{{What: "apply config/samples", Fn: s.applySamples}})
	if err := s.Run(parent, steps...); err != nil {
		return err
	}
	// From here on, a manager that exits ends every wait at once, with its log.
	ctx, cancel := s.WatchManager(parent)
	defer cancel()
	inv, err := s.waitForInvitation(ctx)
	if err != nil {
		return err
	}
	if s.checking {
		return s.check(ctx, inv)
	}
	s.printGuide(inv)
	return s.narrate(ctx, inv)
}
