package controllers

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	staffv1alpha1 "github.com/rosterops/staff-operator/api/v1alpha1"
	"github.com/rosterops/staff-operator/internal/mail"
	"github.com/rosterops/staff-operator/internal/staff"
	"github.com/rosterops/staff-operator/internal/web"
)

// startAttempt issues a new link and records that its mail is to be sent, and nothing else: the
// record reaches the API server at the end of this pass, and its status write starts the next
// pass, which sends. Whatever happens in between, the attempt is known before SMTP hears of
// it. The older link stops working now, as its hash is replaced.
func (r *InvitationReconciler) startAttempt(inv *staffv1alpha1.Invitation, m *staffv1alpha1.StaffMember, why string) (ctrl.Result, error) {
	r.newAttempt(inv, m, why)
	return ctrl.Result{}, nil
}

// newAttempt moves the Invitation's status to the next attempt, for m's address.
func (r *InvitationReconciler) newAttempt(inv *staffv1alpha1.Invitation, m *staffv1alpha1.StaffMember, why string) {
	st := &inv.Status
	st.Attempt++
	st.Email = m.Spec.Email
	st.TokenHash = web.TokenHash(r.Tokens.Token(inv.UID, st.Attempt, st.Email))
	st.Phase = staffv1alpha1.InvitationPending
	st.SentAt, st.ExpiresAt = nil, nil
	msg := fmt.Sprintf("%s: sending attempt %d to %s", why, st.Attempt, st.Email)
	setInvitationCondition(inv, staffv1alpha1.ConditionDelivered, metav1.ConditionFalse, staffv1alpha1.ReasonSending, msg)
	setInvitationCondition(inv, staffv1alpha1.ConditionReady, metav1.ConditionFalse, staffv1alpha1.ReasonSending, msg)
}

// send mails the recorded attempt. It reads the Invitation from the API server first, so that
// a pass working from a stale cache never sends an attempt the mail server already accepted.
// A permanent refusal fails the Invitation with the server's reason; anything else is retried
// with backoff.
func (r *InvitationReconciler) send(ctx context.Context, inv *staffv1alpha1.Invitation, m *staffv1alpha1.StaffMember, ttl time.Duration) (ctrl.Result, error) {
	var fresh staffv1alpha1.Invitation
	if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(inv), &fresh); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if fresh.Status.SentAttempt >= inv.Status.Attempt {
		inv.Status = fresh.Status
		return ctrl.Result{}, nil
	}

	now := r.Clock.Now()
	expires := metav1.NewTime(now.Add(ttl))
	kind, data, err := r.mailData(ctx, inv, m, expires.Time)
	if err == nil {
		err = r.announceReset(ctx, inv, m, data.Practice)
	}
	if err == nil {
		err = r.Mail.send(ctx, kind, data, inv.UID, inv.Status.Attempt)
	}
	if err != nil {
		return r.sendFailed(inv, err)
	}

	sent := metav1.NewTime(now)
	st := &inv.Status
	st.SentAttempt, st.SentAt, st.ExpiresAt, st.Phase = st.Attempt, &sent, &expires, staffv1alpha1.InvitationSent
	note := sentNote(st)
	setInvitationCondition(inv, staffv1alpha1.ConditionDelivered, metav1.ConditionTrue, staffv1alpha1.ReasonSent, note)
	setInvitationCondition(inv, staffv1alpha1.ConditionReady, metav1.ConditionTrue, staffv1alpha1.ReasonSent, note)
	// The first mail of an Invitation is routine (its Delivered condition says it); a resend
	// was asked for or is the operator acting on its own, which a person should see.
	if st.Attempt > 1 {
		r.recorder.Eventf(inv, nil, corev1.EventTypeNormal, "InvitationResent", "SendMail", "%s", note)
	}
	log.FromContext(ctx).Info("invitation mailed", "attempt", st.Attempt, "kind", kind)
	return ctrl.Result{RequeueAfter: r.nextWake(inv, now)}, nil
}

func (r *InvitationReconciler) sendFailed(inv *staffv1alpha1.Invitation, err error) (ctrl.Result, error) {
	if mail.IsPermanent(err) {
		inv.Status.Phase = staffv1alpha1.InvitationFailed
		inv.Status.TokenHash = ""
		msg := fmt.Sprintf("The mail server refused attempt %d: %v; fix the address or the configuration, then annotate %s=<now>", inv.Status.Attempt, err, staffv1alpha1.ResendRequestedAtAnnotation)
		setInvitationCondition(inv, staffv1alpha1.ConditionDelivered, metav1.ConditionFalse, staffv1alpha1.ReasonMailRejected, msg)
		setInvitationCondition(inv, staffv1alpha1.ConditionReady, metav1.ConditionFalse, staffv1alpha1.ReasonMailRejected, msg)
		r.recorder.Eventf(inv, nil, corev1.EventTypeWarning, staffv1alpha1.ReasonMailRejected, "SendMail", "%s", msg)
		return ctrl.Result{}, reconcile.TerminalError(err)
	}
	msg := fmt.Sprintf("Attempt %d not sent yet, retrying with backoff: %v", inv.Status.Attempt, err)
	setInvitationCondition(inv, staffv1alpha1.ConditionDelivered, metav1.ConditionFalse, staffv1alpha1.ReasonMailUnavailable, msg)
	setInvitationCondition(inv, staffv1alpha1.ConditionReady, metav1.ConditionFalse, staffv1alpha1.ReasonMailUnavailable, msg)
	return ctrl.Result{}, err
}

// mailData fills the mail of the current attempt: the practice's name, the member's roles and
// locations, the link, and the expiry in the time zone of the member's primary location.
func (r *InvitationReconciler) mailData(ctx context.Context, inv *staffv1alpha1.Invitation, m *staffv1alpha1.StaffMember, expires time.Time) (mail.Kind, mail.Data, error) {
	kind := mail.Invitation
	switch {
	case inv.Spec.Purpose == staffv1alpha1.PurposePasswordReset:
		kind = mail.PasswordReset
	case inv.Status.Attempt > 1:
		kind = mail.InvitationResent
	}
	practice, err := staff.PracticeName(ctx, r.Client, inv.Namespace)
	if err != nil {
		return kind, mail.Data{}, err
	}
	roles, locations := r.access(ctx, m)
	token := r.Tokens.Token(inv.UID, inv.Status.Attempt, inv.Status.Email)
	return kind, mail.Data{
		Practice:  practice,
		Name:      staff.DisplayName(m),
		Email:     inv.Status.Email,
		Roles:     roles,
		Locations: locations,
		Link:      web.Link(r.PublicURL, token),
		ExpiresAt: expires,
		TimeZone:  staff.PrimaryTimeZone(ctx, r.Client, m),
	}, nil
}

// announceReset tells the previous address of a recently changed email that a password-reset
// link is on its way to the new one, before it is sent: whoever changed the email to an address
// they read could take the account over with that link, and the person who held it must hear of
// it. The notice has the attempt's number, so a retried attempt sends the same message. A
// previous address that refuses mail for good does not hold the reset up.
func (r *InvitationReconciler) announceReset(ctx context.Context, inv *staffv1alpha1.Invitation, m *staffv1alpha1.StaffMember, practice string) error {
	change := m.Status.EmailChange
	if inv.Spec.Purpose != staffv1alpha1.PurposePasswordReset || change == nil || change.NewEmail != inv.Status.Email ||
		!r.Clock.Now().Before(change.ChangedAt.Add(r.EmailChangeNoticeWindow)) {
		return nil
	}
	err := r.Mail.send(ctx, mail.PasswordResetNotice, mail.Data{
		Practice: practice, Name: staff.DisplayName(m), Email: change.PreviousEmail, NewEmail: change.NewEmail, Contact: r.Mail.Contact,
	}, inv.UID, inv.Status.Attempt)
	if mail.IsPermanent(err) {
		r.recorder.Eventf(inv, nil, corev1.EventTypeWarning, "ResetNoticeRejected", "SendMail",
			"The previous address of the member refused the notice of this password reset: %v", err)
		return nil
	}
	if err != nil {
		return fmt.Errorf("announce the password reset to the previous address: %w", err)
	}
	r.recorder.Eventf(inv, nil, corev1.EventTypeNormal, "ResetNoticeSent", "SendMail",
		"The member's previous address was told of this password reset (the email changed at %s)", change.ChangedAt.UTC().Format(time.RFC3339))
	return nil
}

// access names the member's roles and locations as people know them.
func (r *InvitationReconciler) access(ctx context.Context, m *staffv1alpha1.StaffMember) (roles, locations []string) {
	for _, name := range m.Spec.Roles {
		var role staffv1alpha1.Role
		if err := r.Get(ctx, client.ObjectKey{Namespace: m.Namespace, Name: string(name)}, &role); err == nil {
			roles = append(roles, role.Spec.DisplayName)
		}
	}
	for _, name := range m.Spec.Locations {
		var loc staffv1alpha1.Location
		if err := r.Get(ctx, client.ObjectKey{Namespace: m.Namespace, Name: string(name)}, &loc); err == nil {
			locations = append(locations, loc.Spec.DisplayName)
		}
	}
	return roles, locations
}
