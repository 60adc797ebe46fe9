package controllers

import (
	"context"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	kstatus "sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"

	staffv1alpha1 "github.com/rosterops/staff-operator/api/v1alpha1"
	"github.com/rosterops/staff-operator/internal/directory"
	"github.com/rosterops/staff-operator/internal/staff"
)

// kstatusOf computes the status kstatus gives an object: what Flux health checks and
// kubectl-based pipelines read.
func kstatusOf(t *testing.T, obj client.Object) *kstatus.Result {
	t.Helper()
	content, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		t.Fatal(err)
	}
	u := &unstructured.Unstructured{Object: content}
	gvk, err := apiutil.GVKForObject(obj, k8s.Scheme())
	if err != nil {
		t.Fatal(err)
	}
	u.SetGroupVersionKind(gvk)
	res, err := kstatus.Compute(u)
	if err != nil {
		t.Fatalf("kstatus of %s: %v", obj.GetName(), err)
	}
	return res
}

// waitKstatus waits until kstatus reads want for the object named name.
func (op *operator) waitKstatus(name string, obj client.Object, want kstatus.Status) *kstatus.Result {
	op.t.Helper()
	var res *kstatus.Result
	eventually(op.t, name+" reads "+want.String(), func() (bool, string) {
		res = kstatusOf(op.t, op.get(name, obj))
		return res.Status == want, res.Status.String() + ": " + res.Message
	})
	return res
}

// The table of issue 13, row by row, for the StaffMember, Role and Location (the Invitation's
// rows are in invitation_kstatus_test.go): kstatus as computed by sigs.k8s.io/cli-utils.
func TestKstatusReadsEveryMemberState(t *testing.T) {
	op := startOperator(t)
	op.create(newRole("front-desk"))
	op.waitKstatus("front-desk", &staffv1alpha1.Role{}, kstatus.CurrentStatus)

	t.Run("never reconciled: InProgress", func(t *testing.T) {
		// A practice no manager watches: status holds only its default, observedGeneration 0.
		ns := "unwatched-" + op.ns
		ensureNamespace(t, ns)
		for _, obj := range []client.Object{newMember("nat", op.email("nat")), newRole("nurse")} {
			obj.SetNamespace(ns)
			if err := k8s.Create(context.Background(), obj); err != nil {
				t.Fatal(err)
			}
			if res := kstatusOf(t, obj); res.Status != kstatus.InProgressStatus {
				t.Errorf("%T never reconciled reads %s (%s), want InProgress", obj, res.Status, res.Message)
			}
		}
	})

	t.Run("invited with a live link: Current", func(t *testing.T) {
		op.create(newMember("ivy", op.email("ivy"), "front-desk"))
		m := op.waitMember("ivy", "invited", func(m *staffv1alpha1.StaffMember) bool { return m.Status.Phase == staffv1alpha1.StaffMemberInvited })
		if m.Status.SignInName != "ivy" {
			t.Errorf("status.signInName %q, want the account's uid ivy", m.Status.SignInName)
		}
		op.waitKstatus("ivy", &staffv1alpha1.StaffMember{}, kstatus.CurrentStatus)
	})

	t.Run("waiting for a Role that does not exist yet: InProgress", func(t *testing.T) {
		op.create(newMember("wes", op.email("wes"), "not-yet"))
		op.waitMember("wes", "waiting", func(m *staffv1alpha1.StaffMember) bool {
			return m.Status.ObservedGeneration == m.Generation && m.Status.Phase == staffv1alpha1.StaffMemberInvited
		})
		res := op.waitKstatus("wes", &staffv1alpha1.StaffMember{}, kstatus.InProgressStatus)
		if !strings.Contains(res.Message, "not-yet") {
			t.Errorf("the message does not name the missing Role: %s", res.Message)
		}
		op.create(newRole("not-yet"))
		op.waitKstatus("wes", &staffv1alpha1.StaffMember{}, kstatus.CurrentStatus)
	})

	t.Run("email of another member's account (Conflict): Failed with the message", func(t *testing.T) {
		op.create(newMember("dup", op.email("ivy")))
		res := op.waitKstatus("dup", &staffv1alpha1.StaffMember{}, kstatus.FailedStatus)
		if !strings.Contains(res.Message, op.email("ivy")) {
			t.Errorf("Failed without the conflict's message: %q", res.Message)
		}
		if m := op.member("dup"); !hasCondition(m.Status.Conditions, staffv1alpha1.ConditionStalled, metav1.ConditionTrue, staffv1alpha1.ReasonConflict) {
			t.Errorf("no Stalled=True Conflict: %+v", m.Status.Conditions)
		}
	})

	t.Run("only invitation expired: not Ready, Failed, until a resend on the member", func(t *testing.T) {
		op.create(newMember("eli", op.email("eli")))
		op.waitInvitation("eli", "sent", sent)
		op.clock.Step(time.Hour)
		op.poke("eli", 1)
		m := op.waitMember("eli", "stuck", func(m *staffv1alpha1.StaffMember) bool {
			return hasCondition(m.Status.Conditions, staffv1alpha1.ConditionReady, metav1.ConditionFalse, staffv1alpha1.ReasonInvitationExpired)
		})
		if m.Status.Phase != staffv1alpha1.StaffMemberInvited {
			t.Errorf("phase %s, want Invited (the account exists, the link is dead)", m.Status.Phase)
		}
		op.waitKstatus("eli", &staffv1alpha1.StaffMember{}, kstatus.FailedStatus)

		// The pipeline asks on the member; the operator passes it on to the Invitation.
		op.annotate(&staffv1alpha1.StaffMember{ObjectMeta: metav1.ObjectMeta{Name: "eli"}}, staffv1alpha1.ResendRequestedAtAnnotation, "2026-11-23T10:00:00Z")
		op.waitInvitation("eli", "resent", func(i *staffv1alpha1.Invitation) bool { return sent(i) && i.Status.Attempt == 2 })
		op.waitKstatus("eli", &staffv1alpha1.StaffMember{}, kstatus.CurrentStatus)
		waitMails(t, op.email("eli"), 2)
	})

	t.Run("deactivated: Current", func(t *testing.T) {
		m := op.member("ivy")
		op.update(m, func() { m.Spec.AccountState = staffv1alpha1.AccountStateDeactivated })
		op.waitMember("ivy", "deactivated", func(m *staffv1alpha1.StaffMember) bool { return m.Status.Phase == staffv1alpha1.StaffMemberDeactivated })
		op.waitKstatus("ivy", &staffv1alpha1.StaffMember{}, kstatus.CurrentStatus)
	})
}

// SignInDisabled is what offboarding waits on: it turns True only once the directory refuses
// the person's password and the account is in none of the operator's groups. The commands are
// README's recipes, run with kubectl as a pipeline runs them.
func TestSignInDisabledOnlyWhenTheBindFails(t *testing.T) {
	op := startOperator(t)
	k := newKubectl(t)
	op.create(newRole("nurse"))
	op.create(newMember("ola", op.email("ola"), "nurse"))
	m := op.waitMember("ola", "invited", func(m *staffv1alpha1.StaffMember) bool {
		return m.Status.Phase == staffv1alpha1.StaffMemberInvited &&
			hasCondition(m.Status.Conditions, staffv1alpha1.ConditionSignInDisabled, metav1.ConditionFalse, staffv1alpha1.ReasonSignInPossible)
	})
	const password = "a long passphrase of her own"
	if err := op.directory.SetPassword(context.Background(), staff.AccountKey(m), password); err != nil {
		t.Fatal(err)
	}
	if err := op.resync.RunOnce(context.Background()); err != nil { // the resync sees the password
		t.Fatal(err)
	}
	k.must("wait", "sm/ola", "-n", op.ns, "--for=jsonpath={.status.phase}=Active", "--timeout=60s")
	eventually(t, "ola in the nurse group", func() (bool, string) {
		got := op.groupMembersOf(directory.GroupRole, "nurse")
		return join(got) == "ola", join(got)
	})

	k.must("patch", "sm", "ola", "-n", op.ns, "--type", "merge", "-p", `{"spec":{"accountState":"Deactivated"}}`)
	k.must("wait", "sm/ola", "-n", op.ns, "--for=condition=SignInDisabled", "--timeout=60s")
	m = op.member("ola")
	c := meta.FindStatusCondition(m.Status.Conditions, staffv1alpha1.ConditionSignInDisabled)
	if c == nil || c.ObservedGeneration != m.Generation {
		t.Fatalf("SignInDisabled does not carry the deactivating generation %d: %+v", m.Generation, c)
	}
	if err := bind(m.Status.AccountID, password); err == nil {
		t.Fatal("SignInDisabled is True, yet the password still binds")
	}
	if got := op.groupMembersOf(directory.GroupRole, "nurse"); len(got) != 0 {
		t.Fatalf("SignInDisabled is True, yet the account is still in the nurse group: %v", got)
	}
}
