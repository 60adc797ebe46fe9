package controllers

import (
	"context"
	"errors"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	staffv1alpha1 "github.com/rosterops/staff-operator/api/v1alpha1"
)

// verdict tells whether a pass reached a conclusion about the spec it saw: it succeeded, or it
// failed in a way retrying cannot fix. Only then is observedGeneration advanced, so that a
// pipeline waiting on it learns that its change was acted on, or will not be.
func verdict(err error) bool {
	return err == nil || errors.Is(err, reconcile.TerminalError(nil))
}

// patchStatus writes status once, at the end of a pass, and only when the pass changed it: a
// pass that finds nothing to do makes no API write.
func patchStatus(ctx context.Context, c client.Client, obj, before client.Object, changed bool, opts ...client.MergeFromOption) error {
	if !changed {
		return nil
	}
	return client.IgnoreNotFound(c.Status().Patch(ctx, obj, client.MergeFromWithOptions(before, opts...)))
}

// conflictRetry is when a pass that met a write conflict runs again, should no watch event
// bring it sooner. The event of the write that won usually does.
const conflictRetry = time.Second

// quietConflicts wraps a reconciler so that a pass whose only failures are write conflicts (409:
// the object changed since it was read) is requeued without an error. A conflict is expected
// wherever two writers share an object (the invitation page and the Invitation reconciler,
// a person editing a manifest while its status is written); controller-runtime would log each
// at error level with a stack trace. Any other error in the same pass is returned as it is.
func quietConflicts(r reconcile.Reconciler) reconcile.Reconciler {
	return reconcile.Func(func(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
		res, err := r.Reconcile(ctx, req)
		if err == nil || !onlyConflicts(err) {
			return res, err
		}
		log.FromContext(ctx).V(1).Info("write conflict; the pass runs again on the newer version", "error", err.Error())
		return reconcile.Result{RequeueAfter: conflictRetry}, nil
	})
}

// onlyConflicts reports whether err, and every error joined into it, is a write conflict.
func onlyConflicts(err error) bool {
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range joined.Unwrap() {
			if e != nil && !onlyConflicts(e) {
				return false
			}
		}
		return true
	}
	return apierrors.IsConflict(err)
}

// stalledReasons are the reasons of Ready=False that no retry clears: a person must change the
// spec, the directory, the mail server or request a resend. They make Stalled=True, which
// kstatus reads as Failed, so a Flux health check or a pipeline fails at once with the message
// instead of waiting for its timeout.
var stalledReasons = map[string]bool{
	staffv1alpha1.ReasonConflict:            true,
	staffv1alpha1.ReasonDirectoryError:      true,
	staffv1alpha1.ReasonDirectorySizeLimit:  true,
	staffv1alpha1.ReasonInvalidTimeZone:     true,
	staffv1alpha1.ReasonInvitationNameTaken: true,
	staffv1alpha1.ReasonLockedInDirectory:   true,
	staffv1alpha1.ReasonInvitationExpired:   true,
	staffv1alpha1.ReasonInvitationFailed:    true,
	staffv1alpha1.ReasonInvitationRevoked:   true,
	staffv1alpha1.ReasonMailRejected:        true,
	staffv1alpha1.ReasonRemovalHeld:         true,
}

// restingReasons are the reasons of Ready=False that are neither work under way nor a failure of
// the operator's: a lockout the directory made after failed sign-ins ends by itself or by the
// unlock annotation. Ready=False alone speaks for them.
var restingReasons = map[string]bool{
	staffv1alpha1.ReasonLockedOut: true,
}

// setKstatusConditions derives Reconciling and Stalled from Ready, with its reason and message:
// none when Ready is True, Stalled for a reason in stalledReasons, Reconciling for anything
// else that is not resting (work under way, a retry, a reference that does not exist yet).
// Both are "abnormal-true" conditions: absent when they do not hold.
func setKstatusConditions(conds *[]metav1.Condition, gen int64) {
	ready := meta.FindStatusCondition(*conds, staffv1alpha1.ConditionReady)
	meta.RemoveStatusCondition(conds, staffv1alpha1.ConditionReconciling)
	meta.RemoveStatusCondition(conds, staffv1alpha1.ConditionStalled)
	switch {
	case ready == nil:
		setCondition(conds, staffv1alpha1.ConditionReconciling, metav1.ConditionTrue, gen, staffv1alpha1.ReasonProgressing, "The first pass is under way")
	case ready.Status == metav1.ConditionTrue, restingReasons[ready.Reason]:
	case stalledReasons[ready.Reason]:
		setCondition(conds, staffv1alpha1.ConditionStalled, metav1.ConditionTrue, gen, ready.Reason, ready.Message)
	default:
		setCondition(conds, staffv1alpha1.ConditionReconciling, metav1.ConditionTrue, gen, ready.Reason, ready.Message)
	}
}
