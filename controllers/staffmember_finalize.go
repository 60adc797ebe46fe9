package controllers

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

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
		if held, err := r.removalHeld(ctx, m); held || err != nil {
			return err
		}
		if err := r.Directory.DeleteAccount(ctx, key); err != nil {
			return fmt.Errorf("delete account: %w", err)
		}
		r.Guard.record(m.Namespace, r.Clock.Now())
	}
	r.recorder.Eventf(m, nil, corev1.EventTypeNormal, "DeletionPolicyApplied", "Finalize", "Deletion policy %s applied to the account", policy)
	return removeFinalizer(ctx, r.Client, m, memberFinalizer)
}

// removalHeld asks the mass-removal guard whether the member's entry may be removed now. When it
// may not, the member says why (Ready=False, Stalled, reason RemovalHeld) and a Warning event
// tells once; an approval on the Namespace brings the member back (heldRemovals).
func (r *StaffMemberReconciler) removalHeld(ctx context.Context, m *staffv1alpha1.StaffMember) (bool, error) {
	var ns corev1.Namespace
	if err := r.Get(ctx, client.ObjectKey{Name: m.Namespace}, &ns); err != nil {
		return false, fmt.Errorf("read namespace %s: %w", m.Namespace, err)
	}
	var members staffv1alpha1.StaffMemberList
	if err := r.List(ctx, &members, client.InNamespace(m.Namespace), client.UnsafeDisableDeepCopy); err != nil {
		return false, fmt.Errorf("list the practice's members: %w", err)
	}
	pending := 0
	for i := range members.Items {
		o := &members.Items[i]
		if !o.DeletionTimestamp.IsZero() && o.Spec.DeletionPolicy == staffv1alpha1.DeletionPolicyDelete && controllerutil.ContainsFinalizer(o, memberFinalizer) {
			pending++
		}
	}
	approvedAt, _ := time.Parse(time.RFC3339, ns.Annotations[staffv1alpha1.RemovalsApprovedAtAnnotation])
	why := r.Guard.hold(m, pending, len(members.Items), approvedAt, r.Clock.Now())
	if why == "" {
		return false, nil
	}
	before := m.DeepCopy()
	if c := meta.FindStatusCondition(m.Status.Conditions, staffv1alpha1.ConditionReady); c == nil || c.Reason != staffv1alpha1.ReasonRemovalHeld {
		r.recorder.Eventf(m, nil, corev1.EventTypeWarning, staffv1alpha1.ReasonRemovalHeld, "Finalize", "%s", why)
	}
	setCondition(&m.Status.Conditions, staffv1alpha1.ConditionReady, metav1.ConditionFalse, m.Generation, staffv1alpha1.ReasonRemovalHeld, why)
	setKstatusConditions(&m.Status.Conditions, m.Generation)
	changed := !equality.Semantic.DeepEqual(before.Status, m.Status)
	return true, patchStatus(ctx, r.Client, m, before, changed)
}

// heldRemovals maps a practice's Namespace to its members being deleted, so that an approval
// (RemovalsApprovedAtAnnotation) lets their held removals go ahead at once.
func (r *StaffMemberReconciler) heldRemovals(ctx context.Context, o client.Object) []reconcile.Request {
	var members staffv1alpha1.StaffMemberList
	if err := r.List(ctx, &members, client.InNamespace(o.GetName()), client.UnsafeDisableDeepCopy); err != nil {
		log.FromContext(ctx).Error(err, "list the members of a practice whose removals were approved", "namespace", o.GetName())
		return nil
	}
	var reqs []reconcile.Request
	for i := range members.Items {
		if !members.Items[i].DeletionTimestamp.IsZero() {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&members.Items[i])})
		}
	}
	return reqs
}

// removalsApproved passes the Namespace updates that change the approval annotation.
var removalsApproved = predicate.Funcs{
	CreateFunc:  func(event.CreateEvent) bool { return false },
	DeleteFunc:  func(event.DeleteEvent) bool { return false },
	GenericFunc: func(event.GenericEvent) bool { return false },
	UpdateFunc: func(e event.UpdateEvent) bool {
		key := staffv1alpha1.RemovalsApprovedAtAnnotation
		return e.ObjectOld.GetAnnotations()[key] != e.ObjectNew.GetAnnotations()[key]
	},
}
