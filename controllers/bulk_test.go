package controllers

import (
	"context"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	staffv1alpha1 "github.com/rosterops/staff-operator/api/v1alpha1"
	"github.com/rosterops/staff-operator/internal/directory/ldaptest"
	"github.com/rosterops/staff-operator/internal/staff"
	"github.com/rosterops/staff-operator/internal/testenv"
)

// Bulk actions: the platform team acts on a group of people with one kubectl command and a label
// selector, as it would on Pods. Each request is an annotation that the operator carries out once
// per member; members the selector does not match are left alone.

// kubectlCLI runs the kubectl built with the control plane against envtest's API server, as an
// administrator, the way a person or a pipeline would.
type kubectlCLI struct {
	t *testing.T
	*testenv.KubectlRunner
}

func newKubectl(t *testing.T) *kubectlCLI {
	t.Helper()
	k, err := env.AdminKubectl(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return &kubectlCLI{t: t, KubectlRunner: k}
}

// run returns kubectl's combined output and its error (an *exec.ExitError when it exits non-zero).
func (k *kubectlCLI) run(args ...string) (string, error) { return k.Run(args...) }

// must runs kubectl and fails the test unless it exits 0.
func (k *kubectlCLI) must(args ...string) string {
	k.t.Helper()
	return k.Must(k.t, args...)
}

// exitCode is kubectl's exit status; -1 when it could not be run at all.
func exitCode(err error) int {
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &exit):
		return exit.ExitCode()
	}
	return -1
}

// The crew: two members on the night shift, labelled team=night, and one on the day shift whom
// every bulk action must leave alone.
var nightShift = []string{"nia", "ned"}

const (
	dayShift      = "dee"
	nightSelector = "team=night"
)

func crew() []string { return append([]string{dayShift}, nightShift...) }

// hireCrew creates the crew and waits until each has an account and an invitation out.
func (op *operator) hireCrew() {
	op.t.Helper()
	for _, name := range crew() {
		m := newMember(name, op.email(name))
		if name != dayShift {
			m.Labels = map[string]string{"team": "night"}
		}
		op.create(m)
	}
	for _, name := range crew() {
		op.waitInvitation(name, "sent", sent)
	}
}

// annotateNightShift makes one request of the whole night shift with kubectl annotate -l, and
// checks that kubectl annotated exactly the night shift.
func (op *operator) annotateNightShift(k *kubectlCLI, key, value string) {
	op.t.Helper()
	out := k.must("annotate", "sm", "-n", op.ns, "-l", nightSelector, key+"="+value)
	for _, name := range crew() {
		annotated := strings.Contains(out, "staffmember.staff.rosterops.io/"+name+" annotated")
		if annotated != (name != dayShift) {
			op.t.Errorf("kubectl annotate -l %s: %s annotated = %v:\n%s", nightSelector, name, annotated, out)
		}
	}
	if v := op.member(dayShift).Annotations[key]; v != "" {
		op.t.Errorf("the day shift's %s = %q, want none", key, v)
	}
}

// passwordKnownToAll gives each member of the crew a password, as if each had accepted the
// invitation: resets and lockouts are about people who have one.
func (op *operator) passwordKnownToAll(password string) {
	op.t.Helper()
	for _, name := range crew() {
		if err := op.directory.SetPassword(context.Background(), staff.AccountKey(op.member(name)), password); err != nil {
			op.t.Fatal(err)
		}
	}
}

func invitationExpired(m *staffv1alpha1.StaffMember) bool {
	return hasCondition(m.Status.Conditions, staffv1alpha1.ConditionReady, metav1.ConditionFalse, staffv1alpha1.ReasonInvitationExpired)
}

// TestBulkResendByLabel: the night shift's links expired unused, which kubectl get sm shows; one
// kubectl annotate -l on the StaffMembers mails each of them a fresh link.
func TestBulkResendByLabel(t *testing.T) {
	op := startOperator(t)
	k := newKubectl(t)
	op.hireCrew()
	op.clock.Step(time.Hour)
	for _, name := range crew() {
		op.poke(name, 1) // in a cluster, the requeue at expiresAt
		op.waitMember(name, "stuck on an expired link", invitationExpired)
	}
	op.showsStuckOnboarding(k)

	const requested = "2026-11-23T10:00:00Z"
	op.annotateNightShift(k, staffv1alpha1.ResendRequestedAtAnnotation, requested)
	for _, name := range nightShift {
		op.waitInvitation(name, "resent", func(i *staffv1alpha1.Invitation) bool { return sent(i) && i.Status.Attempt == 2 })
		op.waitMember(name, "ready with the fresh link", func(m *staffv1alpha1.StaffMember) bool {
			return isReady(m) && m.Status.LastHandledResendAt == requested
		})
		waitMails(t, op.email(name), 2)
	}
	if inv := op.invitation(dayShift); inv.Status.Phase != staffv1alpha1.InvitationExpired || inv.Status.Attempt != 1 {
		t.Errorf("the day shift's invitation is %s at attempt %d, want still Expired at attempt 1", inv.Status.Phase, inv.Status.Attempt)
	}
	if n := len(mailsTo(op.email(dayShift))); n != 1 {
		t.Errorf("the day shift received %d mails, want only the first invitation", n)
	}
}

// showsStuckOnboarding checks what a person sees: kubectl get sm gives each member's Ready reason,
// InvitationExpired here, and -o wide the account each signs in with.
func (op *operator) showsStuckOnboarding(k *kubectlCLI) {
	op.t.Helper()
	listing := k.must("get", "sm", "-n", op.ns)
	if n := strings.Count(listing, staffv1alpha1.ReasonInvitationExpired); !strings.Contains(listing, "REASON") || n != len(crew()) {
		op.t.Errorf("kubectl get sm shows %s %d times, want %d in the REASON column:\n%s", staffv1alpha1.ReasonInvitationExpired, n, len(crew()), listing)
	}
	wide := k.must("get", "sm", "-n", op.ns, "-o", "wide")
	if !strings.Contains(wide, "ACCOUNT") {
		op.t.Errorf("kubectl get sm -o wide has no ACCOUNT column:\n%s", wide)
	}
	for _, name := range crew() {
		if id := op.member(name).Status.AccountID; id == "" || !strings.Contains(wide, id) {
			op.t.Errorf("kubectl get sm -o wide does not show %s's account %q:\n%s", name, id, wide)
		}
	}
}

// TestBulkPasswordResetByLabel: one kubectl annotate -l mails each of the night shift a
// password-reset link.
func TestBulkPasswordResetByLabel(t *testing.T) {
	op := startOperator(t)
	k := newKubectl(t)
	op.hireCrew()
	op.passwordKnownToAll("a long and sincere passphrase")

	const requested = "2026-11-23T09:30:00Z"
	op.annotateNightShift(k, staffv1alpha1.PasswordResetRequestedAtAnnotation, requested)
	for _, name := range nightShift {
		op.waitMember(name, "reset handled", func(m *staffv1alpha1.StaffMember) bool { return m.Status.LastHandledPasswordResetAt == requested })
		reset := op.waitInvitation(name+"-reset-"+shortHash(requested), "sent", sent)
		if reset.Spec.Purpose != staffv1alpha1.PurposePasswordReset {
			t.Errorf("%s: purpose = %s, want %s", reset.Name, reset.Spec.Purpose, staffv1alpha1.PurposePasswordReset)
		}
		waitMails(t, op.email(name), 2) // the invitation, then the reset
	}
	if m := op.member(dayShift); m.Status.LastHandledPasswordResetAt != "" {
		t.Errorf("the day shift's reset was handled: %q", m.Status.LastHandledPasswordResetAt)
	}
	err := k8s.Get(context.Background(), client.ObjectKey{Namespace: op.ns, Name: dayShift + "-reset-" + shortHash(requested)}, &staffv1alpha1.Invitation{})
	if err == nil {
		t.Error("the day shift got a password-reset Invitation")
	}
	if n := len(mailsTo(op.email(dayShift))); n != 1 {
		t.Errorf("the day shift received %d mails, want only the first invitation", n)
	}
}

// TestBulkUnlockByLabel: the directory locked the whole crew out after failed sign-ins; one
// kubectl annotate -l clears the night shift's lockouts and leaves the day shift's.
func TestBulkUnlockByLabel(t *testing.T) {
	own := ldaptest.New(t, ldaptest.Options{MaxFailure: 3})
	op := startOperator(t, func(o *operatorOptions) { o.ldap = own })
	k := newKubectl(t)
	op.hireCrew()
	const password = "a long and sincere passphrase"
	op.passwordKnownToAll(password)
	for _, name := range crew() {
		for range 3 {
			_ = bindTo(own, op.member(name).Status.AccountID, "wrong password")
		}
	}
	// The directory tells nobody of a lockout: the resync pass finds it.
	if err := op.resync.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, name := range crew() {
		op.waitMember(name, "locked out", func(m *staffv1alpha1.StaffMember) bool { return m.Status.Phase == staffv1alpha1.StaffMemberLockedOut })
	}

	const requested = "2026-11-23T11:00:00Z"
	op.annotateNightShift(k, staffv1alpha1.UnlockRequestedAtAnnotation, requested)
	for _, name := range nightShift {
		m := op.waitMember(name, "unlocked", func(m *staffv1alpha1.StaffMember) bool {
			return isReady(m) && m.Status.Phase == staffv1alpha1.StaffMemberActive && m.Status.LastHandledUnlockAt == requested
		})
		if err := bindTo(own, m.Status.AccountID, password); err != nil {
			t.Errorf("%s cannot sign in after the unlock: %v", name, err)
		}
	}
	day := op.member(dayShift)
	if day.Status.Phase != staffv1alpha1.StaffMemberLockedOut || day.Status.LastHandledUnlockAt != "" {
		t.Errorf("the day shift is %s with lastHandledUnlockAt %q, want still LockedOut with none", day.Status.Phase, day.Status.LastHandledUnlockAt)
	}
	if err := bindTo(own, day.Status.AccountID, password); err == nil {
		t.Error("the day shift signed in: its lockout was cleared")
	}
}
