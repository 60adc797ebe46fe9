package controllers

import (
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	staffv1alpha1 "github.com/rosterops/staff-operator/api/v1alpha1"
)

// setProgressConditions derives kstatus's Reconciling and Stalled from the phase, at the end of
// every pass, so that Flux health checks and `kubectl wait` pipelines read an Invitation right
// (sigs.k8s.io/cli-utils/pkg/kstatus). Both are "abnormal-true": present only while they hold.
//
//   - Pending (a mail under way or retried, the member awaited): Reconciling, with Ready's reason
//     and message. kstatus: InProgress; it resolves by itself.
//   - Failed (the mail server refused the mail for good): Stalled, with the server's reason.
//     kstatus: Failed, at once, instead of a health check waiting for its timeout.
//   - Sent (the link is out, the person has yet to act), Accepted, Expired and Revoked: neither.
//     kstatus: Current. The operator has done what the spec asks; what the person does next is
//     not progress kstatus should wait for. An Expired invitation waits for a resend request.
func setProgressConditions(inv *staffv1alpha1.Invitation) {
	reason, msg := staffv1alpha1.ReasonProgressing, "Waiting for the invitation to be mailed"
	if ready := meta.FindStatusCondition(inv.Status.Conditions, staffv1alpha1.ConditionReady); ready != nil && ready.Status != metav1.ConditionTrue {
		reason, msg = ready.Reason, ready.Message
	}
	reconciling, stalled := false, false
	switch inv.Status.Phase {
	case "", staffv1alpha1.InvitationPending:
		reconciling = true
	case staffv1alpha1.InvitationFailed:
		stalled = true
	}
	setOrRemove(inv, staffv1alpha1.ConditionReconciling, reconciling, reason, msg)
	setOrRemove(inv, staffv1alpha1.ConditionStalled, stalled, reason, msg)
}

func setOrRemove(inv *staffv1alpha1.Invitation, typ string, holds bool, reason, msg string) {
	if !holds {
		meta.RemoveStatusCondition(&inv.Status.Conditions, typ)
		return
	}
	setInvitationCondition(inv, typ, metav1.ConditionTrue, reason, msg)
}
