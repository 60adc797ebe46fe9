package ldap_test

import (
	"context"
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
	if !f.Locked || f.LockReason != directory.LockAdministrative {
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
