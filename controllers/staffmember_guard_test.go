package controllers

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	staffv1alpha1 "github.com/rosterops/staff-operator/api/v1alpha1"
	"github.com/rosterops/staff-operator/internal/directory"
)

func TestRemovalGuardLimit(t *testing.T) {
	g := &RemovalGuard{}
	for _, c := range []struct{ size, want int }{{5, 20}, {30, 20}, {200, 20}, {201, 20}, {250, 25}, {10000, 1000}} {
		if got := g.limit(c.size); got != c.want {
			t.Errorf("limit for a practice of %d: %d, want %d", c.size, got, c.want)
		}
	}
}

// A prune of 30 members at once (a Git revert, a Flux prune) locks every account, removes the
// entries only up to the guard's limit and keeps the rest until a person approves on the
// Namespace; then they go.
func TestMassRemovalIsHeldUntilApproved(t *testing.T) {
	op := startOperator(t)
	ctx := context.Background()
	const n = 30
	for i := range n {
		m := newMember(fmt.Sprintf("p%02d", i), op.email(fmt.Sprintf("p%02d", i)))
		m.Spec.DeletionPolicy = staffv1alpha1.DeletionPolicyDelete
		op.create(m)
	}
	eventually(t, "all invited", func() (bool, string) {
		return len(op.practiceAccounts()) == n, fmt.Sprintf("%d accounts", len(op.practiceAccounts()))
	})
	deletedAt := time.Now()
	if err := k8s.DeleteAllOf(ctx, &staffv1alpha1.StaffMember{}, client.InNamespace(op.ns)); err != nil {
		t.Fatal(err)
	}

	// The API server deletes a collection one object after another, so the guard lets the first
	// removals through, up to its limit, and holds every one beyond it; every account is locked.
	var heldName string
	eventually(t, "removals beyond the limit held, their accounts locked", func() (bool, string) {
		var list staffv1alpha1.StaffMemberList
		if err := k8s.List(ctx, &list, client.InNamespace(op.ns)); err != nil {
			return false, err.Error()
		}
		held := 0
		for _, m := range list.Items {
			if hasCondition(m.Status.Conditions, staffv1alpha1.ConditionStalled, metav1.ConditionTrue, staffv1alpha1.ReasonRemovalHeld) {
				held, heldName = held+1, m.Name
			}
		}
		entries, locked := op.practiceAccounts(), 0
		for _, a := range entries {
			if a.Locked {
				locked++
			}
		}
		removed := n - len(entries)
		return held > 0 && held == len(list.Items) && locked == len(entries) && len(entries) == held && removed <= DefaultRemovalGuardEntries,
			fmt.Sprintf("%d removed, %d entries left (%d locked), %d members held of %d left", removed, len(entries), locked, held, len(list.Items))
	}, 2*time.Minute)
	msg := conditionMessage(op.member(heldName).Status.Conditions, staffv1alpha1.ConditionReady)
	if !strings.Contains(msg, staffv1alpha1.RemovalsApprovedAtAnnotation) || !strings.Contains(msg, "more than the guard allows (20)") {
		t.Errorf("the held member does not say what the guard allows and how to approve: %s", msg)
	}
	waitEvent(t, op.ns, heldName, staffv1alpha1.ReasonRemovalHeld)

	var ns corev1.Namespace
	if err := k8s.Get(ctx, client.ObjectKey{Name: op.ns}, &ns); err != nil {
		t.Fatal(err)
	}
	before := ns.DeepCopy()
	metav1.SetMetaDataAnnotation(&ns.ObjectMeta, staffv1alpha1.RemovalsApprovedAtAnnotation, deletedAt.Add(time.Minute).UTC().Format(time.RFC3339))
	if err := k8s.Patch(ctx, &ns, client.MergeFrom(before)); err != nil {
		t.Fatal(err)
	}
	eventually(t, "every entry removed and every member gone once approved", func() (bool, string) {
		var list staffv1alpha1.StaffMemberList
		if err := k8s.List(ctx, &list, client.InNamespace(op.ns)); err != nil {
			return false, err.Error()
		}
		left := len(op.practiceAccounts())
		return left == 0 && len(list.Items) == 0, fmt.Sprintf("%d entries, %d members left", left, len(list.Items))
	}, 2*time.Minute)
}

// practiceAccounts lists the managed accounts of the test's practice in the directory.
func (op *operator) practiceAccounts() []directory.AccountState {
	var out []directory.AccountState
	for _, a := range op.inventory().Accounts {
		if a.Key.Organization == op.ns {
			out = append(out, a)
		}
	}
	return out
}
