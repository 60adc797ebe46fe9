package ldaptest_test

import (
	"slices"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/rosterops/staff-operator/internal/directory/ldaptest"
)

// person is an entry added by the admin, with a password.
type person struct{ dn, password string }

// addTree adds organizationalUnits and people under the suffix as the admin.
func addTree(t *testing.T, conn *ldap.Conn, base string, ous []string, people map[string]*person) {
	t.Helper()
	for _, ou := range ous {
		req := ldap.NewAddRequest(ou+","+base, nil)
		req.Attribute("objectClass", []string{"organizationalUnit"})
		d, _ := ldap.ParseDN(ou)
		req.Attribute("ou", []string{d.RDNs[0].Attributes[0].Value})
		must(t, conn.Add(req))
	}
	for uid, p := range people {
		req := ldap.NewAddRequest(p.dn, nil)
		req.Attribute("objectClass", []string{"inetOrgPerson"})
		req.Attribute("uid", []string{uid})
		req.Attribute("cn", []string{uid})
		req.Attribute("sn", []string{uid})
		req.Attribute("mail", []string{uid + "@example.test"})
		req.Attribute("userPassword", []string{p.password})
		must(t, conn.Add(req))
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func dialAs(t *testing.T, s *ldaptest.Server, dn, password string) *ldap.Conn {
	t.Helper()
	conn, err := s.DialAs(dn, password)
	if err != nil {
		t.Fatalf("bind as %s: %v", dn, err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// read returns the entry at dn with the given attributes as conn sees it, nil when hidden.
func read(t *testing.T, conn *ldap.Conn, dn string, attrs ...string) *ldap.Entry {
	t.Helper()
	res, err := conn.Search(ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false, "(objectClass=*)", attrs, nil))
	if ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
		return nil
	}
	must(t, err)
	if len(res.Entries) == 0 {
		return nil
	}
	return res.Entries[0]
}

func subtree(t *testing.T, conn *ldap.Conn, base, filter string) []string {
	t.Helper()
	res, err := conn.Search(ldap.NewSearchRequest(base, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false, filter, []string{"1.1"}, nil))
	if err != nil && !ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
		t.Fatal(err)
	}
	var dns []string
	if res != nil {
		for _, e := range res.Entries {
			dns = append(dns, e.DN)
		}
	}
	slices.Sort(dns)
	return dns
}

// The production ACL: nobody reads a password hash, a person reads their own practice only,
// and the service account reads and writes everything; with the base DN at the suffix, as in
// the other tests, and below it, as in docs/directory.md.
func TestAccessControl(t *testing.T) {
	for name, base := range map[string]string{"base DN is the suffix": "", "base DN below the suffix": "ou=staff," + ldaptest.DefaultSuffix} {
		t.Run(name, func(t *testing.T) { testAccessControl(t, ldaptest.New(t, ldaptest.Options{BaseDN: base})) })
	}
}

func testAccessControl(t *testing.T, s *ldaptest.Server) {
	admin := dialAs(t, s, s.AdminDN, s.AdminPassword)
	a, b := "ou=clinic-a,"+s.BaseDN, "ou=clinic-b,"+s.BaseDN
	people := map[string]*person{
		"ann": {dn: "uid=ann,ou=people," + a, password: "ann's password"},
		"amy": {dn: "uid=amy,ou=people," + a, password: "amy's password"},
		"bob": {dn: "uid=bob,ou=people," + b, password: "bob's password"},
		// Directly under the base, in no practice.
		"lone": {dn: "uid=lone," + s.BaseDN, password: "lone's password"},
	}
	addTree(t, admin, s.BaseDN, []string{"ou=clinic-a", "ou=people,ou=clinic-a", "ou=clinic-b", "ou=people,ou=clinic-b"}, people)
	ann := dialAs(t, s, people["ann"].dn, people["ann"].password)
	amy := dialAs(t, s, people["amy"].dn, people["amy"].password)

	// No one reads a hash: not their own, not a colleague's; nor tests one in a filter or a
	// compare. The admin sees them, so the entries do have one.
	for _, p := range people {
		if e := read(t, admin, p.dn, "userPassword"); e == nil || e.GetAttributeValue("userPassword") == "" {
			t.Fatalf("admin reads no password on %s", p.dn)
		}
	}
	for _, target := range []string{people["ann"].dn, people["amy"].dn} {
		e := read(t, ann, target, "*", "+", "userPassword")
		if e == nil {
			t.Fatalf("ann cannot read %s in her own practice", target)
		}
		if v := e.GetAttributeValues("userPassword"); len(v) > 0 {
			t.Errorf("ann reads the password of %s: %q", target, v)
		}
	}
	if got := subtree(t, ann, s.BaseDN, "(userPassword=*)"); len(got) > 0 {
		t.Errorf("a filter on userPassword matched %v", got)
	}
	if same, err := ann.Compare(people["amy"].dn, "userPassword", people["amy"].password); err == nil || same {
		t.Errorf("ann compared amy's password: %v %v", same, err)
	}
	// What a colleague did is hers: ann sees her own last sign-in, not amy's.
	if e := read(t, ann, people["ann"].dn, "pwdLastSuccess"); e == nil || e.GetAttributeValue("pwdLastSuccess") == "" {
		t.Errorf("ann cannot read her own last sign-in")
	}
	if e := read(t, ann, people["amy"].dn, "pwdLastSuccess"); e == nil || e.GetAttributeValue("pwdLastSuccess") != "" {
		t.Errorf("ann reads amy's last sign-in: %v", e)
	}

	// Practice A sees practice A, and of everything else nothing but her own entry.
	want := []string{a, "ou=people," + a, people["amy"].dn, people["ann"].dn}
	slices.Sort(want)
	if got := subtree(t, ann, s.BaseDN, "(objectClass=*)"); !slices.Equal(got, want) {
		t.Errorf("ann sees %v, want %v", got, want)
	}
	for _, dn := range []string{b, people["bob"].dn, people["lone"].dn, s.ServiceDN, s.PolicyDN, ldaptest.DefaultSuffix} {
		if e := read(t, ann, dn, "*"); e != nil {
			t.Errorf("ann reads %s of another practice (or none)", dn)
		}
	}
	if got := subtree(t, ann, b, "(objectClass=*)"); len(got) > 0 {
		t.Errorf("ann lists practice B: %v", got)
	}
	lone := dialAs(t, s, people["lone"].dn, people["lone"].password)
	if got := subtree(t, lone, s.BaseDN, "(objectClass=*)"); !slices.Equal(got, []string{people["lone"].dn}) {
		t.Errorf("someone in no practice sees %v", got)
	}
	// Anonymous reads nothing at all.
	anon, err := ldap.DialURL(s.URL)
	must(t, err)
	defer anon.Close()
	if got := subtree(t, anon, s.BaseDN, "(objectClass=*)"); len(got) > 0 {
		t.Errorf("anonymous sees %v", got)
	}
	// Nobody writes to another's entry.
	mod := ldap.NewModifyRequest(people["amy"].dn, nil)
	mod.Replace("mail", []string{"ann@example.test"})
	if err := ann.Modify(mod); !ldap.IsErrorWithCode(err, ldap.LDAPResultInsufficientAccessRights) {
		t.Errorf("ann modifies amy: %v", err)
	}

	// A person changes their own password and signs in again on the same connection.
	_, err = amy.PasswordModify(ldap.NewPasswordModifyRequest("", "", "amy's new password"))
	must(t, err)
	must(t, ann.Bind(people["amy"].dn, "amy's new password"))

	// The service account reads and writes everything, hashes included.
	svc := dialAs(t, s, s.ServiceDN, s.ServicePassword)
	if got := subtree(t, svc, s.BaseDN, "(uid=*)"); len(got) != len(people) {
		t.Errorf("the service account sees %v", got)
	}
	if e := read(t, svc, people["bob"].dn, "userPassword"); e == nil || e.GetAttributeValue("userPassword") == "" {
		t.Error("the service account cannot read a password")
	}
	mod = ldap.NewModifyRequest(people["bob"].dn, nil)
	mod.Replace("mail", []string{"robert@example.test"})
	must(t, svc.Modify(mod))
	if e := read(t, svc, s.PolicyDN, "pwdMaxIdle"); e == nil || e.GetAttributeValue("pwdMaxIdle") == "" {
		t.Error("the service account cannot read the default policy")
	}
}

// pwdHistory holds former password hashes: nobody but the service account reads it.
func TestPasswordHistoryIsHidden(t *testing.T) {
	s := ldaptest.New(t)
	admin := dialAs(t, s, s.AdminDN, s.AdminPassword)
	history := ldap.NewAddRequest("cn=history,ou=policies,"+s.BaseDN, nil)
	history.Attribute("objectClass", []string{"organizationalRole", "pwdPolicy"})
	history.Attribute("cn", []string{"history"})
	history.Attribute("pwdAttribute", []string{"userPassword"})
	history.Attribute("pwdInHistory", []string{"3"})
	must(t, admin.Add(history))
	p := &person{dn: "uid=hal,ou=people,ou=clinic-a," + s.BaseDN, password: "first"}
	addTree(t, admin, s.BaseDN, []string{"ou=clinic-a", "ou=people,ou=clinic-a"}, map[string]*person{"hal": p})
	mod := ldap.NewModifyRequest(p.dn, nil)
	mod.Add("pwdPolicySubentry", []string{"cn=history,ou=policies," + s.BaseDN})
	must(t, admin.Modify(mod))
	hal := dialAs(t, s, p.dn, p.password)
	for _, pw := range []string{"second", "third"} {
		_, err := hal.PasswordModify(ldap.NewPasswordModifyRequest("", "", pw))
		must(t, err)
	}
	svc := dialAs(t, s, s.ServiceDN, s.ServicePassword)
	if e := read(t, svc, p.dn, "pwdHistory"); e == nil || len(e.GetAttributeValues("pwdHistory")) == 0 {
		t.Fatal("no password history recorded; the test proves nothing")
	}
	if e := read(t, hal, p.dn, "pwdHistory"); e == nil || len(e.GetAttributeValues("pwdHistory")) > 0 {
		t.Errorf("hal reads his password history: %v", e)
	}
}

// The service account has a policy of its own: idle time and failed binds never lock the
// operator out, while they do lock a person under the default policy.
func TestServiceAccountIsNeverLockedOut(t *testing.T) {
	s := ldaptest.New(t, ldaptest.Options{MaxIdle: time.Second, MaxFailure: 2})
	admin := dialAs(t, s, s.AdminDN, s.AdminPassword)
	p := &person{dn: "uid=ida,ou=people,ou=clinic-a," + s.BaseDN, password: "ida's password"}
	addTree(t, admin, s.BaseDN, []string{"ou=clinic-a", "ou=people,ou=clinic-a"}, map[string]*person{"ida": p})
	for range 3 {
		if c, err := s.DialAs(s.ServiceDN, "wrong"); err == nil {
			c.Close()
			t.Fatal("bind with a wrong password worked")
		}
	}
	dialAs(t, s, s.ServiceDN, s.ServicePassword).Close()
	dialAs(t, s, p.dn, p.password).Close()
	// Wait until both last sign-ins are more than pwdMaxIdle (plus a second of clock
	// granularity) old, as the server sees them.
	deadline := time.Now().Add(10 * time.Second)
	for {
		last := read(t, admin, p.dn, "pwdLastSuccess").GetAttributeValue("pwdLastSuccess")
		at, err := time.Parse("20060102150405Z", last)
		must(t, err)
		if time.Since(at) > 2*time.Second {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("time does not pass")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if c, err := s.DialAs(p.dn, p.password); err == nil {
		c.Close()
		t.Fatal("a person idle for longer than pwdMaxIdle signed in: the test proves nothing")
	}
	dialAs(t, s, s.ServiceDN, s.ServicePassword).Close()
}
