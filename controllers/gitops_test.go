package controllers

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/rand"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// gitOpsManager is the field manager of the GitOps tool in the test: Flux and Argo CD apply and
// diff under one name of their own, so the test does too.
const gitOpsManager = "--field-manager=gitops"

// TestGitOpsRoundTrip applies the samples as Flux or Argo CD do, with server-side apply, lets the
// operator converge, applies them again and diffs. Nothing the operator defaults or writes may
// differ from what Git holds, or every sync would flip it back and the operator would flip it
// again.
func TestGitOpsRoundTrip(t *testing.T) {
	ns := "gitops-" + rand.String(6)
	dir := samplesFor(t, ns)
	k := newKubectl(t)
	// The samples hold the namespace, so the operator starts after the first apply: started
	// first, it would create the namespace itself and the apply would meet its annotation.
	k.must("apply", "--server-side", gitOpsManager, "-f", dir)
	op := startOperator(t, func(o *operatorOptions) { o.namespace = ns })
	applied := appliedObjects(k, dir)
	for _, obj := range applied {
		op.waitReady(obj)
	}
	generations := generationsOf(t, applied)

	if out, err := k.run("apply", "--server-side", gitOpsManager, "-f", dir); err != nil {
		t.Fatalf("the second apply fights the operator (a conflict names the field): %v\n%s", err, out)
	}
	if again := generationsOf(t, applied); !maps.Equal(generations, again) {
		t.Errorf("the second apply changed a spec: generations %v, then %v", generations, again)
	}
	if out, err := k.run("diff", "--server-side", gitOpsManager, "-f", dir); exitCode(err) != 0 {
		t.Errorf("kubectl diff --server-side exits %d after the operator converged, want 0 (no change):\n%s", exitCode(err), out)
	}
	for _, obj := range applied {
		if shared := sharedWithGit(t, obj); len(shared) > 0 {
			t.Errorf("%s %s: fields Git applies are also written by %s", obj.GetKind(), obj.GetName(), strings.Join(shared, "; "))
		}
	}
}

// samplesFor writes config/samples into a directory for a namespace of the test's own. Only the
// namespace and the mail domains are renamed, so that the practice's accounts and mails do not
// meet TestSamplesConverge's in the suite's shared directory and mail server.
func samplesFor(t *testing.T, ns string) string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(env.Root, "config", "samples", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no samples: %v", err)
	}
	rename := strings.NewReplacer(samplesNamespace, ns, ".example.test", "."+ns+".example.test")
	dir := t.TempDir()
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(f)), []byte(rename.Replace(string(data))), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// appliedObjects reads back what Git holds, as kubectl finds it from the files, without the
// Namespace: it has no status to wait for.
func appliedObjects(k *kubectlCLI, dir string) []*unstructured.Unstructured {
	k.t.Helper()
	var list unstructured.UnstructuredList
	if err := list.UnmarshalJSON([]byte(k.must("get", "-f", dir, "-o", "json"))); err != nil {
		k.t.Fatalf("decode kubectl get -f: %v", err)
	}
	var out []*unstructured.Unstructured
	for i := range list.Items {
		if list.Items[i].GetKind() != "Namespace" {
			out = append(out, &list.Items[i])
		}
	}
	return out
}

// waitReady waits until the operator has acted on the object's latest spec and found it Ready,
// which is what a GitOps tool's health check waits for.
func (op *operator) waitReady(obj *unstructured.Unstructured) {
	op.t.Helper()
	eventually(op.t, fmt.Sprintf("%s %s ready", obj.GetKind(), obj.GetName()), func() (bool, string) {
		if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(obj), obj); err != nil {
			return false, err.Error()
		}
		observed, _, _ := unstructured.NestedInt64(obj.Object, "status", "observedGeneration")
		conds, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
		return observed == obj.GetGeneration() && readyIn(conds), fmt.Sprintf("generation %d observed %d conditions %v", obj.GetGeneration(), observed, conds)
	})
}

func readyIn(conds []any) bool {
	return slices.ContainsFunc(conds, func(c any) bool {
		m, _ := c.(map[string]any)
		return m["type"] == "Ready" && m["status"] == string(metav1.ConditionTrue)
	})
}

// generationsOf reads each object's metadata.generation, which moves only when its spec does.
func generationsOf(t *testing.T, objs []*unstructured.Unstructured) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	for _, obj := range objs {
		cur := &unstructured.Unstructured{}
		cur.SetGroupVersionKind(obj.GroupVersionKind())
		if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(obj), cur); err != nil {
			t.Fatal(err)
		}
		out[obj.GetKind()+"/"+obj.GetName()] = cur.GetGeneration()
	}
	return out
}

// sharedWithGit lists the fields Git applies that another manager also owns outside status, as
// "manager: field". Such a field fights Git even while both write the same value: the next
// commit that changes it conflicts, or is undone by the other writer.
func sharedWithGit(t *testing.T, obj *unstructured.Unstructured) []string {
	t.Helper()
	cur := &unstructured.Unstructured{}
	cur.SetGroupVersionKind(obj.GroupVersionKind())
	if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(obj), cur); err != nil {
		t.Fatal(err)
	}
	gitFields := map[string]bool{}
	for _, e := range cur.GetManagedFields() {
		if e.Manager == "gitops" {
			fieldPaths(t, e.FieldsV1, gitFields)
		}
	}
	var shared []string
	for _, e := range cur.GetManagedFields() {
		if e.Manager == "gitops" || e.Subresource == "status" {
			continue
		}
		theirs := map[string]bool{}
		fieldPaths(t, e.FieldsV1, theirs)
		for f := range theirs {
			if gitFields[f] {
				shared = append(shared, e.Manager+": "+f)
			}
		}
	}
	slices.Sort(shared)
	return shared
}

// fieldPaths adds the leaf fields of a managedFields entry (FieldsV1: nested "f:name" keys, a
// "." key for a field owned as a whole) to into, as "spec.email".
func fieldPaths(t *testing.T, fields *metav1.FieldsV1, into map[string]bool) {
	t.Helper()
	if fields == nil {
		return
	}
	var tree map[string]any
	if err := json.Unmarshal(fields.Raw, &tree); err != nil {
		t.Fatalf("decode managed fields: %v", err)
	}
	var walk func(prefix string, node map[string]any)
	walk = func(prefix string, node map[string]any) {
		for key, child := range node {
			if key == "." {
				into[prefix] = true
				continue
			}
			path := strings.TrimPrefix(prefix+"."+strings.TrimPrefix(key, "f:"), ".")
			if sub, _ := child.(map[string]any); len(sub) > 0 {
				walk(path, sub)
			} else {
				into[path] = true
			}
		}
	}
	walk("", tree)
}
