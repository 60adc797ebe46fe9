package v1alpha1_test

import (
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/discovery"

	staffv1alpha1 "github.com/rosterops/staff-operator/api/v1alpha1"
)

const samplesNamespace = "riverside-family-health"

// kubectl runs the kubectl built with the control plane against it.
func kubectl(t *testing.T, args ...string) string {
	t.Helper()
	bin, err := env.Kubectl()
	if err != nil {
		t.Fatal(err)
	}
	kubeconfig, err := env.Kubeconfig(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, append([]string{"--kubeconfig", kubeconfig}, args...)...)
	cmd.Dir = env.Root
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
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
		"staffmembers": {"Name", "Email", "Phase", "Roles", "Age"},
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
