package controllers

import (
	"context"
	"fmt"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"

	staffv1alpha1 "github.com/rosterops/staff-operator/api/v1alpha1"
	"github.com/rosterops/staff-operator/internal/directory"
	"github.com/rosterops/staff-operator/internal/staff"
)

// leavingGroupsRecheck is when a deactivated member whose account is still in groups is looked
// at again: the Role and Location passes that remove it run ahead of onboarding work, and
// nothing they write triggers the member.
const leavingGroupsRecheck = time.Second

// reportSignIn sets SignInDisabled, the condition offboarding pipelines wait on. It is True only
// when the directory itself stops every use of the account: the lock is there, the effective
// password policy enforces it (OpenLDAP ignores a lock under a policy without pwdLockout TRUE),
// and no group of the operator's still lists the account (applications that authorize by group
// without a bind). The groups are read from the directory, not from what the client remembers.
func (r *StaffMemberReconciler) reportSignIn(ctx context.Context, m *staffv1alpha1.StaffMember, obs directory.Observation) (ctrl.Result, error) {
	set := func(status metav1.ConditionStatus, reason, msg string) {
		setCondition(&m.Status.Conditions, staffv1alpha1.ConditionSignInDisabled, status, m.Generation, reason, msg)
	}
	switch {
	case !staff.Deactivated(m):
		set(metav1.ConditionFalse, staffv1alpha1.ReasonSignInPossible, "The member is not deactivated")
		return ctrl.Result{}, nil
	case !obs.Exists:
		// Never True on an absence: an entry whose marker was removed by hand is not found by
		// key, yet still takes its password. A deactivated member gets its account created and locked
		// in one pass, so absence is a pass under way or a conflict reported on Ready.
		set(metav1.ConditionFalse, staffv1alpha1.ReasonProgressing, "No account of the member's was found in the directory yet; nothing is confirmed locked")
		return ctrl.Result{}, nil
	case !obs.Locked || obs.LockReason != directory.LockAdministrative:
		set(metav1.ConditionFalse, staffv1alpha1.ReasonProgressing, "The account is being locked")
		return ctrl.Result{}, nil
	case !obs.LockEnforced:
		set(metav1.ConditionFalse, staffv1alpha1.ReasonLockNotEnforced,
			"The lock is written, but the account's password policy does not enforce it (pwdLockout is not TRUE, or no policy applies): "+
				"the directory still accepts its password; set pwdLockout: TRUE in the policy (docs/directory.md)")
		return ctrl.Result{}, nil
	}
	groups, err := r.Directory.GroupsOf(ctx, staff.AccountKey(m))
	if err != nil {
		return ctrl.Result{}, fmt.Errorf("read the account's groups: %w", err)
	}
	if len(groups) > 0 {
		names := make([]string, len(groups))
		for i, g := range groups {
			names[i] = string(g.Kind) + " " + g.Name
		}
		set(metav1.ConditionFalse, staffv1alpha1.ReasonLeavingGroups, "The account is locked and still in "+strings.Join(names, ", ")+"; being removed")
		return ctrl.Result{RequeueAfter: leavingGroupsRecheck}, nil
	}
	set(metav1.ConditionTrue, staffv1alpha1.ReasonLocked,
		"The account is locked, its password policy enforces the lock, and it is in none of the operator's groups: sign-in fails")
	return ctrl.Result{}, nil
}
