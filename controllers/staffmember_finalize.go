package controllers

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	staffv1alpha1 "github.com/rosterops/staff-operator/api/v1alpha1"
	"github.com/rosterops/staff-operator/internal/directory"
	"github.com/rosterops/staff-operator/internal/staff"
)

// finalize applies spec.deletionPolicy before the StaffMember goes: Deactivate locks the account
// and keeps it, Delete locks then removes it, Orphan leaves the directory alone. The member's
// Invitations are revoked by the Invitation reconciler, which sees the member going.
func (r *StaffMemberReconciler) finalize(ctx context.Context, m *staffv1alpha1.StaffMember) error {
	if !controllerutil.ContainsFinalizer(m, memberFinalizer) {
		return nil
	}
	key := staff.AccountKey(m)
	policy := m.Spec.DeletionPolicy
	if policy != staffv1alpha1.DeletionPolicyOrphan {
		// Lock first, also before a delete, so that sign-in stops even if the delete fails.
		if _, err := r.Directory.LockAccount(ctx, key); err != nil && !errors.Is(err, directory.ErrNotFound) {
			return fmt.Errorf("lock account before deletion: %w", err)
		}
	}
	if policy == staffv1alpha1.DeletionPolicyDelete {
		if err := r.Directory.DeleteAccount(ctx, key); err != nil {
			return fmt.Errorf("delete account: %w", err)
		}
	}
	r.recorder.Eventf(m, nil, corev1.EventTypeNormal, "DeletionPolicyApplied", "Finalize", "Deletion policy %s applied to the account", policy)
	return removeFinalizer(ctx, r.Client, m, memberFinalizer)
}
