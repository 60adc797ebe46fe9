package controllers

import (
	"context"
	"slices"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	staffv1alpha1 "github.com/rosterops/staff-operator/api/v1alpha1"
	"github.com/rosterops/staff-operator/internal/directory"
	"github.com/rosterops/staff-operator/internal/directory/ldaptest"
	"github.com/rosterops/staff-operator/internal/staff"
	"github.com/rosterops/staff-operator/internal/web"
)

func isReady(m *staffv1alpha1.StaffMember) bool {
	return m.Status.ObservedGeneration == m.Generation && hasCondition(m.Status.Conditions, staffv1alpha1.ConditionReady, metav1.ConditionTrue, "")
}

func TestMemberGetsAccountGroupsAndOneInvitation(t *testing.T) {
	op := startOperator(t)
	op.create(newRole("front-desk"))
	op.create(newMember("sam", op.email("sam"), "front-desk"))

	m := op.waitMember("sam", "invited and ready", func(m *staffv1alpha1.StaffMember) bool {
		return isReady(m) && m.Status.Phase == staffv1alpha1.StaffMemberInvited
	})
	if m.Status.AccountID == "" || m.Status.Invitation != "sam" {
		t.Errorf("status = %+v, want an account ID and invitation sam", m.Status)
	}
	eventually(t, "sam in the front-desk group", func() (bool, string) {
		got := op.groupMembersOf(directory.GroupRole, "front-desk")
		return slices.Equal(got, []string{"sam"}), "members " + join(got)
	})
	msgs := waitMails(t, op.email("sam"), 1)
	inv := op.waitInvitation("sam", "sent", func(i *staffv1alpha1.Invitation) bool { return i.Status.Phase == staffv1alpha1.InvitationSent })
	if got := web.TokenHash(tokenIn(t, msgs[0])); got != inv.Status.TokenHash {
		t.Errorf("the mailed token hashes to %s, the invitation stores %s", got, inv.Status.TokenHash)
	}
	if want := "<invitation." + string(inv.UID) + ".1@example.test>"; msgs[0].Header.Get("Message-Id") != want {
		t.Errorf("Message-ID = %q, want %q", msgs[0].Header.Get("Message-Id"), want)
	}
	if want := op.clock.Now().Add(time1h); !inv.Status.ExpiresAt.Time.Equal(want) {
		t.Errorf("expiresAt = %v, want sentAt + 1h = %v", inv.Status.ExpiresAt, want)
	}
}

func TestConvergedMemberMakesNoWrites(t *testing.T) {
	op := startOperator(t)
	op.create(newRole("billing"))
	op.create(newMember("pat", op.email("pat"), "billing"))
	op.waitMember("pat", "ready", isReady)
	op.waitInvitation("pat", "sent", func(i *staffv1alpha1.Invitation) bool { return i.Status.Phase == staffv1alpha1.InvitationSent })
	eventually(t, "pat in the billing group", func() (bool, string) {
		return slices.Equal(op.groupMembersOf(directory.GroupRole, "billing"), []string{"pat"}), ""
	})

	ldapWrites, apiWrites := op.directory.Stats().Writes(), op.apiWrites.Load()
	members, invitations, roles := reconciles("staffmember"), reconciles("invitation"), reconciles("role")
	// Ask for a reconcile of everything: an annotation starts a pass of each object, and a
	// resync pass compares the whole directory with the cache.
	op.annotate(&staffv1alpha1.StaffMember{ObjectMeta: metav1.ObjectMeta{Name: "pat"}}, "example.test/poke", "1")
	op.annotate(&staffv1alpha1.Invitation{ObjectMeta: metav1.ObjectMeta{Name: "pat"}}, "example.test/poke", "1")
	op.annotate(&staffv1alpha1.Role{ObjectMeta: metav1.ObjectMeta{Name: "billing"}}, "example.test/poke", "1")
	if err := op.resync.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the member, its invitation and its role reconciled again", func() (bool, string) {
		return reconciles("staffmember") > members && reconciles("invitation") > invitations && reconciles("role") > roles, ""
	})
	if got := op.directory.Stats().Writes() - ldapWrites; got != 0 {
		t.Errorf("a converged member cost %d directory writes, want 0", got)
	}
	if got := op.apiWrites.Load() - apiWrites; got != 0 {
		t.Errorf("a converged member cost %d API writes, want 0", got)
	}
}

func TestMissingRoleIsAWaitingState(t *testing.T) {
	op := startOperator(t)
	op.create(newMember("lee", op.email("lee"), "late-role"))
	m := op.waitMember("lee", "waiting for its role", func(m *staffv1alpha1.StaffMember) bool {
		return hasCondition(m.Status.Conditions, staffv1alpha1.ConditionReferencesResolved, metav1.ConditionFalse, staffv1alpha1.ReasonRoleNotFound)
	})
	if m.Status.Phase != staffv1alpha1.StaffMemberInvited {
		t.Errorf("phase = %s, want Invited: the account exists with the access that does", m.Status.Phase)
	}
	op.create(newRole("late-role"))
	op.waitMember("lee", "resolved", func(m *staffv1alpha1.StaffMember) bool {
		return isReady(m) && hasCondition(m.Status.Conditions, staffv1alpha1.ConditionReferencesResolved, metav1.ConditionTrue, "")
	})
	eventually(t, "lee in the late-role group", func() (bool, string) {
		return slices.Equal(op.groupMembersOf(directory.GroupRole, "late-role"), []string{"lee"}), ""
	})

	// Deleting the role removes the group and the member reports it missing again.
	if err := k8s.Delete(context.Background(), &staffv1alpha1.Role{ObjectMeta: metav1.ObjectMeta{Name: "late-role", Namespace: op.ns}}); err != nil {
		t.Fatal(err)
	}
	op.waitMember("lee", "waiting again", func(m *staffv1alpha1.StaffMember) bool {
		return hasCondition(m.Status.Conditions, staffv1alpha1.ConditionReferencesResolved, metav1.ConditionFalse, staffv1alpha1.ReasonRoleNotFound)
	})
	eventually(t, "the late-role group gone", func() (bool, string) {
		return op.groupMembersOf(directory.GroupRole, "late-role") == nil, ""
	})
}

func TestDeactivateLocksAndRevokes(t *testing.T) {
	op := startOperator(t)
	op.create(newMember("ana", op.email("ana")))
	m := op.waitMember("ana", "invited", func(m *staffv1alpha1.StaffMember) bool { return m.Status.Phase == staffv1alpha1.StaffMemberInvited })
	op.waitInvitation("ana", "sent", func(i *staffv1alpha1.Invitation) bool { return i.Status.Phase == staffv1alpha1.InvitationSent })

	// The person sets a password (the invitation page's part, here directly).
	const password = "correct horse battery staple"
	if err := op.directory.SetPassword(context.Background(), staff.AccountKey(m), password); err != nil {
		t.Fatal(err)
	}
	if err := bind(m.Status.AccountID, password); err != nil {
		t.Fatalf("bind with the new password: %v", err)
	}

	op.update(m, func() { m.Spec.AccountState = staffv1alpha1.AccountStateDeactivated })
	m = op.waitMember("ana", "deactivated", func(m *staffv1alpha1.StaffMember) bool {
		return isReady(m) && m.Status.Phase == staffv1alpha1.StaffMemberDeactivated &&
			hasCondition(m.Status.Conditions, staffv1alpha1.ConditionReady, metav1.ConditionTrue, staffv1alpha1.ReasonDeactivated)
	})
	if err := bind(m.Status.AccountID, password); err == nil {
		t.Fatal("a deactivated member could still sign in")
	}
	inv := op.waitInvitation("ana", "revoked", func(i *staffv1alpha1.Invitation) bool { return i.Status.Phase == staffv1alpha1.InvitationRevoked })
	if inv.Status.TokenHash != "" {
		t.Error("a revoked invitation still has a token hash, so its link could still be found")
	}

	op.update(m, func() { m.Spec.AccountState = staffv1alpha1.AccountStateActive })
	op.waitMember("ana", "active again", func(m *staffv1alpha1.StaffMember) bool {
		return isReady(m) && m.Status.Phase == staffv1alpha1.StaffMemberActive
	})
	if err := bind(m.Status.AccountID, password); err != nil {
		t.Fatalf("bind after reactivation: %v", err)
	}
}

func TestDeletionPolicies(t *testing.T) {
	op := startOperator(t)
	policies := map[string]staffv1alpha1.DeletionPolicy{
		"keep": staffv1alpha1.DeletionPolicyDeactivate, "remove": staffv1alpha1.DeletionPolicyDelete, "leave": staffv1alpha1.DeletionPolicyOrphan,
	}
	for name, policy := range policies {
		m := newMember(name, op.email(name))
		m.Spec.DeletionPolicy = policy
		op.create(m)
	}
	for name := range policies {
		op.waitMember(name, "ready", isReady)
	}
	for name := range policies {
		if err := k8s.Delete(context.Background(), &staffv1alpha1.StaffMember{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: op.ns}}); err != nil {
			t.Fatal(err)
		}
	}
	for name := range policies {
		eventually(t, name+" gone", func() (bool, string) {
			err := k8s.Get(context.Background(), client.ObjectKey{Namespace: op.ns, Name: name}, &staffv1alpha1.StaffMember{})
			return client.IgnoreNotFound(err) == nil && err != nil, "still there"
		})
	}
	accounts := map[string]directory.AccountState{}
	for _, a := range op.inventory().Accounts {
		if a.Key.Organization == op.ns {
			accounts[a.Key.Name] = a
		}
	}
	if a, ok := accounts["keep"]; !ok || !a.Locked {
		t.Errorf("Deactivate: want the entry kept and locked, got %+v (exists=%v)", a.SignInFacts, ok)
	}
	if _, ok := accounts["remove"]; ok {
		t.Error("Delete: the entry is still there")
	}
	if a, ok := accounts["leave"]; !ok || a.Locked {
		t.Errorf("Orphan: want the entry kept as it was (unlocked), got %+v (exists=%v)", a.SignInFacts, ok)
	}
}

func TestDriftIsPutBack(t *testing.T) {
	op := startOperator(t)
	op.create(newRole("clinical"))
	gone := newMember("gone", op.email("gone"), "clinical")
	gone.Spec.AccountState = staffv1alpha1.AccountStateDeactivated
	op.create(gone)
	op.create(newMember("kept", op.email("kept"), "clinical"))
	op.waitMember("gone", "deactivated", func(m *staffv1alpha1.StaffMember) bool {
		return isReady(m) && m.Status.Phase == staffv1alpha1.StaffMemberDeactivated
	})
	op.waitMember("kept", "ready", isReady)
	eventually(t, "only the active member in the clinical group", func() (bool, string) {
		members := op.groupMembersOf(directory.GroupRole, "clinical")
		return slices.Equal(members, []string{"kept"}), "members " + join(members)
	})

	// By hand, in the directory: unlock the deactivated account, put it in the group and drop
	// the active member.
	ctx := context.Background()
	key := directory.AccountKey{Organization: op.ns, Name: "gone"}
	if _, err := op.directory.UnlockAccount(ctx, key); err != nil {
		t.Fatal(err)
	}
	group := directory.GroupKey{Organization: op.ns, Kind: directory.GroupRole, Name: "clinical"}
	if _, err := op.directory.SetGroupMembers(ctx, group, []directory.AccountKey{key}); err != nil {
		t.Fatal(err)
	}

	if err := op.resync.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the account locked again and the group put back", func() (bool, string) {
		facts, err := op.directory.SignInFacts(ctx, key)
		if err != nil {
			return false, err.Error()
		}
		members := op.groupMembersOf(directory.GroupRole, "clinical")
		return facts.Locked && facts.LockedByOperator && slices.Equal(members, []string{"kept"}), "members " + join(members)
	})
	for _, obj := range []client.Object{op.member("gone"), op.get("clinical", &staffv1alpha1.Role{})} {
		waitEvent(t, op.ns, obj.GetName(), "DriftCorrected")
	}
}

func TestDirectoryOutageBacksOffAndRecovers(t *testing.T) {
	own := ldaptest.New(t, ldaptest.Options{})
	op := startOperator(t, func(o *operatorOptions) { o.ldap = own })
	if err := own.Stop(); err != nil {
		t.Fatal(err)
	}
	op.create(newMember("dee", op.email("dee")))
	op.waitMember("dee", "DirectoryUnavailable", func(m *staffv1alpha1.StaffMember) bool {
		return hasCondition(m.Status.Conditions, staffv1alpha1.ConditionReady, metav1.ConditionFalse, staffv1alpha1.ReasonDirectoryUnavailable)
	})
	// The backoff doubles from 5ms: over a few seconds of outage a hot loop would make
	// thousands of attempts, a backoff a dozen. This measures a rate, so it watches a window.
	first := reconciles("staffmember")
	time.Sleep(3 * time.Second)
	if n := reconciles("staffmember") - first; n > 15 {
		t.Errorf("%v reconciles in 3s of outage: a hot loop, not a backoff", n)
	}
	if err := own.Start(); err != nil {
		t.Fatal(err)
	}
	op.waitMember("dee", "ready after the directory returned", isReady)
}
