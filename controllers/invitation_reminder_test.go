package controllers

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	staffv1alpha1 "github.com/rosterops/staff-operator/api/v1alpha1"
	"github.com/rosterops/staff-operator/internal/mail"
	"github.com/rosterops/staff-operator/internal/mail/smtptest"
)

// committedInvitation is an Invitation as a platform team commits it to Git.
func committedInvitation(name, member string, ttl time.Duration, maxResends ...int32) *staffv1alpha1.Invitation {
	inv := &staffv1alpha1.Invitation{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: staffv1alpha1.InvitationSpec{
			MemberRef: staffv1alpha1.LocalObjectReference{Name: staffv1alpha1.ObjectName(member)},
			TTL:       &metav1.Duration{Duration: ttl},
		},
	}
	if len(maxResends) > 0 {
		inv.Spec.AutoResend = &staffv1alpha1.AutoResendPolicy{MaxResends: maxResends[0]}
	}
	return inv
}

// settle pokes an Invitation and waits until the invitation controller finished a pass after
// the poke, so that a test can assert what did not happen.
func (op *operator) settle(name string, n int) {
	op.t.Helper()
	before := reconciles("invitation")
	op.poke(name, n)
	eventually(op.t, "a pass over "+name, func() (bool, string) {
		return reconciles("invitation") > before, ""
	})
}

func reminders(msgs []smtptest.Message) []smtptest.Message {
	var out []smtptest.Message
	for _, m := range msgs {
		if strings.HasPrefix(m.Subject, "Reminder:") {
			out = append(out, m)
		}
	}
	return out
}

func TestExpiryReminderOncePerAttemptAtTheLeadTime(t *testing.T) {
	op := startOperator(t)
	op.create(committedInvitation("lee-invite", "lee", 72*time.Hour))
	op.create(newMember("lee", op.email("lee")))
	sentInv := op.waitInvitation("lee-invite", "sent", sent)
	first := waitMails(t, op.email("lee"), 1)[0]

	// The default lead time is 24h: the reminder is due 48h after the mail.
	op.clock.Step(48*time.Hour - time.Second)
	op.settle("lee-invite", 1)
	if n := len(mailsTo(op.email("lee"))); n != 1 {
		t.Fatalf("%d mails a second before the reminder is due, want 1", n)
	}
	op.clock.Step(time.Second)
	op.poke("lee-invite", 2)
	msgs := waitMails(t, op.email("lee"), 2)
	reminder := msgs[1]
	if !strings.HasPrefix(reminder.Subject, "Reminder:") {
		t.Fatalf("the second mail is %q, want the expiry reminder", reminder.Subject)
	}
	if tokenIn(t, reminder) != tokenIn(t, first) {
		t.Error("the reminder does not carry the link of the invitation it reminds of")
	}
	if reminder.Header.Get("Message-Id") == first.Header.Get("Message-Id") {
		t.Error("the reminder has the invitation's Message-ID")
	}
	inv := op.waitInvitation("lee-invite", "reminder recorded", func(i *staffv1alpha1.Invitation) bool { return i.Status.RemindedAttempt == 1 })
	if !inv.Status.ExpiresAt.Equal(sentInv.Status.ExpiresAt) || inv.Status.Phase != staffv1alpha1.InvitationSent {
		t.Errorf("the reminder changed the link: phase %s, expires %v (was %v)", inv.Status.Phase, inv.Status.ExpiresAt, sentInv.Status.ExpiresAt)
	}

	// Another pass, and a restarted manager, send no second reminder for attempt 1.
	op.settle("lee-invite", 3)
	op.stop()
	again := runOperator(t, operatorOptions{namespace: op.ns, ldap: slapd, clock: op.clock, sender: defaultSender(t)})
	again.settle("lee-invite", 4)
	again.clock.Step(time.Hour)
	again.settle("lee-invite", 5)
	if n := len(mailsTo(op.email("lee"))); n != 2 {
		t.Errorf("%d mails, want the invitation and one reminder", n)
	}
}

func TestNoExpiryReminderAfterAcceptance(t *testing.T) {
	op := startOperator(t)
	op.create(committedInvitation("ada-invite", "ada", 72*time.Hour))
	op.create(newMember("ada", op.email("ada")))
	op.waitInvitation("ada-invite", "sent", sent)
	token := tokenIn(t, waitMails(t, op.email("ada"), 1)[0])
	op.clock.Step(47 * time.Hour)
	if res := op.openForm(t, token).submit(t, op, goodPassword); res.status != 200 {
		t.Fatalf("accept: %d %s", res.status, res.body)
	}
	op.waitInvitation("ada-invite", "accepted", func(i *staffv1alpha1.Invitation) bool { return i.Status.Phase == staffv1alpha1.InvitationAccepted })
	op.clock.Step(2 * time.Hour)
	op.settle("ada-invite", 1)
	if n := len(mailsTo(op.email("ada"))); n != 1 {
		t.Errorf("%d mails after the invitation was accepted before its reminder, want 1", n)
	}
}

func TestNoExpiryReminderForShortLinks(t *testing.T) {
	cases := []struct {
		name   string
		ttl    time.Duration
		before time.Duration // the manager's reminderBefore
	}{
		{name: "48h link", ttl: 48 * time.Hour, before: 24 * time.Hour},
		{name: "1h link", ttl: time.Hour, before: 24 * time.Hour},
		{name: "reminders off", ttl: 72 * time.Hour, before: 0},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			op := startOperator(t, func(o *operatorOptions) { o.tune = func(r *Options) { r.ReminderBefore = tc.before } })
			name := fmt.Sprintf("short%d", i)
			op.create(committedInvitation(name+"-invite", name, tc.ttl))
			op.create(newMember(name, op.email(name)))
			op.waitInvitation(name+"-invite", "sent", sent)
			waitMails(t, op.email(name), 1)
			// Past where a reminder would be due, before the deadline.
			op.clock.Step(tc.ttl - time.Minute)
			op.settle(name+"-invite", 1)
			if got := reminders(mailsTo(op.email(name))); len(got) != 0 {
				t.Errorf("%d reminders for a %s link with reminderBefore %s, want none", len(got), tc.ttl, tc.before)
			}
		})
	}
}

// reminderSender sends through the suite's SMTP server and fails the first reminder as told:
// after its DATA reached the server (the manager cannot know whether it was accepted), or
// before anything was sent.
type reminderSender struct {
	mail.Sender
	failAfterData bool
	failed        atomic.Bool
}

func (s *reminderSender) Send(ctx context.Context, m mail.Message) error {
	if m.Kind != mail.ExpiryReminder || s.failed.Swap(true) {
		return s.Sender.Send(ctx, m)
	}
	if !s.failAfterData {
		return &mail.Error{Class: mail.ErrUnavailable, Op: "connect", Reason: "simulated: connection refused"}
	}
	if err := s.Sender.Send(ctx, m); err != nil {
		return err
	}
	return &mail.Error{Class: mail.ErrUnavailable, Op: "DATA", Reason: "simulated: the connection dropped before the reply to the final dot"}
}

func TestExpiryReminderAtMostOnceWhenTheSendIsInDoubt(t *testing.T) {
	for _, tc := range []struct {
		name          string
		failAfterData bool
		wantEvent     bool
	}{
		{name: "dropped after DATA: not retried", failAfterData: true, wantEvent: true},
		{name: "refused before MAIL FROM: retried", failAfterData: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sender := &reminderSender{Sender: defaultSender(t), failAfterData: tc.failAfterData}
			op := startOperator(t, func(o *operatorOptions) { o.sender = sender })
			op.create(committedInvitation("ray-invite", "ray", 72*time.Hour))
			op.create(newMember("ray", op.email("ray")))
			op.waitInvitation("ray-invite", "sent", sent)
			waitMails(t, op.email("ray"), 1)
			op.clock.Step(48 * time.Hour)
			op.poke("ray-invite", 1)
			waitMails(t, op.email("ray"), 2)
			op.waitInvitation("ray-invite", "reminder recorded", func(i *staffv1alpha1.Invitation) bool { return i.Status.RemindedAttempt == 1 })
			if tc.wantEvent {
				waitEvent(t, op.ns, "ray-invite", "ReminderNotSent")
			}
			op.settle("ray-invite", 2)
			if got := reminders(mailsTo(op.email("ray"))); len(got) != 1 {
				t.Errorf("%d reminders reached the mail server, want exactly 1", len(got))
			}
		})
	}
}
