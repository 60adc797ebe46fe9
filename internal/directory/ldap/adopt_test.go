package ldap_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/rosterops/staff-operator/internal/directory"
	"github.com/rosterops/staff-operator/internal/directory/ldap"
	"github.com/rosterops/staff-operator/internal/directory/ldaptest"
)

func TestAdoption(t *testing.T) {
	s := ldaptest.New(t)
	ctx := context.Background()
	// A person an administrator created by hand, outside the operator's layout.
	legacyDN := "uid=jsmith,ou=legacy," + s.BaseDN
	conn := admin(t, s)
	ou := goldap.NewAddRequest("ou=legacy,"+s.BaseDN, nil)
	ou.Attribute("objectClass", []string{"organizationalUnit"})
	ou.Attribute("ou", []string{"legacy"})
	ok(t, conn.Add(ou))
	add := goldap.NewAddRequest(legacyDN, nil)
	add.Attribute("objectClass", []string{"inetOrgPerson"})
	add.Attribute("uid", []string{"jsmith"})
	add.Attribute("cn", []string{"John Smith"})
	add.Attribute("sn", []string{"Smith"})
	add.Attribute("mail", []string{"John.Smith@clinic.example.test"})
	add.Attribute("businessCategory", []string{"Cardiology"})
	ok(t, conn.Add(add))

	want := directory.Account{Key: directory.AccountKey{Organization: "clinic-f", Name: "john-smith"}, OwnerUID: "uid-john",
		GivenName: "John", FamilyName: "Smith", Email: "john.smith@clinic.example.test", Title: "Cardiologist"}

	// Not allowed by configuration: a conflict, for create and adopt alike.
	strict := newClient(t, s)
	o, err := strict.FindAccountByEmail(ctx, want.Email)
	ok(t, err)
	if !o.Exists || o.Managed || o.ID != legacyDN {
		t.Fatalf("found %+v", o)
	}
	err = strict.CreateAccount(ctx, want)
	wantErr(t, err, directory.ErrNotManaged)
	err = strict.AdoptAccount(ctx, want, directory.AdoptAnywhere)
	wantErr(t, err, directory.ErrNotManaged)
	var ce *directory.ConflictError
	if !errors.As(err, &ce) || ce.ID != legacyDN {
		t.Fatalf("conflict %v does not name the entry", err)
	}
	if o := mustObserve(t, strict, want); o.Exists {
		t.Fatal("refused adoption marked the entry")
	}

	// Allowed: adopted in place, profile converged in one modify, foreign values kept.
	lenient := newClient(t, s, func(c *ldap.Config) { c.AdoptExisting = true })
	before := lenient.Stats()
	ok(t, lenient.AdoptAccount(ctx, want, directory.AdoptAnywhere))
	if d := lenient.Stats().Modifies - before.Modifies; d != 1 {
		t.Fatalf("adoption took %d modifies", d)
	}
	o = mustObserve(t, lenient, want)
	if !o.Exists || !o.Managed || !o.UpToDate || o.ID != legacyDN || o.Owner != want.Key {
		t.Fatalf("after adoption %+v", o)
	}
	res, err := conn.Search(goldap.NewSearchRequest(legacyDN, goldap.ScopeBaseObject, 0, 0, 0, false, "(objectClass=*)", []string{"businessCategory", "uid", "cn"}, nil))
	ok(t, err)
	wantCategories := []string{"Cardiology", "staff.rosterops.io/account=clinic-f/john-smith",
		"staff.rosterops.io/owner-uid=uid-john", "staff.rosterops.io/password=untrusted"}
	if e := res.Entries[0]; !sameStrings(e.GetAttributeValues("businessCategory"), wantCategories) || e.GetAttributeValue("uid") != "jsmith" {
		t.Fatalf("adopted entry: businessCategory %q, uid %q", e.GetAttributeValues("businessCategory"), e.GetAttributeValue("uid"))
	}
	ok(t, lenient.AdoptAccount(ctx, want, directory.AdoptAnywhere)) // idempotent
	ok(t, lenient.CreateAccount(ctx, want))
	if o := mustObserve(t, lenient, want); o.ID != legacyDN {
		t.Fatalf("create after adoption made another entry: %s", o.ID)
	}
	// Group membership finds adopted accounts where they are.
	g := directory.GroupKey{Organization: "clinic-f", Kind: directory.GroupRole, Name: "cardiology"}
	_, err = lenient.EnsureGroup(ctx, directory.Group{Key: g})
	ok(t, err)
	_, err = lenient.SetGroupMembers(ctx, g, []directory.AccountKey{want.Key})
	ok(t, err)

	// An entry managed for another member is never taken over, even with adoption allowed.
	other := want
	other.Key.Name = "johnny"
	for _, c := range []*ldap.Client{strict, lenient} {
		err := c.AdoptAccount(ctx, other, directory.AdoptAnywhere)
		wantErr(t, err, directory.ErrConflict)
		if errors.Is(err, directory.ErrNotManaged) {
			t.Fatalf("managed entry reported as unmanaged: %v", err)
		}
		wantErr(t, c.CreateAccount(ctx, other), directory.ErrConflict)
	}
	o, err = lenient.FindAccountByEmail(ctx, want.Email)
	ok(t, err)
	if o.Owner != want.Key {
		t.Fatalf("owner is now %s", o.Owner)
	}
	if _, err := lenient.FindAccountByEmail(ctx, "nobody@clinic.example.test"); !errors.Is(err, directory.ErrNotFound) {
		t.Fatalf("find unknown email: %v", err)
	}
}

// AdoptWithinOrganization adopts from the practice's own subtree only, and a refusal writes
// nothing; AdoptAnywhere adopts from anywhere under the base DN. Either way the adopted entry's
// password is not trusted until SetPassword.
func TestAdoptionScope(t *testing.T) {
	s := ldaptest.New(t)
	ctx := context.Background()
	conn := admin(t, s)
	addOU(t, conn, "ou=other-practice,"+s.BaseDN, "ou=it,"+s.BaseDN, "ou=clinic-k,"+s.BaseDN, "ou=imported,ou=clinic-k,"+s.BaseDN)
	outside := map[string]string{ // email: DN
		"olga@example.test": addPerson(t, conn, "uid=olga,ou=other-practice,"+s.BaseDN, "olga@example.test", "olga's password"),
		"ivan@example.test": addPerson(t, conn, "uid=ivan,ou=it,"+s.BaseDN, "ivan@example.test", "ivan's password"),
	}
	inside := addPerson(t, conn, "uid=inez,ou=imported,ou=clinic-k,"+s.BaseDN, "inez@example.test", "inez's password")
	c := newClient(t, s, func(c *ldap.Config) { c.AdoptExisting = true })
	member := func(name, email string) directory.Account {
		return directory.Account{Key: directory.AccountKey{Organization: "clinic-k", Name: name}, OwnerUID: "uid-" + name,
			GivenName: name, FamilyName: "K", Email: email}
	}

	for email, dn := range outside {
		want := member(strings.TrimSuffix(email, "@example.test"), email)
		before := snapshot(t, conn, dn)
		writes := c.Stats().Writes()
		for _, scope := range []directory.AdoptionScope{directory.AdoptWithinOrganization, ""} {
			err := c.AdoptAccount(ctx, want, scope)
			wantErr(t, err, directory.ErrConflict)
			var ce *directory.ConflictError
			wantDetail := "outside the practice's subtree ou=clinic-k," + s.BaseDN + "; a cluster administrator can grant adoption from anywhere (see docs/directory.md)"
			if !errors.As(err, &ce) || ce.ID != dn || ce.Detail != wantDetail {
				t.Fatalf("scope %q, %s: %v", scope, dn, err)
			}
		}
		if d := entryDiff(before, snapshot(t, conn, dn)); d != "" || c.Stats().Writes() != writes {
			t.Fatalf("a refused adoption changed %s: %s", dn, d)
		}
		if o := mustObserve(t, c, want); o.Exists {
			t.Fatalf("a refused adoption made %s the account of %s", o.ID, want.Key)
		}
	}

	// Inside the practice's subtree, anywhere in it: adopted by default.
	inez := member("inez", "inez@example.test")
	ok(t, c.AdoptAccount(ctx, inez, directory.AdoptWithinOrganization))
	if o := mustObserve(t, c, inez); !o.Exists || o.ID != inside || !o.UpToDate || o.Actual != inez {
		t.Fatalf("adopted within: %+v", o)
	}

	// Granted: from anywhere. The existing password works as before, but is not trusted.
	olga := member("olga", "olga@example.test")
	ok(t, c.AdoptAccount(ctx, olga, directory.AdoptAnywhere))
	o := mustObserve(t, c, olga)
	if !o.Exists || !o.Managed || o.ID != outside[olga.Email] || o.Actual.OwnerUID != olga.OwnerUID || !o.UpToDate {
		t.Fatalf("adopted from anywhere: %+v", o)
	}
	if o.PasswordSet || !o.PasswordUntrusted || o.PasswordChanged.IsZero() {
		t.Fatalf("adopted entry with a password: set %v, untrusted %v, changed %v", o.PasswordSet, o.PasswordUntrusted, o.PasswordChanged)
	}
	ok(t, bindAs(t, s, o.ID, "olga's password"))
	ok(t, c.SetPassword(ctx, olga.Key, "olga's new password"))
	f, err := c.SignInFacts(ctx, olga.Key)
	ok(t, err)
	if !f.PasswordSet || f.PasswordUntrusted {
		t.Fatalf("after SetPassword: set %v, untrusted %v", f.PasswordSet, f.PasswordUntrusted)
	}
	if bc := snapshot(t, conn, o.ID)["businessCategory"]; slices.Contains(bc, "staff.rosterops.io/password=untrusted") {
		t.Fatalf("the untrusted flag stayed: %q", bc)
	}
	inv, err := c.ListManaged(ctx)
	ok(t, err)
	for _, a := range inv.Accounts {
		if a.Key == olga.Key && (!a.PasswordSet || a.PasswordUntrusted || a.OwnerUID != olga.OwnerUID) {
			t.Fatalf("listed %+v", a)
		}
	}

	// An unknown scope is a mistake of the caller's.
	wantErr(t, c.AdoptAccount(ctx, member("ivan", "ivan@example.test"), "Everywhere"), directory.ErrInvalid)
}
