package ldap_test

import (
	"context"
	"errors"
	"regexp"
	"slices"
	"testing"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/rosterops/staff-operator/internal/directory"
	"github.com/rosterops/staff-operator/internal/directory/ldap"
	"github.com/rosterops/staff-operator/internal/directory/ldaptest"
)

// A reused name: the previous member's locked account is kept for auditing under another
// name, and the new member starts from a fresh account that no old password opens.
func TestRetireAccount(t *testing.T) {
	s := ldaptest.New(t)
	c := newClient(t, s)
	conn := admin(t, s)
	ctx := context.Background()
	prev := account("clinic-r", "rex")
	prev.OwnerUID = "uid-previous"
	const oldPassword = "the previous member's password"
	ok(t, c.CreateAccount(ctx, prev))
	ok(t, c.SetPassword(ctx, prev.Key, oldPassword))
	_, err := c.LockAccount(ctx, prev.Key)
	ok(t, err)
	oldDN := mustObserve(t, c, prev).ID
	uuid := snapshot(t, conn, oldDN)["entryUUID"][0]

	// Only for the owner it was left by.
	writes := c.Stats().Writes()
	_, err = c.RetireAccount(ctx, prev.Key, "uid-someone-else")
	wantErr(t, err, directory.ErrConflict)
	_, err = c.RetireAccount(ctx, prev.Key, "")
	wantErr(t, err, directory.ErrConflict)
	if c.Stats().Writes() != writes {
		t.Fatal("a refused retirement wrote")
	}

	newDN, err := c.RetireAccount(ctx, prev.Key, prev.OwnerUID)
	ok(t, err)
	if want := "uid=rex.retired." + uuid[:8] + ",ou=people,ou=clinic-r," + s.BaseDN; newDN != want {
		t.Fatalf("retired to %s, want %s", newDN, want)
	}
	if !regexp.MustCompile(`^uid=rex\.retired\.[0-9a-f]{8},`).MatchString(newDN) {
		t.Fatalf("retired DN %s", newDN)
	}
	if exists(t, conn, oldDN) {
		t.Fatalf("%s still exists", oldDN)
	}
	retired := snapshot(t, conn, newDN)
	wantCategories := []string{"staff.rosterops.io/retired=clinic-r/rex/uid-previous", "staff.rosterops.io/locked-by=operator"}
	switch {
	case !sameStrings(retired["businessCategory"], wantCategories):
		t.Errorf("retired businessCategory %q", retired["businessCategory"])
	case !slices.Equal(retired["uid"], []string{"rex.retired." + uuid[:8]}):
		t.Errorf("retired uid %q", retired["uid"])
	case len(retired["userPassword"]) != 1 || !slices.Equal(retired["pwdAccountLockedTime"], []string{"000001010000Z"}):
		t.Errorf("the retired entry lost its password or its lock: %v", retired)
	case len(retired["mail"]) != 0 || retired["entryUUID"][0] != uuid:
		t.Errorf("the retired entry is not the same entry, or kept the address: %v", retired)
	}
	for _, dn := range []string{oldDN, newDN} {
		if err := bindAs(t, s, dn, oldPassword); err == nil {
			t.Errorf("the old password signs in at %s", dn)
		}
	}

	// No longer the key's account: not observed, listed, locked, retired again.
	if o := mustObserve(t, c, prev); o.Exists {
		t.Fatalf("observed %+v after retirement", o)
	}
	inv, err := c.ListManaged(ctx)
	ok(t, err)
	if len(inv.Accounts) != 0 {
		t.Fatalf("listed %+v", inv.Accounts)
	}
	_, err = c.SignInFacts(ctx, prev.Key)
	wantErr(t, err, directory.ErrNotFound)
	_, err = c.RetireAccount(ctx, prev.Key, prev.OwnerUID)
	wantErr(t, err, directory.ErrNotFound)

	// The new member with the same name gets a fresh entry at the same DN, without a password.
	next := prev
	next.OwnerUID, next.Email = "uid-next", "rex.next@clinic-r.example.test"
	ok(t, c.CreateAccount(ctx, next))
	o := mustObserve(t, c, next)
	if o.ID != oldDN || !o.UpToDate || o.PasswordSet || o.PasswordUntrusted || o.Locked {
		t.Fatalf("new account %+v", o)
	}
	if err := bindAs(t, s, oldDN, oldPassword); err == nil {
		t.Fatal("the previous member's password opens the new account")
	}
	if got := snapshot(t, conn, oldDN)["entryUUID"][0]; got == uuid {
		t.Fatal("the new account is the old entry")
	}

	// The address went with the person: the same person, hired again under another name,
	// gets an account with it, and the retired entry is never adopted.
	lenient := newClient(t, s, func(c *ldap.Config) { c.AdoptExisting = true })
	same := account("clinic-r", "rita")
	same.Email, same.OwnerUID = prev.Email, "uid-rita"
	ok(t, lenient.CreateAccount(ctx, same))
	if o := mustObserve(t, lenient, same); o.ID == newDN || o.PasswordSet {
		t.Fatalf("the re-hired person got %+v", o)
	}
}

// An account that can still sign in is nobody's to retire: refused, and nothing written.
func TestRetireRefusesUnlockedAccount(t *testing.T) {
	s := ldaptest.New(t, ldaptest.Options{MaxFailure: 2})
	c := newClient(t, s)
	conn := admin(t, s)
	ctx := context.Background()
	a := account("clinic-r", "ulla")
	a.OwnerUID = "uid-ulla"
	ok(t, c.CreateAccount(ctx, a))
	ok(t, c.SetPassword(ctx, a.Key, "ulla's password"))
	dn := mustObserve(t, c, a).ID

	retire := func(why string) {
		t.Helper()
		before, writes := snapshot(t, conn, dn), c.Stats().Writes()
		_, err := c.RetireAccount(ctx, a.Key, a.OwnerUID)
		var ce *directory.ConflictError
		if !errors.As(err, &ce) || !ce.Managed || ce.ID != dn {
			t.Fatalf("%s: %v, want a conflict", why, err)
		}
		if d := entryDiff(before, snapshot(t, conn, dn)); d != "" || c.Stats().Writes() != writes {
			t.Fatalf("%s: a refused retirement wrote: %s", why, d)
		}
	}
	retire("unlocked")
	ok(t, bindAs(t, s, dn, "ulla's password"))
	// A lockout after failed sign-ins is the person's own, lifted on their request.
	for range 2 {
		if err := bindAs(t, s, dn, "wrong"); err == nil {
			t.Fatal("a wrong password signed in")
		}
	}
	if f, err := c.SignInFacts(ctx, a.Key); err != nil || f.LockReason != directory.LockTooManyFailures {
		t.Fatalf("facts %+v %v", f, err)
	}
	retire("locked out after failures")

	// An entry made before owners were recorded is retired for "".
	legacy := account("clinic-r", "lars")
	ok(t, c.CreateAccount(ctx, legacy))
	_, err := c.LockAccount(ctx, legacy.Key)
	ok(t, err)
	newDN, err := c.RetireAccount(ctx, legacy.Key, "")
	ok(t, err)
	if bc := snapshot(t, conn, newDN)["businessCategory"]; !slices.Contains(bc, "staff.rosterops.io/retired=clinic-r/lars/unrecorded") {
		t.Fatalf("businessCategory %q", bc)
	}
}

// A retirement cut short after its rename (the manager stopped) is finished by the next call.
func TestRetireFinishesHalfDoneRetirement(t *testing.T) {
	s := ldaptest.New(t)
	c := newClient(t, s)
	conn := admin(t, s)
	ctx := context.Background()
	a := account("clinic-r", "hal")
	a.OwnerUID = "uid-hal"
	ok(t, c.CreateAccount(ctx, a))
	_, err := c.LockAccount(ctx, a.Key)
	ok(t, err)
	oldDN := mustObserve(t, c, a).ID
	rdn := "uid=hal.retired." + snapshot(t, conn, oldDN)["entryUUID"][0][:8]
	ok(t, conn.ModifyDN(goldap.NewModifyDNRequest(oldDN, rdn, true, "")))
	halfway := rdn + ",ou=people,ou=clinic-r," + s.BaseDN

	// Half done, it is still the key's account, where it now is.
	if o := mustObserve(t, c, a); !o.Exists || o.ID != halfway {
		t.Fatalf("half-retired: %+v", o)
	}
	before := c.Stats()
	newDN, err := c.RetireAccount(ctx, a.Key, a.OwnerUID)
	ok(t, err)
	if after := c.Stats(); newDN != halfway || after.Renames != before.Renames || after.Modifies-before.Modifies != 1 {
		t.Fatalf("finished at %s with %d renames, %d modifies", newDN, after.Renames-before.Renames, after.Modifies-before.Modifies)
	}
	if bc := snapshot(t, conn, newDN)["businessCategory"]; !sameStrings(bc, []string{"staff.rosterops.io/retired=clinic-r/hal/uid-hal", "staff.rosterops.io/locked-by=operator"}) {
		t.Fatalf("businessCategory %q", bc)
	}
	next := a
	next.OwnerUID, next.Email = "uid-hal-2", "hal2@clinic-r.example.test"
	ok(t, c.CreateAccount(ctx, next))
	if o := mustObserve(t, c, next); o.ID != oldDN || o.Actual.OwnerUID != next.OwnerUID {
		t.Fatalf("new account %+v", o)
	}
}

// Names with DN and filter specials retire to the escaped retired name, and no other account
// is touched.
func TestRetireHostileNames(t *testing.T) {
	s := ldaptest.New(t)
	c := newClient(t, s)
	ctx := context.Background()
	decoy := account("clinic-h", "decoy")
	ok(t, c.CreateAccount(ctx, decoy))
	_, err := c.LockAccount(ctx, decoy.Key)
	ok(t, err)
	for _, name := range []string{"*", "Smith, Jr.+x", `a=b;c<d>"e"#f`, " padded ", "Zoë 李"} {
		a := account("clinic-h", name)
		a.Email, a.OwnerUID = "", "uid-"+name
		ok(t, c.CreateAccount(ctx, a))
		_, err := c.LockAccount(ctx, a.Key)
		ok(t, err)
		newDN, err := c.RetireAccount(ctx, a.Key, a.OwnerUID)
		ok(t, err)
		d, err := goldap.ParseDN(newDN)
		ok(t, err)
		if v := d.RDNs[0].Attributes[0].Value; !regexp.MustCompile(`^` + regexp.QuoteMeta(name) + `\.retired\.[0-9a-f]{8}$`).MatchString(v) {
			t.Fatalf("%q retired as %q", name, v)
		}
		if o := mustObserve(t, c, a); o.Exists {
			t.Fatalf("%q still observed at %s", name, o.ID)
		}
		ok(t, c.CreateAccount(ctx, a))
	}
	if o := mustObserve(t, c, decoy); !o.Exists || !o.LockedByOperator {
		t.Fatalf("decoy %+v", o)
	}
}
