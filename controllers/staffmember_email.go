package controllers

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"

	staffv1alpha1 "github.com/rosterops/staff-operator/api/v1alpha1"
	"github.com/rosterops/staff-operator/internal/directory"
	"github.com/rosterops/staff-operator/internal/mail"
	"github.com/rosterops/staff-operator/internal/staff"
)

// recordEmailChange notes, before the directory changes, that the spec changed the email of an
// account that has a password: the account stays usable, and its previous address must hear of
// it, because whoever reads the new address can now reset the password. It reports whether it
// recorded a change; the pass then ends, and the next one changes the directory. A mail edited
// by hand in the directory (the spec did not change) is drift, put back without a notice.
func (r *StaffMemberReconciler) recordEmailChange(m *staffv1alpha1.StaffMember, obs directory.Observation) bool {
	previous := obs.Actual.Email
	switch {
	case !obs.Exists || !obs.PasswordSet || previous == "" || previous == m.Spec.Email || leftByEarlierMember(m, obs):
		return false // no account of this member's with a password and another address
	case m.Status.EmailChange != nil && m.Status.EmailChange.Generation == m.Generation:
		return false // recorded for this spec already
	case m.Generation == m.Status.ObservedGeneration:
		return false // drift
	}
	m.Status.EmailChange = &staffv1alpha1.EmailChange{
		PreviousEmail: previous,
		NewEmail:      m.Spec.Email,
		ChangedAt:     r.now(),
		Generation:    m.Generation,
		Notice:        staffv1alpha1.EmailChangeNoticePending,
	}
	return true
}

// notifyEmailChange mails the pending notice of an email change to the previous address. Its
// Message-ID is numbered with the generation of the change, so a notice sent again after a
// restart is the same message. A previous address that refuses mail for good is recorded, not
// retried: the person may have left that mailbox behind.
func (r *StaffMemberReconciler) notifyEmailChange(ctx context.Context, m *staffv1alpha1.StaffMember) error {
	change := m.Status.EmailChange
	if change == nil || change.Notice != staffv1alpha1.EmailChangeNoticePending {
		return nil
	}
	practice, err := staff.PracticeName(ctx, r.Client, m.Namespace)
	if err != nil {
		return err
	}
	err = r.Mail.send(ctx, mail.EmailChanged, mail.Data{
		Practice: practice, Name: staff.DisplayName(m), Email: change.PreviousEmail, NewEmail: change.NewEmail, Contact: r.Mail.Contact,
	}, m.UID, change.Generation)
	switch {
	case err == nil:
		change.Notice = staffv1alpha1.EmailChangeNoticeSent
		r.recorder.Eventf(m, nil, corev1.EventTypeNormal, "EmailChangeNoticeSent", "SendMail",
			"The previous address was told that the account's email changed to %s", change.NewEmail)
		return nil
	case mail.IsPermanent(err):
		change.Notice = staffv1alpha1.EmailChangeNoticeRejected
		r.recorder.Eventf(m, nil, corev1.EventTypeWarning, "EmailChangeNoticeRejected", "SendMail",
			"The previous address refused the notice of the email change: %v", err)
		return nil
	}
	return fmt.Errorf("mail the notice of the email change to the previous address: %w", err)
}
