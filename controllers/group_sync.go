package controllers

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/recorder"

	staffv1alpha1 "github.com/rosterops/staff-operator/api/v1alpha1"
	"github.com/rosterops/staff-operator/internal/directory"
	"github.com/rosterops/staff-operator/internal/staff"
)

// groupFinalizer removes a Role's or Location's group from the directory before the object goes.
const groupFinalizer = "staff.rosterops.io/directory-group"

// groupStatus is the part of Role and Location status the group sync writes.
type groupStatus struct {
	observedGeneration *int64
	conditions         *[]metav1.Condition
	groupID            *string
	memberCount        *int32
}

// groupSync is what Role and Location reconcilers share: each owns one directory group and is its
// only writer, so two reconcilers never race on one group's member list.
type groupSync struct {
	client    client.Client
	directory directory.Backend
	recorder  recorder.EventRecorder
}

// converge ensures the group and its members. The member list is written in one modify, however
// many StaffMembers changed since the last pass: the work queue folds a burst of member events
// into one reconcile of the group.
func (g groupSync) converge(ctx context.Context, obj client.Object, want directory.Group, members []directory.AccountKey, st groupStatus) error {
	gen := obj.GetGeneration()
	changed, err := g.directory.EnsureGroup(ctx, want)
	if err != nil {
		setDirectoryError(st.conditions, gen, "ensure group", err)
		return err
	}
	if changed {
		g.recorder.Eventf(obj, nil, corev1.EventTypeNormal, "GroupSynced", "EnsureGroup", "Directory group %s written", want.Key)
	}
	changed, err = g.directory.SetGroupMembers(ctx, want.Key, members)
	// Members whose accounts do not exist yet are left out; their StaffMembers trigger this
	// reconcile again once their accounts exist.
	if err != nil && !errors.Is(err, directory.ErrNotFound) {
		setDirectoryError(st.conditions, gen, "set group members", err)
		return err
	}
	// The same members as last time, for the same spec, yet a write: someone changed the group
	// by hand. That is worth an event; members following their StaffMembers are not (a burst
	// of onboarding would post one per pass): memberCount shows them.
	if changed && *st.observedGeneration == gen && int(*st.memberCount) == len(members) {
		g.recorder.Eventf(obj, nil, corev1.EventTypeNormal, "DriftCorrected", "SetGroupMembers", "Directory group %s members written back (%d)", want.Key, len(members))
	}
	*st.groupID = want.Key.String()
	*st.memberCount = int32(len(members))
	setCondition(st.conditions, staffv1alpha1.ConditionDirectorySynced, metav1.ConditionTrue, gen, staffv1alpha1.ReasonReady, "The directory group matches the spec")
	setCondition(st.conditions, staffv1alpha1.ConditionReady, metav1.ConditionTrue, gen, staffv1alpha1.ReasonReady, fmt.Sprintf("Directory group has %d members", len(members)))
	return nil
}

// finalize deletes the group; the members it held lose the role or location with it, and their
// StaffMembers report the missing reference.
func (g groupSync) finalize(ctx context.Context, obj client.Object, key directory.GroupKey) error {
	if !controllerutil.ContainsFinalizer(obj, groupFinalizer) {
		return nil
	}
	if err := g.directory.DeleteGroup(ctx, key); err != nil {
		return fmt.Errorf("delete group %s: %w", key, err)
	}
	g.recorder.Eventf(obj, nil, corev1.EventTypeNormal, "GroupDeleted", "DeleteGroup", "Directory group %s deleted", key)
	return removeFinalizer(ctx, g.client, obj, groupFinalizer)
}

// groupMembers lists the accounts that belong in a group: the StaffMembers of the namespace found
// under any of values in the field index, whose accounts exist, sorted. Deactivated members and
// members being deleted hold no group: applications that authorize by group membership, without
// a bind, must not grant them anything.
func groupMembers(ctx context.Context, c client.Reader, namespace, index string, values ...string) ([]directory.AccountKey, error) {
	var keys []directory.AccountKey
	for _, v := range values {
		var list staffv1alpha1.StaffMemberList
		// Read-only, and a role may be held by thousands: the cache's objects as they are, not
		// a deep copy of each per pass.
		if err := c.List(ctx, &list, client.InNamespace(namespace), client.MatchingFields{index: v}, client.UnsafeDisableDeepCopy); err != nil {
			return nil, fmt.Errorf("list members by %s=%s: %w", index, v, err)
		}
		for i := range list.Items {
			m := &list.Items[i]
			if m.DeletionTimestamp.IsZero() && !staff.Deactivated(m) && m.Status.AccountID != "" {
				keys = append(keys, staff.AccountKey(m))
			}
		}
	}
	slices.SortFunc(keys, byName)
	return slices.Compact(keys), nil
}

// byName orders account keys of one organization, so member lists compare as sets.
func byName(a, b directory.AccountKey) int { return strings.Compare(a.Name, b.Name) }

// setCondition sets a condition with the object's generation.
func setCondition(conds *[]metav1.Condition, typ string, status metav1.ConditionStatus, gen int64, reason, msg string) {
	meta.SetStatusCondition(conds, metav1.Condition{Type: typ, Status: status, ObservedGeneration: gen, Reason: reason, Message: msg})
}

// setDirectoryError records a failed directory step on DirectorySynced and Ready, telling a
// temporary outage (retried by itself) from a refusal that needs a person.
func setDirectoryError(conds *[]metav1.Condition, gen int64, step string, err error) {
	reason := staffv1alpha1.ReasonDirectoryError
	msg := fmt.Sprintf("%s: %v", step, err)
	switch {
	case errors.Is(err, directory.ErrUnavailable):
		reason = staffv1alpha1.ReasonDirectoryUnavailable
		msg = fmt.Sprintf("The directory cannot be reached; retrying with backoff (%s: %v)", step, err)
	case errors.Is(err, directory.ErrSizeLimit):
		reason = staffv1alpha1.ReasonDirectorySizeLimit
		msg = fmt.Sprintf("The directory stopped a search at its size limit for the operator's bind DN (directory.ldap.bindDN); "+
			"lift it in slapd for that DN, e.g. limits dn.exact=\"<bindDN>\" size=unlimited size.prtotal=unlimited (olcLimits in cn=config), "+
			"see docs/directory.md; retrying with backoff (%s: %v)", step, err)
	}
	setCondition(conds, staffv1alpha1.ConditionDirectorySynced, metav1.ConditionFalse, gen, reason, msg)
	setCondition(conds, staffv1alpha1.ConditionReady, metav1.ConditionFalse, gen, reason, msg)
}

// addFinalizer adds a finalizer with a patch, so that it never overwrites someone else's change.
func addFinalizer(ctx context.Context, c client.Client, obj client.Object, finalizer string) error {
	if controllerutil.ContainsFinalizer(obj, finalizer) {
		return nil
	}
	before := obj.DeepCopyObject().(client.Object)
	controllerutil.AddFinalizer(obj, finalizer)
	return c.Patch(ctx, obj, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{}))
}

func removeFinalizer(ctx context.Context, c client.Client, obj client.Object, finalizer string) error {
	before := obj.DeepCopyObject().(client.Object)
	controllerutil.RemoveFinalizer(obj, finalizer)
	return client.IgnoreNotFound(c.Patch(ctx, obj, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{})))
}
