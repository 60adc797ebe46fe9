package controllers

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/rand"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	staffv1alpha1 "github.com/rosterops/staff-operator/api/v1alpha1"
)

// TestLeastPrivilege runs the manager as a user bound to nothing but the generated manager-role
// (config/rbac/role.yaml, as a platform team applies it, bound to a user of its own) and lets the samples converge.
// Every other test runs the manager as the envtest administrator, so a permission missing from
// the markers would only show in a cluster. A refused request fails the test even when the
// manager gets by without it: events, whose failures the recorder only logs, are checked too.
func TestLeastPrivilege(t *testing.T) {
	ctx := context.Background()
	for _, obj := range objectsIn(t, filepath.Join(env.Root, "config", "rbac", "role.yaml")) {
		if err := k8s.Create(ctx, obj); err != nil {
			t.Fatalf("create %s %s: %v", obj.GetKind(), obj.GetName(), err)
		}
	}
	name := "staff-operator-" + rand.String(6)
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "manager-role"},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: name}},
	}
	if err := k8s.Create(ctx, binding); err != nil {
		t.Fatal(err)
	}
	user, err := env.AddUser(envtest.User{Name: name}, nil)
	if err != nil {
		t.Fatal(err)
	}
	as := user.Config()
	refused := &refusals{}
	as.Wrap(refused.record)
	// Reported when the test ends, however it ends: a wait that times out names the cause.
	t.Cleanup(func() {
		if got := refused.list(); len(got) > 0 {
			t.Errorf("the API server refused the manager, running with manager-role only (add the permission with a +kubebuilder:rbac marker and run make manifests):\n%s", strings.Join(got, "\n"))
		}
	})

	ns := "least-" + rand.String(6)
	op := startOperator(t, func(o *operatorOptions) { o.namespace = ns; o.as = as })
	for _, obj := range samplesIn(t, ns) {
		if err := k8s.Create(ctx, obj); err != nil {
			t.Fatalf("create %s %s: %v", obj.GetKind(), obj.GetName(), err)
		}
	}

	wantPhase := map[string]staffv1alpha1.StaffMemberPhase{
		"ana-ruiz": staffv1alpha1.StaffMemberInvited, "sam-lee": staffv1alpha1.StaffMemberInvited,
		"priya-patel": staffv1alpha1.StaffMemberInvited, "marcus-green": staffv1alpha1.StaffMemberInvited,
		"jordan-kim": staffv1alpha1.StaffMemberDeactivated,
	}
	for member, phase := range wantPhase {
		op.waitMember(member, string(phase), func(m *staffv1alpha1.StaffMember) bool { return isReady(m) && m.Status.Phase == phase })
	}
	for _, role := range []string{"physician", "front-desk", "billing-manager", "compliance-auditor"} {
		op.waitGroupReady(role, &staffv1alpha1.Role{}, func(o client.Object) []metav1.Condition { return o.(*staffv1alpha1.Role).Status.Conditions })
	}
	for _, loc := range []string{"downtown-clinic", "northside-urgent-care"} {
		op.waitGroupReady(loc, &staffv1alpha1.Location{}, func(o client.Object) []metav1.Condition { return o.(*staffv1alpha1.Location).Status.Conditions })
	}
	for member, phase := range wantPhase {
		if phase == staffv1alpha1.StaffMemberInvited {
			op.waitInvitation(member, "sent", sent)
		}
	}
	// A new group is announced with an event: the manager may post events.
	waitEvent(t, ns, "physician", "GroupSynced")
}

// waitGroupReady waits until a Role or Location is Ready.
func (op *operator) waitGroupReady(name string, obj client.Object, conditions func(client.Object) []metav1.Condition) {
	op.t.Helper()
	eventually(op.t, fmt.Sprintf("%T %s Ready", obj, name), func() (bool, string) {
		op.get(name, obj)
		conds := conditions(obj)
		return hasCondition(conds, staffv1alpha1.ConditionReady, metav1.ConditionTrue, ""), fmt.Sprintf("conditions=%v", conds)
	})
}

// samplesIn reads config/samples, without the Namespace, into namespace ns, with each member's
// mail domain made the test's own, so that neither the accounts nor the mails meet those of
// TestSamplesConverge in the suite's shared directory and mail server.
func samplesIn(t *testing.T, ns string) []*unstructured.Unstructured {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(env.Root, "config", "samples", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no samples: %v", err)
	}
	var out []*unstructured.Unstructured
	for _, f := range files {
		for _, obj := range objectsIn(t, f) {
			if obj.GetKind() == "Namespace" {
				continue
			}
			obj.SetNamespace(ns)
			if email, ok, _ := unstructured.NestedString(obj.Object, "spec", "email"); ok {
				local, domain, _ := strings.Cut(email, "@")
				if err := unstructured.SetNestedField(obj.Object, local+"@"+ns+"."+domain, "spec", "email"); err != nil {
					t.Fatal(err)
				}
			}
			out = append(out, obj)
		}
	}
	return out
}

// objectsIn reads the objects of a YAML file of one or more documents.
func objectsIn(t *testing.T, file string) []*unstructured.Unstructured {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var out []*unstructured.Unstructured
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	for {
		obj := &unstructured.Unstructured{}
		if err := dec.Decode(&obj.Object); err != nil {
			if !errors.Is(err, io.EOF) {
				t.Fatalf("%s: %v", file, err)
			}
			return out
		}
		if len(obj.Object) > 0 {
			out = append(out, obj)
		}
	}
}

// refusals records the requests the API server answered 403 Forbidden, each once.
type refusals struct {
	mu   sync.Mutex
	seen map[string]int
}

func (r *refusals) record(rt http.RoundTripper) http.RoundTripper {
	return roundTripperFunc(func(req *http.Request) (*http.Response, error) {
		resp, err := rt.RoundTrip(req)
		if err == nil && resp.StatusCode == http.StatusForbidden {
			r.mu.Lock()
			if r.seen == nil {
				r.seen = map[string]int{}
			}
			r.seen[req.Method+" "+req.URL.Path]++
			r.mu.Unlock()
		}
		return resp, err
	})
}

func (r *refusals) list() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for req, n := range r.seen {
		out = append(out, fmt.Sprintf("%s (%d times)", req, n))
	}
	slices.Sort(out)
	return out
}
