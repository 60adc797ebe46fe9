package controllers

import (
	"context"
	"errors"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
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
