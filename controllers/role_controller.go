package controllers

import (
	"context"
	"errors"

	"k8s.io/apimachinery/pkg/api/equality"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/source"

	staffv1alpha1 "github.com/rosterops/staff-operator/api/v1alpha1"
	"github.com/rosterops/staff-operator/internal/directory"
)

// RoleReconciler converges a Role's directory group: its permissions and its member list, which
// it alone writes, from the StaffMembers that hold the role.
type RoleReconciler struct {
	client.Client
	groups groupSync
	// Resync receives Roles whose groups drifted in the directory (see Resync).
	Resync <-chan event.GenericEvent
	// Workers is how many passes run at once; 1 when 0.
	Workers int
}

// +kubebuilder:rbac:groups=staff.rosterops.io,resources=roles,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=staff.rosterops.io,resources=roles/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=staff.rosterops.io,resources=roles/finalizers,verbs=update

// Reconcile ensures the Role's group and writes its members.
func (r *RoleReconciler) Reconcile(ctx context.Context, req ctrl.Request) (_ ctrl.Result, retErr error) {
	var role staffv1alpha1.Role
	if err := r.Get(ctx, req.NamespacedName, &role); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	key := roleGroupKey(&role)
	if !role.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, r.groups.finalize(ctx, &role, key)
	}
	if err := addFinalizer(ctx, r.Client, &role, groupFinalizer); err != nil {
		return ctrl.Result{}, err
	}

	before := role.DeepCopy()
	defer func() {
		if verdict(retErr) {
			role.Status.ObservedGeneration = role.Generation
		}
		setKstatusConditions(&role.Status.Conditions, role.Generation)
		changed := !equality.Semantic.DeepEqual(before.Status, role.Status)
		retErr = errors.Join(retErr, patchStatus(ctx, r.Client, &role, before, changed))
	}()

	members, err := groupMembers(ctx, r.Client, role.Namespace, indexMemberRoles, role.Name)
	if err != nil {
		return ctrl.Result{}, err
	}
	want := directory.Group{
		Key:         key,
		DisplayName: role.Spec.DisplayName,
		Description: role.Spec.Description,
		Permissions: permissions(role.Spec.Permissions),
	}
	return ctrl.Result{}, r.groups.converge(ctx, &role, want, members, groupStatus{
		observedGeneration: &role.Status.ObservedGeneration, conditions: &role.Status.Conditions, groupID: &role.Status.GroupID, memberCount: &role.Status.MemberCount,
	})
}

func roleGroupKey(role *staffv1alpha1.Role) directory.GroupKey {
	return directory.GroupKey{Organization: role.Namespace, Kind: directory.GroupRole, Name: role.Name}
}

func permissions(in []staffv1alpha1.Permission) []string {
	out := make([]string, len(in))
	for i, p := range in {
		out[i] = string(p)
	}
	return out
}

// SetupWithManager registers the reconciler. A Role is reconciled when it changes, when a
// StaffMember starts or stops holding it (or its account appears), and when Resync finds its
// group drifted.
func (r *RoleReconciler) SetupWithManager(mgr ctrl.Manager, dir directory.Backend) error {
	r.groups = groupSync{client: r.Client, directory: dir, recorder: mgr.GetEventRecorder("role-controller")}
	b := ctrl.NewControllerManagedBy(mgr).
		For(&staffv1alpha1.Role{}, builder.WithPredicates(specChangedOrDeleting)).
		Watches(&staffv1alpha1.StaffMember{}, referencedBy(func(_ context.Context, m *staffv1alpha1.StaffMember) []string { return names(m.Spec.Roles) })).
		Named("role").
		WithOptions(controller.Options{MaxConcurrentReconciles: r.Workers})
	if r.Resync != nil {
		b = b.WatchesRawSource(source.Channel(r.Resync, &handler.EnqueueRequestForObject{}))
	}
	return b.Complete(quietConflicts(r))
}
