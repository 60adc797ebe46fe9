package controllers

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/recorder"
	"sigs.k8s.io/controller-runtime/pkg/source"

	staffv1alpha1 "github.com/rosterops/staff-operator/api/v1alpha1"
	"github.com/rosterops/staff-operator/internal/directory"
	"github.com/rosterops/staff-operator/internal/staff"
)

// memberFinalizer applies spec.deletionPolicy to the account before a StaffMember goes.
const memberFinalizer = "staff.rosterops.io/account"

// StaffMemberReconciler converges a member's directory account: profile, lock state, and the
// Invitation that lets the person set a first password. Group memberships are written by the
// Role and Location reconcilers, which own the groups.
type StaffMemberReconciler struct {
	client.Client
	// APIReader reads past the cache: an Invitation name found taken is checked where it is.
	APIReader client.Reader
	Directory directory.Backend
	// Mail tells a member's previous address that the account's email changed.
	Mail  Mailer
	Clock clock.PassiveClock
	// PasswordResetTTL is how long password-reset links live.
	PasswordResetTTL time.Duration
	// ResyncPeriod bounds how long a Conflict waits before it is looked at again: the entry in
	// the way may be removed by hand, which no watch reports.
	ResyncPeriod time.Duration
	// Resync receives members whose accounts drifted in the directory (see Resync).
	Resync <-chan event.GenericEvent
	// Workers is how many passes run at once; 1 when 0.
	Workers int
	// Guard holds back mass removals of directory entries; the defaults when nil.
	Guard *RemovalGuard

	recorder recorder.EventRecorder
}

// +kubebuilder:rbac:groups=staff.rosterops.io,resources=staffmembers,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=staff.rosterops.io,resources=staffmembers/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=staff.rosterops.io,resources=staffmembers/finalizers,verbs=update
// +kubebuilder:rbac:groups=staff.rosterops.io,resources=invitations,verbs=get;list;watch;create;patch

// Reconcile observes the member's account, compares it with the spec, acts, and records the
// outcome in one status write.
func (r *StaffMemberReconciler) Reconcile(ctx context.Context, req ctrl.Request) (_ ctrl.Result, retErr error) {
	var m staffv1alpha1.StaffMember
	if err := r.Get(ctx, req.NamespacedName, &m); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !m.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, r.finalize(ctx, &m)
	}
	if err := addFinalizer(ctx, r.Client, &m, memberFinalizer); err != nil {
		return ctrl.Result{}, err
	}

	before := m.DeepCopy()
	defer func() {
		if verdict(retErr) {
			m.Status.ObservedGeneration = m.Generation
		}
		if m.Status.Phase != before.Status.Phase {
			now := r.now()
			m.Status.PhaseSince = &now
		}
		setKstatusConditions(&m.Status.Conditions, m.Generation)
		changed := !equality.Semantic.DeepEqual(before.Status, m.Status)
		retErr = errors.Join(retErr, patchStatus(ctx, r.Client, &m, before, changed))
	}()
	return r.reconcile(ctx, &m)
}

// reconcile runs the steps of a pass in order; each records its own condition.
func (r *StaffMemberReconciler) reconcile(ctx context.Context, m *staffv1alpha1.StaffMember) (ctrl.Result, error) {
	missing, err := r.resolveReferences(ctx, m)
	if err != nil {
		return ctrl.Result{}, err
	}
	obs, err := r.Directory.ObserveAccount(ctx, staff.DesiredAccount(m))
	if err != nil {
		return r.accountFailed(m, fmt.Errorf("observe account: %w", err))
	}
	if r.recordEmailChange(m, obs) {
		// The record reaches the API server before the directory changes, so the previous
		// address is told even if the manager stops now; its status write starts the next pass.
		return ctrl.Result{}, nil
	}
	if obs, err = r.convergeAccount(ctx, m, obs); err != nil {
		return r.accountFailed(m, err)
	}
	if err := r.convergeLock(ctx, m, &obs); err != nil {
		return r.accountFailed(m, err)
	}
	inv, invErr := r.convergeInvitations(ctx, m, obs)
	r.summarize(m, obs, missing, inv)
	if invErr != nil {
		return r.invitationFailed(m, invErr)
	}
	res, err := r.reportSignIn(ctx, m, obs)
	if err != nil {
		return res, err
	}
	return res, r.notifyEmailChange(ctx, m)
}

func (r *StaffMemberReconciler) now() metav1.Time { return metav1.NewTime(r.Clock.Now()) }

// SetupWithManager registers the reconciler. A member is reconciled when it changes (a
// deactivation or a deletion ahead of everything else), when one of its Invitations changes
// (an accepted one means a password was set), when a Role or Location it names appears or goes
// (not when one changes), and when Resync finds its account drifted.
func (r *StaffMemberReconciler) SetupWithManager(mgr ctrl.Manager) error {
	r.recorder = mgr.GetEventRecorder("staffmember-controller")
	if r.Guard == nil {
		r.Guard = &RemovalGuard{}
	}
	b := ctrl.NewControllerManagedBy(mgr).
		For(&staffv1alpha1.StaffMember{}, builder.WithPredicates(memberUpdates)).
		Watches(&staffv1alpha1.StaffMember{}, offboardingFirst()).
		Watches(&staffv1alpha1.Invitation{}, handler.EnqueueRequestsFromMapFunc(invitedMember), builder.WithPredicates(invitationEnds)).
		Watches(&staffv1alpha1.Role{}, handler.EnqueueRequestsFromMapFunc(r.membersIndexedBy(indexMemberRoles, false)), builder.WithPredicates(appearsOrGoes)).
		Watches(&staffv1alpha1.Location{}, handler.EnqueueRequestsFromMapFunc(r.membersIndexedBy(indexMemberLocations, true)), builder.WithPredicates(appearsOrGoes)).
		Watches(&corev1.Namespace{}, handler.EnqueueRequestsFromMapFunc(r.heldRemovals), builder.WithPredicates(removalsApproved)).
		Named("staffmember").
		WithOptions(controller.Options{MaxConcurrentReconciles: r.Workers})
	if r.Resync != nil {
		b = b.WatchesRawSource(source.Channel(r.Resync, &handler.EnqueueRequestForObject{}))
	}
	return b.Complete(quietConflicts(r))
}

// invitedMember maps an Invitation to the StaffMember it invites.
func invitedMember(_ context.Context, o client.Object) []reconcile.Request {
	inv := o.(*staffv1alpha1.Invitation)
	return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: inv.Namespace, Name: string(inv.Spec.MemberRef.Name)}}}
}

// membersIndexedBy maps a Role or Location to the members that name it (and, for a Location,
// those granted every location), so that a missing reference resolves by itself when the object
// is applied, and a deleted one is reported.
func (r *StaffMemberReconciler) membersIndexedBy(index string, withAll bool) handler.MapFunc {
	return func(ctx context.Context, o client.Object) []reconcile.Request {
		values := []string{o.GetName()}
		if withAll {
			values = append(values, allLocationsValue)
		}
		var reqs []reconcile.Request
		for _, v := range values {
			var list staffv1alpha1.StaffMemberList
			if err := r.List(ctx, &list, client.InNamespace(o.GetNamespace()), client.MatchingFields{index: v}, client.UnsafeDisableDeepCopy); err != nil {
				log.FromContext(ctx).Error(err, "list members of a role or location", "index", index, "value", v)
				continue
			}
			for _, m := range list.Items {
				reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&m)})
			}
		}
		return reqs
	}
}
