package controllers

import (
	"context"
	"errors"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	staffv1alpha1 "github.com/rosterops/staff-operator/api/v1alpha1"
	"github.com/rosterops/staff-operator/internal/directory"
)

// LocationReconciler converges a Location's directory group: its member list, which it alone
// writes, holds the StaffMembers with access to the facility (by name or through allLocations).
type LocationReconciler struct {
	client.Client
	groups groupSync
	// Resync receives Locations whose groups drifted in the directory (see Resync).
	Resync <-chan event.GenericEvent
	// Workers is how many passes run at once; 1 when 0.
	Workers int
}

// +kubebuilder:rbac:groups=staff.rosterops.io,resources=locations,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=staff.rosterops.io,resources=locations/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=staff.rosterops.io,resources=locations/finalizers,verbs=update

// Reconcile ensures the Location's group and writes its members.
func (r *LocationReconciler) Reconcile(ctx context.Context, req ctrl.Request) (_ ctrl.Result, retErr error) {
	var loc staffv1alpha1.Location
	if err := r.Get(ctx, req.NamespacedName, &loc); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	key := locationGroupKey(&loc)
	if !loc.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, r.groups.finalize(ctx, &loc, key)
	}
	if err := addFinalizer(ctx, r.Client, &loc, groupFinalizer); err != nil {
		return ctrl.Result{}, err
	}

	before := loc.DeepCopy()
	defer func() {
		if verdict(retErr) {
			loc.Status.ObservedGeneration = loc.Generation
		}
		setKstatusConditions(&loc.Status.Conditions, loc.Generation)
		changed := !equality.Semantic.DeepEqual(before.Status, loc.Status)
		retErr = errors.Join(retErr, patchStatus(ctx, r.Client, &loc, before, changed))
	}()

	// The time zone is shown in mails; the schema checks its form, only the zone database can
	// tell whether it exists.
	if _, err := time.LoadLocation(loc.Spec.TimeZone); err != nil {
		msg := fmt.Sprintf("timeZone %q is not a known IANA time zone: use a name such as America/Chicago", loc.Spec.TimeZone)
		setCondition(&loc.Status.Conditions, staffv1alpha1.ConditionReady, metav1.ConditionFalse, loc.Generation, staffv1alpha1.ReasonInvalidTimeZone, msg)
		return ctrl.Result{}, reconcile.TerminalError(errors.New(msg))
	}

	members, err := groupMembers(ctx, r.Client, loc.Namespace, indexMemberLocations, loc.Name, allLocationsValue)
	if err != nil {
		return ctrl.Result{}, err
	}
	want := directory.Group{Key: key, DisplayName: loc.Spec.DisplayName}
	return ctrl.Result{}, r.groups.converge(ctx, &loc, want, members, groupStatus{
		observedGeneration: &loc.Status.ObservedGeneration, conditions: &loc.Status.Conditions, groupID: &loc.Status.GroupID, memberCount: &loc.Status.MemberCount,
	})
}

func locationGroupKey(loc *staffv1alpha1.Location) directory.GroupKey {
	return directory.GroupKey{Organization: loc.Namespace, Kind: directory.GroupLocation, Name: loc.Name}
}

// SetupWithManager registers the reconciler. A Location is reconciled when it changes, when a
// StaffMember gains or loses access to it (or its account appears), and when Resync finds its
// group drifted.
func (r *LocationReconciler) SetupWithManager(mgr ctrl.Manager, dir directory.Backend) error {
	r.groups = groupSync{client: r.Client, directory: dir, recorder: mgr.GetEventRecorder("location-controller")}
	b := ctrl.NewControllerManagedBy(mgr).
		For(&staffv1alpha1.Location{}, builder.WithPredicates(specChangedOrDeleting)).
		Watches(&staffv1alpha1.StaffMember{}, referencedBy(r.locationsOf)).
		Named("location").
		WithOptions(controller.Options{MaxConcurrentReconciles: r.Workers})
	if r.Resync != nil {
		b = b.WatchesRawSource(source.Channel(r.Resync, &handler.EnqueueRequestForObject{}))
	}
	return b.Complete(quietConflicts(r))
}

// locationsOf names the Locations a member may access: all of them with allLocations.
func (r *LocationReconciler) locationsOf(ctx context.Context, m *staffv1alpha1.StaffMember) []string {
	if !m.Spec.AllLocations {
		return names(m.Spec.Locations)
	}
	var list staffv1alpha1.LocationList
	if err := r.List(ctx, &list, client.InNamespace(m.Namespace)); err != nil {
		log.FromContext(ctx).Error(err, "list locations for a member with allLocations", "member", client.ObjectKeyFromObject(m))
		return nil
	}
	out := make([]string, len(list.Items))
	for i := range list.Items {
		out[i] = list.Items[i].Name
	}
	return out
}
