package controllers

import (
	"context"
	"errors"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	staffv1alpha1 "github.com/rosterops/staff-operator/api/v1alpha1"
	"github.com/rosterops/staff-operator/internal/mail"
)

// minRemindedLife: only a link that lives longer than this gets an expiry reminder. For a
// shorter one the reminder would arrive soon after the invitation itself, which is noise.
const minRemindedLife = 48 * time.Hour

// reminderAt is when the live link of the current attempt is to be reminded of, and false when
// it gets no reminder: reminders are off, it is not a mailed invitation link (password resets
// are short and asked for), its life is 48h or less, or its reminder was taken on already.
func (r *InvitationReconciler) reminderAt(inv *staffv1alpha1.Invitation) (time.Time, bool) {
	st := &inv.Status
	if r.ReminderBefore <= 0 || inv.Spec.Purpose == staffv1alpha1.PurposePasswordReset ||
		st.Phase != staffv1alpha1.InvitationSent || st.SentAt == nil || st.ExpiresAt == nil ||
		st.SentAttempt != st.Attempt || st.RemindedAttempt >= st.Attempt {
		return time.Time{}, false
	}
	life := st.ExpiresAt.Sub(st.SentAt.Time)
	if life <= minRemindedLife || r.ReminderBefore >= life {
		return time.Time{}, false
	}
	return st.ExpiresAt.Add(-r.ReminderBefore), true
}

// reminderDue reports whether the live link's reminder is due now, before its deadline.
func (r *InvitationReconciler) reminderDue(inv *staffv1alpha1.Invitation, now time.Time) bool {
	at, ok := r.reminderAt(inv)
	return ok && !now.Before(at) && now.Before(inv.Status.ExpiresAt.Time)
}

// nextWake is how long until the Invitation has something to do by itself: its reminder or,
// after it, the deadline of its link. No polling in between.
func (r *InvitationReconciler) nextWake(inv *staffv1alpha1.Invitation, now time.Time) time.Duration {
	wake := inv.Status.ExpiresAt.Time
	if at, ok := r.reminderAt(inv); ok && at.Before(wake) {
		wake = at
	}
	return wake.Sub(now)
}

// takeReminder records that the current attempt's reminder is being mailed. The record is what
// makes the reminder at-most-once: Reconcile mails it only after this pass's status write, made
// over the version it read, reached the API server. A pass that stops after the mail server
// accepted the reminder leaves the record behind, and no later pass mails it again; one that
// stops before leaves a reminder unsent, which is the lesser harm for a courtesy mail (the link
// itself was delivered). The write also fails, and nothing is mailed, if the invitation page
// claimed the link meanwhile.
func takeReminder(inv *staffv1alpha1.Invitation) {
	inv.Status.RemindedAttempt = inv.Status.Attempt
}

// tookReminder reports whether this pass recorded a reminder, which it then mails.
func tookReminder(before, after *staffv1alpha1.Invitation) bool {
	return after.Status.RemindedAttempt > before.Status.RemindedAttempt
}

// remind mails the expiry reminder of the current attempt: the same link, its deadline, a
// Message-ID of its own (the kind is part of it). Its record is on the API server already.
func (r *InvitationReconciler) remind(ctx context.Context, inv *staffv1alpha1.Invitation, previous int64) error {
	m, err := r.member(ctx, inv)
	if err == nil && m == nil {
		err = errors.New("the StaffMember is gone")
	}
	var data mail.Data
	if err == nil {
		_, data, err = r.mailData(ctx, inv, m, inv.Status.ExpiresAt.Time)
	}
	if err == nil {
		err = r.Mail.send(ctx, mail.ExpiryReminder, data, inv.UID, inv.Status.Attempt)
	}
	if err == nil {
		log.FromContext(ctx).Info("expiry reminder mailed", "attempt", inv.Status.Attempt)
		return nil
	}
	return r.reminderFailed(ctx, inv, previous, err)
}

// reminderFailed decides what a failed reminder leaves. When the mail server cannot have
// accepted it (the failure came before DATA) and trying again can help, the record is taken
// back so that a later pass retries with backoff. After DATA the server may have accepted the
// message, and a permanent refusal will not change: the reminder is given up, with an event.
func (r *InvitationReconciler) reminderFailed(ctx context.Context, inv *staffv1alpha1.Invitation, previous int64, err error) error {
	var me *mail.Error
	isMail := errors.As(err, &me)
	if !mail.IsPermanent(err) && (!isMail || me.Op != "DATA") {
		before := inv.DeepCopy()
		inv.Status.RemindedAttempt = previous
		release := r.Status().Patch(ctx, inv, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{}))
		return errors.Join(err, client.IgnoreNotFound(release))
	}
	r.recorder.Eventf(inv, nil, corev1.EventTypeWarning, "ReminderNotSent", "SendMail",
		"The expiry reminder of attempt %d was not mailed and will not be retried: %v", inv.Status.Attempt, err)
	return nil
}
