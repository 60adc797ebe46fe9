package ldap

import (
	"testing"

	"github.com/rosterops/staff-operator/internal/directory"
)

// A listing that began before a write must not replace what the write recorded: the listing
// may show someone the write had just added as absent, and a later removal would skip them.
func TestListingOlderThanAWriteForgetsTheGroup(t *testing.T) {
	var g groupMembers
	written := directory.GroupKey{Organization: "o", Kind: directory.GroupRole, Name: "written"}
	quiet := directory.GroupKey{Organization: "o", Kind: directory.GroupRole, Name: "quiet"}
	g.record(quiet, map[string]string{"uid=a": "uid=a"})

	mark := g.mark()
	g.record(written, map[string]string{"uid=a": "uid=a", "uid=b": "uid=b"})
	g.replace(map[directory.GroupKey]map[string]string{
		written: {"uid=a": "uid=a"},
		quiet:   {"uid=a": "uid=a", "uid=x": "uid=x"},
	}, mark)

	if _, ok := g.lookup(written); ok {
		t.Error("a group written during the listing is still known; it must be read again")
	}
	if got, ok := g.lookup(quiet); !ok || len(got) != 2 {
		t.Errorf("a group not written during the listing: %v, %v; want the listing's two members", got, ok)
	}

	// The next listing, begun after the write, is taken as it is.
	mark = g.mark()
	g.replace(map[directory.GroupKey]map[string]string{written: {"uid=b": "uid=b"}}, mark)
	if got, ok := g.lookup(written); !ok || len(got) != 1 {
		t.Errorf("after a later listing: %v, %v", got, ok)
	}
}

func TestNormDNFastPathAgreesWithParsing(t *testing.T) {
	for _, dn := range []string{
		"uid=Ana.Ruiz,ou=people,ou=clinic-a,dc=example,dc=test",
		"UID=ana_ruiz,OU=People,DC=Example,DC=Test",
		"cn=nurse,ou=roles,ou=clinic-a,dc=example,dc=test",
	} {
		if !plainDN(dn) {
			t.Fatalf("%s: not taken as plain", dn)
		}
		if got, want := normDN(dn), parsedNormDN(dn); got != want {
			t.Errorf("normDN(%q) = %q, parsing gives %q", dn, got, want)
		}
	}
	for _, dn := range []string{"uid=a b,dc=x", "uid=a\\,b,dc=x", "uid=#a,dc=x", "uid=a+cn=b,dc=x", "uid= a,dc=x", "uid=é,dc=x", ""} {
		if plainDN(dn) {
			t.Errorf("%q taken as plain", dn)
		}
	}
}
