package controllers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	staffv1alpha1 "github.com/rosterops/staff-operator/api/v1alpha1"
	"github.com/rosterops/staff-operator/internal/directory"
	"github.com/rosterops/staff-operator/internal/staff"
)

// liveInvitation reports whether an Invitation can still lead to a password: it is not Accepted
// or Revoked. An Expired or Failed one counts, since a resend request revives it; the member
// waits for it rather than mailing a second link.
func liveInvitation(inv *staffv1alpha1.Invitation) bool {
	switch inv.Status.Phase {
	case staffv1alpha1.InvitationAccepted, staffv1alpha1.InvitationRevoked:
		return false
	}
	return true
}

// memberInvitations lists the member's Invitations of a purpose, from the cache's index.
func (r *StaffMemberReconciler) memberInvitations(ctx context.Context, m *staffv1alpha1.StaffMember, purpose staffv1alpha1.InvitationPurpose) ([]staffv1alpha1.Invitation, error) {
	all, err := invitationsFor(ctx, r.Client, m.Namespace, m.Name)
	if err != nil {
		return nil, err
	}
	var out []staffv1alpha1.Invitation
	for _, inv := range all {
		if inv.Spec.Purpose == purpose { // defaulted to Invitation at admission
			out = append(out, inv)
		}
	}
	return out, nil
}

// convergeInvitations carries out a password-reset request, gives the member its one live
// Invitation and passes a resend request on to it. It returns the member's current Invitation
// (nil when there is none, or when it was just created and the cache does not show it yet).
func (r *StaffMemberReconciler) convergeInvitations(ctx context.Context, m *staffv1alpha1.StaffMember, obs directory.Observation) (*staffv1alpha1.Invitation, error) {
	if err := r.handlePasswordReset(ctx, m, obs); err != nil {
		return nil, err
	}
	if err := r.ensureInvitation(ctx, m, obs); err != nil {
		return nil, err
	}
	inv, err := r.currentInvitation(ctx, m)
	if err != nil {
		return nil, err
	}
	return inv, r.passOnResend(ctx, m, inv)
}

// ensureInvitation gives an active member without a password exactly one live Invitation. An
// Invitation committed by the platform team for the member is used as it is; otherwise one is
// created, owned by the member. A changed email makes the Invitation reconciler revoke the old
// one; this creates the next, for the new address.
func (r *StaffMemberReconciler) ensureInvitation(ctx context.Context, m *staffv1alpha1.StaffMember, obs directory.Observation) error {
	if !obs.Exists || obs.PasswordSet || staff.Deactivated(m) {
		return nil
	}
	invs, err := r.memberInvitations(ctx, m, staffv1alpha1.PurposeInvitation)
	if err != nil {
		return err
	}
	for i := range invs {
		if liveInvitation(&invs[i]) && !staff.CreatedForAnother(&invs[i], m) {
			m.Status.Invitation = invs[i].Name
			return nil
		}
	}
	inv := &staffv1alpha1.Invitation{
		ObjectMeta: metav1.ObjectMeta{Namespace: m.Namespace, Name: r.invitationName(m, invs)},
		Spec: staffv1alpha1.InvitationSpec{
			MemberRef: staffv1alpha1.LocalObjectReference{Name: staffv1alpha1.ObjectName(m.Name)},
			Purpose:   staffv1alpha1.PurposeInvitation,
		},
	}
	if err := r.createOwned(ctx, m, inv); err != nil {
		return err
	}
	// No event: status.invitation names it, and the Invitation's Delivered condition says when it was mailed.
	m.Status.Invitation = inv.Name
	return nil
}

// invitationName is deterministic, so that a pass retried before the cache shows the last one's
// Invitation finds it (AlreadyExists) instead of creating a second: the member's own name first,
// then one derived from the spec it was created for.
func (r *StaffMemberReconciler) invitationName(m *staffv1alpha1.StaffMember, existing []staffv1alpha1.Invitation) string {
	if len(existing) == 0 {
		return m.Name
	}
	return m.Name + "-" + shortHash(m.Spec.Email+"/"+strconv.FormatInt(m.Generation, 10))
}

// handlePasswordReset carries out the password-reset-requested-at annotation once: it creates a
// PasswordReset Invitation with the short reset TTL, which mails the link.
func (r *StaffMemberReconciler) handlePasswordReset(ctx context.Context, m *staffv1alpha1.StaffMember, obs directory.Observation) error {
	requested := m.Annotations[staffv1alpha1.PasswordResetRequestedAtAnnotation]
	if requested == "" || requested == m.Status.LastHandledPasswordResetAt {
		return nil
	}
	if staff.Deactivated(m) || !obs.Exists {
		r.recorder.Eventf(m, nil, corev1.EventTypeWarning, "PasswordResetIgnored", "RequestPasswordReset",
			"Password reset requested at %s ignored: the account is deactivated or does not exist yet", requested)
		m.Status.LastHandledPasswordResetAt = requested
		return nil
	}
	inv := &staffv1alpha1.Invitation{
		ObjectMeta: metav1.ObjectMeta{Namespace: m.Namespace, Name: m.Name + "-reset-" + shortHash(requested)},
		Spec: staffv1alpha1.InvitationSpec{
			MemberRef: staffv1alpha1.LocalObjectReference{Name: staffv1alpha1.ObjectName(m.Name)},
			Purpose:   staffv1alpha1.PurposePasswordReset,
			TTL:       &metav1.Duration{Duration: r.PasswordResetTTL.Round(time.Second)},
		},
	}
	if err := r.createOwned(ctx, m, inv); err != nil {
		return err
	}
	m.Status.LastHandledPasswordResetAt = requested
	r.recorder.Eventf(m, inv, corev1.EventTypeNormal, "PasswordResetRequested", "CreateInvitation", "Password-reset link %s created for %s", inv.Name, m.Spec.Email)
	return nil
}

// createOwned creates an Invitation owned by the member (garbage-collected with it). One that
// exists already is the outcome of an earlier pass only when it invites this member and this
// member's object created it; any other holder of the name (another member's Invitation, one
// made by hand, one left by an earlier member of the same name) is an InvitationNameTakenError,
// and nothing is mailed on its account.
func (r *StaffMemberReconciler) createOwned(ctx context.Context, m *staffv1alpha1.StaffMember, inv *staffv1alpha1.Invitation) error {
	if err := controllerutil.SetControllerReference(m, inv, r.Scheme()); err != nil {
		return err
	}
	err := r.Create(ctx, inv)
	if !apierrors.IsAlreadyExists(err) {
		if err != nil {
			return fmt.Errorf("create invitation %s: %w", inv.Name, err)
		}
		return nil
	}
	var existing staffv1alpha1.Invitation
	if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(inv), &existing); err != nil {
		return fmt.Errorf("read invitation %s: %w", inv.Name, err)
	}
	if string(existing.Spec.MemberRef.Name) == m.Name && metav1.IsControlledBy(&existing, m) {
		return nil
	}
	return &InvitationNameTakenError{Name: inv.Name, Member: string(existing.Spec.MemberRef.Name)}
}

// invitationFailed records why the member's Invitation could not be made. A name taken by
// someone else's Invitation waits for a person; anything else is retried with backoff.
func (r *StaffMemberReconciler) invitationFailed(m *staffv1alpha1.StaffMember, err error) (ctrl.Result, error) {
	var taken *InvitationNameTakenError
	if !errors.As(err, &taken) {
		return ctrl.Result{}, err
	}
	setCondition(&m.Status.Conditions, staffv1alpha1.ConditionReady, metav1.ConditionFalse, m.Generation, staffv1alpha1.ReasonInvitationNameTaken, taken.Error())
	r.recorder.Eventf(m, nil, corev1.EventTypeWarning, staffv1alpha1.ReasonInvitationNameTaken, "CreateInvitation", "%s", taken.Error())
	// The other Invitation's events go to the member it names, not to this one: look again
	// after a resync period (or at the member's next change).
	return ctrl.Result{RequeueAfter: r.ResyncPeriod}, nil
}

// InvitationNameTakenError: the Invitation the operator needs to create for a member exists and
// is not that member's.
type InvitationNameTakenError struct {
	Name string
	// Member is the StaffMember the existing Invitation names.
	Member string
}

func (e *InvitationNameTakenError) Error() string {
	return fmt.Sprintf("the Invitation %s that the operator creates for this member exists already and is not this member's (it invites %q and was not created by the operator for this member); delete or rename it", e.Name, e.Member)
}

func shortHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:4])
}
