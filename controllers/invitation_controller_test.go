package controllers

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	staffv1alpha1 "github.com/rosterops/staff-operator/api/v1alpha1"
	"github.com/rosterops/staff-operator/internal/mail"
	"github.com/rosterops/staff-operator/internal/web"
)

func sent(i *staffv1alpha1.Invitation) bool { return i.Status.Phase == staffv1alpha1.InvitationSent }

// poke makes the operator look at an Invitation again after the test moved the clock; in a
// cluster the requeue at expiresAt does that.
func (op *operator) poke(name string, n int) {
	op.annotate(&staffv1alpha1.Invitation{ObjectMeta: metav1.ObjectMeta{Name: name}}, "example.test/poke", strconv.Itoa(n))
}

func TestInvitationExpiresAtTheDeadlineAndResends(t *testing.T) {
	op := startOperator(t)
	op.create(newMember("eve", op.email("eve")))
	first := op.waitInvitation("eve", "sent", sent)
	firstMail := waitMails(t, op.email("eve"), 1)[0]

	op.clock.Step(time.Hour - time.Second)
	op.poke("eve", 1)
	if inv := op.invitation("eve"); inv.Status.Phase != staffv1alpha1.InvitationSent {
		t.Fatalf("a second before the deadline the phase is %s, want Sent", inv.Status.Phase)
	}
	op.clock.Step(time.Second)
	op.poke("eve", 2)
	expired := op.waitInvitation("eve", "expired", func(i *staffv1alpha1.Invitation) bool { return i.Status.Phase == staffv1alpha1.InvitationExpired })
	if expired.Status.TokenHash != "" {
		t.Error("an expired invitation still has a token hash")
	}

	op.annotate(&staffv1alpha1.Invitation{ObjectMeta: metav1.ObjectMeta{Name: "eve"}}, staffv1alpha1.ResendRequestedAtAnnotation, "2026-11-23T10:00:00Z")
	resent := op.waitInvitation("eve", "resent", func(i *staffv1alpha1.Invitation) bool { return sent(i) && i.Status.Attempt == 2 })
	msgs := waitMails(t, op.email("eve"), 2)
	if resent.Status.TokenHash == first.Status.TokenHash || web.TokenHash(tokenIn(t, firstMail)) == resent.Status.TokenHash {
		t.Error("the resend kept the old token: the first link would still work")
	}
	if got := web.TokenHash(tokenIn(t, msgs[1])); got != resent.Status.TokenHash {
		t.Error("the resent mail's link does not match the stored hash")
	}
	if msgs[0].Header.Get("Message-Id") == msgs[1].Header.Get("Message-Id") {
		t.Error("two attempts share a Message-ID")
	}
	if resent.Status.LastHandledResendAt != "2026-11-23T10:00:00Z" {
		t.Errorf("lastHandledResendAt = %q", resent.Status.LastHandledResendAt)
	}
	if !resent.Status.ExpiresAt.Time.Equal(op.clock.Now().Add(time.Hour)) {
		t.Errorf("the resend's deadline is %v, want an hour from now", resent.Status.ExpiresAt)
	}
}

func TestAutoResendStopsAtItsBound(t *testing.T) {
	op := startOperator(t)
	inv := &staffv1alpha1.Invitation{
		ObjectMeta: metav1.ObjectMeta{Name: "kim-invite"},
		Spec: staffv1alpha1.InvitationSpec{
			MemberRef:  staffv1alpha1.LocalObjectReference{Name: "kim"},
			TTL:        &metav1.Duration{Duration: 10 * time.Minute},
			AutoResend: &staffv1alpha1.AutoResendPolicy{MaxResends: 2},
		},
	}
	op.create(inv)
	op.create(newMember("kim", op.email("kim")))
	op.waitInvitation("kim-invite", "sent", sent)
	for i := 1; i <= 3; i++ {
		op.clock.Step(10 * time.Minute)
		op.poke("kim-invite", i)
		if i <= 2 {
			op.waitInvitation("kim-invite", "auto-resent", func(v *staffv1alpha1.Invitation) bool { return sent(v) && v.Status.Attempt == int64(i+1) })
		}
	}
	final := op.waitInvitation("kim-invite", "expired after two resends", func(v *staffv1alpha1.Invitation) bool {
		return v.Status.Phase == staffv1alpha1.InvitationExpired
	})
	if final.Status.AutoResends != 2 || final.Status.Attempt != 3 {
		t.Errorf("autoResends=%d attempt=%d, want 2 and 3", final.Status.AutoResends, final.Status.Attempt)
	}
	if n := len(waitMails(t, op.email("kim"), 3)); n != 3 {
		t.Errorf("%d mails, want 3", n)
	}
	// The member used the committed Invitation instead of creating its own.
	if m := op.member("kim"); m.Status.Invitation != "kim-invite" {
		t.Errorf("member's invitation = %q, want kim-invite", m.Status.Invitation)
	}
}

func TestPermanentMailErrorFailsTheInvitation(t *testing.T) {
	op := startOperator(t)
	op.create(newMember("rej", "rejected@example.test"))
	inv := op.waitInvitation("rej", "failed", func(i *staffv1alpha1.Invitation) bool { return i.Status.Phase == staffv1alpha1.InvitationFailed })
	if !hasCondition(inv.Status.Conditions, staffv1alpha1.ConditionDelivered, metav1.ConditionFalse, staffv1alpha1.ReasonMailRejected) {
		t.Errorf("conditions = %v, want Delivered=False MailRejected", inv.Status.Conditions)
	}
	if msg := conditionMessage(inv.Status.Conditions, staffv1alpha1.ConditionDelivered); !strings.Contains(msg, "550") {
		t.Errorf("the condition does not give the SMTP reason: %q", msg)
	}
	if inv.Status.ObservedGeneration != inv.Generation {
		t.Error("a failed invitation did not record observedGeneration: kubectl wait would hang")
	}
}

func TestTemporaryMailErrorRetries(t *testing.T) {
	op := startOperator(t)
	before := mails.Connections()
	op.create(newMember("busy", "busy@example.test"))
	inv := op.waitInvitation("busy", "retrying", func(i *staffv1alpha1.Invitation) bool {
		return hasCondition(i.Status.Conditions, staffv1alpha1.ConditionDelivered, metav1.ConditionFalse, staffv1alpha1.ReasonMailUnavailable)
	})
	if inv.Status.Phase != staffv1alpha1.InvitationPending {
		t.Errorf("phase = %s, want Pending while the mail server answers 4xx", inv.Status.Phase)
	}
	eventually(t, "a retry reaching the mail server", func() (bool, string) {
		return mails.Connections()-before >= 3, ""
	})
}

// failingSender answers every send with a temporary error: the manager records the attempt, then
// "crashes" before any mail leaves.
type failingSender struct{}

func (failingSender) Send(context.Context, mail.Message) error {
	return &mail.Error{Class: mail.ErrUnavailable, Op: "connect", Reason: "simulated crash before sending", Err: errors.New("crash")}
}

func TestRestartBetweenRecordAndSendSendsOnce(t *testing.T) {
	first := startOperator(t, func(o *operatorOptions) { o.sender = failingSender{} })
	first.create(newMember("rio", first.email("rio")))
	recorded := first.waitInvitation("rio", "attempt recorded, not sent", func(i *staffv1alpha1.Invitation) bool {
		return i.Status.Attempt == 1 && i.Status.SentAttempt == 0 && i.Status.TokenHash != ""
	})
	first.stop()

	second := runOperator(t, operatorOptions{namespace: first.ns, ldap: slapd, clock: first.clock, sender: defaultSender(t)})
	done := second.waitInvitation("rio", "sent", sent)
	msgs := waitMails(t, second.email("rio"), 1)
	if len(msgs) != 1 || done.Status.Attempt != 1 {
		t.Fatalf("%d mails and attempt %d after the restart, want 1 and 1", len(msgs), done.Status.Attempt)
	}
	if got := web.TokenHash(tokenIn(t, msgs[0])); got != recorded.Status.TokenHash {
		t.Error("the mail sent after the restart does not carry the link recorded before it")
	}
	// Another pass must not send attempt 1 again.
	second.poke("rio", 1)
	second.waitInvitation("rio", "still sent", sent)
	if n := len(mailsTo(second.email("rio"))); n != 1 {
		t.Errorf("%d mails for one attempt, want 1", n)
	}
}

func TestEmailChangeRevokesAndInvitesTheNewAddress(t *testing.T) {
	op := startOperator(t)
	m := newMember("max", op.email("max-old"))
	op.create(m)
	op.waitInvitation("max", "sent", sent)
	op.update(m, func() { m.Spec.Email = op.email("max-new") })
	op.waitInvitation("max", "revoked", func(i *staffv1alpha1.Invitation) bool { return i.Status.Phase == staffv1alpha1.InvitationRevoked })
	waitMails(t, op.email("max-new"), 1)
	m = op.waitMember("max", "invited at the new address", func(m *staffv1alpha1.StaffMember) bool {
		return isReady(m) && m.Status.Invitation != "" && m.Status.Invitation != "max"
	})
	if inv := op.invitation(m.Status.Invitation); inv.Status.Email != op.email("max-new") {
		t.Errorf("the new invitation went to %s", inv.Status.Email)
	}
}

func conditionMessage(conds []metav1.Condition, typ string) string {
	for _, c := range conds {
		if c.Type == typ {
			return c.Message
		}
	}
	return ""
}
