package main

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/rosterops/staff-operator/internal/testenv"
)

// managerUser is who the manager runs as here: a user the API server knows nothing about but
// the bindings this test makes, as the Deployment's ServiceAccount has only those of config/rbac.
const managerUser = "staff-operator-manager"

// TestManagerUnderItsRBAC runs a manager as configured by --leader-elect --metrics-secure, as a
// user bound only to config/rbac's manager-role and metrics-auth-role, and checks that it wins
// the leader lease and serves metrics over HTTPS to a ServiceAccount bound to metrics-reader,
// refusing an anonymous caller (401) and an authenticated one without the binding (403).
func TestManagerUnderItsRBAC(t *testing.T) {
	env, err := testenv.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	ctx := t.Context()
	admin, err := kubernetes.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}

	rbac := filepath.Join(env.Root, "config", "rbac")
	kubectl(t, env, "apply", "-f", filepath.Join(rbac, "role.yaml"), "-f", filepath.Join(rbac, "metrics_auth_role.yaml"),
		"-f", filepath.Join(rbac, "metrics_reader_role.yaml"))
	kubectl(t, env, "create", "clusterrolebinding", "manager", "--clusterrole=manager-role", "--user="+managerUser)
	kubectl(t, env, "create", "clusterrolebinding", "metrics-auth", "--clusterrole=metrics-auth-role", "--user="+managerUser)
	const system = "staff-operator-system"
	kubectl(t, env, "create", "namespace", system)
	// The scraper, and a ServiceAccount the API server authenticates but nobody authorized.
	kubectl(t, env, "create", "serviceaccount", "prometheus", "-n", system)
	kubectl(t, env, "create", "serviceaccount", "stranger", "-n", system)
	kubectl(t, env, "create", "clusterrolebinding", "scrape", "--clusterrole=metrics-reader", "--serviceaccount="+system+":prometheus")

	user, err := env.AddUser(envtest.User{Name: managerUser}, nil)
	if err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	mgr, err := ctrl.NewManager(user.Config(), ctrl.Options{
		Scheme:                        env.Scheme,
		Metrics:                       metricsServerOptions(addr, true),
		HealthProbeBindAddress:        "0",
		LeaderElection:                true,
		LeaderElectionID:              leaderElectionID,
		LeaderElectionNamespace:       system, // in a pod it is the pod's namespace
		LeaderElectionReleaseOnCancel: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	mgrCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- mgr.Start(mgrCtx) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("manager: %v", err)
		}
	})

	// Leader election needs get, create and update on leases: an error there stops the manager.
	select {
	case <-mgr.Elected():
	case err := <-done:
		t.Fatalf("the manager stopped before it was elected: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("the manager was not elected within 30s")
	}
	var lease coordinationv1.Lease
	if err := mgr.GetAPIReader().Get(ctx, client.ObjectKey{Namespace: system, Name: leaderElectionID}, &lease); err != nil {
		t.Fatalf("read the leader lease as the manager: %v", err)
	}
	if holder := ptr.Deref(lease.Spec.HolderIdentity, ""); holder == "" {
		t.Errorf("lease %s has no holder", leaderElectionID)
	}

	url := "https://" + addr + "/metrics"
	waitListening(t, addr)
	if code, _ := scrape(t, url, ""); code != http.StatusUnauthorized {
		t.Errorf("an anonymous scrape got %d, want 401", code)
	}
	// The API server reports a token it cannot parse as an error of the TokenReview, which
	// controller-runtime's filter answers with 500: refused all the same.
	if code, _ := scrape(t, url, "not-a-token"); code == http.StatusOK {
		t.Error("a scrape with a made-up token got 200, want it refused")
	}
	if code, _ := scrape(t, url, token(t, admin, system, "stranger")); code != http.StatusForbidden {
		t.Errorf("a scrape by a ServiceAccount without metrics-reader got %d, want 403", code)
	}
	code, body := scrape(t, url, token(t, admin, system, "prometheus"))
	if code != http.StatusOK || !strings.Contains(body, "leader_election_master_status") {
		t.Errorf("a scrape by a ServiceAccount bound to metrics-reader got %d, want 200 and the manager's metrics:\n%.500s", code, body)
	}
	// Plain HTTP on the metrics port gets no metrics.
	if resp, err := http.Get("http://" + addr + "/metrics"); err == nil {
		_ = resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Error("the secured metrics port answered plain HTTP with 200")
		}
	}
}

// kubectl runs the kubectl built with the control plane as its administrator.
func kubectl(t *testing.T, env *testenv.Env, args ...string) {
	t.Helper()
	k, err := env.AdminKubectl(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	k.Must(t, args...)
}

// token asks the API server for a short-lived token of a ServiceAccount, as a projected token
// in the scraper's pod would be.
func token(t *testing.T, admin kubernetes.Interface, namespace, name string) string {
	t.Helper()
	tr, err := admin.CoreV1().ServiceAccounts(namespace).CreateToken(t.Context(), name, &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("token for %s/%s: %v", namespace, name, err)
	}
	return tr.Status.Token
}

// scrape GETs url with a bearer token (none when empty), trusting the manager's self-signed
// certificate, and returns the status and body.
func scrape(t *testing.T, url, bearer string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	c := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // the server's certificate is self-signed
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// freeAddr returns a loopback address nothing listens on: the metrics server takes an address,
// not a listener.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// waitListening waits until something accepts connections on addr: nothing announces that the
// metrics server is up.
func waitListening(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			_ = conn.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the metrics server does not listen on %s: %v", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
