package ldap_test

import (
	"context"
	"slices"
	"testing"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/rosterops/staff-operator/internal/directory"
	"github.com/rosterops/staff-operator/internal/directory/ldaptest"
)

// The security promise of deactivation: a locked account cannot sign in.
func TestPasswordLockUnlock(t *testing.T) {
	s := ldaptest.New(t)
	c := newClient(t, s)
	ctx := context.Background()
	a := account("clinic-d", "nina")
	ok(t, c.CreateAccount(ctx, a))
	dn := mustObserve(t, c, a).ID
	const password = "correct horse battery staple"

	f, err := c.SignInFacts(ctx, a.Key)
	ok(t, err)
	if f.PasswordSet || f.Locked || !f.LastSignIn.IsZero() {
		t.Fatalf("new account facts %+v", f)
	}
	wantErr(t, c.SetPassword(ctx, a.Key, ""), directory.ErrInvalid)
	before := c.Stats()
	ok(t, c.SetPassword(ctx, a.Key, password))
	if c.Stats().Extended-before.Extended != 1 {
		t.Fatal("password not set with the Password Modify extended operation")
	}

	// Set a password, then bind as the user with it: success.
	ok(t, bindAs(t, s, dn, password))
	f, err = c.SignInFacts(ctx, a.Key)
	ok(t, err)
	if !f.PasswordSet || f.Locked || f.LastSignIn.IsZero() || time.Since(f.LastSignIn) > time.Minute {
		t.Fatalf("facts after sign-in %+v", f)
	}

	// Lock: the same bind fails.
	changed, err := c.LockAccount(ctx, a.Key)
	ok(t, err)
	if !changed {
		t.Fatal("lock: not changed")
	}
	if err := bindAs(t, s, dn, password); !goldap.IsErrorWithCode(err, goldap.LDAPResultInvalidCredentials) {
		t.Fatalf("bind to a locked account: %v, want invalid credentials", err)
	}
	f, err = c.SignInFacts(ctx, a.Key)
	ok(t, err)
	if !f.Locked || f.LockReason != directory.LockAdministrative || !f.LockEnforced {
		t.Fatalf("facts when locked %+v", f)
	}
	before = c.Stats()
	changed, err = c.LockAccount(ctx, a.Key)
	ok(t, err)
	if changed || c.Stats().Writes() != before.Writes() {
		t.Fatal("locking twice wrote")
	}
	// Setting a password does not lift the lock (ppolicy would clear it): refused.
	wantErr(t, c.SetPassword(ctx, a.Key, password+"!"), directory.ErrLocked)
	if err := bindAs(t, s, dn, password); err == nil {
		t.Fatal("bind to a locked account worked after a refused password change")
	}

	// Unlock: it works again.
	changed, err = c.UnlockAccount(ctx, a.Key)
	ok(t, err)
	if !changed {
		t.Fatal("unlock: not changed")
	}
	ok(t, bindAs(t, s, dn, password))
	ok(t, c.SetPassword(ctx, a.Key, password+"!"))
	ok(t, bindAs(t, s, dn, password+"!"))
	f, err = c.SignInFacts(ctx, a.Key)
	ok(t, err)
	if f.Locked {
		t.Fatalf("facts after unlock %+v", f)
	}
	before = c.Stats()
	changed, err = c.UnlockAccount(ctx, a.Key)
	ok(t, err)
	if changed || c.Stats().Writes() != before.Writes() {
		t.Fatal("unlocking twice wrote")
	}
}

func TestLockoutAfterFailures(t *testing.T) {
	s := ldaptest.New(t, ldaptest.Options{MaxFailure: 2})
	c := newClient(t, s)
	ctx := context.Background()
	a := account("clinic-d", "omar")
	ok(t, c.CreateAccount(ctx, a))
	ok(t, c.SetPassword(ctx, a.Key, "right password"))
	dn := mustObserve(t, c, a).ID
	for range 2 {
		if err := bindAs(t, s, dn, "wrong password"); err == nil {
			t.Fatal("bind with a wrong password worked")
		}
	}
	if err := bindAs(t, s, dn, "right password"); err == nil {
		t.Fatal("bind after too many failures worked")
	}
	f, err := c.SignInFacts(ctx, a.Key)
	ok(t, err)
	if !f.Locked || f.LockReason != directory.LockTooManyFailures || f.LockedSince.IsZero() || f.FailedSignIns < 2 {
		t.Fatalf("facts %+v", f)
	}
	changed, err := c.UnlockAccount(ctx, a.Key)
	ok(t, err)
	if !changed {
		t.Fatal("unlock: not changed")
	}
	ok(t, bindAs(t, s, dn, "right password"))
}

// pwdMaxIdle of one second: after a sign-in the account locks for inactivity. The test waits
// for that condition (about two seconds), it does not sleep a fixed time.
func TestIdleLockout(t *testing.T) {
	t.Parallel()
	s := ldaptest.New(t, ldaptest.Options{MaxIdle: time.Second})
	c := newClient(t, s)
	ctx := context.Background()
	a := account("clinic-e", "paul")
	ok(t, c.CreateAccount(ctx, a))
	ok(t, c.SetPassword(ctx, a.Key, "a password"))
	dn := mustObserve(t, c, a).ID
	ok(t, bindAs(t, s, dn, "a password"))
	// Wait (without signing in, which would refresh pwdLastSuccess) until the facts say idle,
	// plus a second for the server's whole-second clock.
	deadline := time.Now().Add(10 * time.Second)
	for {
		f, err := c.SignInFacts(ctx, a.Key)
		ok(t, err)
		if f.Locked && f.LockReason == directory.LockIdle && time.Since(f.LockedSince) > time.Second {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("account never reported idle: %+v", f)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := bindAs(t, s, dn, "a password"); !goldap.IsErrorWithCode(err, goldap.LDAPResultInvalidCredentials) {
		t.Fatalf("bind to an idle account: %v, want invalid credentials", err)
	}
	_, err := c.UnlockAccount(ctx, a.Key)
	wantErr(t, err, directory.ErrInvalid)
}

// The operator's lock carries its record; a lock an administrator set by hand does not, and
// LockAccount leaves it as it is. UnlockAccount lifts either, and the record with it.
func TestLockRecord(t *testing.T) {
	s := ldaptest.New(t)
	c := newClient(t, s)
	conn := admin(t, s)
	ctx := context.Background()
	const record = "staff.rosterops.io/locked-by=operator"
	ours, theirs := account("clinic-l", "opal"), account("clinic-l", "hank")
	ok(t, c.CreateAccount(ctx, ours))
	ok(t, c.CreateAccount(ctx, theirs))
	oursDN, theirsDN := mustObserve(t, c, ours).ID, mustObserve(t, c, theirs).ID
	facts := func(a directory.Account) directory.SignInFacts {
		t.Helper()
		f, err := c.SignInFacts(ctx, a.Key)
		ok(t, err)
		return f
	}
	listed := func(a directory.Account) directory.SignInFacts {
		t.Helper()
		inv, err := c.ListManaged(ctx)
		ok(t, err)
		for _, s := range inv.Accounts {
			if s.Key == a.Key {
				return s.SignInFacts
			}
		}
		t.Fatalf("%s not listed", a.Key)
		return directory.SignInFacts{}
	}

	changed, err := c.LockAccount(ctx, ours.Key)
	ok(t, err)
	if f := facts(ours); !changed || !f.Locked || f.LockReason != directory.LockAdministrative || !f.LockedByOperator || !listed(ours).LockedByOperator {
		t.Fatalf("operator's lock: changed %v, %+v", changed, f)
	}
	if bc := snapshot(t, conn, oursDN)["businessCategory"]; !slices.Contains(bc, record) {
		t.Fatalf("no record of the operator's lock: %q", bc)
	}

	// An administrator locks by hand.
	lock := goldap.NewModifyRequest(theirsDN, nil)
	lock.Replace("pwdAccountLockedTime", []string{"000001010000Z"})
	ok(t, conn.Modify(lock))
	if f := facts(theirs); !f.Locked || f.LockReason != directory.LockAdministrative || f.LockedByOperator || listed(theirs).LockedByOperator {
		t.Fatalf("hand-set lock: %+v", f)
	}
	before, writes := snapshot(t, conn, theirsDN), c.Stats().Writes()
	changed, err = c.LockAccount(ctx, theirs.Key)
	ok(t, err)
	if d := entryDiff(before, snapshot(t, conn, theirsDN)); changed || d != "" || c.Stats().Writes() != writes {
		t.Fatalf("LockAccount took over a hand-set lock (changed %v): %s", changed, d)
	}
	if f := facts(theirs); f.LockedByOperator {
		t.Fatalf("hand-set lock reported as the operator's: %+v", f)
	}

	// Unlock lifts both, and the record.
	for _, a := range []directory.Account{ours, theirs} {
		changed, err := c.UnlockAccount(ctx, a.Key)
		ok(t, err)
		if f := facts(a); !changed || f.Locked || f.LockedByOperator {
			t.Fatalf("%s after unlock: changed %v, %+v", a.Key, changed, f)
		}
	}
	if bc := snapshot(t, conn, oursDN)["businessCategory"]; slices.Contains(bc, record) {
		t.Fatalf("record kept after unlock: %q", bc)
	}

	// A record without a lock (the lock removed by hand) is harmless, and unlock clears it.
	stale := goldap.NewModifyRequest(theirsDN, nil)
	stale.Add("businessCategory", []string{record})
	ok(t, conn.Modify(stale))
	if f := facts(theirs); f.Locked || f.LockedByOperator {
		t.Fatalf("record without lock: %+v", f)
	}
	changed, err = c.UnlockAccount(ctx, theirs.Key)
	ok(t, err)
	if bc := snapshot(t, conn, theirsDN)["businessCategory"]; !changed || slices.Contains(bc, record) {
		t.Fatalf("unlock left the record: changed %v, %q", changed, bc)
	}
	changed, err = c.UnlockAccount(ctx, theirs.Key)
	ok(t, err)
	if changed {
		t.Fatal("unlocking an unlocked account changed it")
	}
}

// OpenLDAP acts on pwdAccountLockedTime only under a policy with pwdLockout TRUE: a lock
// written under any other is reported as not enforced, and the bind indeed still works.
func TestLockUnderAPolicyWithoutLockoutIsNotEnforced(t *testing.T) {
	s := ldaptest.New(t)
	c := newClient(t, s)
	ctx := context.Background()
	a := account("clinic-p", "lou")
	ok(t, c.CreateAccount(ctx, a))
	dn := mustObserve(t, c, a).ID
	const password = "a passphrase under the wrong policy"
	ok(t, c.SetPassword(ctx, a.Key, password))
	mod := goldap.NewModifyRequest(dn, nil)
	mod.Replace("pwdPolicySubentry", []string{s.ServicePolicyDN}) // pwdLockout FALSE
	ok(t, admin(t, s).Modify(mod))

	_, err := c.LockAccount(ctx, a.Key)
	ok(t, err)
	f, err := c.SignInFacts(ctx, a.Key)
	ok(t, err)
	if !f.Locked || f.LockEnforced {
		t.Fatalf("facts %+v, want locked and not enforced", f)
	}
	if err := bindAs(t, s, dn, password); err != nil {
		t.Fatalf("the server refused the bind (%v): the lock is enforced after all, and LockEnforced is wrong", err)
	}
}
