package controllers

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	staffv1alpha1 "github.com/rosterops/staff-operator/api/v1alpha1"
)

// currentInvitation returns the Invitation status.invitation names, or nil when there is none.
func (r *StaffMemberReconciler) currentInvitation(ctx context.Context, m *staffv1alpha1.StaffMember) (*staffv1alpha1.Invitation, error) {
	if m.Status.Invitation == "" {
		return nil, nil
	}
	var inv staffv1alpha1.Invitation
	err := r.Get(ctx, client.ObjectKey{Namespace: m.Namespace, Name: m.Status.Invitation}, &inv)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read invitation %s: %w", m.Status.Invitation, err)
	}
	return &inv, nil
}

// stuckOnboarding says why an invited member cannot get a password without a person acting:
// the Invitation's link expired, its mail was refused, or it was revoked, and no other is out.
// Empty when the link is live (or being sent). The member is then not Ready: nobody can sign in.
func stuckOnboarding(inv *staffv1alpha1.Invitation) (reason, msg string) {
	if inv == nil {
		return "", ""
	}
	resend := fmt.Sprintf("annotate the StaffMember (or the Invitation) %s=<now> to send a new link", staffv1alpha1.ResendRequestedAtAnnotation)
	switch inv.Status.Phase {
	case staffv1alpha1.InvitationExpired:
		return staffv1alpha1.ReasonInvitationExpired, fmt.Sprintf("The invitation link (Invitation %s) expired unused; %s", inv.Name, resend)
	case staffv1alpha1.InvitationFailed:
		return staffv1alpha1.ReasonInvitationFailed, fmt.Sprintf("The invitation mail (Invitation %s) was refused by the mail server; fix the address or the server, then %s", inv.Name, resend)
	case staffv1alpha1.InvitationRevoked:
		return staffv1alpha1.ReasonInvitationRevoked, fmt.Sprintf("The invitation (Invitation %s) was revoked and no other is out; %s", inv.Name, resend)
	}
	return "", ""
}

// passOnResend carries out the resend-requested-at annotation on the member once: it sets the
// same annotation on the member's current Invitation, whose reconciler mails a fresh link. A
// member with no Invitation to resend (it has a password, or is deactivated) gets a Warning
// event instead; either way the request is recorded as handled.
func (r *StaffMemberReconciler) passOnResend(ctx context.Context, m *staffv1alpha1.StaffMember, inv *staffv1alpha1.Invitation) error {
	requested := m.Annotations[staffv1alpha1.ResendRequestedAtAnnotation]
	if requested == "" || requested == m.Status.LastHandledResendAt {
		return nil
	}
	if inv == nil && m.Status.Invitation != "" {
		// Created by this very pass: its first mail is the fresh link the request asks for.
		m.Status.LastHandledResendAt = requested
		return nil
	}
	if inv == nil || !liveInvitation(inv) {
		r.recorder.Eventf(m, nil, corev1.EventTypeWarning, "ResendIgnored", "RequestResend",
			"Resend requested at %s ignored: the member has no invitation to resend (it has a password, is deactivated, or its account is not created yet); use %s for a new password",
			requested, staffv1alpha1.PasswordResetRequestedAtAnnotation)
		m.Status.LastHandledResendAt = requested
		return nil
	}
	if inv.Annotations[staffv1alpha1.ResendRequestedAtAnnotation] != requested {
		before := inv.DeepCopy()
		if inv.Annotations == nil {
			inv.Annotations = map[string]string{}
		}
		inv.Annotations[staffv1alpha1.ResendRequestedAtAnnotation] = requested
		if err := r.Patch(ctx, inv, client.MergeFrom(before)); err != nil {
			return fmt.Errorf("pass the resend request on to invitation %s: %w", inv.Name, err)
		}
	}
	m.Status.LastHandledResendAt = requested
	r.recorder.Eventf(m, inv, corev1.EventTypeNormal, "ResendRequested", "RequestResend", "Resend requested at %s passed on to Invitation %s", requested, inv.Name)
	return nil
}
