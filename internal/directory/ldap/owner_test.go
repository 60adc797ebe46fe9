package ldap_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/rosterops/staff-operator/internal/directory"
	"github.com/rosterops/staff-operator/internal/directory/ldaptest"
)

// The owner UID is recorded on create and read back everywhere; UpdateAccount records one on
// an entry that has none, and never replaces one.
func TestOwnerUID(t *testing.T) {
	s := ldaptest.New(t)
	c := newClient(t, s)
	conn := admin(t, s)
	ctx := context.Background()

	want := account("clinic-o", "olive")
	want.OwnerUID = "6f1c2a4e-0000-4000-8000-000000000001"
	ok(t, c.CreateAccount(ctx, want))
	o := mustObserve(t, c, want)
	if !o.UpToDate || o.Actual != want {
		t.Fatalf("read back %+v, want %+v (drift %v)", o.Actual, want, o.Drift)
	}
	if bc := snapshot(t, conn, o.ID)["businessCategory"]; !slices.Contains(bc, "staff.rosterops.io/owner-uid="+want.OwnerUID) {
		t.Fatalf("businessCategory %q", bc)
	}
	inv, err := c.ListManaged(ctx)
	ok(t, err)
	if len(inv.Accounts) != 1 || inv.Accounts[0].Account != want {
		t.Fatalf("listed %+v", inv.Accounts)
	}

	// Another owner, or none: drift that UpdateAccount refuses to correct, writing nothing.
	for _, other := range []string{"6f1c2a4e-0000-4000-8000-000000000002", ""} {
		next := want
		next.OwnerUID, next.Title = other, "Another title"
		o := mustObserve(t, c, next)
		if o.UpToDate || !slices.Equal(o.Drift, []string{"title", "owner"}) || o.Actual.OwnerUID != want.OwnerUID {
			t.Fatalf("owner %q: drift %v, actual owner %q", other, o.Drift, o.Actual.OwnerUID)
		}
		before, writes := snapshot(t, conn, o.ID), c.Stats().Writes()
		changed, err := c.UpdateAccount(ctx, next)
		wantErr(t, err, directory.ErrConflict)
		var ce *directory.ConflictError
		if !errors.As(err, &ce) || !ce.Managed || ce.ID != o.ID || !strings.Contains(ce.Detail, "belongs to another owner UID ("+want.OwnerUID+")") {
			t.Fatalf("owner %q: %v", other, err)
		}
		if d := entryDiff(before, snapshot(t, conn, o.ID)); changed || d != "" || c.Stats().Writes() != writes {
			t.Fatalf("owner %q: a refused update wrote (changed %v): %s", other, changed, d)
		}
	}

	// An entry made before owners were recorded gets its owner stamped, in one modify with the
	// profile.
	legacy := account("clinic-o", "lena")
	ok(t, c.CreateAccount(ctx, legacy))
	if o := mustObserve(t, c, legacy); !o.UpToDate || o.Actual.OwnerUID != "" {
		t.Fatalf("without owner: %+v", o)
	}
	legacy.OwnerUID, legacy.Phone = "6f1c2a4e-0000-4000-8000-000000000003", "+1 555 0199"
	if o := mustObserve(t, c, legacy); !slices.Equal(o.Drift, []string{"telephoneNumber", "owner"}) {
		t.Fatalf("drift %v", o.Drift)
	}
	before := c.Stats()
	changed, err := c.UpdateAccount(ctx, legacy)
	ok(t, err)
	if d := c.Stats().Modifies - before.Modifies; !changed || d != 1 {
		t.Fatalf("stamp: changed %v, %d modifies", changed, d)
	}
	if o := mustObserve(t, c, legacy); !o.UpToDate || o.Actual != legacy {
		t.Fatalf("after stamp: %+v", o)
	}
	changed, err = c.UpdateAccount(ctx, legacy)
	ok(t, err)
	if changed {
		t.Fatal("stamping twice changed")
	}
}
