package controllers

import (
	"context"
	"fmt"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	staffv1alpha1 "github.com/rosterops/staff-operator/api/v1alpha1"
	"github.com/rosterops/staff-operator/internal/web/invitationstore"
)

// Field indexes on the manager's cache. Role and Location reconcilers write their groups' member
// lists from them, and the invitation page finds a link's Invitation by its token hash, so no
// reconcile or request lists a whole namespace.
const (
	// indexMemberRoles indexes StaffMembers by the names of the Roles they hold.
	indexMemberRoles = "spec.roles"
	// indexMemberLocations indexes StaffMembers by the names of the Locations they may access,
	// plus allLocationsValue for those granted every location.
	indexMemberLocations = "spec.locations"
	// indexInvitationMember indexes Invitations by the StaffMember they invite.
	indexInvitationMember = "spec.memberRef.name"

	// allLocationsValue stands in the location index for "every location"; it cannot be a
	// Location's name, which must start with a letter or digit.
	allLocationsValue = "*"
)

// SetupIndexes registers the field indexes on the manager's cache.
func SetupIndexes(ctx context.Context, mgr ctrl.Manager) error {
	idx := mgr.GetFieldIndexer()
	if err := idx.IndexField(ctx, &staffv1alpha1.StaffMember{}, indexMemberRoles, func(o client.Object) []string {
		return names(o.(*staffv1alpha1.StaffMember).Spec.Roles)
	}); err != nil {
		return err
	}
	if err := idx.IndexField(ctx, &staffv1alpha1.StaffMember{}, indexMemberLocations, func(o client.Object) []string {
		m := o.(*staffv1alpha1.StaffMember)
		if m.Spec.AllLocations {
			return []string{allLocationsValue}
		}
		return names(m.Spec.Locations)
	}); err != nil {
		return err
	}
	if err := idx.IndexField(ctx, &staffv1alpha1.Invitation{}, indexInvitationMember, func(o client.Object) []string {
		return []string{string(o.(*staffv1alpha1.Invitation).Spec.MemberRef.Name)}
	}); err != nil {
		return err
	}
	return invitationstore.IndexTokenHash(ctx, idx)
}

func names(in []staffv1alpha1.ObjectName) []string {
	out := make([]string, len(in))
	for i, n := range in {
		out[i] = string(n)
	}
	return out
}

// invitationsFor lists a member's Invitations from the cache's index.
func invitationsFor(ctx context.Context, c client.Reader, namespace, member string) ([]staffv1alpha1.Invitation, error) {
	var list staffv1alpha1.InvitationList
	if err := c.List(ctx, &list, client.InNamespace(namespace), client.MatchingFields{indexInvitationMember: member}); err != nil {
		return nil, fmt.Errorf("list the invitations of %s/%s: %w", namespace, member, err)
	}
	return list.Items, nil
}
