package controllers

import (
	"context"
	"slices"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/priorityqueue"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	staffv1alpha1 "github.com/rosterops/staff-operator/api/v1alpha1"
	"github.com/rosterops/staff-operator/internal/staff"
)

type queue = workqueue.TypedRateLimitingInterface[reconcile.Request]

// groupBatchWindow is how long a Role's or Location's pass waits after a member joins, so that
// a burst of members (thousands applied from Git) is written to the group in one pass, one
// modify and one status write, not one per member. The queue holds one entry per group,
// however many members arrive in the window. A pass lists the group's members, so its cost
// grows with the group: at 10,000 members a 1 s window made passes and status writes the
// larger part of a burst's work (bench/results.md). A new member gains the group's access a
// few seconds after its account; offboarding does not wait.
const groupBatchWindow = 5 * time.Second

// referencedBy maps a StaffMember event to the objects of its namespace named by refs: the
// Roles or Locations whose groups it belongs in. An update enqueues the names of both the old
// and the new member, so that a group the member leaves is written too, and only when
// membership can have changed: the references, whether the account exists, deactivation or
// deletion.
func referencedBy(refs func(context.Context, *staffv1alpha1.StaffMember) []string) handler.EventHandler {
	enqueueWith := func(add func(queue, reconcile.Request)) func(context.Context, queue, ...client.Object) {
		return func(ctx context.Context, q queue, objs ...client.Object) {
			for _, o := range objs {
				m, ok := o.(*staffv1alpha1.StaffMember)
				if !ok {
					continue
				}
				for _, name := range refs(ctx, m) {
					add(q, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: m.Namespace, Name: name}})
				}
			}
		}
	}
	addBatched := func(q queue, req reconcile.Request) { q.AddAfter(req, groupBatchWindow) }
	enqueue, enqueueFirst := enqueueWith(addBatched), enqueueWith(addFirst)
	return handler.Funcs{
		CreateFunc: func(ctx context.Context, e event.CreateEvent, q queue) { enqueue(ctx, q, e.Object) },
		DeleteFunc: func(ctx context.Context, e event.DeleteEvent, q queue) { enqueue(ctx, q, e.Object) },
		UpdateFunc: func(ctx context.Context, e event.UpdateEvent, q queue) {
			old, okOld := e.ObjectOld.(*staffv1alpha1.StaffMember)
			cur, okNew := e.ObjectNew.(*staffv1alpha1.StaffMember)
			switch {
			case okOld && okNew && offboarded(old, cur):
				// The member leaves its groups: ahead of onboarding work, like its lock.
				enqueueFirst(ctx, q, e.ObjectOld, e.ObjectNew)
			case okOld && okNew && !membershipChanged(ctx, old, cur, refs):
			default:
				enqueue(ctx, q, e.ObjectOld, e.ObjectNew)
			}
		},
		GenericFunc: func(ctx context.Context, e event.GenericEvent, q queue) { enqueue(ctx, q, e.Object) },
	}
}

func membershipChanged(ctx context.Context, old, cur *staffv1alpha1.StaffMember, refs func(context.Context, *staffv1alpha1.StaffMember) []string) bool {
	return old.Status.AccountID != cur.Status.AccountID ||
		old.DeletionTimestamp.IsZero() != cur.DeletionTimestamp.IsZero() ||
		staff.Deactivated(old) != staff.Deactivated(cur) ||
		!slices.Equal(refs(ctx, old), refs(ctx, cur))
}

// offboardingPriority puts a member whose access must end ahead of every other member in the
// queue; controller-runtime's own events use 0, and lower for the initial listing.
const offboardingPriority = 100

// offboardingFirst enqueues a StaffMember that was just deactivated or is being deleted ahead of
// all other work of the StaffMember reconciler. An offboarding pipeline waits on it, and access
// that outlives a person is the worst failure there is; onboarding a thousand new staff can wait
// a moment. It adds to the event For() enqueues: the queue keeps one entry, at the higher
// priority.
func offboardingFirst() handler.EventHandler {
	return handler.Funcs{
		UpdateFunc: func(_ context.Context, e event.UpdateEvent, q queue) {
			old, okOld := e.ObjectOld.(*staffv1alpha1.StaffMember)
			cur, okNew := e.ObjectNew.(*staffv1alpha1.StaffMember)
			if okOld && okNew && offboarded(old, cur) {
				addFirst(q, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(cur)})
			}
		},
	}
}

// offboarded reports whether an update ends the member's access: a deactivation, or the start
// of a deletion.
func offboarded(old, cur *staffv1alpha1.StaffMember) bool {
	return (!staff.Deactivated(old) && staff.Deactivated(cur)) || (old.DeletionTimestamp.IsZero() && !cur.DeletionTimestamp.IsZero())
}

// addFirst adds a request at offboardingPriority when the queue is controller-runtime's
// priority queue (the default), and as usual otherwise.
func addFirst(q queue, req reconcile.Request) {
	if pq, ok := q.(priorityqueue.PriorityQueue[reconcile.Request]); ok {
		pq.AddWithOpts(priorityqueue.AddOpts{Priority: ptr.To(offboardingPriority)}, req)
		return
	}
	q.Add(req)
}
