package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rosterops/staff-operator/internal/testenv"
)

// TestDemoCheck runs make demo's whole flow without a person, as `go run ./hack/demo -check`
// does: samples applied, the link from the caught mail opened and the password set over
// HTTP, ldapwhoami succeeds, the member is deactivated, ldapwhoami fails. It runs on free
// ports with its state in a temporary directory, so it runs beside a demo and other tests.
func TestDemoCheck(t *testing.T) {
	quietControllerRuntime()
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	o := defaultOptions()
	dir := t.TempDir()
	o.check, o.FreePorts, o.Root, o.StateDir, o.ManagerBin = true, true, root, dir, filepath.Join(dir, "manager")
	o.Out = t.Output()
	// Generous: on a cold, busy CI machine building the manager alone can take a minute.
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	if err := run(ctx, o); err != nil {
		t.Fatal(err)
	}
	// Nothing but the log may stay behind: the kubeconfig and the LDAP password name a
	// server that is gone.
	for _, f := range []string{"kubeconfig", "ldap-password"} {
		if _, err := os.Stat(filepath.Join(dir, f)); !os.IsNotExist(err) {
			t.Errorf("%s is still there after the demo stopped (%v)", f, err)
		}
	}
}

// The printed commands must mean, to a shell, exactly the arguments the check runs.
func TestShellLine(t *testing.T) {
	for _, argv := range [][]string{
		deactivateCommand(),
		slices.Concat(whoamiCommand("ldap://127.0.0.1:3899", "uid=a b,ou=people,dc=example,dc=test"), []string{"-W"}),
		{"echo", "it's", "", "$HOME", "a\\b", `"q"`},
	} {
		line := shellLine(argv)
		out, err := exec.Command("sh", "-c", "set -- "+line+`; for a in "$@"; do printf '[%s]' "$a"; done`).Output()
		if err != nil {
			t.Fatalf("sh -c %q: %v", line, err)
		}
		want := "[" + strings.Join(argv, "][") + "]"
		if string(out) != want {
			t.Errorf("%s\nmeans %s to sh, want %s", line, out, want)
		}
	}
}
