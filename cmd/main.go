// Command manager runs staff-operator: the controllers that drive the user directory and mail
// delivery toward the StaffMember, Role, Location and Invitation objects of the cluster.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"time"
	_ "time/tzdata" // Location time zones resolve without the host's zone database.

	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	staffv1alpha1 "github.com/rosterops/staff-operator/api/v1alpha1"
	"github.com/rosterops/staff-operator/controllers"
	"github.com/rosterops/staff-operator/internal/config"
)

// The manager itself needs leases for leader election and events to report what it did.
// +kubebuilder:rbac:groups=coordination.k8s.io,resources=leases,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// leaderElectionID names the lease that makes one replica the active controller.
const leaderElectionID = "staff-operator.staff.rosterops.io"

// options are the command-line flags.
type options struct {
	configFile           string
	metricsAddr          string
	metricsSecure        bool
	probeAddr            string
	enableLeaderElection bool
	practiceSelector     string
	pprofAddr            string
	zap                  zap.Options
}

func main() {
	var opts options
	flag.StringVar(&opts.configFile, "config", "", "The configuration file (YAML). Required.")
	flag.StringVar(&opts.metricsAddr, "metrics-bind-address", ":8080",
		"The address the Prometheus metrics endpoint binds to; 0 disables it.")
	// Off by default so that a manager run by hand, the demo and the bench keep scraping plain
	// HTTP on loopback; the Deployment (config/manager) turns it on.
	flag.BoolVar(&opts.metricsSecure, "metrics-secure", false,
		"Serve metrics over HTTPS and only to callers the API server authenticates and authorizes for GET /metrics (TokenReview and SubjectAccessReview).")
	flag.StringVar(&opts.probeAddr, "health-probe-bind-address", ":8081",
		"The address the liveness and readiness probes bind to.")
	flag.BoolVar(&opts.enableLeaderElection, "leader-elect", false,
		"Enable leader election, so that only one replica runs the controllers at a time.")
	flag.StringVar(&opts.practiceSelector, "practice-selector", "",
		"A label selector on Namespaces: the practices this manager owns, for one shard of several (README: Sharding). Empty: every practice.")
	flag.StringVar(&opts.pprofAddr, "pprof-bind-address", "",
		"The address Go's pprof endpoints bind to, for profiling (e.g. 127.0.0.1:8082); empty disables them.")
	opts.zap.Development = false
	opts.zap.BindFlags(flag.CommandLine)
	flag.Parse()

	if err := run(opts); err != nil {
		// One line per problem, so that each bad setting is named on its own.
		for _, line := range errorLines(err) {
			fmt.Fprintln(os.Stderr, "staff-operator:", line)
		}
		os.Exit(1)
	}
}

func run(opts options) error {
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&opts.zap)))
	setupLog := ctrl.Log.WithName("setup")

	cfg, err := config.Load(opts.configFile)
	if err != nil {
		return err
	}
	reconcilers, err := reconcilerOptions(cfg)
	if err != nil {
		return err
	}

	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(staffv1alpha1.AddToScheme(scheme))

	restConfig, err := ctrl.GetConfig()
	if err != nil {
		return fmt.Errorf("kubernetes client configuration: %w", err)
	}
	ctx := ctrl.SetupSignalHandler()
	sharding, err := shardOf(ctx, restConfig, scheme, opts.practiceSelector)
	if err != nil {
		return err
	}
	mgr, err := ctrl.NewManager(restConfig, ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsServerOptions(opts.metricsAddr, opts.metricsSecure),
		Cache:                  cache.Options{DefaultNamespaces: sharding.namespaces(), DefaultTransform: controllers.StripUnread},
		HealthProbeBindAddress: opts.probeAddr,
		PprofBindAddress:       opts.pprofAddr,
		LeaderElection:         opts.enableLeaderElection,
		LeaderElectionID:       sharding.leaderElectionID(),
		// The manager stops at once on SIGTERM; nothing it runs needs the lease after that.
		LeaderElectionReleaseOnCancel: true,
	})
	if err != nil {
		return fmt.Errorf("create manager: %w", err)
	}
	if err := sharding.watch(mgr); err != nil {
		return err
	}
	if _, err := controllers.Setup(ctx, mgr, reconcilers); err != nil {
		return err
	}
	if err := closeOnStop(mgr, reconcilers.Mail.Sender); err != nil {
		return err
	}
	page, err := invitationPage(cfg, mgr, reconcilers)
	if err != nil {
		return err
	}
	if err := mgr.Add(page); err != nil {
		return fmt.Errorf("add the invitation page: %w", err)
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return fmt.Errorf("add health check: %w", err)
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return fmt.Errorf("add readiness check: %w", err)
	}
	// Every replica serves the invitation page from its cache: it is ready for visitors only
	// once the cache has synced.
	if err := mgr.AddReadyzCheck("cache-synced", cacheSynced(mgr)); err != nil {
		return fmt.Errorf("add readiness check: %w", err)
	}

	setupLog.Info("starting manager", "config", opts.configFile, "resyncPeriod", cfg.ResyncPeriod.Duration)
	if err := mgr.Start(ctx); err != nil {
		return fmt.Errorf("run manager: %w", err)
	}
	return nil
}

// metricsServerOptions serves metrics over plain HTTP, or, when secure, over HTTPS to callers
// that the API server authenticates (TokenReview) and authorizes for GET on the non-resource URL
// /metrics (SubjectAccessReview), as kubebuilder's scaffold does. The certificate is
// self-signed and kept in memory (the root filesystem is read-only in the Deployment); scrapers
// authenticate the server by the Service they reach, not by the certificate.
func metricsServerOptions(addr string, secure bool) metricsserver.Options {
	if !secure {
		return metricsserver.Options{BindAddress: addr}
	}
	return metricsserver.Options{
		BindAddress:    addr,
		SecureServing:  true,
		FilterProvider: filters.WithAuthenticationAndAuthorization,
		// HTTP/1.1 only: HTTP/2's stream reset and rapid reset attacks (CVE-2023-44487,
		// CVE-2023-39325) cost a server more than they cost the attacker, and a scraper needs
		// nothing HTTP/2 gives.
		TLSOpts: []func(*tls.Config){func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} }},
	}
}

// cacheSynced reports whether the manager's cache has synced, without waiting for it.
func cacheSynced(mgr ctrl.Manager) healthz.Checker {
	return func(req *http.Request) error {
		ctx, cancel := context.WithTimeout(req.Context(), 100*time.Millisecond)
		defer cancel()
		if !mgr.GetCache().WaitForCacheSync(ctx) {
			return errors.New("the cache has not synced yet")
		}
		return nil
	}
}

// errorLines flattens joined errors into one line each.
func errorLines(err error) []string {
	var joined interface{ Unwrap() []error }
	if errors.As(err, &joined) {
		var lines []string
		for _, e := range joined.Unwrap() {
			lines = append(lines, errorLines(e)...)
		}
		return lines
	}
	return []string{err.Error()}
}
