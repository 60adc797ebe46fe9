package ldap_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/rosterops/staff-operator/internal/directory"
	"github.com/rosterops/staff-operator/internal/directory/ldaptest"
)

var hostile = []struct {
	name  string
	value string
	// refuse: the value must be refused with ErrInvalid (it cannot be stored as a string).
	refuse bool
}{
	{name: "filter wildcard", value: "*"},
	{name: "filter injection", value: "*)(uid=*"},
	{name: "filter injection 2", value: "x)(|(objectClass=*)(mail=*"},
	{name: "DN specials", value: "Smith, Jr.+x"},
	{name: "DN specials 2", value: `a=b;c<d>"e"#f`},
	{name: "backslash", value: `\`},
	{name: "escaped-looking", value: `\2a\00`},
	{name: "leading hash", value: "#dead"},
	{name: "leading and trailing space", value: " padded "},
	{name: "unicode", value: "Zoë Łukasz 李小龍 🚑"},
	{name: "right-to-left", value: "\u202eevil"},
	{name: "very long", value: strings.Repeat("x", 10000)},
	{name: "NUL", value: "a\x00b", refuse: true},
	{name: "invalid UTF-8", value: "a\xffb", refuse: true},
}

// Every profile field takes hostile values: each round-trips exactly or is refused with
// ErrInvalid and a message that names the problem.
func TestHostileProfileValues(t *testing.T) {
	s := ldaptest.New(t)
	c := newClient(t, s)
	ctx := context.Background()
	fields := map[string]func(*directory.Account) *string{
		"given name":   func(a *directory.Account) *string { return &a.GivenName },
		"family name":  func(a *directory.Account) *string { return &a.FamilyName },
		"display name": func(a *directory.Account) *string { return &a.DisplayName },
		"email":        func(a *directory.Account) *string { return &a.Email },
		"phone":        func(a *directory.Account) *string { return &a.Phone },
		"title":        func(a *directory.Account) *string { return &a.Title },
		"employee ID":  func(a *directory.Account) *string { return &a.EmployeeID },
	}
	base := account("clinic-g", "target")
	ok(t, c.CreateAccount(ctx, base))
	for field, get := range fields {
		for _, h := range hostile {
			want := base
			*get(&want) = h.value
			_, err := c.UpdateAccount(ctx, want)
			switch {
			case err == nil && h.refuse:
				t.Errorf("%s = %s: stored, want refused", field, h.name)
			case err == nil:
				o := mustObserve(t, c, want)
				if o.Actual != want || !o.UpToDate {
					t.Errorf("%s = %s: read back %q", field, h.name, *get(&o.Actual))
				}
			case !errors.Is(err, directory.ErrInvalid):
				t.Errorf("%s = %s: %v, want ErrInvalid", field, h.name, err)
			case h.refuse && !strings.Contains(err.Error(), field):
				t.Errorf("%s = %s: message %q does not name the field", field, h.name, err)
			default:
				t.Logf("%s = %s: refused: %.150s", field, h.name, err)
			}
		}
	}
}

// Hostile names in keys (DN values, filter values) round-trip, and none widens a search.
func TestHostileKeysNeverWidenSearches(t *testing.T) {
	s := ldaptest.New(t)
	c := newClient(t, s)
	ctx := context.Background()
	decoy := account("clinic-h", "decoy")
	ok(t, c.CreateAccount(ctx, decoy))
	created := map[directory.AccountKey]bool{decoy.Key: true}
	for _, h := range hostile {
		a := account("clinic-h", h.value)
		a.Email = "" // the name is what is tested here
		// A lookup before create finds nothing: no wildcard, no injected branch.
		o, err := c.ObserveAccount(ctx, a)
		if h.refuse || len(h.value) > 253 {
			wantErr(t, err, directory.ErrInvalid)
			wantErr(t, c.CreateAccount(ctx, a), directory.ErrInvalid)
			continue
		}
		ok(t, err)
		if o.Exists {
			t.Fatalf("name %s: observed %s before create", h.name, o.ID)
		}
		if _, err := c.FindAccountByEmail(ctx, h.value); !errors.Is(err, directory.ErrNotFound) {
			t.Fatalf("email %s: %v, want not found", h.name, err)
		}
		ok(t, c.CreateAccount(ctx, a))
		created[a.Key] = true
		o = mustObserve(t, c, a)
		if !o.Exists || o.Owner != a.Key || !o.UpToDate {
			t.Fatalf("name %s: %+v", h.name, o)
		}
		// Groups with the same hostile name, and the account as their member.
		g := directory.GroupKey{Organization: "clinic-h", Kind: directory.GroupRole, Name: h.value}
		_, err = c.EnsureGroup(ctx, directory.Group{Key: g, Description: h.value})
		ok(t, err)
		_, err = c.SetGroupMembers(ctx, g, []directory.AccountKey{a.Key})
		ok(t, err)
		if got := groupOf(t, c, g); len(got.Members) != 1 || got.Members[0] != a.Key || got.Description != h.value {
			t.Fatalf("group %s: %+v", h.name, got)
		}
	}
	inv, err := c.ListManaged(ctx)
	ok(t, err)
	if len(inv.Accounts) != len(created) {
		t.Fatalf("listed %d accounts, want %d", len(inv.Accounts), len(created))
	}
	for _, a := range inv.Accounts {
		if !created[a.Key] {
			t.Errorf("listed unknown key %q", a.Key)
		}
	}
	// Deleting the wildcard-named account deletes that one only.
	ok(t, c.DeleteAccount(ctx, directory.AccountKey{Organization: "clinic-h", Name: "*"}))
	if o := mustObserve(t, c, decoy); !o.Exists {
		t.Fatal("the decoy went with the wildcard")
	}
	// A key organization with a slash could alias another key's marker: refused.
	_, err = c.ObserveAccount(ctx, account("a/b", "c"))
	wantErr(t, err, directory.ErrInvalid)
}
