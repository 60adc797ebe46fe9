package ldaptest

import (
	"os"
	"strings"
	"testing"
)

// docs/directory.md shows the production ACL as the tests run it, with its example names.
func TestDocumentedAccessControl(t *testing.T) {
	acl, err := accessConfig("dc=example,dc=com", "ou=staff,dc=example,dc=com", "cn=staff-operator,dc=example,dc=com")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile("../../../docs/directory.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(doc), "```\n"+acl+"```\n") {
		t.Fatalf("docs/directory.md does not show the ACL that ldaptest runs; it should read, in a block of its own:\n%s", acl)
	}
}
