package controllers

import (
	"context"
	"errors"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	staffv1alpha1 "github.com/rosterops/staff-operator/api/v1alpha1"
	"github.com/rosterops/staff-operator/internal/directory"
	"github.com/rosterops/staff-operator/internal/staff"
)

// resolveReferences checks that the Roles and Locations the member names exist. A missing one is
// a waiting state, not an error: GitOps applies in any order, and the member is reconciled
// again when the object appears.
func (r *StaffMemberReconciler) resolveReferences(ctx context.Context, m *staffv1alpha1.StaffMember) (missing []string, err error) {
	check := func(kind string, obj client.Object, name staffv1alpha1.ObjectName) error {
		err := r.Get(ctx, client.ObjectKey{Namespace: m.Namespace, Name: string(name)}, obj)
		if apierrors.IsNotFound(err) {
			missing = append(missing, kind+" "+string(name))
			return nil
		}
		return err
	}
	for _, name := range m.Spec.Roles {
		if err := check("Role", &staffv1alpha1.Role{}, name); err != nil {
			return nil, err
		}
	}
	locations := m.Spec.Locations
	if m.Spec.PrimaryLocation != "" && m.Spec.AllLocations {
		// Otherwise the schema makes it one of locations already.
		locations = []staffv1alpha1.ObjectName{m.Spec.PrimaryLocation}
	}
	for _, name := range locations {
		if err := check("Location", &staffv1alpha1.Location{}, name); err != nil {
			return nil, err
		}
	}
	if len(missing) == 0 {
		setCondition(&m.Status.Conditions, staffv1alpha1.ConditionReferencesResolved, metav1.ConditionTrue, m.Generation, staffv1alpha1.ReasonReady, "Every Role and Location named exists")
		return nil, nil
	}
	reason := staffv1alpha1.ReasonRoleNotFound
	if strings.HasPrefix(missing[0], "Location") {
		reason = staffv1alpha1.ReasonLocationNotFound
	}
	setCondition(&m.Status.Conditions, staffv1alpha1.ConditionReferencesResolved, metav1.ConditionFalse, m.Generation, reason,
		fmt.Sprintf("Waiting for %s to exist in namespace %s; access follows when it is applied", strings.Join(missing, ", "), m.Namespace))
	return missing, nil
}

// convergeAccount creates, adopts or updates the account so that its profile matches the spec.
// An account left at the member's key by an earlier StaffMember of the same name is retired
// first: the person behind a reused name is a new person, and gets a new account.
func (r *StaffMemberReconciler) convergeAccount(ctx context.Context, m *staffv1alpha1.StaffMember, obs directory.Observation) (directory.Observation, error) {
	want := staff.DesiredAccount(m)
	if obs.Exists && leftByEarlierMember(m, obs) {
		if err := r.retireAccount(ctx, m, obs); err != nil {
			return obs, err
		}
		obs = directory.Observation{}
	}
	switch {
	case !obs.Exists:
		if err := r.createOrAdopt(ctx, m, want); err != nil {
			return obs, err
		}
		var err error
		if obs, err = r.Directory.ObserveAccount(ctx, want); err != nil {
			return obs, fmt.Errorf("observe account: %w", err)
		}
	case !obs.UpToDate:
		if _, err := r.Directory.UpdateAccount(ctx, want); err != nil {
			return obs, fmt.Errorf("update account: %w", err)
		}
		reason, note := "AccountUpdated", "Account profile updated: %s"
		if m.Generation == m.Status.ObservedGeneration {
			reason, note = "DriftCorrected", "Account profile changed in the directory was put back: %s"
		}
		r.recorder.Eventf(m, nil, corev1.EventTypeNormal, reason, "UpdateAccount", note, strings.Join(obs.Drift, ", "))
	}
	m.Status.AccountID = obs.ID
	setCondition(&m.Status.Conditions, staffv1alpha1.ConditionDirectorySynced, metav1.ConditionTrue, m.Generation, staffv1alpha1.ReasonReady, "The directory account matches the spec")
	return obs, nil
}

// leftByEarlierMember reports whether the account at the member's key belongs to another
// StaffMember object: one recorded with another UID, or, on an entry made before owners were
// recorded, one this member never recorded as its own.
func leftByEarlierMember(m *staffv1alpha1.StaffMember, obs directory.Observation) bool {
	owner := obs.Actual.OwnerUID
	if owner == "" {
		return m.Status.AccountID != obs.ID
	}
	return owner != string(m.UID)
}

// retireAccount moves an earlier member's account out of the way, kept locked for auditing, so
// that its password signs in nowhere for this member. One that can still sign in is not
// touched: it may be someone's live account (deletionPolicy Orphan).
func (r *StaffMemberReconciler) retireAccount(ctx context.Context, m *staffv1alpha1.StaffMember, obs directory.Observation) error {
	retired, err := r.Directory.RetireAccount(ctx, staff.AccountKey(m), obs.Actual.OwnerUID)
	if errors.Is(err, directory.ErrConflict) {
		return &EarlierOwnerError{ID: obs.ID, Err: err}
	}
	if err != nil {
		return fmt.Errorf("retire the account of an earlier member named %s: %w", m.Name, err)
	}
	r.recorder.Eventf(m, nil, corev1.EventTypeNormal, "AccountRetired", "RetireAccount",
		"The account %s of an earlier StaffMember named %s was retired to %s, locked, for auditing; this member gets a new account", obs.ID, m.Name, retired)
	return nil
}

// EarlierOwnerError: the account at a member's key was left by an earlier StaffMember of the same
// name and can still sign in, so it is neither handed over nor retired.
type EarlierOwnerError struct {
	ID  string
	Err error
}

func (e *EarlierOwnerError) Error() string {
	return fmt.Sprintf("the account %s was left by an earlier StaffMember of this name and can still sign in, so it is not handed to this member: lock it in the directory (it is then retired and kept for auditing), remove it, or rename this member (%v)", e.ID, e.Err)
}

func (e *EarlierOwnerError) Unwrap() error { return e.Err }

// createOrAdopt creates the account, or adopts an unmanaged entry with the member's email when
// the configuration allows it (the backend enforces that). Adoption looks only in the
// practice's own part of the directory unless a cluster administrator granted this member more.
func (r *StaffMemberReconciler) createOrAdopt(ctx context.Context, m *staffv1alpha1.StaffMember, want directory.Account) error {
	err := r.Directory.CreateAccount(ctx, want)
	if errors.Is(err, directory.ErrNotManaged) {
		scope, err := r.adoptionScope(ctx, m)
		if err != nil {
			return err
		}
		if err := r.Directory.AdoptAccount(ctx, want, scope); err != nil {
			return fmt.Errorf("adopt the existing entry for %s: %w", want.Email, err)
		}
		r.recorder.Eventf(m, nil, corev1.EventTypeNormal, "AccountAdopted", "AdoptAccount",
			"Existing directory entry for %s adopted; its password is not trusted until the member sets one through a link", want.Email)
		return nil
	}
	if err != nil {
		return fmt.Errorf("create account: %w", err)
	}
	// No event: creation is the routine path of every member (status.accountID and the log
	// record it); Events are kept for what a person should look at (README: Events).
	log.FromContext(ctx).Info("directory account created", "accountID", want.Key.String())
	return nil
}

// adoptionScope reads the practice's grant: the namespace annotation
// staff.rosterops.io/adopt-from-anywhere naming this member. Namespaces are cluster-scoped, so
// only a cluster administrator can write it.
func (r *StaffMemberReconciler) adoptionScope(ctx context.Context, m *staffv1alpha1.StaffMember) (directory.AdoptionScope, error) {
	var ns corev1.Namespace
	if err := r.Get(ctx, client.ObjectKey{Name: m.Namespace}, &ns); err != nil {
		return "", fmt.Errorf("read namespace %s: %w", m.Namespace, err)
	}
	for _, name := range strings.Split(ns.Annotations[staffv1alpha1.AdoptFromAnywhereAnnotation], ",") {
		if strings.TrimSpace(name) == m.Name {
			return directory.AdoptAnywhere, nil
		}
	}
	return directory.AdoptWithinOrganization, nil
}

// convergeLock locks a deactivated member's account and unlocks a reactivated one. It lifts only
// its own lock: a lock that the directory set by itself (too many failures, too long idle) or
// that an administrator set by hand (a compromised account) is reported as LockedOut and
// cleared only on the unlock annotation.
func (r *StaffMemberReconciler) convergeLock(ctx context.Context, m *staffv1alpha1.StaffMember, obs *directory.Observation) error {
	key := staff.AccountKey(m)
	adminLocked := obs.Locked && obs.LockReason == directory.LockAdministrative
	ownLock := adminLocked && obs.LockedByOperator
	switch {
	case staff.Deactivated(m) && !adminLocked:
		if _, err := r.Directory.LockAccount(ctx, key); err != nil {
			return fmt.Errorf("lock account: %w", err)
		}
		reason, note := "AccountLocked", "Account locked: sign-in fails until the member is reactivated"
		if m.Status.Phase == staffv1alpha1.StaffMemberDeactivated && m.Generation == m.Status.ObservedGeneration {
			reason, note = "DriftCorrected", "Account of a deactivated member was unlocked in the directory; locked again"
		}
		r.recorder.Eventf(m, nil, corev1.EventTypeNormal, reason, "LockAccount", note)
	case !staff.Deactivated(m) && ownLock:
		if _, err := r.Directory.UnlockAccount(ctx, key); err != nil {
			return fmt.Errorf("unlock account: %w", err)
		}
		r.recorder.Eventf(m, nil, corev1.EventTypeNormal, "AccountUnlocked", "UnlockAccount", "Account unlocked: the member is active")
	case !staff.Deactivated(m) && obs.Locked && r.unlockRequested(m):
		if _, err := r.Directory.UnlockAccount(ctx, key); err != nil {
			return fmt.Errorf("clear lockout: %w", err)
		}
		r.recorder.Eventf(m, nil, corev1.EventTypeNormal, "LockoutCleared", "UnlockAccount", "Lockout (%s) cleared on request", obs.LockReason)
	default:
		r.markUnlockHandled(m)
		return nil
	}
	r.markUnlockHandled(m)
	facts, err := r.Directory.SignInFacts(ctx, key)
	if err != nil {
		return fmt.Errorf("read sign-in facts: %w", err)
	}
	obs.SignInFacts = facts
	return nil
}

func (r *StaffMemberReconciler) unlockRequested(m *staffv1alpha1.StaffMember) bool {
	v := m.Annotations[staffv1alpha1.UnlockRequestedAtAnnotation]
	return v != "" && v != m.Status.LastHandledUnlockAt
}

// markUnlockHandled records the unlock request as handled: carried out, or moot because the
// account is not locked out.
func (r *StaffMemberReconciler) markUnlockHandled(m *staffv1alpha1.StaffMember) {
	if v := m.Annotations[staffv1alpha1.UnlockRequestedAtAnnotation]; v != "" {
		m.Status.LastHandledUnlockAt = v
	}
}

// conflictMessage says what stands in the member's way and what a person can do about it.
func conflictMessage(m *staffv1alpha1.StaffMember, err error) string {
	var earlier *EarlierOwnerError
	if errors.As(err, &earlier) {
		return earlier.Error()
	}
	return fmt.Sprintf("%v: the email %s belongs to a directory entry this member does not own; change the email, remove the entry, "+
		"or allow adoption of unmanaged entries (directory.ldap.adoptExisting; for an entry outside the practice's own subtree, "+
		"a cluster administrator also names the member in the namespace annotation %s)", err, m.Spec.Email, staffv1alpha1.AdoptFromAnywhereAnnotation)
}

// accountFailed records a directory failure. Data the directory refuses, and an email that
// belongs to an entry the operator must not take over, are verdicts that wait for a person;
// everything else is retried with backoff.
func (r *StaffMemberReconciler) accountFailed(m *staffv1alpha1.StaffMember, err error) (ctrl.Result, error) {
	switch {
	case errors.Is(err, directory.ErrUnavailable):
		setDirectoryError(&m.Status.Conditions, m.Generation, "directory", err)
		if m.Status.Phase == "" {
			m.Status.Phase = staffv1alpha1.StaffMemberPending
		}
		return ctrl.Result{}, err
	case errors.Is(err, directory.ErrConflict):
		msg := conflictMessage(m, err)
		setCondition(&m.Status.Conditions, staffv1alpha1.ConditionDirectorySynced, metav1.ConditionFalse, m.Generation, staffv1alpha1.ReasonConflict, msg)
		setCondition(&m.Status.Conditions, staffv1alpha1.ConditionReady, metav1.ConditionFalse, m.Generation, staffv1alpha1.ReasonConflict, msg)
		m.Status.Phase = staffv1alpha1.StaffMemberFailed
		r.recorder.Eventf(m, nil, corev1.EventTypeWarning, staffv1alpha1.ReasonConflict, "CreateAccount", "%s", msg)
		// No watch reports the entry in the way going away: look again after a resync period.
		return ctrl.Result{RequeueAfter: r.ResyncPeriod}, nil
	case errors.Is(err, directory.ErrInvalid):
		setDirectoryError(&m.Status.Conditions, m.Generation, "directory", err)
		m.Status.Phase = staffv1alpha1.StaffMemberFailed
		r.recorder.Eventf(m, nil, corev1.EventTypeWarning, staffv1alpha1.ReasonDirectoryError, "Reconcile", "The directory refused the member's data: %v", err)
		return ctrl.Result{}, reconcile.TerminalError(err)
	default:
		// Access denied and the unexpected: a fix of the operator's configuration or of the
		// server makes the same spec work, so keep trying, with backoff.
		setDirectoryError(&m.Status.Conditions, m.Generation, "directory", err)
		r.recorder.Eventf(m, nil, corev1.EventTypeWarning, staffv1alpha1.ReasonDirectoryError, "Reconcile", "%v", err)
		return ctrl.Result{}, err
	}
}
