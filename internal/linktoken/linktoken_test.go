package linktoken

import (
	"testing"

	"github.com/rosterops/staff-operator/internal/web"
)

func TestVerifyAcceptsOnlyTheDerivedToken(t *testing.T) {
	issuer, err := New([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	hash := web.TokenHash(issuer.Token("uid-1", 2, "ana@example.test"))
	if !issuer.Verify(hash, "uid-1", 2, "ana@example.test") {
		t.Fatal("the derived token is refused")
	}
	for name, ok := range map[string]bool{
		"another attempt":    issuer.Verify(hash, "uid-1", 3, "ana@example.test"),
		"another address":    issuer.Verify(hash, "uid-1", 2, "eve@example.test"),
		"another Invitation": issuer.Verify(hash, "uid-2", 2, "ana@example.test"),
		"a self-made hash":   issuer.Verify(web.TokenHash("made-up"), "uid-1", 2, "ana@example.test"),
	} {
		if ok {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := New([]byte("short")); err == nil {
		t.Error("a key of 5 bytes was accepted")
	}
}
