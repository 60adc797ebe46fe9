package controllers

import (
	"context"
	"errors"

	"sigs.k8s.io/controller-runtime/pkg/client"
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
