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

func groupOf(t *testing.T, c *ldap.Client, key directory.GroupKey) directory.GroupState {
	t.Helper()
	inv, err := c.ListManaged(context.Background())
	ok(t, err)
	for _, g := range inv.Groups {
		if g.Key == key {
			return g
		}
	}
	t.Fatalf("group %s not listed", key)
	return directory.GroupState{}
}

func memberNames(g directory.GroupState) []string {
	var names []string
	for _, m := range g.Members {
		names = append(names, m.Name)
	}
	slices.Sort(names)
	return names
}

func TestGroupMembershipConverges(t *testing.T) {
	s := ldaptest.New(t)
	c := newClient(t, s)
	ctx := context.Background()
	const org = "clinic-b"
	keys := map[string]directory.AccountKey{}
	for _, n := range []string{"ann", "ben", "cat"} {
		a := account(org, n)
		ok(t, c.CreateAccount(ctx, a))
		keys[n] = a.Key
	}
	role := directory.Group{Key: directory.GroupKey{Organization: org, Kind: directory.GroupRole, Name: "nurse"},
		DisplayName: "Registered Nurse", Description: "Registered nurses", Permissions: []string{"calendar.view", "clinical.viewCharts"}}
	loc := directory.Group{Key: directory.GroupKey{Organization: org, Kind: directory.GroupLocation, Name: "downtown"}, DisplayName: "Downtown Clinic"}

	for _, g := range []directory.Group{role, loc} {
		changed, err := c.EnsureGroup(ctx, g)
		ok(t, err)
		if !changed {
			t.Fatalf("ensure %s: not changed on create", g.Key)
		}
		before := c.Stats()
		changed, err = c.EnsureGroup(ctx, g)
		ok(t, err)
		if changed || c.Stats().Writes() != before.Writes() {
			t.Fatalf("ensure %s twice wrote", g.Key)
		}
		if got := groupOf(t, c, g.Key); len(got.Members) != 0 || len(got.ForeignMembers) != 0 {
			t.Fatalf("new group %s has members %+v", g.Key, got)
		}
	}
	got := groupOf(t, c, role.Key)
	slices.Sort(got.Permissions)
	if got.DisplayName != "Registered Nurse" || got.Description != "Registered nurses" || !slices.Equal(got.Permissions, role.Permissions) {
		t.Fatalf("role read back as %+v", got)
	}

	steps := []struct {
		reason  string
		group   directory.GroupKey
		members []string
	}{
		{"roles added", role.Key, []string{"ann", "ben"}},
		{"one role added, one removed", role.Key, []string{"ben", "cat"}},
		{"location access", loc.Key, []string{"ann", "cat"}},
		{"all removed: placeholder, reported empty", role.Key, nil},
		{"added again", role.Key, []string{"cat"}},
	}
	for _, st := range steps {
		var ms []directory.AccountKey
		for _, n := range st.members {
			ms = append(ms, keys[n])
		}
		before := c.Stats()
		changed, err := c.SetGroupMembers(ctx, st.group, ms)
		ok(t, err)
		if d := c.Stats().Modifies - before.Modifies; !changed || d != 1 {
			t.Fatalf("%s: changed=%v modifies=%d, want one modify", st.reason, changed, d)
		}
		before = c.Stats()
		changed, err = c.SetGroupMembers(ctx, st.group, ms)
		ok(t, err)
		if changed || c.Stats().Writes() != before.Writes() {
			t.Fatalf("%s: setting the same members again wrote", st.reason)
		}
		if names := memberNames(groupOf(t, c, st.group)); !slices.Equal(names, st.members) {
			t.Fatalf("%s: members %v, want %v", st.reason, names, st.members)
		}
	}

	// Someone adds a member by hand: listed as foreign, and put back by the next write.
	conn := admin(t, s)
	mod := goldap.NewModifyRequest("cn=nurse,ou=roles,ou="+org+","+s.BaseDN, nil)
	mod.Add("member", []string{s.AdminDN})
	ok(t, conn.Modify(mod))
	if g := groupOf(t, c, role.Key); !slices.Equal(g.ForeignMembers, []string{s.AdminDN}) {
		t.Fatalf("foreign members %v", g.ForeignMembers)
	}
	changed, err := c.SetGroupMembers(ctx, role.Key, []directory.AccountKey{keys["cat"]})
	ok(t, err)
	if g := groupOf(t, c, role.Key); !changed || len(g.ForeignMembers) != 0 || !slices.Equal(memberNames(g), []string{"cat"}) {
		t.Fatalf("drift not corrected: %+v", g)
	}

	// A member without an account is left out and reported.
	missing := directory.AccountKey{Organization: org, Name: "dan"}
	_, err = c.SetGroupMembers(ctx, role.Key, []directory.AccountKey{keys["ann"], missing})
	wantErr(t, err, directory.ErrNotFound)
	if names := memberNames(groupOf(t, c, role.Key)); !slices.Equal(names, []string{"ann"}) {
		t.Fatalf("members %v, want [ann]", names)
	}

	// Attribute changes: one modify.
	role.Permissions = []string{"calendar.view"}
	role.Description = ""
	before := c.Stats()
	changed, err = c.EnsureGroup(ctx, role)
	ok(t, err)
	if d := c.Stats().Modifies - before.Modifies; !changed || d != 1 {
		t.Fatalf("ensure changed group: changed=%v modifies=%d", changed, d)
	}
	if g := groupOf(t, c, role.Key); !slices.Equal(g.Permissions, role.Permissions) || g.Description != "" {
		t.Fatalf("role read back as %+v", g)
	}

	ok(t, c.DeleteGroup(ctx, role.Key))
	ok(t, c.DeleteGroup(ctx, role.Key))
	_, err = c.SetGroupMembers(ctx, role.Key, nil)
	wantErr(t, err, directory.ErrNotFound)
}

func TestGroupAtDNOfUnmanagedEntry(t *testing.T) {
	s := ldaptest.New(t)
	c := newClient(t, s)
	ctx := context.Background()
	g := directory.Group{Key: directory.GroupKey{Organization: "clinic-c", Kind: directory.GroupRole, Name: "admins"}}
	// Another group first, so that the containers exist.
	_, err := c.EnsureGroup(ctx, directory.Group{Key: directory.GroupKey{Organization: "clinic-c", Kind: directory.GroupRole, Name: "x"}})
	ok(t, err)
	conn := admin(t, s)
	add := goldap.NewAddRequest("cn=admins,ou=roles,ou=clinic-c,"+s.BaseDN, nil)
	add.Attribute("objectClass", []string{"groupOfNames"})
	add.Attribute("cn", []string{"admins"})
	add.Attribute("member", []string{s.AdminDN})
	ok(t, conn.Add(add))
	_, err = c.EnsureGroup(ctx, g)
	wantErr(t, err, directory.ErrNotManaged)
	wantErr(t, c.DeleteGroup(ctx, g.Key), directory.ErrConflict)
}

// A group pass does not search every account of the practice once the client knows where its
// members are; an account removed by hand is known again after the next listing (the resync).
func TestGroupMembersFromKnownAccounts(t *testing.T) {
	s := ldaptest.New(t)
	c := newClient(t, s)
	ctx := context.Background()
	var members []directory.AccountKey
	for _, name := range []string{"amy", "ben", "cal"} {
		a := account("clinic-k", name)
		ok(t, c.CreateAccount(ctx, a))
		members = append(members, a.Key)
	}
	g := directory.GroupKey{Organization: "clinic-k", Kind: directory.GroupRole, Name: "nurse"}
	_, err := c.EnsureGroup(ctx, directory.Group{Key: g})
	ok(t, err)
	before := c.Stats().Searches
	_, err = c.SetGroupMembers(ctx, g, members)
	ok(t, err)
	if got := c.Stats().Searches - before; got != 1 {
		t.Errorf("a group pass made %d searches, want 1 (the group itself)", got)
	}

	conn := admin(t, s)
	ok(t, conn.Del(goldap.NewDelRequest(mustObserve(t, c, account("clinic-k", "cal")).ID, nil)))
	_, err = c.ListManaged(ctx)
	ok(t, err)
	_, err = c.SetGroupMembers(ctx, g, members)
	var missing *directory.MissingMembersError
	if !errors.As(err, &missing) || len(missing.Missing) != 1 || missing.Missing[0].Name != "cal" {
		t.Fatalf("after the listing, the account removed by hand: %v", err)
	}
}

// A group pass over a known group reads nothing and sends only the members that changed; what
// someone changes by hand is seen at the next listing (the resync) and put back, and a group
// deleted by hand is written whole when it is created again.
func TestGroupPassReadsOnlyWhatItDoesNotKnow(t *testing.T) {
	s := ldaptest.New(t)
	c := newClient(t, s)
	ctx := context.Background()
	const org = "clinic-m"
	keys := map[string]directory.AccountKey{}
	for _, name := range []string{"amy", "ben", "cal"} {
		a := account(org, name)
		ok(t, c.CreateAccount(ctx, a))
		keys[name] = a.Key
	}
	all := []directory.AccountKey{keys["amy"], keys["ben"], keys["cal"]}
	role := directory.Group{Key: directory.GroupKey{Organization: org, Kind: directory.GroupRole, Name: "nurse"}}
	_, err := c.EnsureGroup(ctx, role)
	ok(t, err)
	_, err = c.SetGroupMembers(ctx, role.Key, all[:2])
	ok(t, err)

	before := c.Stats()
	changed, err := c.SetGroupMembers(ctx, role.Key, all)
	ok(t, err)
	if st := c.Stats(); !changed || st.Searches != before.Searches || st.Modifies-before.Modifies != 1 {
		t.Fatalf("one member more: changed=%v, %d searches and %d modifies, want 0 and 1", changed, st.Searches-before.Searches, st.Modifies-before.Modifies)
	}

	conn := admin(t, s)
	groupDN := "cn=nurse,ou=roles,ou=" + org + "," + s.BaseDN
	benDN := mustObserve(t, c, account(org, "ben")).ID
	mod := goldap.NewModifyRequest(groupDN, nil)
	mod.Delete("member", []string{benDN})
	ok(t, conn.Modify(mod))
	if names := memberNames(groupOf(t, c, role.Key)); !slices.Equal(names, []string{"amy", "cal"}) {
		t.Fatalf("after the removal by hand, listed %v", names)
	}
	changed, err = c.SetGroupMembers(ctx, role.Key, all)
	ok(t, err)
	if names := memberNames(groupOf(t, c, role.Key)); !changed || !slices.Equal(names, []string{"amy", "ben", "cal"}) {
		t.Fatalf("after the listing, the pass wrote %v and left %v", changed, names)
	}

	ok(t, conn.Del(goldap.NewDelRequest(groupDN, nil)))
	_, err = c.EnsureGroup(ctx, role)
	ok(t, err)
	_, err = c.SetGroupMembers(ctx, role.Key, all)
	ok(t, err)
	if names := memberNames(groupOf(t, c, role.Key)); !slices.Equal(names, []string{"amy", "ben", "cal"}) {
		t.Fatalf("the group created again holds %v", names)
	}
}

// GroupsOf reads from the directory which of the operator's groups hold an account.
func TestGroupsOf(t *testing.T) {
	s := ldaptest.New(t)
	c := newClient(t, s)
	ctx := context.Background()
	const org = "clinic-q"
	ann, ben := account(org, "ann"), account(org, "ben")
	ok(t, c.CreateAccount(ctx, ann))
	ok(t, c.CreateAccount(ctx, ben))
	role := directory.GroupKey{Organization: org, Kind: directory.GroupRole, Name: "nurse"}
	loc := directory.GroupKey{Organization: org, Kind: directory.GroupLocation, Name: "north"}
	for _, g := range []directory.GroupKey{role, loc} {
		_, err := c.EnsureGroup(ctx, directory.Group{Key: g})
		ok(t, err)
	}
	_, err := c.SetGroupMembers(ctx, role, []directory.AccountKey{ann.Key, ben.Key})
	ok(t, err)
	_, err = c.SetGroupMembers(ctx, loc, []directory.AccountKey{ann.Key})
	ok(t, err)

	got, err := c.GroupsOf(ctx, ann.Key)
	ok(t, err)
	slices.SortFunc(got, func(a, b directory.GroupKey) int { return strings.Compare(a.Name, b.Name) })
	if !slices.Equal(got, []directory.GroupKey{loc, role}) {
		t.Fatalf("groups of ann: %v", got)
	}
	_, err = c.SetGroupMembers(ctx, role, []directory.AccountKey{ben.Key})
	ok(t, err)
	_, err = c.SetGroupMembers(ctx, loc, nil)
	ok(t, err)
	if got, err := c.GroupsOf(ctx, ann.Key); err != nil || len(got) != 0 {
		t.Fatalf("groups of ann after leaving: %v, %v", got, err)
	}
}
