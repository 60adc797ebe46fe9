package policy_test

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	authorizationv1 "k8s.io/api/authorization/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/client"

	staffv1alpha1 "github.com/rosterops/staff-operator/api/v1alpha1"
)

var (
	staffGroup = staffv1alpha1.GroupVersion.Group
	fourKinds  = []string{"staffmembers", "roles", "locations", "invitations"}
)

// allowed asks the real authorizer whether user may do verb on group/resource[/subresource] in
// the practice.
func allowed(t *testing.T, user, verb, group, resource, subresource string) bool {
	t.Helper()
	return allowedNamed(t, user, verb, group, resource, subresource, "")
}

// allowedNamed is allowed for one object by name, as resourceNames restrict.
func allowedNamed(t *testing.T, user, verb, group, resource, subresource, name string) bool {
	t.Helper()
	sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User:   user,
		Groups: []string{"system:authenticated"},
		ResourceAttributes: &authorizationv1.ResourceAttributes{
			Namespace: practice, Verb: verb, Group: group, Resource: resource, Subresource: subresource, Name: name,
		},
	}}
	if err := k8s.Create(context.Background(), sar); err != nil {
		t.Fatal(err)
	}
	return sar.Status.Allowed
}

// waitBound waits until the authorizer has seen the test's RoleBindings: the owner may update
// Roles, which nothing else grants.
func waitBound(t *testing.T) {
	t.Helper()
	eventually(t, "the RoleBindings to reach the authorizer", func() (bool, string) {
		ok := allowed(t, owner.name, "update", staffGroup, "roles", "") && allowed(t, manager.name, "create", staffGroup, "staffmembers", "")
		return ok, "owner may not update roles yet"
	})
}

// No people role writes status: status decides what the invitation page accepts and what a
// pipeline waits for, so only the operator's manager-role may write it.
func TestPeopleRolesWriteNoStatus(t *testing.T) {
	waitBound(t)
	for _, p := range []person{viewer, manager, bareManager, owner} {
		for _, kind := range fourKinds {
			for _, verb := range []string{"update", "patch"} {
				if allowed(t, p.name, verb, staffGroup, kind, "status") {
					t.Errorf("%s may %s %s/status", p.name, verb, kind)
				}
			}
		}
	}
	// The control: the operator's generated role does write status, so the denials above are
	// RBAC's answer, not a review that denies everything.
	for _, kind := range fourKinds {
		if !allowed(t, operatorSA, "patch", staffGroup, kind, "status") {
			t.Errorf("the operator may not patch %s/status", kind)
		}
	}

	// And as real requests: the owner, who may do most, edits a member's status and is refused
	// by the API server.
	ctx := context.Background()
	m := member("status-probe", nil)
	if err := k8s.Create(ctx, m); err != nil {
		t.Fatal(err)
	}
	for _, p := range []person{owner, manager} {
		c := as(t, p.name)
		var got staffv1alpha1.StaffMember
		if err := c.Get(ctx, client.ObjectKeyFromObject(m), &got); err != nil {
			t.Fatalf("%s: get: %v", p.name, err)
		}
		before := got.DeepCopy()
		got.Status.Phase = staffv1alpha1.StaffMemberActive
		err := c.Status().Patch(ctx, &got, client.MergeFrom(before))
		if !apierrors.IsForbidden(err) {
			t.Errorf("%s: status patch: want Forbidden, got %v", p.name, err)
		}
		err = c.Status().Update(ctx, &got)
		if !apierrors.IsForbidden(err) {
			t.Errorf("%s: status update: want Forbidden, got %v", p.name, err)
		}
	}
}

// The viewer reads the four kinds and nothing else. SelfSubjectRulesReview lists every rule
// the authorizer holds for the viewer in the practice, so a rule added by mistake (a Secret,
// a write, a subresource) shows up here.
func TestViewerReadsTheFourKindsOnly(t *testing.T) {
	waitBound(t)
	ctx := context.Background()
	review := &authorizationv1.SelfSubjectRulesReview{Spec: authorizationv1.SelfSubjectRulesReviewSpec{Namespace: practice}}
	if err := as(t, viewer.name).Create(ctx, review); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range review.Status.ResourceRules {
		// What every authenticated user holds (system:basic-user): reviewing their own access.
		if slices.Equal(r.APIGroups, []string{"authorization.k8s.io"}) || slices.Equal(r.APIGroups, []string{"authentication.k8s.io"}) {
			continue
		}
		verbs := slices.Clone(r.Verbs)
		sort.Strings(verbs)
		for _, g := range r.APIGroups {
			for _, res := range r.Resources {
				got = append(got, fmt.Sprintf("%s/%s:%s", g, res, strings.Join(verbs, ",")))
			}
		}
	}
	sort.Strings(got)
	want := []string{
		staffGroup + "/invitations:get,list,watch",
		staffGroup + "/locations:get,list,watch",
		staffGroup + "/roles:get,list,watch",
		staffGroup + "/staffmembers:get,list,watch",
	}
	if !slices.Equal(got, want) {
		t.Errorf("the viewer's rules in the practice:\n got %q\nwant %q", got, want)
	}

	// The same through the authorizer, verb by verb.
	for _, kind := range fourKinds {
		for _, verb := range []string{"get", "list", "watch"} {
			if !allowed(t, viewer.name, verb, staffGroup, kind, "") {
				t.Errorf("the viewer may not %s %s", verb, kind)
			}
		}
		for _, verb := range []string{"create", "update", "patch", "delete", "deletecollection", "grant", "assign"} {
			if allowed(t, viewer.name, verb, staffGroup, kind, "") {
				t.Errorf("the viewer may %s %s", verb, kind)
			}
		}
	}
	for _, res := range []string{"secrets", "configmaps", "pods"} {
		if allowed(t, viewer.name, "get", "", res, "") {
			t.Errorf("the viewer may get %s", res)
		}
	}
	// A real request: the viewer's write is refused.
	if err := as(t, viewer.name).Create(ctx, member("viewer-write", nil)); !apierrors.IsForbidden(err) {
		t.Errorf("the viewer's create: want Forbidden, got %v", err)
	}
}

// Managers edit StaffMembers and Invitations and read Roles and Locations; owners also edit
// Roles and Locations and hold the custom verbs the no-escalation policy asks for.
func TestManagerAndOwnerRights(t *testing.T) {
	waitBound(t)
	for _, kind := range []string{"staffmembers", "invitations"} {
		for _, verb := range []string{"get", "list", "watch", "create", "update", "patch", "delete"} {
			for _, p := range []person{manager, owner} {
				if !allowed(t, p.name, verb, staffGroup, kind, "") {
					t.Errorf("%s may not %s %s", p.name, verb, kind)
				}
			}
		}
	}
	for _, kind := range []string{"roles", "locations"} {
		for _, verb := range []string{"get", "list", "watch"} {
			if !allowed(t, manager.name, verb, staffGroup, kind, "") {
				t.Errorf("the manager may not %s %s", verb, kind)
			}
		}
		for _, verb := range []string{"create", "update", "patch", "delete"} {
			if allowed(t, manager.name, verb, staffGroup, kind, "") {
				t.Errorf("the manager may %s %s", verb, kind)
			}
			if !allowed(t, owner.name, verb, staffGroup, kind, "") {
				t.Errorf("the owner may not %s %s", verb, kind)
			}
		}
	}
	// The custom verbs, asked without a name: only the owner holds them on everything. The
	// manager's grant and assign are limited to named objects (TestGrant*, TestAssign*).
	for _, c := range []struct{ verb, resource string }{
		{"grant", "roles"}, {"assign", "locations"}, {"manage-owners", "staffmembers"}, {"delete-accounts", "staffmembers"},
	} {
		if !allowed(t, owner.name, c.verb, staffGroup, c.resource, "") {
			t.Errorf("the owner may not %s %s", c.verb, c.resource)
		}
		for _, p := range []person{manager, bareManager, viewer} {
			if allowed(t, p.name, c.verb, staffGroup, c.resource, "") {
				t.Errorf("%s may %s every one of %s", p.name, c.verb, c.resource)
			}
		}
	}
}

// The roles aggregate into Kubernetes' view, edit and admin. envtest runs no
// kube-controller-manager, whose aggregation controller fills those roles, so this checks the
// labels the controller selects on, as the cluster's view, edit and admin select them.
func TestPeopleRolesAggregate(t *testing.T) {
	ctx := context.Background()
	for name, into := range map[string]string{viewerRole: "view", managerRole: "edit", ownerCRole: "admin"} {
		var target rbacv1.ClusterRole
		if err := k8s.Get(ctx, client.ObjectKey{Name: into}, &target); err != nil {
			t.Fatalf("the bootstrap ClusterRole %s: %v", into, err)
		}
		var cr rbacv1.ClusterRole
		if err := k8s.Get(ctx, client.ObjectKey{Name: name}, &cr); err != nil {
			t.Fatal(err)
		}
		if target.AggregationRule == nil {
			t.Fatalf("%s has no aggregationRule", into)
		}
		matched := false
		for _, sel := range target.AggregationRule.ClusterRoleSelectors {
			s, err := metav1.LabelSelectorAsSelector(&sel)
			if err != nil {
				t.Fatal(err)
			}
			if s.Matches(labels.Set(cr.Labels)) {
				matched = true
			}
		}
		if !matched {
			t.Errorf("%s is not aggregated into %s (labels %v)", name, into, cr.Labels)
		}
	}
}
