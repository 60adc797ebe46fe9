package controllers

import (
	"context"
	"fmt"
	"maps"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/rosterops/staff-operator/internal/directory"
	"github.com/rosterops/staff-operator/internal/linktoken"
)

// Options are what the reconcilers need from outside: the directory, mail, time and settings.
type Options struct {
	Directory        directory.Backend
	Mail             Mailer
	Tokens           linktoken.Issuer
	Clock            clock.WithTicker
	PublicURL        string
	DefaultTTL       time.Duration
	PasswordResetTTL time.Duration
	// EmailChangeNoticeWindow: password resets within this time after an email change are
	// announced to the previous address.
	EmailChangeNoticeWindow time.Duration
	// ReminderBefore: an invitation link that lives longer than 48h is reminded of this long
	// before it expires; 0 sends no reminders.
	ReminderBefore time.Duration
	// AutoResendMax is spec.autoResend.maxResends for the Invitations the operator creates.
	AutoResendMax int32
	ResyncPeriod  time.Duration
	// RemovalGuard holds back mass removals of directory entries; the defaults when nil.
	RemovalGuard *RemovalGuard
	// Workers per reconciler: StaffMember, Invitation, and each of Role and Location.
	MemberWorkers, InvitationWorkers, GroupWorkers int
}

// Setup registers the indexes, the four reconcilers and the directory resync with the manager,
// and returns the resync so that tests can run a pass on demand.
func Setup(ctx context.Context, mgr ctrl.Manager, o Options) (*Resync, error) {
	if err := SetupIndexes(ctx, mgr); err != nil {
		return nil, fmt.Errorf("register indexes: %w", err)
	}
	resync := NewResync(mgr.GetClient(), o.Directory, o.ResyncPeriod, o.Clock)
	c := mgr.GetClient()
	steps := []struct {
		name  string
		setup func() error
	}{
		{"location", func() error {
			return (&LocationReconciler{Client: c, Resync: resync.locations, Workers: o.GroupWorkers}).SetupWithManager(mgr, o.Directory)
		}},
		{"role", func() error {
			return (&RoleReconciler{Client: c, Resync: resync.roles, Workers: o.GroupWorkers}).SetupWithManager(mgr, o.Directory)
		}},
		{"staffmember", func() error {
			return (&StaffMemberReconciler{
				Client: c, APIReader: mgr.GetAPIReader(), Directory: o.Directory, Mail: o.Mail, Clock: o.Clock, Resync: resync.members, Workers: o.MemberWorkers,
				PasswordResetTTL: o.PasswordResetTTL, ResyncPeriod: o.ResyncPeriod, Guard: o.RemovalGuard,
			}).SetupWithManager(mgr)
		}},
		{"invitation", func() error {
			return (&InvitationReconciler{
				Client: c, APIReader: mgr.GetAPIReader(), Mail: o.Mail,
				Tokens: o.Tokens, Clock: o.Clock, DefaultTTL: o.DefaultTTL, PublicURL: o.PublicURL,
				EmailChangeNoticeWindow: o.EmailChangeNoticeWindow, Workers: o.InvitationWorkers,
				ReminderBefore: o.ReminderBefore, AutoResendMax: o.AutoResendMax,
			}).SetupWithManager(mgr)
		}},
		{"resync", func() error { return mgr.Add(resync) }},
	}
	for _, s := range steps {
		if err := s.setup(); err != nil {
			return nil, fmt.Errorf("set up %s: %w", s.name, err)
		}
	}
	return resync, nil
}

// StripUnread is the manager's cache transform: it drops from every cached object what neither
// a reconciler nor the invitation page reads, managedFields and kubectl's last-applied
// annotation, which are most of a small object's size. With thousands of staff members the
// cache is the manager's memory.
func StripUnread(in any) (any, error) {
	obj, err := meta.Accessor(in)
	if err != nil {
		return in, nil
	}
	if obj.GetManagedFields() != nil {
		obj.SetManagedFields(nil)
	}
	if a := obj.GetAnnotations(); a[corev1.LastAppliedConfigAnnotation] != "" {
		a = maps.Clone(a)
		delete(a, corev1.LastAppliedConfigAnnotation)
		obj.SetAnnotations(a)
	}
	return in, nil
}
