package controllers

import (
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	staffv1alpha1 "github.com/rosterops/staff-operator/api/v1alpha1"
	"github.com/rosterops/staff-operator/internal/directory"
	"github.com/rosterops/staff-operator/internal/staff"
)

// summarize derives the phase and Ready from what the pass observed (the account, the missing
// references, the member's current Invitation). Phase and conditions are
// rebuilt from observation every pass; nothing else is remembered.
func (r *StaffMemberReconciler) summarize(m *staffv1alpha1.StaffMember, obs directory.Observation, missing []string, inv *staffv1alpha1.Invitation) {
	st := &m.Status
	st.SignInName = obs.SignInName
	if !obs.LastSignIn.IsZero() {
		t := metav1.NewTime(obs.LastSignIn)
		st.LastSignInAt = &t
	}
	st.PasswordSetAt = nil
	if obs.PasswordSet && !obs.PasswordChanged.IsZero() {
		t := metav1.NewTime(obs.PasswordChanged)
		st.PasswordSetAt = &t
	}
	if obs.PasswordSet || staff.Deactivated(m) {
		st.Invitation = "" // nothing to accept any more
	}
	phase, reason, msg := memberPhase(m, obs)
	st.Phase = phase
	status := metav1.ConditionTrue
	switch {
	case phase == staffv1alpha1.StaffMemberLockedOut:
		status = metav1.ConditionFalse
	case len(missing) > 0:
		status, reason = metav1.ConditionFalse, staffv1alpha1.ReasonProgressing
		msg = fmt.Sprintf("Waiting for %s; the account exists with the access that does", strings.Join(missing, ", "))
	case phase == staffv1alpha1.StaffMemberInvited:
		if stuck, why := stuckOnboarding(inv); stuck != "" {
			status, reason, msg = metav1.ConditionFalse, stuck, why
		}
	}
	setCondition(&st.Conditions, staffv1alpha1.ConditionReady, status, m.Generation, reason, msg)
}

// memberPhase says where the member is, with Ready's reason and message.
func memberPhase(m *staffv1alpha1.StaffMember, obs directory.Observation) (staffv1alpha1.StaffMemberPhase, string, string) {
	switch {
	case !obs.Exists:
		return staffv1alpha1.StaffMemberPending, staffv1alpha1.ReasonProgressing, "The account is being created"
	case staff.Deactivated(m):
		return staffv1alpha1.StaffMemberDeactivated, staffv1alpha1.ReasonDeactivated, "The account is locked: sign-in fails, history is kept"
	case obs.Locked && obs.LockReason == directory.LockAdministrative && !obs.LockedByOperator:
		return staffv1alpha1.StaffMemberLockedOut, staffv1alpha1.ReasonLockedInDirectory,
			fmt.Sprintf("The directory holds a lock the operator did not set (an administrator locked the account); the operator leaves it in place: annotate %s=<now> to lift it", staffv1alpha1.UnlockRequestedAtAnnotation)
	case obs.Locked:
		return staffv1alpha1.StaffMemberLockedOut, staffv1alpha1.ReasonLockedOut,
			fmt.Sprintf("The directory locked the account (%s); annotate %s=<now> to clear it", obs.LockReason, staffv1alpha1.UnlockRequestedAtAnnotation)
	case obs.PasswordSet:
		return staffv1alpha1.StaffMemberActive, staffv1alpha1.ReasonReady, "The account is active"
	default:
		return staffv1alpha1.StaffMemberInvited, staffv1alpha1.ReasonReady, "The account exists and an invitation is out"
	}
}
