package controllers

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	staffv1alpha1 "github.com/rosterops/staff-operator/api/v1alpha1"
	"github.com/rosterops/staff-operator/internal/directory"
)

const samplesNamespace = "riverside-family-health"

// applySamples creates every object in config/samples, as kubectl apply -f config/samples does.
func applySamples(t *testing.T) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(env.Root, "config", "samples", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no samples: %v", err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
		for {
			obj := &unstructured.Unstructured{}
			if err := dec.Decode(&obj.Object); err != nil {
				break
			}
			if len(obj.Object) == 0 {
				continue
			}
			if err := k8s.Create(context.Background(), obj); err != nil && obj.GetKind() != "Namespace" {
				t.Fatalf("%s: create %s %s: %v", filepath.Base(f), obj.GetKind(), obj.GetName(), err)
			}
		}
	}
}

func TestSamplesConverge(t *testing.T) {
	ensureNamespace(t, samplesNamespace)
	op := startOperator(t, func(o *operatorOptions) { o.namespace = samplesNamespace })
	applySamples(t)

	wantPhase := map[string]staffv1alpha1.StaffMemberPhase{
		"ana-ruiz": staffv1alpha1.StaffMemberInvited, "sam-lee": staffv1alpha1.StaffMemberInvited,
		"priya-patel": staffv1alpha1.StaffMemberInvited, "marcus-green": staffv1alpha1.StaffMemberInvited,
		"jordan-kim": staffv1alpha1.StaffMemberDeactivated,
	}
	for name, phase := range wantPhase {
		op.waitMember(name, string(phase), func(m *staffv1alpha1.StaffMember) bool { return isReady(m) && m.Status.Phase == phase })
	}
	// jordan-kim is deactivated: in no group.
	wantGroups := map[directory.GroupKind]map[string][]string{
		directory.GroupRole: {
			"physician": {"ana-ruiz"}, "front-desk": {"priya-patel", "sam-lee"},
			"billing-manager": {"priya-patel"}, "compliance-auditor": {"marcus-green"},
		},
		directory.GroupLocation: {
			"downtown-clinic":       {"ana-ruiz", "marcus-green", "priya-patel"},
			"northside-urgent-care": {"ana-ruiz", "marcus-green", "priya-patel", "sam-lee"},
		},
	}
	for kind, groups := range wantGroups {
		for name, members := range groups {
			eventually(t, fmt.Sprintf("%s group %s = %v", kind, name, members), func() (bool, string) {
				got := op.groupMembersOf(kind, name)
				return slices.Equal(got, members), "members " + join(got)
			})
		}
	}
	for _, email := range []string{"ana.ruiz@riverside.example.test", "sam.lee@riverside.example.test", "priya.patel@riverside.example.test", "marcus.green@audit.example.test"} {
		waitMails(t, email, 1)
	}
	// Every new member has been mailed; now check that nobody got a second mail and the
	// deactivated member got none.
	op.waitInvitation("sam-lee", "sent with its committed terms", func(i *staffv1alpha1.Invitation) bool {
		return sent(i) && i.Status.ExpiresAt.Sub(i.Status.SentAt.Time) == 48*time.Hour
	})
	for _, email := range []string{"ana.ruiz@riverside.example.test", "sam.lee@riverside.example.test", "priya.patel@riverside.example.test", "marcus.green@audit.example.test", "jordan.kim@riverside.example.test"} {
		want := 1
		if email == "jordan.kim@riverside.example.test" {
			want = 0
		}
		if got := len(mailsTo(email)); got != want {
			t.Errorf("%s received %d invitation mails, want %d", email, got, want)
		}
	}
}

// TestHundredMembersConverge measures how long 100 members take from being applied to having
// accounts, groups and sent invitations. It reports the figure; it asserts only convergence.
func TestHundredMembersConverge(t *testing.T) {
	op := startOperator(t)
	op.create(newRole("staff"))
	start := time.Now()
	for i := range 100 {
		op.create(newMember(fmt.Sprintf("m%03d", i), op.email(fmt.Sprintf("m%03d", i)), "staff"))
	}
	applied := time.Since(start)
	eventually(t, "100 members in the staff group", func() (bool, string) {
		n := len(op.groupMembersOf(directory.GroupRole, "staff"))
		return n == 100, fmt.Sprintf("%d members", n)
	})
	for i := range 100 {
		op.waitInvitation(fmt.Sprintf("m%03d", i), "sent", sent)
	}
	t.Logf("100 members: applied in %s, converged (accounts, group, invitations mailed) %s after the first was applied", applied.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
}
