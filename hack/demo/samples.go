package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/rosterops/staff-operator/internal/directory/ldaptest"
)

// checkTools checks, besides slapd, the tools the guide's commands use.
func checkTools(kubectlPath string) error {
	if _, err := exec.LookPath("ldapwhoami"); err != nil {
		return fmt.Errorf("ldapwhoami not found: %s", ldaptest.InstallHint)
	}
	if _, err := os.Stat(kubectlPath); err != nil {
		return fmt.Errorf("%s not found: build it with `make control-plane` (hack/build-control-plane.sh)", kubectl)
	}
	return nil
}

// applySamples applies config/samples with the real kubectl, as a person would.
func (s *demo) applySamples(ctx context.Context) error {
	out, err := s.kubectl(ctx, kubectl, "apply", "-f", "config/samples")
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		s.Say("  %s", line)
	}
	return err
}

// kubectl is the kubectl that hack/build-control-plane.sh builds, relative to the root: the
// steps printed for a person name it this way too.
const kubectl = "bin/kubectl"

// kubectl runs argv (argv[0] is kubectl) in the root against the demo's API server and
// returns its combined output.
func (s *demo) kubectl(ctx context.Context, argv ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.O.InRoot(argv[0]), argv[1:]...)
	cmd.Dir = s.O.Root
	cmd.Env = append(os.Environ(), "KUBECONFIG="+s.Kubeconfig)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s: %w: %s", shellLine(argv), err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}
