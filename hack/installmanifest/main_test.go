package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/rosterops/staff-operator/internal/testenv"
)

const manifestPath = "dist/install.yaml"

// TestInstallManifestIsCurrent renders config/default again: the committed file must be what
// config/ says today, or a platform team would install something nobody reviewed.
func TestInstallManifestIsCurrent(t *testing.T) {
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	want, err := Render(root)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(root, manifestPath))
	if err != nil {
		t.Fatalf("%v: run make install-manifest", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s is stale (differs from config/default at line %d): run make install-manifest", manifestPath, firstDifferentLine(got, want))
	}
}

func firstDifferentLine(a, b []byte) int {
	al, bl := bytes.Split(a, []byte("\n")), bytes.Split(b, []byte("\n"))
	for i := range min(len(al), len(bl)) {
		if !bytes.Equal(al[i], bl[i]) {
			return i + 1
		}
	}
	return min(len(al), len(bl)) + 1
}

// TestInstallManifestAppliesServerSide installs dist/install.yaml on the local control plane with
// the commands of the README (README: The install manifest): the namespace and the three Secrets,
// a server-side dry run of the manifest, which every object must pass (validation and admission),
// then the apply itself, which Pod Security must not warn about. It then checks what a
// production install relies on.
func TestInstallManifestAppliesServerSide(t *testing.T) {
	env, err := testenv.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	objs := manifestObjects(t, filepath.Join(env.Root, manifestPath))
	k := kubectlFor(t, env)
	ns := only[corev1.Namespace](t, objs, "Namespace")

	// The control plane starts with the CRDs installed (internal/testenv), created by another
	// field manager; a cluster meeting the operator for the first time has none.
	for _, o := range objs {
		if o.GetKind() == "CustomResourceDefinition" {
			k.must(t, "delete", "crd", o.GetName(), "--wait")
		}
	}

	secrets := t.TempDir()
	for _, f := range []string{"ldap-password", "ldap-ca.crt", "smtp-username", "smtp-password", "token-key"} {
		if err := os.WriteFile(filepath.Join(secrets, f), []byte("test "+f), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	file := func(name string) string { return name + "=" + filepath.Join(secrets, name) }
	k.must(t, "create", "namespace", ns.Name)
	k.must(t, "create", "secret", "generic", "staff-operator-ldap", "-n", ns.Name, "--from-file="+file("ldap-password"), "--from-file="+file("ldap-ca.crt"))
	k.must(t, "create", "secret", "generic", "staff-operator-smtp", "-n", ns.Name, "--from-file="+file("smtp-username"), "--from-file="+file("smtp-password"))
	k.must(t, "create", "secret", "generic", "staff-operator-token-key", "-n", ns.Name, "--from-file="+file("token-key"))

	k.must(t, "apply", "--server-side", "--dry-run=server", "-f", manifestPath)
	// The Namespace comes first in the file, so its Pod Security labels are in place when the
	// Deployment is applied, whose pod template they warn about.
	if out := k.must(t, "apply", "--server-side", "-f", manifestPath); strings.Contains(out, "Warning") {
		t.Errorf("the apply warns:\n%s", out)
	}

	// The Deployment's pod is admitted where restricted is enforced; a pod that is not
	// restricted is refused there, so the admission really ran.
	deploy := only[appsv1.Deployment](t, objs, "Deployment")
	pod := &corev1.Pod{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"}, ObjectMeta: deploy.Spec.Template.ObjectMeta, Spec: deploy.Spec.Template.Spec}
	pod.Name, pod.Namespace = "manager", ns.Name
	if out, err := k.applyObjects(t, []string{"create", "--dry-run=server"}, pod); err != nil {
		t.Errorf("the manager's pod is refused in its namespace: %v\n%s", err, out)
	}
	loose := pod.DeepCopy()
	loose.Spec.SecurityContext, loose.Spec.Containers[0].SecurityContext = nil, nil
	if out, err := k.applyObjects(t, []string{"create", "--dry-run=server"}, loose); err == nil || !strings.Contains(out, "restricted") {
		t.Errorf("a pod without a security context is admitted to %s, want refused by Pod Security (restricted): %v\n%s", ns.Name, err, out)
	}

	checkInstall(t, ns, deploy, objs)
}

// checkInstall checks what the issue asks of the install, object by object.
func checkInstall(t *testing.T, ns *corev1.Namespace, deploy *appsv1.Deployment, objs []*unstructured.Unstructured) {
	t.Helper()
	for _, mode := range []string{"enforce", "audit", "warn"} {
		if got := ns.Labels["pod-security.kubernetes.io/"+mode]; got != "restricted" {
			t.Errorf("namespace label pod-security.kubernetes.io/%s = %q, want restricted", mode, got)
		}
	}

	if deploy.Spec.Replicas == nil || *deploy.Spec.Replicas != 2 {
		t.Errorf("replicas = %v, want 2", deploy.Spec.Replicas)
	}
	c := deploy.Spec.Template.Spec.Containers[0]
	if c.Image != "staff-operator:dev" {
		t.Errorf("image %q, want staff-operator:dev (set by the images: entry of config/manager)", c.Image)
	}
	for _, arg := range []string{"--leader-elect", "--metrics-secure", "--metrics-bind-address=:8443"} {
		if !slices.Contains(c.Args, arg) {
			t.Errorf("the manager's args %v lack %s", c.Args, arg)
		}
	}
	if c.LivenessProbe == nil || c.ReadinessProbe == nil {
		t.Error("the manager needs a liveness and a readiness probe")
	}
	if c.Resources.Requests.Memory().IsZero() || c.Resources.Limits.Memory().IsZero() {
		t.Errorf("the manager needs a memory request and limit, has %v", c.Resources)
	}
	if !slices.ContainsFunc(c.Env, func(e corev1.EnvVar) bool {
		limit, err := resource.ParseQuantity(strings.TrimSuffix(e.Value, "B"))
		return e.Name == "GOMEMLIMIT" && err == nil && limit.Cmp(*c.Resources.Limits.Memory()) < 0
	}) {
		t.Error("GOMEMLIMIT must be set below the memory limit, leaving room for what the Go runtime does not count")
	}
	sc := c.SecurityContext
	if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		t.Error("the root filesystem must be read-only")
	}
	for _, v := range deploy.Spec.Template.Spec.Volumes {
		if v.Projected == nil {
			continue
		}
		if v.Projected.DefaultMode == nil || *v.Projected.DefaultMode != 0o400 {
			t.Errorf("volume %s: defaultMode %v, want 0400", v.Name, v.Projected.DefaultMode)
		}
		var secrets []string
		for _, s := range v.Projected.Sources {
			if s.Secret != nil {
				secrets = append(secrets, s.Secret.Name)
			}
		}
		if want := []string{"staff-operator-ldap", "staff-operator-smtp", "staff-operator-token-key"}; !slices.Equal(secrets, want) {
			t.Errorf("volume %s mounts Secrets %v, want %v", v.Name, secrets, want)
		}
	}

	pdb := only[policyv1.PodDisruptionBudget](t, objs, "PodDisruptionBudget")
	if pdb.Spec.MinAvailable == nil || pdb.Spec.MinAvailable.IntValue() != 1 {
		t.Errorf("PodDisruptionBudget minAvailable %v, want 1", pdb.Spec.MinAvailable)
	}

	np := only[networkingv1.NetworkPolicy](t, objs, "NetworkPolicy")
	var ports []string
	for _, rule := range np.Spec.Ingress {
		for _, p := range rule.Ports {
			from := "anywhere"
			if len(rule.From) > 0 {
				from = fmt.Sprint(rule.From[0].NamespaceSelector.MatchLabels)
			}
			ports = append(ports, p.Port.String()+" from "+from)
		}
	}
	if want := []string{"web from anywhere", "https-metrics from map[metrics:enabled]"}; !slices.Equal(ports, want) {
		t.Errorf("the NetworkPolicy admits %v, want %v", ports, want)
	}
}

// manifestObjects reads the documents of a manifest.
func manifestObjects(t *testing.T, path string) []*unstructured.Unstructured {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v: run make install-manifest", err)
	}
	var objs []*unstructured.Unstructured
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	for {
		obj := &unstructured.Unstructured{}
		if err := dec.Decode(&obj.Object); err != nil {
			if errors.Is(err, io.EOF) {
				return objs
			}
			t.Fatalf("%s: %v", path, err)
		}
		if len(obj.Object) > 0 {
			objs = append(objs, obj)
		}
	}
}

// only returns the one object of a kind, typed.
func only[T any](t *testing.T, objs []*unstructured.Unstructured, kind string) *T {
	t.Helper()
	var found []*unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() == kind {
			found = append(found, o)
		}
	}
	if len(found) != 1 {
		t.Fatalf("the manifest holds %d %s objects, want 1", len(found), kind)
	}
	var typed T
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(found[0].Object, &typed); err != nil {
		t.Fatalf("%s: %v", kind, err)
	}
	return &typed
}

// kubectl is the administrator's kubectl, with what these tests add to it.
type kubectl struct{ *testenv.KubectlRunner }

func kubectlFor(t *testing.T, env *testenv.Env) kubectl {
	t.Helper()
	k, err := env.AdminKubectl(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return kubectl{k}
}

func (k kubectl) run(args ...string) (string, error) { return k.Run(args...) }

func (k kubectl) must(t *testing.T, args ...string) string {
	t.Helper()
	return k.Must(t, args...)
}

// applyObjects hands objects to kubectl as a file, with verb and flags before -f.
func (k kubectl) applyObjects(t *testing.T, verb []string, objs ...any) (string, error) {
	t.Helper()
	var b bytes.Buffer
	for _, o := range objs {
		data, err := json.Marshal(o)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(data)
		b.WriteByte('\n')
	}
	file := filepath.Join(t.TempDir(), "objects.json")
	if err := os.WriteFile(file, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return k.run(append(verb, "-f", file)...)
}
