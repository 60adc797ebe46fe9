// Command benchscale measures staff-operator at scale (issue 12): it runs the real manager
// binary against the local stack of hack/demo (control plane, slapd under the production
// access control with the manager bound as the service account, the mail catcher), all on
// 127.0.0.1, onboards N members in one burst while offboarding members of another practice,
// and prints one markdown table of the figures with their goals, which it also appends to
// bench/results.md with the date, the commit and N.
//
//	make bench-scale            N=1000
//	make bench-scale N=10000
//
// Ctrl-C stops everything it started; nothing is appended then.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"syscall"
	"time"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/rosterops/staff-operator/hack/internal/stack"
	"github.com/rosterops/staff-operator/internal/testenv"
)

// benchOptions are the flags.
type benchOptions struct {
	n, workers, offboard int
	offboardEvery        time.Duration
	resyncPeriod         time.Duration
	timeout              time.Duration
	results              string
	pprof                string
}

func main() {
	var o benchOptions
	flag.IntVar(&o.n, "n", 1000, "members in the burst")
	flag.IntVar(&o.workers, "workers", 16, "concurrent server-side applies, as a pipeline would send them")
	flag.IntVar(&o.offboard, "offboard", 50, "members of a second practice deactivated during the burst")
	flag.DurationVar(&o.offboardEvery, "offboard-every", 200*time.Millisecond, "time between two deactivations")
	flag.DurationVar(&o.resyncPeriod, "resync", 30*time.Second, "the manager's resyncPeriod (at least 10s)")
	flag.DurationVar(&o.timeout, "timeout", 30*time.Minute, "how long the burst may take to converge")
	flag.StringVar(&o.results, "results", "bench/results.md", "the file the table is appended to, relative to the repository root; empty: none")
	flag.StringVar(&o.pprof, "pprof", "", "serve the manager's pprof endpoints on this loopback address (127.0.0.1:6060), to profile a run")
	flag.Parse()
	if o.n < 1 || o.workers < 1 || o.offboard < 1 {
		fmt.Fprintln(os.Stderr, "benchscale: -n, -workers and -offboard must be at least 1")
		os.Exit(2)
	}

	// controller-runtime's packages (envtest, the client) would log to stderr; the bench's
	// output is the table. The manager logs to its own file.
	ctrllog.SetLogger(zap.New(zap.WriteTo(io.Discard)))
	root, err := testenv.RepoRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchscale:", err)
		os.Exit(1)
	}
	signal.Ignore(syscall.SIGPIPE)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	b := &bench{o: o, Stack: stack.New(stack.Options{
		Name:            "bench",
		Root:            root,
		Config:          "config/local/config.yaml",
		StateDir:        "bin/bench",
		ManagerBin:      "bin/manager",
		FreePorts:       true,
		ConfigOverrides: map[string]any{"resyncPeriod": o.resyncPeriod.String()},
		RequirePage:     true,
		ManagerArgs:     pprofArgs(o.pprof),
		Out:             os.Stdout,
	})}
	err = b.run(ctx)
	b.Stop()
	if ctx.Err() != nil {
		fmt.Fprintln(os.Stderr, "benchscale: interrupted; nothing appended")
		os.Exit(1)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchscale:", err)
		os.Exit(1)
	}
}

// bench is the running stack and the bench's own client.
type bench struct {
	*stack.Stack
	o benchOptions

	// k8s is the bench's client; writes counts what it sends, so that the manager's writes
	// are the API server's count less these.
	k8s    client.WithWatch
	writes *writeCounter
	// apiMetrics reaches the API server's /metrics as an administrator.
	apiMetrics *http.Client
	apiURL     string

	// offboarding follows the second practice from setup on.
	offboarding *phases
	mails       *mails
	// fail ends the run with an error, from a goroutine.
	fail context.CancelCauseFunc

	res results
}

func (b *bench) run(ctx context.Context) error {
	n := b.o.n
	steps := slices.Concat(b.PartsSteps(), []stack.Step{
		b.BuildManagerStep(),
		{What: "connect the bench's client", Fn: b.connect},
		{What: fmt.Sprintf("T_ldap: add %d entries under ou=%s, one after another, as the service account", n, floorOU), Fn: b.loadFloor},
		{What: fmt.Sprintf("T_apply: server-side apply %d members, %d at a time, before the manager starts", n, b.o.workers), Fn: b.applyFloor},
		b.StartManagerStep(),
	})
	if err := b.Run(ctx, steps...); err != nil {
		return err
	}
	// From here on, a manager that exits ends every wait at once, with its log; so does a
	// watch of the bench's that fails.
	ctx, cancel := b.WatchManager(ctx)
	defer cancel()
	ctx, fail := context.WithCancelCause(ctx)
	defer fail(nil)
	b.fail = fail
	go b.mails.follow(ctx, b.Mail, burstNS, offboardNS)
	if err := b.Run(ctx,
		stack.Step{What: fmt.Sprintf("set up: practices %s and %s, %d members of %s invited", burstNS, offboardNS, b.o.offboard, offboardNS), Fn: b.setup},
		stack.Step{What: fmt.Sprintf("burst: apply %d members to %s; deactivate %d of %s meanwhile", n, burstNS, b.o.offboard, offboardNS), Fn: b.burst},
		stack.Step{What: fmt.Sprintf("resync: wait for a pass over the converged members (resyncPeriod %s)", b.o.resyncPeriod), Fn: b.resync},
		stack.Step{What: "read the manager's peak memory and its log", Fn: b.finish},
	); err != nil {
		return err
	}
	table := b.res.table(b.o)
	b.Say("\n%s", table)
	if b.o.results == "" {
		return nil
	}
	path := b.O.InRoot(b.o.results)
	if err := appendResults(ctx, b.O.Root, path, n, table); err != nil {
		return err
	}
	b.Say("appended to %s", b.Rel(path))
	return nil
}

// connect makes the bench's own client, which counts its writes, and the client that reads
// the API server's metrics.
func (b *bench) connect(context.Context) error {
	b.writes = newWriteCounter()
	cfg := rest.CopyConfig(b.Env.Config)
	cfg.UserAgent = "staff-benchscale"
	cfg.WrapTransport = b.writes.wrap
	// No client-side throttling: the bench measures the server, and the manager.
	cfg.QPS, cfg.Burst = -1, 0
	var err error
	if b.k8s, err = client.NewWithWatch(cfg, client.Options{Scheme: b.Env.Scheme}); err != nil {
		return err
	}
	if b.apiMetrics, err = rest.HTTPClientFor(b.Env.Config); err != nil {
		return err
	}
	u, _, err := rest.DefaultServerUrlFor(b.Env.Config)
	if err != nil {
		return err
	}
	u.Path = "/metrics"
	b.apiURL = u.String()
	b.offboarding = newPhases()
	b.mails = newMails()
	_, err = b.scrapeAPI(context.Background())
	return err
}

func seconds(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }

// pprofArgs are the manager's flags for -pprof.
func pprofArgs(addr string) []string {
	if addr == "" {
		return nil
	}
	return []string{"--pprof-bind-address", addr}
}
