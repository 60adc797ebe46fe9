package ldap_test

import (
	"context"
	"errors"
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

	want := directory.Account{Key: directory.AccountKey{Organization: "clinic-f", Name: "john-smith"},
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
	err = strict.AdoptAccount(ctx, want)
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
	ok(t, lenient.AdoptAccount(ctx, want))
	if d := lenient.Stats().Modifies - before.Modifies; d != 1 {
		t.Fatalf("adoption took %d modifies", d)
	}
	o = mustObserve(t, lenient, want)
	if !o.Exists || !o.Managed || !o.UpToDate || o.ID != legacyDN || o.Owner != want.Key {
		t.Fatalf("after adoption %+v", o)
	}
	res, err := conn.Search(goldap.NewSearchRequest(legacyDN, goldap.ScopeBaseObject, 0, 0, 0, false, "(objectClass=*)", []string{"businessCategory", "uid", "cn"}, nil))
	ok(t, err)
	if e := res.Entries[0]; len(e.GetAttributeValues("businessCategory")) != 2 || e.GetAttributeValue("uid") != "jsmith" {
		t.Fatalf("adopted entry %+v", e.Attributes)
	}
	ok(t, lenient.AdoptAccount(ctx, want)) // idempotent
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
		err := c.AdoptAccount(ctx, other)
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
