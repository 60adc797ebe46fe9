package ldap_test

import (
	"context"
	"errors"
	"testing"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/rosterops/staff-operator/internal/directory"
	"github.com/rosterops/staff-operator/internal/directory/ldap"
	"github.com/rosterops/staff-operator/internal/directory/ldaptest"
)

// newClient returns a backend bound as the server's admin, its password read from a file.
func newClient(t testing.TB, s *ldaptest.Server, mutate ...func(*ldap.Config)) *ldap.Client {
	t.Helper()
	cfg := ldap.Config{
		URL:              s.URL,
		BindDN:           s.AdminDN,
		BindPasswordFile: s.PasswordFile,
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
