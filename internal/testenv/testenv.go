// Package testenv starts the local control plane (etcd and kube-apiserver built by
// hack/build-control-plane.sh) with the project's CRDs installed, for envtest-based tests.
package testenv

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	staffv1alpha1 "github.com/rosterops/staff-operator/api/v1alpha1"
)

// Env is a running control plane.
type Env struct {
	*envtest.Environment
	// Config reaches the API server as an administrator.
	Config *rest.Config
	// Scheme knows the built-in kinds and this project's kinds.
	Scheme *runtime.Scheme
	// Root is the repository's root directory.
	Root string
}

// Start starts etcd and kube-apiserver with the CRDs from config/crd/bases installed. The
// binaries come from KUBEBUILDER_ASSETS when set (make test sets it), otherwise from where
// hack/build-control-plane.sh puts them.
func Start() (*Env, error) {
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	assets, err := assetsDir(root)
	if err != nil {
		return nil, err
	}
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return nil, err
	}
	if err := staffv1alpha1.AddToScheme(scheme); err != nil {
		return nil, err
	}
	env := &envtest.Environment{
		BinaryAssetsDirectory: assets,
		CRDDirectoryPaths:     []string{filepath.Join(root, "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
		Scheme:                scheme,
	}
	cfg, err := env.Start()
	if err != nil {
		return nil, fmt.Errorf("start the local control plane from %s: %w", assets, err)
	}
	return &Env{Environment: env, Config: cfg, Scheme: scheme, Root: root}, nil
}

// howToBuild tells a person how to get the control plane binaries.
const howToBuild = "build them with `make control-plane` (hack/build-control-plane.sh, about 6 minutes the first time), or run the tests through `make test`, which does it"

func assetsDir(root string) (string, error) {
	dir := os.Getenv("KUBEBUILDER_ASSETS")
	if dir == "" {
		out, err := exec.Command(filepath.Join(root, "hack", "build-control-plane.sh"), "--print").Output()
		if err != nil {
			return "", fmt.Errorf("find the control plane binaries: %w", err)
		}
		dir = string(out[:len(out)-1])
	}
	for _, bin := range []string{"etcd", "kube-apiserver"} {
		if _, err := os.Stat(filepath.Join(dir, bin)); err != nil {
			return "", fmt.Errorf("the control plane binary %s is missing from %s: %s", bin, dir, howToBuild)
		}
	}
	return dir, nil
}

// RepoRoot finds the repository's root: the nearest directory up from here holding go.mod.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("cannot find the repository root (no go.mod above the working directory)")
		}
		dir = parent
	}
}

// Kubeconfig writes a kubeconfig for an administrator of the control plane into dir and returns
// its path, for running the real kubectl against it.
func (e *Env) Kubeconfig(dir string) (string, error) {
	user, err := e.AddUser(envtest.User{Name: "admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return "", fmt.Errorf("add an admin user: %w", err)
	}
	data, err := user.KubeConfig()
	if err != nil {
		return "", fmt.Errorf("make a kubeconfig: %w", err)
	}
	path := filepath.Join(dir, "kubeconfig")
	return path, os.WriteFile(path, data, 0o600)
}

// Kubectl returns the path of the kubectl built with the control plane.
func (e *Env) Kubectl() (string, error) {
	path := filepath.Join(e.BinaryAssetsDirectory, "kubectl")
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("kubectl is missing from %s: %s", e.BinaryAssetsDirectory, howToBuild)
	}
	return path, nil
}

// KubectlRunner runs the kubectl built with the control plane as the control plane's
// administrator, from the repository root, the way a person or a pipeline would.
type KubectlRunner struct {
	bin, kubeconfig, dir string
}

// AdminKubectl writes an administrator's kubeconfig into dir (a test's temporary folder) and
// returns a KubectlRunner that uses it.
func (e *Env) AdminKubectl(dir string) (*KubectlRunner, error) {
	bin, err := e.Kubectl()
	if err != nil {
		return nil, err
	}
	kubeconfig, err := e.Kubeconfig(dir)
	if err != nil {
		return nil, err
	}
	return &KubectlRunner{bin: bin, kubeconfig: kubeconfig, dir: e.Root}, nil
}

// Run returns kubectl's combined output and its error: an *exec.ExitError when it exits
// non-zero, which kubectl diff does to say it found a change.
func (k *KubectlRunner) Run(args ...string) (string, error) {
	cmd := exec.Command(k.bin, append([]string{"--kubeconfig", k.kubeconfig}, args...)...)
	cmd.Dir = k.dir
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// Must runs kubectl and fails t unless it exits 0.
func (k *KubectlRunner) Must(t testing.TB, args ...string) string {
	t.Helper()
	out, err := k.Run(args...)
	if err != nil {
		t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}
