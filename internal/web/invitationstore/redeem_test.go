package invitationstore_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	staffv1alpha1 "github.com/rosterops/staff-operator/api/v1alpha1"
	"github.com/rosterops/staff-operator/internal/directory"
	"github.com/rosterops/staff-operator/internal/directory/ldap"
	"github.com/rosterops/staff-operator/internal/directory/ldaptest"
	"github.com/rosterops/staff-operator/internal/linktoken"
	"github.com/rosterops/staff-operator/internal/staff"
	"github.com/rosterops/staff-operator/internal/testenv"
	"github.com/rosterops/staff-operator/internal/web"
	"github.com/rosterops/staff-operator/internal/web/invitationstore"
)

// The real parts: the local control plane (envtest) and a private slapd, as everywhere a test
// is about what reaches them.
var (
	env   *testenv.Env
	slapd *ldaptest.Server
	k8s   client.Client // straight to the API server
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	var err error
	if env, err = testenv.Start(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = env.Stop() }()
	if slapd, err = ldaptest.Start(ldaptest.Options{}); err != nil {
		fmt.Fprintln(os.Stderr, "start slapd:", err, "("+ldaptest.InstallHint+")")
		return 1
	}
	defer func() { _ = slapd.Close() }()
	if k8s, err = client.New(env.Config, client.Options{Scheme: env.Scheme}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

var (
	tokenKey    = []byte("0123456789abcdef0123456789abcdef-store-test")
	claimStart  = time.Date(2026, time.March, 10, 19, 0, 0, 0, time.UTC) // whole seconds, as the API server stores times
	newPassword = "violet tram harbor ninety"
)

// duringSetPassword is the real directory, with a hook that runs right after the password was
// set: there the test moves the Store's clock or takes the claim away, as a slow directory or
// another replica would, deterministically.
type duringSetPassword struct {
	directory.Backend
	hook func(ctx context.Context)
}

func (d duringSetPassword) SetPassword(ctx context.Context, key directory.AccountKey, password string) error {
	err := d.Backend.SetPassword(ctx, key, password)
	d.hook(ctx)
	return err
}

// link is one live invitation: a member with an account and no password, and the token of
// its Sent Invitation.
type link struct {
	ns    string
	token string
	inv   client.ObjectKey
	key   directory.AccountKey
}

func TestRedeemThatOutlivesItsClaimFails(t *testing.T) {
	ctx := t.Context()
	dir := newDirectory(t)
	tokens, err := linktoken.New(tokenKey)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		// during runs while the password is being set, with the Store's clock.
		during      func(t *testing.T, clk *clocktesting.FakeClock, l link)
		wantErr     error // nil means success
		wantPhase   staffv1alpha1.InvitationPhase
		wantClaimed bool
	}{
		{name: "within its claim", during: func(_ *testing.T, clk *clocktesting.FakeClock, _ link) {
			clk.Step(invitationstore.ClaimTimeout - time.Second)
		}, wantPhase: staffv1alpha1.InvitationAccepted},
		{name: "claim expired", during: func(_ *testing.T, clk *clocktesting.FakeClock, _ link) {
			clk.Step(invitationstore.ClaimTimeout)
		}, wantErr: web.ErrNotConfirmed, wantPhase: staffv1alpha1.InvitationSent, wantClaimed: true},
		{name: "claim taken over", during: func(t *testing.T, clk *clocktesting.FakeClock, l link) {
			clk.Step(10 * time.Second)
			takeClaim(t, l.inv, clk.Now()) // released and claimed again by another submit
		}, wantErr: web.ErrNotConfirmed, wantPhase: staffv1alpha1.InvitationSent, wantClaimed: true},
	}
	links := make([]link, len(cases))
	for i, tc := range cases {
		links[i] = newLink(t, dir, tokens, fmt.Sprintf("claim-%d", i), tc.name)
	}
	mgr := startManager(t) // after the links exist: its cache then holds them once synced

	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l := links[i]
			clk := clocktesting.NewFakeClock(claimStart)
			slow := duringSetPassword{Backend: dir, hook: func(context.Context) { tc.during(t, clk, l) }}
			store := invitationstore.New(mgr, slow, tokens, clk)

			err := store.Redeem(ctx, web.TokenHash(l.token), newPassword)
			if tc.wantErr == nil && err != nil || tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Fatalf("Redeem = %v, want %v", err, tc.wantErr)
			}
			var inv staffv1alpha1.Invitation
			if err := k8s.Get(ctx, l.inv, &inv); err != nil {
				t.Fatal(err)
			}
			if inv.Status.Phase != tc.wantPhase || (inv.Status.ClaimedAt != nil) != tc.wantClaimed {
				t.Errorf("invitation: phase %s, claimedAt %v; want %s, claimed %v", inv.Status.Phase, inv.Status.ClaimedAt, tc.wantPhase, tc.wantClaimed)
			}
			// The password reached the directory either way: the Store contract allows a link
			// used up with the password set, and nothing could put an earlier one back.
			obs, err := dir.ObserveAccount(ctx, directory.Account{Key: l.key})
			if err != nil || !obs.PasswordSet {
				t.Errorf("account after Redeem: password set %v, err %v", obs.PasswordSet, err)
			}
		})
	}
}

func newDirectory(t *testing.T) *ldap.Client {
	t.Helper()
	c, err := ldap.New(ldap.Config{
		URL: slapd.URL, BindDN: slapd.ServiceDN, BindPasswordFile: slapd.ServicePasswordFile,
		BaseDN: slapd.BaseDN, PolicyDN: slapd.PolicyDN,
		DialTimeout: invitationstore.MaxDirectoryTimeout, RequestTimeout: invitationstore.MaxDirectoryTimeout,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// newLink creates a practice (namespace), a member with an account in the directory, and a
// Sent Invitation whose token the key derives, as the controllers leave them.
func newLink(t *testing.T, dir directory.Backend, tokens linktoken.Issuer, ns, given string) link {
	t.Helper()
	ctx := t.Context()
	create(t, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
	email := "abe@" + ns + ".example.test"
	m := &staffv1alpha1.StaffMember{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "abe"},
		Spec: staffv1alpha1.StaffMemberSpec{
			Email:   email,
			Profile: staffv1alpha1.Profile{GivenName: "Abe", FamilyName: "Tester", Title: given},
		},
	}
	create(t, m)
	if err := dir.CreateAccount(ctx, staff.DesiredAccount(m)); err != nil {
		t.Fatalf("create the account: %v", err)
	}
	inv := &staffv1alpha1.Invitation{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "abe"},
		Spec:       staffv1alpha1.InvitationSpec{MemberRef: staffv1alpha1.LocalObjectReference{Name: "abe"}, Purpose: staffv1alpha1.PurposeInvitation},
	}
	create(t, inv)
	token := tokens.Token(inv.UID, 1, email)
	expires := metav1.NewTime(claimStart.Add(time.Hour))
	inv.Status = staffv1alpha1.InvitationStatus{
		Phase: staffv1alpha1.InvitationSent, Attempt: 1, SentAttempt: 1, Email: email,
		TokenHash: web.TokenHash(token), SentAt: &metav1.Time{Time: claimStart}, ExpiresAt: &expires,
	}
	if err := k8s.Status().Update(ctx, inv); err != nil {
		t.Fatalf("make the invitation Sent: %v", err)
	}
	return link{ns: ns, token: token, inv: client.ObjectKeyFromObject(inv), key: staff.AccountKey(m)}
}

func create(t *testing.T, obj client.Object) {
	t.Helper()
	if err := k8s.Create(t.Context(), obj); err != nil {
		t.Fatalf("create %T %s: %v", obj, obj.GetName(), err)
	}
}

// takeClaim records a claim made at when, as another replica's Redeem does after the
// Invitation reconciler released an older one.
func takeClaim(t *testing.T, key client.ObjectKey, when time.Time) {
	t.Helper()
	var inv staffv1alpha1.Invitation
	if err := k8s.Get(t.Context(), key, &inv); err != nil {
		t.Fatal(err)
	}
	claimed := metav1.NewTime(when)
	inv.Status.ClaimedAt = &claimed
	if err := k8s.Status().Update(t.Context(), &inv); err != nil {
		t.Fatalf("take the claim: %v", err)
	}
}

// startManager runs a manager whose cache has the token-hash index, as the page's Store needs,
// and waits until its cache holds what exists now.
func startManager(t *testing.T) ctrl.Manager {
	t.Helper()
	mgr, err := ctrl.NewManager(env.Config, ctrl.Options{Scheme: env.Scheme, Metrics: metricsserver.Options{BindAddress: "0"}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := invitationstore.IndexTokenHash(ctx, mgr.GetFieldIndexer()); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("manager: %v", err)
		}
	})
	if !mgr.GetCache().WaitForCacheSync(ctx) {
		t.Fatal("the manager's cache did not sync")
	}
	// The index is filled by the informer for Invitations, started on first use.
	var list staffv1alpha1.InvitationList
	if err := mgr.GetCache().List(ctx, &list); err != nil {
		t.Fatal(err)
	}
	return mgr
}
