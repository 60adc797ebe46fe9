package ldaptest_test

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"testing"

	"github.com/go-ldap/ldap/v3"

	"github.com/rosterops/staff-operator/internal/directory/ldaptest"
)

func TestStartStopRestart(t *testing.T) {
	s := ldaptest.New(t, ldaptest.Options{TLS: true})
	conn, err := s.Dial()
	if err != nil {
		t.Fatal(err)
	}
	res, err := conn.Search(ldap.NewSearchRequest(s.PolicyDN, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false, "(objectClass=pwdPolicy)", []string{"pwdMaxIdle"}, nil))
	conn.Close()
	if err != nil || len(res.Entries) != 1 || res.Entries[0].GetAttributeValue("pwdMaxIdle") != "7776000" {
		t.Fatalf("default policy: %v %v", res, err)
	}
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Dial(); err == nil {
		t.Fatal("dial after Stop worked")
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	pem, err := os.ReadFile(s.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	tc := &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}
	c, err := ldap.DialURL(s.LDAPSURL, ldap.DialWithTLSConfig(tc))
	if err != nil {
		t.Fatalf("ldaps: %v", err)
	}
	defer c.Close()
	if err := c.Bind(s.AdminDN, s.AdminPassword); err != nil {
		t.Fatalf("bind over ldaps after restart: %v", err)
	}
}
