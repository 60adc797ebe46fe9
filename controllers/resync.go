package controllers

import (
	"context"
	"slices"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/log"

	staffv1alpha1 "github.com/rosterops/staff-operator/api/v1alpha1"
	"github.com/rosterops/staff-operator/internal/directory"
	"github.com/rosterops/staff-operator/internal/staff"
)

// Resync finds changes made by hand in the directory, which no watch reports. Every period it
// reads everything the operator manages in one paged pass, compares it with the cache, and
// sends only what drifted to its reconciler, which puts it back and records an event. A
// converged object costs nothing per period but its share of that one pass.
type Resync struct {
	Client    client.Reader
	Directory directory.Backend
	Period    time.Duration
	Clock     clock.WithTicker

	members, roles, locations chan event.GenericEvent
}

// NewResync returns a Resync with the channels its reconcilers read.
func NewResync(c client.Reader, dir directory.Backend, period time.Duration, clk clock.WithTicker) *Resync {
	return &Resync{
		Client: c, Directory: dir, Period: period, Clock: clk,
		members:   make(chan event.GenericEvent, 1024),
		roles:     make(chan event.GenericEvent, 1024),
		locations: make(chan event.GenericEvent, 1024),
	}
}

// NeedLeaderElection: only the leader corrects drift.
func (r *Resync) NeedLeaderElection() bool { return true }

// Start runs a pass every period until ctx ends.
func (r *Resync) Start(ctx context.Context) error {
	ticker := r.Clock.NewTicker(r.Period)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C():
			if err := r.RunOnce(ctx); err != nil {
				log.FromContext(ctx).Error(err, "directory resync failed; trying again next period")
			}
		}
	}
}

// RunOnce makes one pass: one listing of the directory, and an event for each drifted object.
func (r *Resync) RunOnce(ctx context.Context) error {
	inv, err := r.Directory.ListManaged(ctx)
	if err != nil {
		return err
	}
	for _, acct := range inv.Accounts {
		var m staffv1alpha1.StaffMember
		if err := r.Client.Get(ctx, client.ObjectKey{Namespace: acct.Key.Organization, Name: acct.Key.Name}, &m); err != nil {
			// No member (an account orphaned by deletionPolicy Orphan), or an organization this
			// manager does not watch: not ours to correct. One failed lookup does not end the pass.
			if !apierrors.IsNotFound(err) {
				log.FromContext(ctx).V(1).Info("skip an account in the resync", "account", acct.Key.String(), "reason", err.Error())
			}
			continue
		}
		if accountDrifted(&m, acct) {
			r.send(ctx, r.members, &m)
		}
	}
	for _, g := range inv.Groups {
		obj, members, err := r.groupWanted(ctx, g.Key)
		if err != nil || obj == nil {
			continue
		}
		if len(g.ForeignMembers) > 0 || !slices.Equal(sortedKeys(g.Members), members) {
			if g.Key.Kind == directory.GroupRole {
				r.send(ctx, r.roles, obj)
			} else {
				r.send(ctx, r.locations, obj)
			}
		}
	}
	return nil
}

// accountDrifted compares one account with its member's spec and status: profile, lock state,
// lockouts and sign-ins the status does not show yet.
func accountDrifted(m *staffv1alpha1.StaffMember, a directory.AccountState) bool {
	want := staff.DesiredAccount(m)
	want.Key = a.Key
	got := a.Account
	if want.DisplayName == "" {
		got.DisplayName = "" // the directory shows a derived one; the spec leaves it open
	}
	adminLocked := a.Locked && a.LockReason == directory.LockAdministrative
	ownLock := adminLocked && a.LockedByOperator
	// A lock someone else set is never undone here: it is reported as LockedOut.
	lockedOut := a.Locked && !ownLock
	lastSignIn := m.Status.LastSignInAt
	return got != want ||
		(staff.Deactivated(m) && !adminLocked) || (!staff.Deactivated(m) && ownLock) ||
		(!staff.Deactivated(m) && lockedOut != (m.Status.Phase == staffv1alpha1.StaffMemberLockedOut)) ||
		(a.PasswordSet && m.Status.Phase == staffv1alpha1.StaffMemberInvited) ||
		(!a.LastSignIn.IsZero() && (lastSignIn == nil || !lastSignIn.Time.Equal(a.LastSignIn)))
}

// groupWanted returns the Role or Location behind a group and the members it should have.
func (r *Resync) groupWanted(ctx context.Context, key directory.GroupKey) (client.Object, []directory.AccountKey, error) {
	objKey := client.ObjectKey{Namespace: key.Organization, Name: key.Name}
	if key.Kind == directory.GroupRole {
		var role staffv1alpha1.Role
		if err := r.Client.Get(ctx, objKey, &role); err != nil {
			return nil, nil, client.IgnoreNotFound(err)
		}
		members, err := groupMembers(ctx, r.Client, key.Organization, indexMemberRoles, key.Name)
		return &role, members, err
	}
	var loc staffv1alpha1.Location
	if err := r.Client.Get(ctx, objKey, &loc); err != nil {
		return nil, nil, client.IgnoreNotFound(err)
	}
	members, err := groupMembers(ctx, r.Client, key.Organization, indexMemberLocations, key.Name, allLocationsValue)
	return &loc, members, err
}

func (r *Resync) send(ctx context.Context, ch chan<- event.GenericEvent, obj client.Object) {
	select {
	case ch <- event.GenericEvent{Object: obj}:
	case <-ctx.Done():
	}
}

func sortedKeys(keys []directory.AccountKey) []directory.AccountKey {
	out := slices.Clone(keys)
	slices.SortFunc(out, byName)
	return out
}
