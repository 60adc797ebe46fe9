package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	staffv1alpha1 "github.com/rosterops/staff-operator/api/v1alpha1"
)

// The practices of the bench. Each is one namespace with one Role and two Locations; every
// member holds the Role and both Locations, the shape of issue 12's figures.
const (
	burstNS     = "bench-burst"       // the N members of the burst
	offboardNS  = "bench-offboard"    // the members deactivated while the burst converges
	applyNS     = "bench-apply-floor" // T_apply's members, applied and deleted before the manager starts
	roleName    = "staff"
	fieldOwner  = "staff-benchscale"
	orgNameAnno = "staff.rosterops.io/organization-name"
)

var locationNames = []string{"north-clinic", "south-clinic"}

// memberName and memberEmail name member i of a practice; the mail domain tells the
// practices' mails apart.
func memberName(i int) string { return fmt.Sprintf("member-%05d", i) }

func memberEmail(ns string, i int) string {
	return fmt.Sprintf("%s@%s.example.test", memberName(i), ns)
}

func mailDomain(ns string) string { return "@" + ns + ".example.test" }

// The manifests are built as a person writes them, not from Go types: server-side apply then
// sends exactly the fields a manifest in Git would hold.
func obj(kind, ns, name string, spec map[string]any) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": staffv1alpha1.GroupVersion.String(),
		"kind":       kind,
		"metadata":   map[string]any{"name": name, "namespace": ns},
		"spec":       spec,
	}}
}

func roleManifest(ns string) *unstructured.Unstructured {
	return obj("Role", ns, roleName, map[string]any{
		"displayName": "Staff",
		"category":    "Administrative",
		"billable":    true,
		"permissions": []any{"calendar.view", "calendar.create"},
	})
}

func locationManifest(ns, name string) *unstructured.Unstructured {
	return obj("Location", ns, name, map[string]any{
		"displayName": name,
		"timeZone":    "America/Chicago",
		"address":     map[string]any{"lines": []any{"1 Main St"}, "city": "Chicago", "region": "IL", "postalCode": "60606", "country": "US"},
	})
}

func memberManifest(ns string, i int) *unstructured.Unstructured {
	return obj("StaffMember", ns, memberName(i), map[string]any{
		"email": memberEmail(ns, i),
		"profile": map[string]any{
			"givenName":  "Member",
			"familyName": fmt.Sprintf("N%05d", i),
			"title":      "Medical Assistant",
			"employeeID": fmt.Sprintf("B-%05d", i),
		},
		"roles":           []any{roleName},
		"primaryLocation": locationNames[0],
		"locations":       []any{locationNames[0], locationNames[1]},
	})
}

// apply server-side applies one manifest as the bench's field owner.
func apply(ctx context.Context, c client.Client, u *unstructured.Unstructured) error {
	err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner(fieldOwner), client.ForceOwnership)
	if err != nil {
		return fmt.Errorf("apply %s %s/%s: %w", u.GetKind(), u.GetNamespace(), u.GetName(), err)
	}
	return nil
}

// createPractice creates the namespace, its Role and its Locations.
func createPractice(ctx context.Context, c client.Client, ns string) error {
	n := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Annotations: map[string]string{orgNameAnno: "Bench " + ns}}}
	if err := c.Create(ctx, n); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create namespace %s: %w", ns, err)
	}
	objs := []*unstructured.Unstructured{roleManifest(ns)}
	for _, l := range locationNames {
		objs = append(objs, locationManifest(ns, l))
	}
	for _, o := range objs {
		if err := apply(ctx, c, o); err != nil {
			return err
		}
	}
	return nil
}

// parallel runs fn(0..n-1) on workers goroutines, as kubectl or a pipeline with some
// concurrency would, and returns the first error.
func parallel(ctx context.Context, n, workers int, fn func(context.Context, int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := fn(ctx, i); err != nil {
					cancel(err)
					return
				}
			}
		})
	}
	wg.Wait()
	return context.Cause(ctx) // nil unless fn failed or the parent ended
}

// applyMembers applies members 0..n-1 of ns.
func applyMembers(ctx context.Context, c client.Client, ns string, n, workers int) error {
	return parallel(ctx, n, workers, func(ctx context.Context, i int) error {
		return apply(ctx, c, memberManifest(ns, i))
	})
}

// deleteMembers deletes members 0..n-1 of ns.
func deleteMembers(ctx context.Context, c client.Client, ns string, n, workers int) error {
	return parallel(ctx, n, workers, func(ctx context.Context, i int) error {
		m := &staffv1alpha1.StaffMember{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: memberName(i)}}
		if err := c.Delete(ctx, m); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("delete %s/%s: %w", ns, m.Name, err)
		}
		return nil
	})
}

// deactivate patches a member as the README's offboarding step does (kubectl patch --type merge).
func deactivate(ctx context.Context, c client.Client, ns, name string) error {
	patch := fmt.Appendf(nil, `{"spec":{"accountState":%q}}`, staffv1alpha1.AccountStateDeactivated)
	m := &staffv1alpha1.StaffMember{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	if err := c.Patch(ctx, m, client.RawPatch(types.MergePatchType, patch)); err != nil {
		return fmt.Errorf("deactivate %s/%s: %w", ns, name, err)
	}
	return nil
}
