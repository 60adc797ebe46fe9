package stack

import (
	"path/filepath"
	"testing"

	"github.com/rosterops/staff-operator/internal/testenv"
)

// The copy of the configuration keeps everything but the ports, the secret files and the
// overrides.
func TestWriteConfigCopy(t *testing.T) {
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path, err := WriteConfigCopy(filepath.Join(root, "config/local/config.yaml"), dir, FreeAddrs{LDAP: 1, SMTP: 2, Web: 3},
		map[string]any{"resyncPeriod": "30s"})
	if err != nil {
		t.Fatal(err)
	}
	set, err := ReadSettings(path)
	if err != nil {
		t.Fatal(err)
	}
	if set.LDAPPort != 1 || set.Mail.SMTP.Port != 2 || set.Web.Listen != "127.0.0.1:3" || set.Web.PublicURL != "http://127.0.0.1:3" ||
		set.Directory.LDAP.BindPasswordFile != filepath.Join(dir, "ldap-password") || set.Invitations.TokenKeyFile != filepath.Join(dir, "token-key") ||
		set.Directory.LDAP.BindDN != "cn=staff-operator,dc=example,dc=test" {
		t.Errorf("copy reads as %+v", set)
	}
	var rest struct {
		ResyncPeriod string `json:"resyncPeriod"`
	}
	if err := readYAML(path, &rest); err != nil {
		t.Fatal(err)
	}
	if rest.ResyncPeriod != "30s" {
		t.Errorf("resyncPeriod is %q, want the override 30s", rest.ResyncPeriod)
	}
	if _, err := WriteConfigCopy(filepath.Join(root, "config/local/config.yaml"), dir, FreeAddrs{}, map[string]any{"no.such.section": 1}); err == nil {
		t.Error("an override into a missing section was accepted")
	}
}
