package ldap_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/rosterops/staff-operator/internal/directory"
	"github.com/rosterops/staff-operator/internal/directory/ldaptest"
)

func TestAccountLifecycle(t *testing.T) {
	s := ldaptest.New(t)
	c := newClient(t, s)
	ctx := context.Background()
	want := account("clinic-a", "jdoe")

	if o := mustObserve(t, c, want); o.Exists {
		t.Fatalf("observed %+v before create", o)
	}
	ok(t, c.CreateAccount(ctx, want))
	o := mustObserve(t, c, want)
	if !o.Exists || !o.Managed || !o.UpToDate || o.Owner != want.Key {
		t.Fatalf("after create: %+v", o)
	}
	if o.Actual != want {
		t.Errorf("read back %+v, want %+v", o.Actual, want)
	}
	if o.ID != "uid=jdoe,ou=people,ou=clinic-a,"+s.BaseDN {
		t.Errorf("DN %q", o.ID)
	}

	// Ensuring twice sends no second write.
	before := c.Stats()
	ok(t, c.CreateAccount(ctx, want))
	changed, err := c.UpdateAccount(ctx, want)
	ok(t, err)
	if after := c.Stats(); changed || after.Writes() != before.Writes() {
		t.Fatalf("re-ensuring wrote: changed=%v, writes %d -> %d", changed, before.Writes(), after.Writes())
	}

	// Update: changed, cleared and kept fields, in one modify.
	want.Title, want.Phone, want.DisplayName = "Chief Physician", "", "Jane Doe, MD"
	o = mustObserve(t, c, want)
	if o.UpToDate || !slices.Equal(o.Drift, []string{"cn", "displayName", "telephoneNumber", "title"}) {
		t.Fatalf("drift %v (up to date %v)", o.Drift, o.UpToDate)
	}
	before = c.Stats()
	changed, err = c.UpdateAccount(ctx, want)
	ok(t, err)
	if d := c.Stats().Modifies - before.Modifies; !changed || d != 1 {
		t.Fatalf("update: changed=%v modifies=%d", changed, d)
	}
	if o := mustObserve(t, c, want); !o.UpToDate || want != o.Actual {
		t.Fatalf("after update: %+v", o)
	}

	ok(t, c.DeleteAccount(ctx, want.Key))
	if o := mustObserve(t, c, want); o.Exists {
		t.Fatal("exists after delete")
	}
	ok(t, c.DeleteAccount(ctx, want.Key)) // idempotent
	_, err = c.UpdateAccount(ctx, want)
	wantErr(t, err, directory.ErrNotFound)
	_, err = c.SignInFacts(ctx, want.Key)
	wantErr(t, err, directory.ErrNotFound)
}

func TestCreateConflictsOnEmailOfAnotherMember(t *testing.T) {
	s := ldaptest.New(t)
	c := newClient(t, s)
	ctx := context.Background()
	a := account("clinic-a", "alice")
	ok(t, c.CreateAccount(ctx, a))
	b := account("clinic-a", "bob")
	b.Email = a.Email
	err := c.CreateAccount(ctx, b)
	wantErr(t, err, directory.ErrConflict)
	if errors.Is(err, directory.ErrNotManaged) {
		t.Fatalf("managed entry reported as unmanaged: %v", err)
	}
	// Changing an email to one that is taken is a conflict too.
	b.Email = "bob@clinic-a.example.test"
	ok(t, c.CreateAccount(ctx, b))
	b.Email = a.Email
	_, err = c.UpdateAccount(ctx, b)
	wantErr(t, err, directory.ErrConflict)
}

func TestConcurrentUse(t *testing.T) {
	s := ldaptest.New(t)
	c := newClient(t, s)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a := account(fmt.Sprintf("org-%d", i%3), fmt.Sprintf("user-%d", i))
			if err := c.CreateAccount(ctx, a); err != nil {
				errs <- err
				return
			}
			if o, err := c.ObserveAccount(ctx, a); err != nil || !o.UpToDate {
				errs <- fmt.Errorf("observe %s: %+v %v", a.Key, o, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	inv, err := c.ListManaged(ctx)
	ok(t, err)
	if len(inv.Accounts) != 40 {
		t.Fatalf("listed %d accounts, want 40", len(inv.Accounts))
	}
}
