package controllers

import (
	"strings"
	"testing"
	"time"

	staffv1alpha1 "github.com/rosterops/staff-operator/api/v1alpha1"
	"github.com/rosterops/staff-operator/internal/web"
)

func phase(p staffv1alpha1.InvitationPhase) func(*staffv1alpha1.Invitation) bool {
	return func(i *staffv1alpha1.Invitation) bool { return i.Status.Phase == p }
}

// The platform team's Invitation reaches the cluster after the operator mailed its own: the
// person gets no second invitation, the operator's link lives by the committed terms (a 72h
// link, so a reminder; one automatic resend), and the committed Invitation shows that link's
// state until it is accepted.
func TestCommittedInvitationAfterTheOperatorsTakesOverItsTerms(t *testing.T) {
	op := startOperator(t)
	op.create(newMember("noa", op.email("noa")))
	own := op.waitInvitation("noa", "sent", sent)
	first := waitMails(t, op.email("noa"), 1)[0]

	op.create(committedInvitation("noa-invite", "noa", 72*time.Hour, 1))
	want := own.Status.SentAt.Add(72 * time.Hour)
	op.waitInvitation("noa", "living by the committed ttl", func(i *staffv1alpha1.Invitation) bool {
		return sent(i) && i.Status.ExpiresAt.Time.Equal(want)
	})
	committed := op.waitInvitation("noa-invite", "delegated", func(i *staffv1alpha1.Invitation) bool {
		return sent(i) && i.Status.DelegatedTo == "noa" && i.Status.ExpiresAt != nil && i.Status.ExpiresAt.Time.Equal(want)
	})
	if committed.Status.Attempt != 0 || committed.Status.TokenHash != "" {
		t.Errorf("the delegated Invitation issued a link of its own: attempt %d", committed.Status.Attempt)
	}
	if r := invitationKstatus(t, committed); r.Status != "Current" {
		t.Errorf("kstatus of the delegated Invitation = %s (%s), want Current", r.Status, r.Message)
	}
	op.settle("noa-invite", 1)
	op.settle("noa", 1)
	if n := len(mailsTo(op.email("noa"))); n != 1 {
		t.Fatalf("%d mails after the committed Invitation was applied, want the operator's one", n)
	}

	// The committed terms: a reminder a day before the 72h deadline...
	op.clock.Step(48 * time.Hour)
	op.poke("noa", 2)
	msgs := waitMails(t, op.email("noa"), 2)
	if !strings.HasPrefix(msgs[1].Subject, "Reminder:") || tokenIn(t, msgs[1]) != tokenIn(t, first) {
		t.Fatalf("second mail %q, want the reminder of the first link", msgs[1].Subject)
	}
	// ...and one automatic resend when the link expires unused.
	op.clock.Step(24 * time.Hour)
	op.poke("noa", 3)
	resent := op.waitInvitation("noa", "auto-resent", func(i *staffv1alpha1.Invitation) bool { return sent(i) && i.Status.Attempt == 2 })
	msgs = waitMails(t, op.email("noa"), 3)
	if web.TokenHash(tokenIn(t, msgs[2])) != resent.Status.TokenHash {
		t.Fatal("the third mail does not carry the resent link")
	}
	op.waitInvitation("noa-invite", "following the resend", func(i *staffv1alpha1.Invitation) bool {
		return sent(i) && i.Status.ExpiresAt.Equal(resent.Status.ExpiresAt)
	})

	if res := op.openForm(t, tokenIn(t, msgs[2])).submit(t, op, goodPassword); res.status != 200 {
		t.Fatalf("accept: %d %s", res.status, res.body)
	}
	op.waitInvitation("noa-invite", "accepted", phase(staffv1alpha1.InvitationAccepted))
	if n := len(mailsTo(op.email("noa"))); n != 3 {
		t.Errorf("%d mails, want the invitation, its reminder and one automatic resend", n)
	}
}

// A resend request on the delegated Invitation mails its own link; the operator's is superseded.
func TestResendOnTheDelegatedInvitationTakesOver(t *testing.T) {
	op := startOperator(t)
	op.create(newMember("ivo", op.email("ivo")))
	op.waitInvitation("ivo", "sent", sent)
	waitMails(t, op.email("ivo"), 1)
	op.create(committedInvitation("ivo-invite", "ivo", 2*time.Hour))
	op.waitInvitation("ivo-invite", "delegated", func(i *staffv1alpha1.Invitation) bool { return i.Status.DelegatedTo == "ivo" })

	committed := &staffv1alpha1.Invitation{}
	committed.Name = "ivo-invite"
	op.annotate(committed, staffv1alpha1.ResendRequestedAtAnnotation, "2026-11-23T10:00:00Z")
	own := op.waitInvitation("ivo-invite", "mailing its own link", func(i *staffv1alpha1.Invitation) bool {
		return sent(i) && i.Status.Attempt == 1 && i.Status.DelegatedTo == ""
	})
	msgs := waitMails(t, op.email("ivo"), 2)
	if web.TokenHash(tokenIn(t, msgs[1])) != own.Status.TokenHash {
		t.Error("the second mail does not carry the committed Invitation's link")
	}
	if !own.Status.ExpiresAt.Time.Equal(own.Status.SentAt.Add(2 * time.Hour)) {
		t.Errorf("the committed link expires at %v, want sentAt + its 2h ttl", own.Status.ExpiresAt)
	}
	op.waitInvitation("ivo", "superseded", phase(staffv1alpha1.InvitationRevoked))
}

// The operator's own Invitations resend expired links as invitations.autoResend says.
func TestOperatorInvitationsUseTheConfiguredAutoResend(t *testing.T) {
	op := startOperator(t, func(o *operatorOptions) { o.tune = func(r *Options) { r.AutoResendMax = 1 } })
	op.create(newMember("uma", op.email("uma")))
	op.waitInvitation("uma", "sent", sent)
	op.clock.Step(time.Hour)
	op.poke("uma", 1)
	op.waitInvitation("uma", "auto-resent", func(i *staffv1alpha1.Invitation) bool { return sent(i) && i.Status.Attempt == 2 })
	op.clock.Step(time.Hour)
	op.poke("uma", 2)
	final := op.waitInvitation("uma", "expired after one resend", phase(staffv1alpha1.InvitationExpired))
	if final.Status.AutoResends != 1 {
		t.Errorf("autoResends = %d, want 1", final.Status.AutoResends)
	}
	if n := len(waitMails(t, op.email("uma"), 2)); n != 2 {
		t.Errorf("%d mails, want 2", n)
	}
}
