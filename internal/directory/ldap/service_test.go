package ldap_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/rosterops/staff-operator/internal/directory"
	"github.com/rosterops/staff-operator/internal/directory/ldap"
	"github.com/rosterops/staff-operator/internal/directory/ldaptest"
)

// Every test of this package runs the backend as the service account, under the production
// ACL (newClient). This one covers what only shows with many entries: slapd answers at most
// 500 entries per search (sizelimit), paged or not, unless limits lifts it for the service
// account; ListManaged and SetGroupMembers read whole organizations in one paged search.
func TestServiceAccountListsBeyondSizeLimit(t *testing.T) {
	s := ldaptest.New(t)
	c := newClient(t, s)
	conn := admin(t, s)
	ctx := context.Background()
	const n = 520
	addOU(t, conn, "ou=clinic-big,"+s.BaseDN, "ou=people,ou=clinic-big,"+s.BaseDN)
	for i := range n {
		name := fmt.Sprintf("u-%03d", i)
		req := goldap.NewAddRequest("uid="+name+",ou=people,ou=clinic-big,"+s.BaseDN, nil)
		req.Attribute("objectClass", []string{"inetOrgPerson"})
		req.Attribute("uid", []string{name})
		req.Attribute("cn", []string{name})
		req.Attribute("sn", []string{name})
		req.Attribute("businessCategory", []string{"staff.rosterops.io/account=clinic-big/" + name})
		ok(t, conn.Add(req))
	}
	inv, err := c.ListManaged(ctx)
	ok(t, err)
	if len(inv.Accounts) != n {
		t.Fatalf("listed %d accounts, want %d", len(inv.Accounts), n)
	}
	g := directory.GroupKey{Organization: "clinic-big", Kind: directory.GroupLocation, Name: "everyone"}
	_, err = c.EnsureGroup(ctx, directory.Group{Key: g})
	ok(t, err)
	members := make([]directory.AccountKey, 0, n)
	for _, a := range inv.Accounts {
		members = append(members, a.Key)
	}
	changed, err := c.SetGroupMembers(ctx, g, members)
	ok(t, err)
	if got := groupOf(t, c, g); !changed || len(got.Members) != n {
		t.Fatalf("group has %d members, want %d", len(got.Members), n)
	}

	// A bind DN the server limits gets an error that says so and names the fix, not "invalid".
	mod := goldap.NewModifyRequest("uid=u-000,ou=people,ou=clinic-big,"+s.BaseDN, nil)
	mod.Replace("userPassword", []string{"a person of the practice"})
	ok(t, conn.Modify(mod))
	limited := newClient(t, s, func(cfg *ldap.Config) {
		cfg.BindDN, cfg.BindPasswordFile, cfg.BindPassword = "uid=u-000,ou=people,ou=clinic-big,"+s.BaseDN, "", "a person of the practice"
	})
	_, err = limited.ListManaged(ctx)
	if !errors.Is(err, directory.ErrSizeLimit) || !errors.Is(err, directory.ErrAccessDenied) || errors.Is(err, directory.ErrInvalid) ||
		!strings.Contains(err.Error(), "size.prtotal=unlimited") {
		t.Fatalf("listing past the size limit: %v", err)
	}
}

// Paged searches share the client's pool, where slapd keeps one paging state per connection:
// many at once (resync, group syncs of several practices), fewer or more than the connections
// and among plain requests, must each see every entry.
func TestConcurrentPagedSearches(t *testing.T) {
	s := ldaptest.New(t)
	ctx := context.Background()
	const n = 60
	seed := newClient(t, s)
	for i := range n {
		ok(t, seed.CreateAccount(ctx, account("clinic-paged", fmt.Sprintf("p-%02d", i))))
	}
	for _, connections := range []int{1, 4} {
		t.Run(fmt.Sprint(connections), func(t *testing.T) {
			c := newClient(t, s, func(cfg *ldap.Config) { cfg.PageSize, cfg.Connections = 5, connections })
			var wg sync.WaitGroup
			errs := make(chan error, 16)
			for i := range 8 {
				wg.Go(func() {
					inv, err := c.ListManaged(ctx)
					if err == nil && len(inv.Accounts) != n {
						err = fmt.Errorf("listed %d accounts, want %d", len(inv.Accounts), n)
					}
					errs <- err
				})
				wg.Go(func() {
					_, err := c.ObserveAccount(ctx, account("clinic-paged", fmt.Sprintf("p-%02d", i)))
					errs <- err
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Error(err)
				}
			}
		})
	}
}

// Several reconciler workers share one client: two members created at once with one email get
// one account between them, and the other a conflict, however the requests interleave.
func TestConcurrentCreatesKeepEmailsUnique(t *testing.T) {
	s := ldaptest.New(t)
	c := newClient(t, s)
	ctx := context.Background()
	for round := range 10 {
		errs := make(chan error, 2)
		var wg sync.WaitGroup
		for _, name := range []string{"first", "second"} {
			a := account("clinic-race", fmt.Sprintf("%s-%d", name, round))
			a.Email = fmt.Sprintf("shared-%d@clinic-race.example.test", round)
			wg.Go(func() { errs <- c.CreateAccount(ctx, a) })
		}
		wg.Wait()
		close(errs)
		var created, conflicts int
		for err := range errs {
			switch {
			case err == nil:
				created++
			case errors.Is(err, directory.ErrConflict):
				conflicts++
			default:
				t.Fatal(err)
			}
		}
		if created != 1 || conflicts != 1 {
			t.Fatalf("round %d: %d created, %d conflicts; want one of each", round, created, conflicts)
		}
	}
}
