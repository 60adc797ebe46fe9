package v1alpha1_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/discovery"

	staffv1alpha1 "github.com/rosterops/staff-operator/api/v1alpha1"
	"github.com/rosterops/staff-operator/internal/testenv"
)

const samplesNamespace = "riverside-family-health"

// kubectl runs the kubectl built with the control plane against it.
func kubectl(t *testing.T, args ...string) string {
	t.Helper()
	return adminKubectl(t).Must(t, args...)
}

// runKubectl runs kubectl and returns its output and error, for commands that are meant to fail.
func runKubectl(t *testing.T, args ...string) (string, error) {
	t.Helper()
	return adminKubectl(t).Run(args...)
}

func adminKubectl(t *testing.T) *testenv.KubectlRunner {
	t.Helper()
	k, err := env.AdminKubectl(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestSamplesApplyWithKubectl does what the README tells a person to do: apply the CRDs and the
// samples with kubectl, then list the staff of the practice.
func TestSamplesApplyWithKubectl(t *testing.T) {
	kubectl(t, "apply", "-f", filepath.Join("config", "crd", "bases"))
	out := kubectl(t, "apply", "-f", filepath.Join("config", "samples"))
	for _, want := range []string{
		"namespace/riverside-family-health",
		"location.staff.rosterops.io/downtown-clinic created", "location.staff.rosterops.io/northside-urgent-care created",
		"role.staff.rosterops.io/physician created", "role.staff.rosterops.io/front-desk created",
		"role.staff.rosterops.io/billing-manager created", "role.staff.rosterops.io/compliance-auditor created",
		"staffmember.staff.rosterops.io/ana-ruiz created", "staffmember.staff.rosterops.io/sam-lee created",
		"staffmember.staff.rosterops.io/priya-patel created", "staffmember.staff.rosterops.io/marcus-green created",
		"staffmember.staff.rosterops.io/jordan-kim created", "invitation.staff.rosterops.io/sam-lee created",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("kubectl apply did not report %q:\n%s", want, out)
		}
	}

	// The category lists every kind together, with each kind's printer columns.
	staff := kubectl(t, "get", "staff", "-n", samplesNamespace)
	for _, want := range []string{
		"EMAIL", "PHASE", "ROLES", "ana.ruiz@riverside.example.test", `["physician"]`,
		"CATEGORY", "BILLABLE", "MEMBERS", "Provider", "Compliance",
		"DISPLAY NAME", "TIME ZONE", "Downtown Clinic", "America/Chicago",
		"MEMBER", "EXPIRES",
	} {
		if !strings.Contains(staff, want) {
			t.Errorf("kubectl get staff does not show %q:\n%s", want, staff)
		}
	}
	for short, want := range map[string]string{"sm": "jordan-kim", "srole": "billing-manager", "loc": "northside-urgent-care", "inv": "sam-lee"} {
		if out := kubectl(t, "get", short, "-n", samplesNamespace); !strings.Contains(out, want) {
			t.Errorf("kubectl get %s does not list %s:\n%s", short, want, out)
		}
	}
}

// TestDiscovery checks short names and categories as any client discovers them.
func TestDiscovery(t *testing.T) {
	dc, err := discovery.NewDiscoveryClientForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	list, err := dc.ServerResourcesForGroupVersion(staffv1alpha1.GroupVersion.String())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"staffmembers": "sm", "roles": "srole", "locations": "loc", "invitations": "inv"}
	for _, r := range list.APIResources {
		short, ok := want[r.Name]
		if !ok {
			continue // a subresource
		}
		delete(want, r.Name)
		if !r.Namespaced {
			t.Errorf("%s is cluster-scoped, want namespaced", r.Name)
		}
		if !slices.Equal(r.ShortNames, []string{short}) {
			t.Errorf("%s short names = %v, want [%s]", r.Name, r.ShortNames, short)
		}
		if !slices.Equal(r.Categories, []string{"staff"}) {
			t.Errorf("%s categories = %v, want [staff]", r.Name, r.Categories)
		}
	}
	if len(want) > 0 {
		t.Errorf("resources not discovered: %v", want)
	}
}

// TestPrinterColumns asks the API server for tables, as kubectl get does, and checks the columns.
func TestPrinterColumns(t *testing.T) {
	ensureNamespace(t, "columns")
	dc, err := discovery.NewDiscoveryClientForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		"staffmembers": {"Name", "Email", "Sign-in", "Phase", "Ready", "Reason", "Roles", "Age"},
		"invitations":  {"Name", "Member", "Phase", "Expires", "Age"},
		"roles":        {"Name", "Category", "Billable", "Members", "Age"},
		"locations":    {"Name", "Display Name", "Time Zone", "Age"},
	}
	for resource, columns := range want {
		raw, err := dc.RESTClient().Get().AbsPath("/apis", staffv1alpha1.GroupVersion.Group, staffv1alpha1.GroupVersion.Version,
			"namespaces", "columns", resource).
			SetHeader("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io").
			DoRaw(context.Background())
		if err != nil {
			t.Fatalf("get %s as a table: %v", resource, err)
		}
		var table metav1.Table
		if err := json.Unmarshal(raw, &table); err != nil {
			t.Fatalf("decode the %s table: %v", resource, err)
		}
		var shown []string
		for _, c := range table.ColumnDefinitions {
			if c.Priority == 0 { // what kubectl get shows without -o wide
				shown = append(shown, c.Name)
			}
		}
		if !slices.Equal(shown, columns) {
			t.Errorf("%s columns = %v, want %v", resource, shown, columns)
		}
	}
}

const selectorsNamespace = "selectors"

// TestFieldSelectors finds people the way HR knows them, through the real kubectl: the API server
// filters StaffMembers on the CRD's selectableFields and returns exactly the matching member.
func TestFieldSelectors(t *testing.T) {
	ensureNamespace(t, selectorsNamespace)
	createMember(t, "ana-ruiz", `{"spec": {"email": "ana.ruiz@example.test", "profile": {"employeeID": "RFH-0001"}}}`, memberStatus("Invited", "Ready", ""))
	createMember(t, "sam-lee", `{"spec": {"email": "sam.lee@example.test", "profile": {"employeeID": "RFH-0002"}}}`, memberStatus("Active", "Ready", ""))
	createMember(t, "jordan-kim", `{"spec": {"email": "jordan.kim@example.test", "profile": {"employeeID": "RFH-0005"}, "accountState": "Deactivated"}}`,
		memberStatus("Deactivated", "Deactivated", ""))
	for _, c := range []struct {
		reason, selector string
		want             []string
	}{
		{"the work email", "spec.email=sam.lee@example.test", []string{"sam-lee"}},
		{"the employee ID", "spec.profile.employeeID=RFH-0005", []string{"jordan-kim"}},
		{"the account state", "spec.accountState=Deactivated", []string{"jordan-kim"}},
		{"the defaulted account state", "spec.accountState=Active", []string{"ana-ruiz", "sam-lee"}},
		{"the phase, from status", "status.phase=Invited", []string{"ana-ruiz"}},
		{"two fields, negated", "status.phase!=Invited,spec.accountState!=Deactivated", []string{"sam-lee"}},
		{"nobody", "spec.email=nobody@example.test", nil},
	} {
		t.Run(c.reason, func(t *testing.T) {
			out := kubectl(t, "get", "sm", "-n", selectorsNamespace, "--field-selector", c.selector, "-o", "jsonpath={.items[*].metadata.name}")
			if got := strings.Fields(out); !slices.Equal(got, c.want) {
				t.Errorf("kubectl get sm --field-selector %s = %v, want %v", c.selector, got, c.want)
			}
		})
	}
	// A field that is not selectable is refused, not ignored: a typo lists nobody by mistake.
	out, err := runKubectl(t, "get", "sm", "-n", selectorsNamespace, "--field-selector", "spec.profile.givenName=Ana")
	if err == nil || !strings.Contains(out, "field label not supported") {
		t.Errorf("a selector on a field that is not selectable: err = %v, output:\n%s", err, out)
	}
}

// TestStuckOnboardingColumns: kubectl get sm shows Ready's reason, so an onboarding stuck on an
// expired link is seen without reading conditions, and -o wide the account the person signs in with.
func TestStuckOnboardingColumns(t *testing.T) {
	ensureNamespace(t, selectorsNamespace)
	const account = "uid=lee.park,ou=people,ou=selectors,dc=example,dc=test" // adopted: its uid is its own
	createMember(t, "lee-park", `{"spec": {"email": "lee.park@example.test"}}`, memberStatus("Invited", "InvitationExpired", account))

	out := kubectl(t, "get", "sm", "lee-park", "-n", selectorsNamespace)
	if !strings.Contains(out, "REASON") || !strings.Contains(out, "InvitationExpired") || strings.Contains(out, account) {
		t.Errorf("kubectl get sm shows no REASON InvitationExpired, or the long account column by default:\n%s", out)
	}
	if !strings.Contains(out, "SIGN-IN") || !strings.Contains(out, "lee.park") {
		t.Errorf("kubectl get sm does not show the sign-in name:\n%s", out)
	}
	if wide := kubectl(t, "get", "sm", "lee-park", "-n", selectorsNamespace, "-o", "wide"); !strings.Contains(wide, "ACCOUNT") || !strings.Contains(wide, account) {
		t.Errorf("kubectl get sm -o wide does not show the account:\n%s", wide)
	}
}

// createMember creates a valid StaffMember changed by patch, then writes its status as the
// operator would.
func createMember(t *testing.T, name, patch string, status map[string]any) {
	t.Helper()
	obj := objectFor(t, "StaffMember", patch)
	obj.SetNamespace(selectorsNamespace)
	obj.SetName(name)
	if err := k8s.Create(context.Background(), obj); err != nil {
		t.Fatalf("create %s: %v", name, err)
	}
	obj.Object["status"] = status
	if err := k8s.Status().Update(context.Background(), obj); err != nil {
		t.Fatalf("write the status of %s: %v", name, err)
	}
}

// memberStatus is a status with a phase, a Ready condition whose reason is readyReason (True
// when it is "Ready") and an account.
func memberStatus(phase, readyReason, accountID string) map[string]any {
	ready := string(metav1.ConditionFalse)
	if readyReason == staffv1alpha1.ReasonReady {
		ready = string(metav1.ConditionTrue)
	}
	status := map[string]any{
		"observedGeneration": int64(1),
		"phase":              phase,
		"conditions": []any{map[string]any{
			"type": staffv1alpha1.ConditionReady, "status": ready, "reason": readyReason, "message": "set by the test",
			"lastTransitionTime": "2026-11-23T09:00:00Z", "observedGeneration": int64(1),
		}},
	}
	if accountID != "" {
		status["accountID"] = accountID
		status["signInName"] = "lee.park"
	}
	return status
}
