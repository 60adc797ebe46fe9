package policy_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	staffv1alpha1 "github.com/rosterops/staff-operator/api/v1alpha1"
)

type names = []staffv1alpha1.ObjectName

// refused fails unless err is the policy's refusal carrying want, the message that names what
// the requester may not hand out.
func refused(t *testing.T, what string, err error, want string) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: admitted, want refused with %q", what, want)
		return
	}
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "ValidatingAdmissionPolicy '"+policyName+"'") {
		t.Errorf("%s: want the no-escalation policy's refusal, got %v", what, err)
		return
	}
	if !strings.Contains(err.Error(), want) {
		t.Errorf("%s: refusal\n  %v\ndoes not say\n  %s", what, err, want)
	}
}

func admitted(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Errorf("%s: want admitted, got %v", what, err)
	}
}

// update changes the latest version of a member as c, retrying on conflicts.
func update(c client.Client, name string, change func(*staffv1alpha1.StaffMember)) error {
	for {
		var m staffv1alpha1.StaffMember
		if err := c.Get(context.Background(), client.ObjectKey{Namespace: practice, Name: name}, &m); err != nil {
			return err
		}
		change(&m)
		err := c.Update(context.Background(), &m)
		if !apierrors.IsConflict(err) {
			return err
		}
	}
}

func setPhone(m *staffv1alpha1.StaffMember) { m.Spec.Profile.Phone = "+1 312 555 0199" }

func TestGrantRoles(t *testing.T) {
	policyActive(t)
	ctx := context.Background()
	mark, max, olivia := as(t, manager.name), as(t, bareManager.name), as(t, owner.name)

	admitted(t, "the manager grants front-desk, which the practice's Role lists", mark.Create(ctx, member("gr-front", func(s *staffv1alpha1.StaffMemberSpec) {
		s.Roles = names{"front-desk"}
	})))
	refused(t, "the manager grants physician", mark.Create(ctx, member("gr-physician", func(s *staffv1alpha1.StaffMemberSpec) {
		s.Roles = names{"front-desk", "physician"}
	})), "spec.roles: you may not grant the Role physician in namespace riverside: that needs the verb grant on roles/physician "+
		"in the API group staff.rosterops.io (staff-owner holds it on every Role; a Role of the practice may hold it for some, by resourceNames)")
	refused(t, "the manager grants two Roles it may not", mark.Create(ctx, member("gr-two", func(s *staffv1alpha1.StaffMemberSpec) {
		s.Roles = names{"billing-manager", "physician"}
	})), "you may not grant the Role billing-manager in namespace riverside")

	// staff-manager alone grants nothing: it is the practice's Role that names what a manager
	// may grant. A member without roles needs no right beyond create.
	refused(t, "staff-manager alone grants front-desk", max.Create(ctx, member("gr-bare", func(s *staffv1alpha1.StaffMemberSpec) {
		s.Roles = names{"front-desk"}
	})), "you may not grant the Role front-desk")
	admitted(t, "staff-manager alone creates a member without roles", max.Create(ctx, member("gr-bare-none", nil)))

	admitted(t, "the owner grants physician", olivia.Create(ctx, member("gr-owner", func(s *staffv1alpha1.StaffMemberSpec) {
		s.Roles = names{"physician", "billing-manager"}
	})))
}

func TestAssignLocations(t *testing.T) {
	policyActive(t)
	ctx := context.Background()
	mark, olivia := as(t, manager.name), as(t, owner.name)

	admitted(t, "the manager assigns downtown-clinic", mark.Create(ctx, member("as-downtown", func(s *staffv1alpha1.StaffMemberSpec) {
		s.Locations = names{"downtown-clinic"}
		s.PrimaryLocation = "downtown-clinic"
	})))
	refused(t, "the manager assigns northside-urgent-care", mark.Create(ctx, member("as-northside", func(s *staffv1alpha1.StaffMemberSpec) {
		s.Locations = names{"downtown-clinic", "northside-urgent-care"}
	})), "spec.locations: you may not assign the Location northside-urgent-care in namespace riverside: that needs the verb assign on "+
		"locations/northside-urgent-care in the API group staff.rosterops.io (staff-owner holds it on every Location; a Role of the practice may hold it for some, by resourceNames)")
	admitted(t, "the owner assigns northside-urgent-care", olivia.Create(ctx, member("as-owner", func(s *staffv1alpha1.StaffMemberSpec) {
		s.Locations = names{"downtown-clinic", "northside-urgent-care"}
	})))
}

// Only what a change adds is checked: a manager may edit a member who holds more than the
// manager may grant, and may take access away, but not add to it.
func TestOnlyAddedAccessIsChecked(t *testing.T) {
	policyActive(t)
	ctx := context.Background()
	mark, olivia := as(t, manager.name), as(t, owner.name)

	if err := olivia.Create(ctx, member("ad-pat", func(s *staffv1alpha1.StaffMemberSpec) {
		s.Roles = names{"physician", "front-desk"}
		s.Locations = names{"downtown-clinic", "northside-urgent-care"}
	})); err != nil {
		t.Fatal(err)
	}
	admitted(t, "the manager edits the phone of a physician at northside", update(mark, "ad-pat", setPhone))
	admitted(t, "the manager takes physician and northside away", update(mark, "ad-pat", func(m *staffv1alpha1.StaffMember) {
		m.Spec.Roles = names{"front-desk"}
		m.Spec.Locations = names{"downtown-clinic"}
	}))
	refused(t, "the manager gives physician back", update(mark, "ad-pat", func(m *staffv1alpha1.StaffMember) {
		m.Spec.Roles = append(m.Spec.Roles, "physician")
	}), "you may not grant the Role physician in namespace riverside")
	refused(t, "the manager gives northside back", update(mark, "ad-pat", func(m *staffv1alpha1.StaffMember) {
		m.Spec.Locations = append(m.Spec.Locations, "northside-urgent-care")
	}), "you may not assign the Location northside-urgent-care in namespace riverside")
}

// spec.allLocations grants every Location, present and future: only who may assign every
// Location (assign on locations without resourceNames) may set it.
func TestAllLocations(t *testing.T) {
	policyActive(t)
	ctx := context.Background()
	mark, olivia := as(t, manager.name), as(t, owner.name)

	want := "spec.allLocations: you may not grant every Location of namespace riverside: that needs the verb assign on locations in the API group " +
		"staff.rosterops.io without resourceNames (staff-owner holds it); a Role that names Locations in resourceNames assigns only those, in spec.locations"
	refused(t, "the manager creates a member at all locations", mark.Create(ctx, member("al-mark", func(s *staffv1alpha1.StaffMemberSpec) {
		s.AllLocations = true
	})), want)
	if err := mark.Create(ctx, member("al-later", nil)); err != nil {
		t.Fatal(err)
	}
	refused(t, "the manager turns allLocations on", update(mark, "al-later", func(m *staffv1alpha1.StaffMember) {
		m.Spec.AllLocations = true
	}), want)

	admitted(t, "the owner creates a member at all locations", olivia.Create(ctx, member("al-olivia", func(s *staffv1alpha1.StaffMemberSpec) {
		s.AllLocations = true
	})))
	admitted(t, "the manager edits the phone of a member at all locations", update(mark, "al-olivia", setPhone))
}

// deletionPolicy: Delete makes deleting the manifest remove the directory entry and its
// history: only who holds delete-accounts (staff-owner) may set it.
func TestDeletionPolicyDelete(t *testing.T) {
	policyActive(t)
	ctx := context.Background()
	mark, olivia := as(t, manager.name), as(t, owner.name)

	want := "spec.deletionPolicy: you may not set Delete on StaffMember dp-mark (deleting the member would then remove its directory entry): " +
		"that needs the verb delete-accounts on staffmembers in the API group staff.rosterops.io (staff-owner holds it)"
	refused(t, "the manager sets deletionPolicy Delete", mark.Create(ctx, member("dp-mark", func(s *staffv1alpha1.StaffMemberSpec) {
		s.DeletionPolicy = staffv1alpha1.DeletionPolicyDelete
	})), want)
	admitted(t, "the manager sets deletionPolicy Orphan", mark.Create(ctx, member("dp-orphan", func(s *staffv1alpha1.StaffMemberSpec) {
		s.DeletionPolicy = staffv1alpha1.DeletionPolicyOrphan
	})))
	refused(t, "the manager switches a member to Delete", update(mark, "dp-orphan", func(m *staffv1alpha1.StaffMember) {
		m.Spec.DeletionPolicy = staffv1alpha1.DeletionPolicyDelete
	}), "spec.deletionPolicy: you may not set Delete on StaffMember dp-orphan")

	admitted(t, "the owner sets deletionPolicy Delete", olivia.Create(ctx, member("dp-olivia", func(s *staffv1alpha1.StaffMemberSpec) {
		s.DeletionPolicy = staffv1alpha1.DeletionPolicyDelete
	})))
	admitted(t, "the manager edits the phone of a member with Delete", update(mark, "dp-olivia", setPhone))
}

// A member holding an owner Role (the namespace annotation staff.rosterops.io/owner-roles) is
// changed and deleted only by who holds manage-owners: a manager must not lock the owner out,
// nor take over the owner's account by changing its email.
func TestOwnerMembers(t *testing.T) {
	policyActive(t)
	ctx := context.Background()
	mark, olivia := as(t, manager.name), as(t, owner.name)

	if err := olivia.Create(ctx, member("ow-olivia", func(s *staffv1alpha1.StaffMemberSpec) {
		s.Roles = names{ownerRole, "physician"}
	})); err != nil {
		t.Fatal(err)
	}
	if err := olivia.Create(ctx, member("ow-staff", nil)); err != nil {
		t.Fatal(err)
	}

	refused(t, "the manager deactivates the owner", update(mark, "ow-olivia", func(m *staffv1alpha1.StaffMember) {
		m.Spec.AccountState = staffv1alpha1.AccountStateDeactivated
	}), "StaffMember ow-olivia holds the owner Role practice-owner (namespace annotation staff.rosterops.io/owner-roles): only someone with the verb "+
		"manage-owners on staffmembers in the API group staff.rosterops.io (staff-owner) may change its spec, such as accountState")
	refused(t, "the manager changes the owner's email", update(mark, "ow-olivia", func(m *staffv1alpha1.StaffMember) {
		m.Spec.Email = "mark.takeover@riverside.example.test"
	}), "StaffMember ow-olivia holds the owner Role practice-owner")
	refused(t, "the manager takes the owner Role away", update(mark, "ow-olivia", func(m *staffv1alpha1.StaffMember) {
		m.Spec.Roles = names{"physician"}
	}), "StaffMember ow-olivia holds the owner Role practice-owner")
	refused(t, "the manager deletes the owner", mark.Delete(ctx, member("ow-olivia", nil)),
		"StaffMember ow-olivia holds the owner Role practice-owner (namespace annotation staff.rosterops.io/owner-roles): only someone with the verb "+
			"manage-owners on staffmembers in the API group staff.rosterops.io (staff-owner) may delete it")
	refused(t, "the manager makes someone an owner", update(mark, "ow-staff", func(m *staffv1alpha1.StaffMember) {
		m.Spec.Roles = names{ownerRole}
	}), "you may not grant the Role practice-owner")

	admitted(t, "the manager deactivates a member who is no owner", update(mark, "ow-staff", func(m *staffv1alpha1.StaffMember) {
		m.Spec.AccountState = staffv1alpha1.AccountStateDeactivated
	}))
	admitted(t, "the manager deletes a member who is no owner", mark.Delete(ctx, member("ow-staff", nil)))

	// The operator writes finalizers and status, never spec: its writes to an owner's member
	// pass without any exemption for its service account.
	operator := as(t, operatorSA)
	admitted(t, "the operator adds its finalizer to the owner's member", update(operator, "ow-olivia", func(m *staffv1alpha1.StaffMember) {
		controllerutil.AddFinalizer(m, "staff.rosterops.io/test")
	}))
	admitted(t, "the operator removes its finalizer", update(operator, "ow-olivia", func(m *staffv1alpha1.StaffMember) {
		controllerutil.RemoveFinalizer(m, "staff.rosterops.io/test")
	}))

	admitted(t, "the owner deactivates the owner's member", update(olivia, "ow-olivia", func(m *staffv1alpha1.StaffMember) {
		m.Spec.AccountState = staffv1alpha1.AccountStateDeactivated
	}))
	admitted(t, "the owner deletes the owner's member", olivia.Delete(ctx, member("ow-olivia", nil)))
}

// The most a member may hold, handed out in one request: the owner's unrestricted verbs are
// checked once, not per name, so the policy's CEL cost budget (10000000 per request, 350000
// per authorizer check) is no limit for owners.
func TestOwnerHandsOutTheMostAtOnce(t *testing.T) {
	policyActive(t)
	var roles, locations names
	for i := range 32 {
		roles = append(roles, staffv1alpha1.ObjectName(fmt.Sprintf("many-role-%d", i)))
	}
	for i := range 64 {
		locations = append(locations, staffv1alpha1.ObjectName(fmt.Sprintf("many-location-%d", i)))
	}
	admitted(t, "the owner grants 32 Roles and 64 Locations at once", as(t, owner.name).Create(context.Background(), member("most", func(s *staffv1alpha1.StaffMemberSpec) {
		s.Roles = roles
		s.Locations = locations
	})))
}

// A manager who may grant Roles by resourceNames pays one authorizer check per added name
// (350000 of the request's 10000000, plus one for the unrestricted check that fails): 27 new
// Roles fit in one change, a 28th is refused, closed, for the budget. README documents it.
func TestManagerBudget(t *testing.T) {
	policyActive(t)
	ctx := context.Background()
	var roles names
	var roleNames []string
	for i := range 32 {
		roles = append(roles, staffv1alpha1.ObjectName(fmt.Sprintf("budget-role-%d", i)))
		roleNames = append(roleNames, string(roles[i]))
	}
	if err := k8s.Create(ctx, &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: "budget-grants", Namespace: practice},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{staffGroup}, Resources: []string{"roles"}, Verbs: []string{"grant"}, ResourceNames: roleNames}},
	}); err != nil {
		t.Fatal(err)
	}
	mia := person{name: "mia@riverside.example.test"}
	for _, b := range []*rbacv1.RoleBinding{binding("mia-manager", "ClusterRole", managerRole, mia), binding("mia-grants", "Role", "budget-grants", mia)} {
		if err := k8s.Create(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "mia's bindings to reach the authorizer", func() (bool, string) {
		return allowedNamed(t, mia.name, "grant", staffGroup, "roles", "", "budget-role-0"), "mia may not grant budget-role-0 yet"
	})
	c := as(t, mia.name)
	admitted(t, "a manager grants 27 Roles it may grant", c.Create(ctx, member("budget-27", func(s *staffv1alpha1.StaffMemberSpec) { s.Roles = roles[:27] })))
	// Refused as an evaluation error (failurePolicy: Fail), not as a validation's Forbidden.
	err := c.Create(ctx, member("budget-28", func(s *staffv1alpha1.StaffMemberSpec) { s.Roles = roles[:28] }))
	if err == nil || !strings.Contains(err.Error(), "ValidatingAdmissionPolicy '"+policyName+"'") || !strings.Contains(err.Error(), "running out of cost budget") {
		t.Errorf("a manager grants 28 Roles it may grant: want refused for the cost budget, got %v", err)
	}
	admitted(t, "the 28th in a second change", update(c, "budget-27", func(m *staffv1alpha1.StaffMember) { m.Spec.Roles = roles[:28] }))
}

// The policy has one validation per position a change may add, up to the most spec.roles and
// spec.locations hold in the CRD: a CRD that allowed more would leave the rest unchecked.
func TestPolicyCoversEveryPosition(t *testing.T) {
	ctx := context.Background()
	// Read as unstructured: the suite's scheme carries no apiextensions types.
	crd := &unstructured.Unstructured{}
	crd.SetAPIVersion("apiextensions.k8s.io/v1")
	crd.SetKind("CustomResourceDefinition")
	if err := k8s.Get(ctx, client.ObjectKey{Name: "staffmembers." + staffGroup}, crd); err != nil {
		t.Fatal(err)
	}
	var vap admissionregistrationv1.ValidatingAdmissionPolicy
	if err := k8s.Get(ctx, client.ObjectKey{Name: policyName}, &vap); err != nil {
		t.Fatal(err)
	}
	expressions := map[string]bool{}
	for _, v := range vap.Spec.Validations {
		expressions[v.Expression] = true
	}
	versions, _, _ := unstructured.NestedSlice(crd.Object, "spec", "versions")
	if len(versions) != 1 {
		t.Fatalf("the StaffMember CRD serves %d versions; check each against the policy", len(versions))
	}
	for field, variable := range map[string]string{"roles": "addedRoles", "locations": "addedLocations"} {
		maxItems, found, err := unstructured.NestedInt64(versions[0].(map[string]any),
			"schema", "openAPIV3Schema", "properties", "spec", "properties", field, "maxItems")
		if err != nil || !found {
			t.Fatalf("spec.%s has no maxItems (%v): the policy cannot cover every position", field, err)
		}
		for i := range maxItems {
			prefix := fmt.Sprintf("size(variables.%s) <= %d || ", variable, i)
			found := false
			for e := range expressions {
				if strings.HasPrefix(e, prefix) && strings.Contains(e, fmt.Sprintf("name(variables.%s[%d])", variable, i)) {
					found = true
				}
			}
			if !found {
				t.Errorf("spec.%s may hold %d items, but no validation checks position %d", field, maxItems, i)
			}
		}
	}
}

// Deleting a namespace makes the namespace controller delete every member in it, owners too,
// with no staff verbs: the owner rule lets deletes through once the namespace is terminating,
// so a practice's namespace can always be removed. envtest runs no namespace controller, so
// the namespace stays Terminating and a manager's delete stands in for the controller's.
func TestTerminatingNamespaceDeletesOwners(t *testing.T) {
	policyActive(t)
	ctx := context.Background()
	const closing = "closing-practice"
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: closing, Annotations: map[string]string{
		"staff.rosterops.io/owner-roles": ownerRole,
	}}}
	if err := k8s.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}
	owned := member("closing-owner", func(s *staffv1alpha1.StaffMemberSpec) { s.Roles = names{ownerRole} })
	owned.Namespace = closing
	if err := k8s.Create(ctx, owned); err != nil {
		t.Fatal(err)
	}
	b := binding("mark-manager", "ClusterRole", managerRole, manager)
	b.Namespace = closing
	if err := k8s.Create(ctx, b); err != nil {
		t.Fatal(err)
	}
	mark := as(t, manager.name)
	eventually(t, "the manager's delete of the owner to be refused by the policy", func() (bool, string) {
		err := mark.Delete(ctx, owned.DeepCopy(), client.DryRunAll)
		return err != nil && strings.Contains(err.Error(), "holds the owner Role practice-owner"), fmt.Sprint(err)
	})

	if err := k8s.Delete(ctx, ns); err != nil {
		t.Fatal(err)
	}
	// The policy sees the namespace through an informer: wait for it to see the deletion.
	eventually(t, "the owner's member to be deletable in the terminating namespace", func() (bool, string) {
		err := mark.Delete(ctx, owned.DeepCopy())
		return err == nil, fmt.Sprint(err)
	})
}
