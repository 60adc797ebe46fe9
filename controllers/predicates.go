package controllers

// Predicates: which events start a pass. A reconciler that ran on every event would re-read the
// directory for each of its own status writes, and a role held by thousands would re-run
// thousands of members on each of its own.

import (
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	staffv1alpha1 "github.com/rosterops/staff-operator/api/v1alpha1"
)

// memberUpdates passes the updates of a StaffMember that its pass acts on: a new spec, an
// annotation (a request), the start of its deletion, or an email change just recorded in
// status, whose pass carries it out. The member's other status writes start no pass: each
// would read the directory again to find nothing to do.
var memberUpdates = predicate.Or[client.Object](predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}, predicate.Funcs{
	UpdateFunc: func(e event.UpdateEvent) bool {
		old, okOld := e.ObjectOld.(*staffv1alpha1.StaffMember)
		cur, okNew := e.ObjectNew.(*staffv1alpha1.StaffMember)
		return !okOld || !okNew || old.DeletionTimestamp.IsZero() != cur.DeletionTimestamp.IsZero() ||
			!equality.Semantic.DeepEqual(old.Status.EmailChange, cur.Status.EmailChange)
	},
	CreateFunc:  func(event.CreateEvent) bool { return false },
	DeleteFunc:  func(event.DeleteEvent) bool { return false },
	GenericFunc: func(event.GenericEvent) bool { return false },
})

// invitationEnds passes the Invitation events that matter to its member: one appears that a
// person committed (the operator's own are recorded by the pass that creates them), one is
// deleted, or its phase changes (accepted: a password was set; expired, failed or revoked:
// the member may need a new one).
var invitationEnds = predicate.Funcs{
	CreateFunc: func(e event.CreateEvent) bool { return metav1.GetControllerOf(e.Object) == nil },
	UpdateFunc: func(e event.UpdateEvent) bool {
		old, okOld := e.ObjectOld.(*staffv1alpha1.Invitation)
		cur, okNew := e.ObjectNew.(*staffv1alpha1.Invitation)
		return !okOld || !okNew || old.Status.Phase != cur.Status.Phase
	},
}

// appearsOrGoes passes the events of a Role or Location that matter to the members naming it:
// it was created or deleted. Its updates (a status write after every group sync, a new display
// name) change nothing a member's pass decides, and a role held by thousands would otherwise
// re-run thousands of passes on each.
var appearsOrGoes = predicate.Funcs{
	UpdateFunc:  func(event.UpdateEvent) bool { return false },
	GenericFunc: func(event.GenericEvent) bool { return false },
}

// memberEndsInvitations passes the StaffMember updates that can end its Invitations: a new spec
// (deactivation, another email), its deletion, or a password it got another way. Its other
// status writes change nothing an Invitation's pass decides.
var memberEndsInvitations = predicate.Or[client.Object](predicate.GenerationChangedPredicate{}, predicate.Funcs{
	UpdateFunc: func(e event.UpdateEvent) bool {
		old, okOld := e.ObjectOld.(*staffv1alpha1.StaffMember)
		cur, okNew := e.ObjectNew.(*staffv1alpha1.StaffMember)
		return !okOld || !okNew || old.DeletionTimestamp.IsZero() != cur.DeletionTimestamp.IsZero() ||
			(old.Status.PasswordSetAt == nil) != (cur.Status.PasswordSetAt == nil)
	},
	CreateFunc:  func(event.CreateEvent) bool { return false },
	DeleteFunc:  func(event.DeleteEvent) bool { return false },
	GenericFunc: func(event.GenericEvent) bool { return false },
})

// specChangedOrDeleting passes the updates of a Role or Location that its reconciler acts on: a
// new spec, a changed annotation (a person asking for a pass), or the start of its deletion.
// Its own status writes (one per group sync) pass nothing, so they cost no second pass; drift
// is found by the resync, members by their watch.
var specChangedOrDeleting = predicate.Or[client.Object](predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}, predicate.Funcs{
	UpdateFunc: func(e event.UpdateEvent) bool {
		return e.ObjectOld.GetDeletionTimestamp().IsZero() != e.ObjectNew.GetDeletionTimestamp().IsZero()
	},
	CreateFunc:  func(event.CreateEvent) bool { return false },
	DeleteFunc:  func(event.DeleteEvent) bool { return false },
	GenericFunc: func(event.GenericEvent) bool { return false },
})
