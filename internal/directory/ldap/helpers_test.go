package ldap_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/rosterops/staff-operator/internal/directory"
	"github.com/rosterops/staff-operator/internal/directory/ldap"
	"github.com/rosterops/staff-operator/internal/directory/ldaptest"
)

// newClient returns a backend bound as the server's service account, its password read from a
// file, as the manager runs it in production: under the production ACL, not above it.
func newClient(t testing.TB, s *ldaptest.Server, mutate ...func(*ldap.Config)) *ldap.Client {
	t.Helper()
	cfg := ldap.Config{
		URL:              s.URL,
		BindDN:           s.ServiceDN,
		BindPasswordFile: s.ServicePasswordFile,
		BaseDN:           s.BaseDN,
		PolicyDN:         s.PolicyDN,
		DialTimeout:      2 * time.Second,
		RequestTimeout:   5 * time.Second,
		PageSize:         50,
	}
	for _, m := range mutate {
		m(&cfg)
	}
	c, err := ldap.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// bindAs binds as dn with password on a connection of its own, as a person signing in would.
func bindAs(t testing.TB, s *ldaptest.Server, dn, password string) error {
	t.Helper()
	conn, err := goldap.DialURL(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	return conn.Bind(dn, password)
}

// admin returns a raw admin connection, to play the human who edits the directory by hand.
func admin(t testing.TB, s *ldaptest.Server) *goldap.Conn {
	t.Helper()
	conn, err := s.Dial()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func account(org, name string) directory.Account {
	return directory.Account{
		Key:         directory.AccountKey{Organization: org, Name: name},
		GivenName:   "Jane",
		FamilyName:  "Doe",
		DisplayName: "Dr. Jane Doe",
		Email:       name + "@" + org + ".example.test",
		Phone:       "+1 555 0100",
		Title:       "Physician",
		EmployeeID:  "E-" + name,
	}
}

func mustObserve(t testing.TB, c *ldap.Client, want directory.Account) directory.Observation {
	t.Helper()
	o, err := c.ObserveAccount(context.Background(), want)
	if err != nil {
		t.Fatalf("observe %s: %v", want.Key, err)
	}
	return o
}

func wantErr(t testing.TB, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("error %v, want %v", err, target)
	}
}

func ok(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// snapshot reads every attribute of the entry at dn, user and operational ("*", "+"), as the
// admin sees it: a write of any kind changes it (modifyTimestamp, entryCSN).
func snapshot(t testing.TB, conn *goldap.Conn, dn string) map[string][]string {
	t.Helper()
	res, err := conn.Search(goldap.NewSearchRequest(dn, goldap.ScopeBaseObject, goldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=*)", []string{"*", "+"}, nil))
	if err != nil {
		t.Fatalf("read %s: %v", dn, err)
	}
	m := map[string][]string{}
	for _, a := range res.Entries[0].Attributes {
		m[a.Name] = a.Values
	}
	return m
}

// entryDiff describes how two snapshots differ; "" when they are the same.
func entryDiff(before, after map[string][]string) string {
	var diffs []string
	for attr, v := range before {
		if !slices.Equal(v, after[attr]) {
			diffs = append(diffs, fmt.Sprintf("%s: %q -> %q", attr, v, after[attr]))
		}
	}
	for attr, v := range after {
		if _, ok := before[attr]; !ok {
			diffs = append(diffs, fmt.Sprintf("%s: added %q", attr, v))
		}
	}
	slices.Sort(diffs)
	return strings.Join(diffs, "; ")
}

// exists tells whether the admin sees an entry at dn.
func exists(t testing.TB, conn *goldap.Conn, dn string) bool {
	t.Helper()
	_, err := conn.Search(goldap.NewSearchRequest(dn, goldap.ScopeBaseObject, goldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=*)", []string{"1.1"}, nil))
	if goldap.IsErrorWithCode(err, goldap.LDAPResultNoSuchObject) {
		return false
	}
	ok(t, err)
	return true
}

// addOU adds organizationalUnits as the admin, parents first.
func addOU(t testing.TB, conn *goldap.Conn, dns ...string) {
	t.Helper()
	for _, dn := range dns {
		d, err := goldap.ParseDN(dn)
		ok(t, err)
		req := goldap.NewAddRequest(dn, nil)
		req.Attribute("objectClass", []string{"organizationalUnit"})
		req.Attribute("ou", []string{d.RDNs[0].Attributes[0].Value})
		ok(t, conn.Add(req))
	}
}

// addPerson adds a person by hand, as an administrator would, and sets a password (with
// Password Modify, so that ppolicy records pwdChangedTime, which an add does not); it
// returns dn.
func addPerson(t testing.TB, conn *goldap.Conn, dn, email, password string) string {
	t.Helper()
	d, err := goldap.ParseDN(dn)
	ok(t, err)
	name := d.RDNs[0].Attributes[0].Value
	req := goldap.NewAddRequest(dn, nil)
	req.Attribute("objectClass", []string{"inetOrgPerson"})
	req.Attribute("uid", []string{name})
	req.Attribute("cn", []string{name})
	req.Attribute("sn", []string{name})
	req.Attribute("mail", []string{email})
	ok(t, conn.Add(req))
	_, err = conn.PasswordModify(goldap.NewPasswordModifyRequest(dn, "", password))
	ok(t, err)
	return dn
}

// sameStrings compares two lists as sets.
func sameStrings(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}
