package controllers

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goldap "github.com/go-ldap/ldap/v3"
	"go.uber.org/zap/zapcore"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/client-go/rest"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	staffv1alpha1 "github.com/rosterops/staff-operator/api/v1alpha1"
	staffconfig "github.com/rosterops/staff-operator/internal/config"
	"github.com/rosterops/staff-operator/internal/directory"
	"github.com/rosterops/staff-operator/internal/directory/ldap"
	"github.com/rosterops/staff-operator/internal/directory/ldaptest"
	"github.com/rosterops/staff-operator/internal/linktoken"
	"github.com/rosterops/staff-operator/internal/mail"
	"github.com/rosterops/staff-operator/internal/mail/smtp"
	"github.com/rosterops/staff-operator/internal/mail/smtptest"
	"github.com/rosterops/staff-operator/internal/shard"
	"github.com/rosterops/staff-operator/internal/testenv"
	"github.com/rosterops/staff-operator/internal/web"
	"github.com/rosterops/staff-operator/internal/web/invitationstore"
)

// The suite runs the real parts once: envtest's control plane, a private slapd and an SMTP
// server on loopback. Each test starts its own manager, restricted to a namespace of its own
// (an organization, so also a subtree of its own in the directory), with a fake clock.
var (
	env   *testenv.Env
	slapd *ldaptest.Server
	mails *smtptest.Server
	k8s   client.Client // direct to the API server, never the manager's cache
)

// testTokenKey is the link-token key of every test manager; a restarted manager must derive the
// same tokens.
var testTokenKey = []byte("0123456789abcdef0123456789abcdef-test")

func TestMain(m *testing.M) {
	os.Exit(runSuite(m))
}

func runSuite(m *testing.M) int {
	ctrl.SetLogger(zap.New(zap.UseDevMode(true), zap.WriteTo(os.Stderr), zap.Level(zapLevel())))
	var err error
	if env, err = testenv.Start(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer env.Stop()
	if slapd, err = ldaptest.Start(ldaptest.Options{}); err != nil {
		fmt.Fprintln(os.Stderr, "start slapd:", err)
		return 1
	}
	defer slapd.Close()
	if mails, err = smtptest.Start(smtptest.WithRejectedRecipients("rejected@example.test"), smtptest.WithTempFailedRecipients("busy@example.test")); err != nil {
		fmt.Fprintln(os.Stderr, "start the SMTP server:", err)
		return 1
	}
	defer mails.Close()
	if k8s, err = client.New(env.Config, client.Options{Scheme: env.Scheme}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// zapLevel keeps the managers quiet unless STAFF_TEST_VERBOSE is set.
func zapLevel() zapcore.Level {
	if os.Getenv("STAFF_TEST_VERBOSE") != "" {
		return zapcore.DebugLevel
	}
	return zapcore.DPanicLevel
}

// operator is one running manager under test.
type operator struct {
	t         *testing.T
	ns        string
	directory *ldap.Client
	clock     *clocktesting.FakeClock
	resync    *Resync
	apiWrites *atomic.Int64 // create, update, patch and delete calls the manager made
	pageURL   string        // the invitation page, served by this manager on a loopback port
	cancel    context.CancelFunc
	done      chan struct{}
	stopOnce  sync.Once
	// ended is what the manager returned when it stopped by itself (a shard whose practices
	// changed); read it after done is closed.
	ended error
	// wrote records the namespaces the manager wrote in.
	wrote *namespacesWritten
}

type operatorOptions struct {
	namespace string
	ldap      *ldaptest.Server
	sender    mail.Sender
	clock     *clocktesting.FakeClock
	// page holds the invitation page's rate limits; the rest is filled in by runOperator.
	page web.Options
	// pageDirectory, when set, wraps the directory the invitation page's Store writes to.
	pageDirectory func(directory.Backend) directory.Backend
	// adoptExisting turns on directory.ldap.adoptExisting.
	adoptExisting bool
	// tune, when set, changes the reconcilers' options before the manager starts.
	tune func(*Options)
	// as, when set, is who the manager talks to the API server as (a user with only the RBAC
	// a test grants it); the envtest administrator otherwise.
	as *rest.Config
	// shard, when set, makes the manager a shard: it caches the namespaces the selector matches
	// (not only namespace) and stops when they change, as --practice-selector does.
	shard labels.Selector
}

// startOperator starts a manager for a new namespace and stops it when the test ends.
func startOperator(t *testing.T, opts ...func(*operatorOptions)) *operator {
	t.Helper()
	o := operatorOptions{
		namespace: "org-" + rand.String(6),
		ldap:      slapd,
		clock:     clocktesting.NewFakeClock(time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)),
	}
	for _, f := range opts {
		f(&o)
	}
	if o.sender == nil {
		o.sender = defaultSender(t)
	}
	ensureNamespace(t, o.namespace)
	return runOperator(t, o)
}

// defaultSender sends to the suite's SMTP server.
func defaultSender(t *testing.T) mail.Sender {
	t.Helper()
	sender, err := smtp.New(smtp.Config{Host: mails.Host(), Port: mails.Port(), ConnectTimeout: 5 * time.Second, SendTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return sender
}

func runOperator(t *testing.T, o operatorOptions) *operator {
	t.Helper()
	op := &operator{t: t, ns: o.namespace, clock: o.clock, apiWrites: &atomic.Int64{}, done: make(chan struct{}), wrote: &namespacesWritten{}}
	op.directory = directoryClient(t, o.ldap, o.adoptExisting)
	templates, err := mail.LoadTemplates("")
	if err != nil {
		t.Fatal(err)
	}
	tokens, err := linktoken.New(testTokenKey)
	if err != nil {
		t.Fatal(err)
	}

	base := env.Config
	if o.as != nil {
		base = o.as
	}
	cfg := rest.CopyConfig(base)
	cfg.Wrap(countWrites(op.apiWrites, op.wrote))
	namespaces := []string{o.namespace}
	if o.shard != nil {
		if namespaces, err = shard.Practices(context.Background(), k8s, o.shard); err != nil {
			t.Fatal(err)
		}
	}
	mgr := newManager(t, cfg, namespaces...)
	if o.shard != nil {
		if err := mgr.Add(&shard.Watcher{Cache: mgr.GetCache(), Selector: o.shard, Practices: namespaces}); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	op.cancel = cancel
	var pageDir directory.Backend = op.directory
	if o.pageDirectory != nil {
		pageDir = o.pageDirectory(pageDir)
	}
	page := op.servePage(mgr, o.page, pageDir)
	opts := Options{
		Directory: op.directory,
		Mail:      Mailer{Sender: o.sender, Templates: templates, From: mail.Address{Name: "Staff Accounts", Email: "no-reply@example.test"}},
		Tokens:    tokens, Clock: o.clock, PublicURL: op.pageURL,
		DefaultTTL: time.Hour, PasswordResetTTL: 15 * time.Minute, EmailChangeNoticeWindow: 24 * time.Hour,
		// The production defaults (internal/config), so that tests meet what concurrency brings.
		MemberWorkers: staffconfig.DefaultMemberWorkers, InvitationWorkers: staffconfig.DefaultInvitationWorkers, GroupWorkers: staffconfig.DefaultGroupWorkers,
		// Long: tests run resync passes themselves with RunOnce.
		ResyncPeriod:   24 * time.Hour,
		ReminderBefore: staffconfig.DefaultReminderBefore,
	}
	if o.tune != nil {
		o.tune(&opts)
	}
	op.resync, err = Setup(ctx, mgr, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := mgr.Add(page); err != nil {
		t.Fatal(err)
	}
	op.run(ctx, mgr)
	return op
}

// run starts the manager in the background and stops it when the test ends.
func (op *operator) run(ctx context.Context, mgr ctrl.Manager) {
	go func() {
		defer close(op.done)
		err := mgr.Start(ctx)
		if errors.Is(err, shard.ErrPracticesChanged) {
			op.ended = err
			return
		}
		if err != nil {
			op.t.Errorf("manager: %v", err)
		}
	}()
	op.t.Cleanup(op.stop)
}

// newManager makes a manager whose cache holds the given namespaces, with no metrics or probe
// listeners.
func newManager(t *testing.T, cfg *rest.Config, namespaces ...string) ctrl.Manager {
	t.Helper()
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 env.Scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Cache:                  cache.Options{DefaultNamespaces: shard.CacheNamespaces(namespaces), DefaultTransform: StripUnread},
		Controller:             config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		t.Fatal(err)
	}
	return mgr
}

// directoryClient connects to a test slapd as the operator's service DN, under the ACL and
// limits docs/directory.md gives production, as the manager does.
func directoryClient(t *testing.T, server *ldaptest.Server, adoptExisting bool) *ldap.Client {
	t.Helper()
	c, err := ldap.New(ldap.Config{
		URL: server.URL, BindDN: server.ServiceDN, BindPassword: server.ServicePassword, BaseDN: server.BaseDN,
		PolicyDN: server.PolicyDN, AdoptExisting: adoptExisting,
		DialTimeout: 2 * time.Second, RequestTimeout: 5 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// servePage builds the invitation page as the manager does, on a loopback port of its own,
// with the test's clock.
func (op *operator) servePage(mgr ctrl.Manager, o web.Options, dir directory.Backend) *web.Server {
	op.t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		op.t.Fatal(err)
	}
	op.pageURL = "http://" + ln.Addr().String()
	tokens, err := linktoken.New(testTokenKey)
	if err != nil {
		op.t.Fatal(err)
	}
	o.Store = invitationstore.New(mgr, dir, tokens, op.clock)
	o.Now = op.clock.Now
	o.CSRFKey = web.CSRFKeyFrom(testTokenKey)
	o.Log = mgr.GetLogger().WithName("invitation-page")
	h, err := web.NewHandler(o)
	if err != nil {
		op.t.Fatal(err)
	}
	return &web.Server{Listener: ln, Handler: h, Log: o.Log}
}

// startPageReplica starts a second manager for the test's namespace that serves only the
// invitation page, as a replica without the leader lease does, with its own cache and
// directory connection. It returns an operator whose page helpers talk to that replica.
func (op *operator) startPageReplica(o web.Options) *operator {
	op.t.Helper()
	t := op.t
	mgr := newManager(t, env.Config, op.ns)
	replica := &operator{t: t, ns: op.ns, directory: directoryClient(t, slapd, false), clock: op.clock, done: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	replica.cancel = cancel
	if err := SetupIndexes(ctx, mgr); err != nil {
		t.Fatal(err)
	}
	if err := mgr.Add(replica.servePage(mgr, o, replica.directory)); err != nil {
		t.Fatal(err)
	}
	replica.run(ctx, mgr)
	return replica
}

// stop stops the manager and waits until it has stopped; a second call does nothing.
func (op *operator) stop() {
	op.stopOnce.Do(func() {
		op.cancel()
		<-op.done
		op.directory.Close()
	})
}

// countWrites counts the requests that change something on the API server, so a test can
// assert that a converged object costs none, and records the namespaces they went to.
func countWrites(n *atomic.Int64, wrote *namespacesWritten) func(http.RoundTripper) http.RoundTripper {
	return func(rt http.RoundTripper) http.RoundTripper {
		return roundTripperFunc(func(req *http.Request) (*http.Response, error) {
			if req.Method != http.MethodGet && !strings.Contains(req.URL.Path, "/events") {
				n.Add(1)
				wrote.add(req.URL.Path)
			}
			return rt.RoundTrip(req)
		})
	}
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func ensureNamespace(t *testing.T, name string) {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: map[string]string{
		staffv1alpha1.OrganizationNameAnnotation: "Practice " + name,
	}}}
	if err := k8s.Create(context.Background(), ns); err != nil && !strings.Contains(err.Error(), "already exists") {
		t.Fatal(err)
	}
}

// eventually polls cond until it holds or the deadline passes (30s, or within): a wait for a
// condition, not a sleep.
func eventually(t *testing.T, what string, cond func() (bool, string), within ...time.Duration) {
	t.Helper()
	wait := 30 * time.Second
	if len(within) > 0 {
		wait = within[0]
	}
	deadline := time.Now().Add(wait)
	last := ""
	for time.Now().Before(deadline) {
		ok, state := cond()
		if ok {
			return
		}
		last = state
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s; last seen: %s", what, last)
}

// --- object helpers ---

func (op *operator) create(obj client.Object) {
	op.t.Helper()
	obj.SetNamespace(op.ns)
	if err := k8s.Create(context.Background(), obj); err != nil {
		op.t.Fatalf("create %T %s: %v", obj, obj.GetName(), err)
	}
}

// update applies change to the latest version of obj, retrying on conflicts.
func (op *operator) update(obj client.Object, change func()) {
	op.t.Helper()
	for i := 0; ; i++ {
		if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: op.ns, Name: obj.GetName()}, obj); err != nil {
			op.t.Fatal(err)
		}
		change()
		err := k8s.Update(context.Background(), obj)
		if err == nil {
			return
		}
		if i > 5 || !strings.Contains(err.Error(), "the object has been modified") {
			op.t.Fatalf("update %s: %v", obj.GetName(), err)
		}
	}
}

// annotate sets an annotation, which also triggers a reconcile.
func (op *operator) annotate(obj client.Object, key, value string) {
	op.update(obj, func() {
		a := obj.GetAnnotations()
		if a == nil {
			a = map[string]string{}
		}
		a[key] = value
		obj.SetAnnotations(a)
	})
}

func (op *operator) get(name string, obj client.Object) client.Object {
	op.t.Helper()
	if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: op.ns, Name: name}, obj); err != nil {
		op.t.Fatalf("get %s: %v", name, err)
	}
	return obj
}

func (op *operator) member(name string) *staffv1alpha1.StaffMember {
	return op.get(name, &staffv1alpha1.StaffMember{}).(*staffv1alpha1.StaffMember)
}

func (op *operator) invitation(name string) *staffv1alpha1.Invitation {
	return op.get(name, &staffv1alpha1.Invitation{}).(*staffv1alpha1.Invitation)
}

func (op *operator) waitMember(name, what string, cond func(*staffv1alpha1.StaffMember) bool) *staffv1alpha1.StaffMember {
	op.t.Helper()
	var m *staffv1alpha1.StaffMember
	eventually(op.t, "member "+name+" "+what, func() (bool, string) {
		m = op.member(name)
		return cond(m), fmt.Sprintf("phase=%s conditions=%v", m.Status.Phase, m.Status.Conditions)
	})
	return m
}

func (op *operator) waitInvitation(name, what string, cond func(*staffv1alpha1.Invitation) bool) *staffv1alpha1.Invitation {
	op.t.Helper()
	var inv *staffv1alpha1.Invitation
	eventually(op.t, "invitation "+name+" "+what, func() (bool, string) {
		inv = &staffv1alpha1.Invitation{}
		if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: op.ns, Name: name}, inv); err != nil {
			return false, err.Error()
		}
		return cond(inv), fmt.Sprintf("phase=%s attempt=%d sent=%d conditions=%v", inv.Status.Phase, inv.Status.Attempt, inv.Status.SentAttempt, inv.Status.Conditions)
	})
	return inv
}

func hasCondition(conds []metav1.Condition, typ string, status metav1.ConditionStatus, reason string) bool {
	for _, c := range conds {
		if c.Type == typ {
			return c.Status == status && (reason == "" || c.Reason == reason)
		}
	}
	return false
}

func newMember(name, email string, roles ...string) *staffv1alpha1.StaffMember {
	rs := make([]staffv1alpha1.ObjectName, len(roles))
	for i, r := range roles {
		rs[i] = staffv1alpha1.ObjectName(r)
	}
	return &staffv1alpha1.StaffMember{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: staffv1alpha1.StaffMemberSpec{
			Email:   email,
			Profile: staffv1alpha1.Profile{GivenName: strings.ToUpper(name[:1]) + name[1:], FamilyName: "Tester", Title: "Nurse"},
			Roles:   rs,
		},
	}
}

func newRole(name string) *staffv1alpha1.Role {
	return &staffv1alpha1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: staffv1alpha1.RoleSpec{DisplayName: "Role " + name, Category: staffv1alpha1.RoleCategoryAdministrative,
			Permissions: []staffv1alpha1.Permission{staffv1alpha1.PermissionCalendarView}},
	}
}

// --- directory and mail helpers ---

// uniqueEmail gives each test its own addresses on the shared SMTP server.
func (op *operator) email(local string) string { return local + "@" + op.ns + ".example.test" }

// mailsTo returns the messages the SMTP server received for an address.
func mailsTo(addr string) []smtptest.Message {
	var out []smtptest.Message
	for _, m := range mails.Messages() {
		for _, to := range m.EnvelopeTo {
			if strings.EqualFold(to, addr) {
				out = append(out, m)
			}
		}
	}
	return out
}

func waitMails(t *testing.T, addr string, n int) []smtptest.Message {
	t.Helper()
	var got []smtptest.Message
	eventually(t, fmt.Sprintf("%d mail(s) to %s", n, addr), func() (bool, string) {
		got = mailsTo(addr)
		return len(got) >= n, fmt.Sprintf("%d mails", len(got))
	})
	return got
}

var linkToken = regexp.MustCompile(`/invite/([A-Za-z0-9_-]{43})`)

// tokenIn returns the link token a mail carries.
func tokenIn(t *testing.T, m smtptest.Message) string {
	t.Helper()
	match := linkToken.FindStringSubmatch(m.Text)
	if match == nil {
		t.Fatalf("no invitation link in the mail:\n%s", m.Text)
	}
	return match[1]
}

// bind signs in to the directory as an account, as a person would.
func bind(dn, password string) error { return bindTo(slapd, dn, password) }

func bindTo(server *ldaptest.Server, dn, password string) error {
	conn, err := goldap.DialURL(server.URL)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Bind(dn, password)
}

func (op *operator) inventory() directory.Inventory {
	op.t.Helper()
	inv, err := op.directory.ListManaged(context.Background())
	if err != nil {
		op.t.Fatal(err)
	}
	return inv
}

// groupMembersOf reads a group's members from the directory, sorted: a group is a set.
func (op *operator) groupMembersOf(kind directory.GroupKind, name string) []string {
	op.t.Helper()
	for _, g := range op.inventory().Groups {
		if g.Key.Organization == op.ns && g.Key.Kind == kind && g.Key.Name == name {
			var out []string
			for _, m := range g.Members {
				out = append(out, m.Name)
			}
			slices.Sort(out)
			return out
		}
	}
	return nil
}

const time1h = time.Hour

func join(s []string) string { return strings.Join(s, ",") }

// reconciles reads controller-runtime's count of a controller's reconciles. Tests run one
// manager at a time, so the count is this test's.
func reconciles(controller string) float64 {
	families, err := metrics.Registry.Gather()
	if err != nil {
		return 0
	}
	var total float64
	for _, f := range families {
		if f.GetName() != "controller_runtime_reconcile_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "controller" && l.GetValue() == controller {
					total += m.GetCounter().GetValue()
				}
			}
		}
	}
	return total
}

// waitEvent waits for an event with a reason about the named object.
func waitEvent(t *testing.T, namespace, name, reason string) {
	t.Helper()
	eventually(t, "event "+reason+" for "+name, func() (bool, string) {
		var list eventsv1.EventList
		if err := k8s.List(context.Background(), &list, client.InNamespace(namespace)); err != nil {
			return false, err.Error()
		}
		var seen []string
		for _, e := range list.Items {
			if e.Regarding.Name == name {
				if e.Reason == reason {
					return true, ""
				}
				seen = append(seen, e.Reason)
			}
		}
		return false, "events " + join(seen)
	})
}

// namespacesWritten is the set of namespaces a manager wrote objects in.
type namespacesWritten struct {
	mu  sync.Mutex
	set map[string]bool
}

// add records the namespace of an API path (/apis/GROUP/VERSION/namespaces/NS/...).
func (w *namespacesWritten) add(path string) {
	_, rest, ok := strings.Cut(path, "/namespaces/")
	if !ok {
		return
	}
	ns, _, _ := strings.Cut(rest, "/")
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.set == nil {
		w.set = map[string]bool{}
	}
	w.set[ns] = true
}

func (w *namespacesWritten) list() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Sorted(maps.Keys(w.set))
}
