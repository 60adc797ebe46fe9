package controllers

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	staffv1alpha1 "github.com/rosterops/staff-operator/api/v1alpha1"
	"github.com/rosterops/staff-operator/internal/directory/ldaptest"
	"github.com/rosterops/staff-operator/internal/mail/smtptest"
	"github.com/rosterops/staff-operator/internal/staff"
	"github.com/rosterops/staff-operator/internal/web"
)

func TestPasswordResetAnnotationMailsAShortLivedLink(t *testing.T) {
	op := startOperator(t)
	m := newMember("rae", op.email("rae"))
	op.create(m)
	m = op.waitMember("rae", "invited", func(m *staffv1alpha1.StaffMember) bool { return m.Status.Phase == staffv1alpha1.StaffMemberInvited })
	op.waitInvitation("rae", "sent", sent)
	if err := op.directory.SetPassword(context.Background(), staff.AccountKey(m), "an old password nobody remembers"); err != nil {
		t.Fatal(err)
	}

	op.annotate(m, staffv1alpha1.PasswordResetRequestedAtAnnotation, "2026-11-23T09:30:00Z")
	m = op.waitMember("rae", "reset handled", func(m *staffv1alpha1.StaffMember) bool {
		return m.Status.LastHandledPasswordResetAt == "2026-11-23T09:30:00Z"
	})
	msgs := waitMails(t, op.email("rae"), 2) // the invitation, then the reset
	reset := op.waitInvitation("rae-reset-"+shortHash("2026-11-23T09:30:00Z"), "sent", sent)
	if reset.Spec.Purpose != staffv1alpha1.PurposePasswordReset {
		t.Errorf("purpose = %s", reset.Spec.Purpose)
	}
	if got := reset.Status.ExpiresAt.Sub(reset.Status.SentAt.Time); got != 15*time.Minute {
		t.Errorf("a reset link lives %s, want the 15m reset TTL", got)
	}
	// Sent means the mail server took it: it is among the mails now, in whatever order the
	// workers sent them.
	msgs = mailsTo(op.email("rae"))
	i := slices.IndexFunc(msgs, func(m smtptest.Message) bool {
		return strings.HasPrefix(m.Header.Get("Message-Id"), "<password-reset.")
	})
	if i < 0 || web.TokenHash(tokenIn(t, msgs[i])) != reset.Status.TokenHash {
		t.Errorf("no mail carries the live reset link")
	}
	// Handled once: another pass sends nothing more.
	op.annotate(m, "example.test/poke", "1")
	op.waitMember("rae", "ready", isReady)
	if n := len(mailsTo(op.email("rae"))); n != 2 {
		t.Errorf("%d mails, want 2", n)
	}
}

func TestLockoutIsReportedAndClearedOnRequest(t *testing.T) {
	own := ldaptest.New(t, ldaptest.Options{MaxFailure: 3})
	op := startOperator(t, func(o *operatorOptions) { o.ldap = own })
	op.create(newMember("lou", op.email("lou")))
	m := op.waitMember("lou", "invited", func(m *staffv1alpha1.StaffMember) bool { return m.Status.Phase == staffv1alpha1.StaffMemberInvited })
	const password = "a long and sincere passphrase"
	if err := op.directory.SetPassword(context.Background(), staff.AccountKey(m), password); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		_ = bindTo(own, m.Status.AccountID, "wrong password")
	}
	if err := op.resync.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	op.waitMember("lou", "locked out", func(m *staffv1alpha1.StaffMember) bool {
		return m.Status.Phase == staffv1alpha1.StaffMemberLockedOut &&
			hasCondition(m.Status.Conditions, staffv1alpha1.ConditionReady, metav1.ConditionFalse, staffv1alpha1.ReasonLockedOut)
	})
	if err := bindTo(own, m.Status.AccountID, password); err == nil {
		t.Fatal("a locked-out account could sign in")
	}
	op.annotate(m, staffv1alpha1.UnlockRequestedAtAnnotation, "2026-11-23T11:00:00Z")
	op.waitMember("lou", "active again", func(m *staffv1alpha1.StaffMember) bool {
		return isReady(m) && m.Status.Phase == staffv1alpha1.StaffMemberActive && m.Status.LastHandledUnlockAt == "2026-11-23T11:00:00Z"
	})
	if err := bindTo(own, m.Status.AccountID, password); err != nil {
		t.Fatalf("bind after the unlock: %v", err)
	}
}
