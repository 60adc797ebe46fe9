package controllers

import (
	"context"
	"slices"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	staffv1alpha1 "github.com/rosterops/staff-operator/api/v1alpha1"
)

type queue = workqueue.TypedRateLimitingInterface[reconcile.Request]

// referencedBy maps a StaffMember event to the objects of its namespace named by refs: the
// Roles or Locations whose groups it belongs in. An update enqueues the names of both the old
// and the new member, so that a group the member leaves is written too, and only when
// membership can have changed: the references, whether the account exists, deactivation or
// deletion.
func referencedBy(refs func(context.Context, *staffv1alpha1.StaffMember) []string) handler.EventHandler {
	enqueue := func(ctx context.Context, q queue, objs ...client.Object) {
		for _, o := range objs {
			m, ok := o.(*staffv1alpha1.StaffMember)
			if !ok {
				continue
			}
			for _, name := range refs(ctx, m) {
				q.Add(reconcile.Request{NamespacedName: types.NamespacedName{Namespace: m.Namespace, Name: name}})
			}
		}
	}
	return handler.Funcs{
		CreateFunc: func(ctx context.Context, e event.CreateEvent, q queue) { enqueue(ctx, q, e.Object) },
		DeleteFunc: func(ctx context.Context, e event.DeleteEvent, q queue) { enqueue(ctx, q, e.Object) },
		UpdateFunc: func(ctx context.Context, e event.UpdateEvent, q queue) {
			old, okOld := e.ObjectOld.(*staffv1alpha1.StaffMember)
			cur, okNew := e.ObjectNew.(*staffv1alpha1.StaffMember)
			if okOld && okNew && !membershipChanged(ctx, old, cur, refs) {
				return
			}
			enqueue(ctx, q, e.ObjectOld, e.ObjectNew)
		},
		GenericFunc: func(ctx context.Context, e event.GenericEvent, q queue) { enqueue(ctx, q, e.Object) },
	}
}

func membershipChanged(ctx context.Context, old, cur *staffv1alpha1.StaffMember, refs func(context.Context, *staffv1alpha1.StaffMember) []string) bool {
	return old.Status.AccountID != cur.Status.AccountID ||
		old.DeletionTimestamp.IsZero() != cur.DeletionTimestamp.IsZero() ||
		wantLocked(old) != wantLocked(cur) ||
		!slices.Equal(refs(ctx, old), refs(ctx, cur))
}
