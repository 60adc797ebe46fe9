// Package policy_test checks the roles for people and the no-escalation policy as shipped:
// rendered from config/default, installed into the real API server, and exercised by
// impersonated users bound with RoleBindings, as a platform team binds them.
package policy_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	staffv1alpha1 "github.com/rosterops/staff-operator/api/v1alpha1"
	"github.com/rosterops/staff-operator/internal/testenv"
)

const (
	// practice is the namespace the tests' people work in; owner-role is its owner Role.
	practice  = "riverside"
	ownerRole = "practice-owner"

	// The names config/default gives the shipped objects (namePrefix staff-operator-).
	viewerRole   = "staff-operator-staff-viewer"
	managerRole  = "staff-operator-staff-manager"
	ownerCRole   = "staff-operator-staff-owner"
	operatorRole = "staff-operator-manager-role"
	policyName   = "staff-operator-no-escalation"

	// operatorSA is the operator's service account as config/default names it.
	operatorSA = "system:serviceaccount:staff-operator-system:staff-operator-controller-manager"
)

// The people of the practice. Each is bound in the practice namespace only.
var (
	viewer  = person{name: "vera@riverside.example.test"}
	manager = person{name: "mark@riverside.example.test"}
	// bareManager holds staff-manager alone, without the practice's Role that lists what a
	// manager may grant: the ClusterRole on its own grants nothing.
	bareManager = person{name: "max@riverside.example.test"}
	owner       = person{name: "olivia@riverside.example.test"}
)

type person struct{ name string }

var (
	env *testenv.Env
	k8s client.Client
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	// The clients log nothing these tests read; without a logger controller-runtime complains.
	ctrllog.SetLogger(logr.Discard())
	var err error
	env, err = testenv.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() {
		if err := env.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stop the control plane:", err)
		}
	}()
	k8s, err = client.New(env.Config, client.Options{Scheme: env.Scheme})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := installShipped(); err != nil {
		fmt.Fprintln(os.Stderr, "install the shipped roles and policy:", err)
		return 1
	}
	if err := setUpPractice(); err != nil {
		fmt.Fprintln(os.Stderr, "set up the practice:", err)
		return 1
	}
	return m.Run()
}

// installShipped renders config/default with the kubectl built with the control plane, as
// `kubectl apply -k config/default` would, and installs from it the ClusterRoles and the
// admission policy: the test exercises the names and rules that ship, not a copy.
func installShipped() error {
	kubectl, err := env.Kubectl()
	if err != nil {
		return err
	}
	cmd := exec.Command(kubectl, "kustomize", "config/default")
	cmd.Dir = env.Root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("kubectl kustomize config/default: %w: %s", err, stderr.String())
	}
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(out), 4096)
	installed := map[string]bool{}
	for {
		var u unstructured.Unstructured
		if err := dec.Decode(&u.Object); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return err
		}
		switch u.GetKind() {
		case "ClusterRole", "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding":
		default:
			continue
		}
		// Both are cluster-scoped; kustomize's namespace transformer does not know the policy
		// kinds and sets a namespace on them, which the API server drops.
		u.SetNamespace("")
		if err := k8s.Create(context.Background(), &u); err != nil {
			return fmt.Errorf("create %s %s: %w", u.GetKind(), u.GetName(), err)
		}
		installed[u.GetKind()+"/"+u.GetName()] = true
	}
	for _, want := range []string{
		"ClusterRole/" + viewerRole, "ClusterRole/" + managerRole, "ClusterRole/" + ownerCRole, "ClusterRole/" + operatorRole,
		"ValidatingAdmissionPolicy/" + policyName, "ValidatingAdmissionPolicyBinding/" + policyName,
	} {
		if !installed[want] {
			return fmt.Errorf("config/default does not render %s", want)
		}
	}
	return nil
}

// setUpPractice creates the practice, its Roles and Locations, and binds the people as a
// platform team would: one RoleBinding per person in the practice's namespace, and for the
// manager a Role of the practice that lists what they may grant and assign by resourceNames.
func setUpPractice() error {
	ctx := context.Background()
	objs := []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: practice, Annotations: map[string]string{
			staffv1alpha1.OrganizationNameAnnotation: "Riverside Family Health",
			// The platform team names the practice's owner Roles; no practice role can edit a
			// Namespace.
			"staff.rosterops.io/owner-roles": ownerRole + ", medical-director",
		}}},
		role(ownerRole, staffv1alpha1.RoleCategoryAdministrative),
		role("front-desk", staffv1alpha1.RoleCategoryAdministrative),
		role("physician", staffv1alpha1.RoleCategoryProvider),
		role("billing-manager", staffv1alpha1.RoleCategoryAdministrative),
		location("downtown-clinic"),
		location("northside-urgent-care"),
		// What the platform team writes for the manager of this practice (README).
		&rbacv1.Role{
			ObjectMeta: metav1.ObjectMeta{Name: "staff-grants-front-office", Namespace: practice},
			Rules: []rbacv1.PolicyRule{
				{APIGroups: []string{staffv1alpha1.GroupVersion.Group}, Resources: []string{"roles"}, Verbs: []string{"grant"}, ResourceNames: []string{"front-desk"}},
				{APIGroups: []string{staffv1alpha1.GroupVersion.Group}, Resources: []string{"locations"}, Verbs: []string{"assign"}, ResourceNames: []string{"downtown-clinic"}},
			},
		},
		binding("vera-viewer", "ClusterRole", viewerRole, viewer),
		binding("mark-manager", "ClusterRole", managerRole, manager),
		binding("mark-grants", "Role", "staff-grants-front-office", manager),
		binding("max-manager", "ClusterRole", managerRole, bareManager),
		binding("olivia-owner", "ClusterRole", ownerCRole, owner),
		// The operator, bound only to its generated role, as config/rbac binds it.
		&rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "operator"},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: operatorRole},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: operatorSA}},
		},
	}
	for _, o := range objs {
		if err := k8s.Create(ctx, o); err != nil {
			return fmt.Errorf("create %T %s: %w", o, o.GetName(), err)
		}
	}
	return nil
}

func role(name string, category staffv1alpha1.RoleCategory) *staffv1alpha1.Role {
	return &staffv1alpha1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: practice},
		Spec:       staffv1alpha1.RoleSpec{DisplayName: staffv1alpha1.DisplayText(name), Category: category},
	}
}

func location(name string) *staffv1alpha1.Location {
	return &staffv1alpha1.Location{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: practice},
		Spec:       staffv1alpha1.LocationSpec{DisplayName: staffv1alpha1.DisplayText(name), TimeZone: "America/Chicago"},
	}
}

func binding(name, kind, roleName string, p person) *rbacv1.RoleBinding {
	return &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: practice},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: kind, Name: roleName},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: p.name}},
	}
}

// as returns a client that impersonates the user name: every request reaches the real
// authorizer and admission as that person's.
func as(t *testing.T, name string) client.Client {
	t.Helper()
	cfg := rest.CopyConfig(env.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: name, Groups: []string{"system:authenticated"}}
	c, err := client.New(cfg, client.Options{Scheme: env.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// member is a valid StaffMember in the practice; change adjusts its spec.
func member(name string, change func(*staffv1alpha1.StaffMemberSpec)) *staffv1alpha1.StaffMember {
	m := &staffv1alpha1.StaffMember{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: practice},
		Spec: staffv1alpha1.StaffMemberSpec{
			Email:   name + "@riverside.example.test",
			Profile: staffv1alpha1.Profile{GivenName: "Test", FamilyName: staffv1alpha1.DisplayText(name)},
		},
	}
	if change != nil {
		change(&m.Spec)
	}
	return m
}

// eventually polls cond until it holds or 30 seconds pass: RBAC and admission policies reach
// the authorizer and the admission chain through informers, so a fresh binding or policy is
// waited for, never slept on.
func eventually(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	last := ""
	err := wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		ok, state := cond()
		last = state
		return ok, nil
	})
	if err != nil {
		t.Fatalf("timed out waiting for %s; last seen: %s", what, last)
	}
}

// policyActive waits until the no-escalation policy refuses what it must: the policy is
// loaded asynchronously, so a test that asserted at once could pass a request only because
// the policy was not there yet. The probe is a dry run: it leaves nothing behind.
func policyActive(t *testing.T) {
	t.Helper()
	c := as(t, manager.name)
	eventually(t, "the no-escalation policy to refuse a manager granting physician", func() (bool, string) {
		err := c.Create(context.Background(), member("probe", func(s *staffv1alpha1.StaffMemberSpec) {
			s.Roles = []staffv1alpha1.ObjectName{"physician"}
		}), client.DryRunAll)
		if err == nil {
			return false, "the probe was admitted"
		}
		return apierrors.IsForbidden(err) && strings.Contains(err.Error(), policyName), err.Error()
	})
}
