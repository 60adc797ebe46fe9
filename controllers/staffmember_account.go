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
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	staffv1alpha1 "github.com/rosterops/staff-operator/api/v1alpha1"
	"github.com/rosterops/staff-operator/internal/directory"
)

func accountKey(m *staffv1alpha1.StaffMember) directory.AccountKey {
	return directory.AccountKey{Organization: m.Namespace, Name: m.Name}
}

// desiredAccount is the account the spec asks for.
func desiredAccount(m *staffv1alpha1.StaffMember) directory.Account {
	p := m.Spec.Profile
	return directory.Account{
		Key:         accountKey(m),
		GivenName:   p.GivenName,
		FamilyName:  p.FamilyName,
		DisplayName: p.DisplayName,
		Email:       m.Spec.Email,
		Phone:       p.Phone,
		Title:       p.Title,
		EmployeeID:  p.EmployeeID,
	}
}

func wantLocked(m *staffv1alpha1.StaffMember) bool {
	return m.Spec.AccountState == staffv1alpha1.AccountStateDeactivated
}

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
func (r *StaffMemberReconciler) convergeAccount(ctx context.Context, m *staffv1alpha1.StaffMember) (directory.Observation, error) {
	want := desiredAccount(m)
	obs, err := r.Directory.ObserveAccount(ctx, want)
	if err != nil {
		return obs, fmt.Errorf("observe account: %w", err)
	}
	switch {
	case !obs.Exists:
		if err := r.createOrAdopt(ctx, m, want); err != nil {
			return obs, err
		}
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

// createOrAdopt creates the account, or adopts an unmanaged entry with the member's email when
// the configuration allows it (the backend enforces that).
func (r *StaffMemberReconciler) createOrAdopt(ctx context.Context, m *staffv1alpha1.StaffMember, want directory.Account) error {
	err := r.Directory.CreateAccount(ctx, want)
	if errors.Is(err, directory.ErrNotManaged) {
		if err := r.Directory.AdoptAccount(ctx, want); err != nil {
			return fmt.Errorf("adopt the existing entry for %s: %w", want.Email, err)
		}
		r.recorder.Eventf(m, nil, corev1.EventTypeNormal, "AccountAdopted", "AdoptAccount", "Existing directory entry for %s adopted", want.Email)
		return nil
	}
	if err != nil {
		return fmt.Errorf("create account: %w", err)
	}
	r.recorder.Eventf(m, nil, corev1.EventTypeNormal, "AccountCreated", "CreateAccount", "Directory account created for %s", want.Email)
	return nil
}

// convergeLock locks a deactivated member's account and unlocks a reactivated one. A lock that
// the directory set by itself (too many failures, too long idle) is reported as LockedOut and
// cleared only on the unlock annotation.
func (r *StaffMemberReconciler) convergeLock(ctx context.Context, m *staffv1alpha1.StaffMember, obs *directory.Observation) error {
	key := accountKey(m)
	adminLocked := obs.Locked && obs.LockReason == directory.LockAdministrative
	switch {
	case wantLocked(m) && !adminLocked:
		if _, err := r.Directory.LockAccount(ctx, key); err != nil {
			return fmt.Errorf("lock account: %w", err)
		}
		reason, note := "AccountLocked", "Account locked: sign-in fails until the member is reactivated"
		if m.Status.Phase == staffv1alpha1.StaffMemberDeactivated && m.Generation == m.Status.ObservedGeneration {
			reason, note = "DriftCorrected", "Account of a deactivated member was unlocked in the directory; locked again"
		}
		r.recorder.Eventf(m, nil, corev1.EventTypeNormal, reason, "LockAccount", note)
	case !wantLocked(m) && adminLocked:
		if _, err := r.Directory.UnlockAccount(ctx, key); err != nil {
			return fmt.Errorf("unlock account: %w", err)
		}
		r.recorder.Eventf(m, nil, corev1.EventTypeNormal, "AccountUnlocked", "UnlockAccount", "Account unlocked: the member is active")
	case !wantLocked(m) && obs.Locked && r.unlockRequested(m):
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
		msg := fmt.Sprintf("%v: the email %s belongs to a directory entry this member does not own; change the email, remove the entry, or allow adoption (directory.ldap.adoptExisting) for unmanaged entries", err, m.Spec.Email)
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
