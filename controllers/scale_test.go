package controllers

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	staffv1alpha1 "github.com/rosterops/staff-operator/api/v1alpha1"
	"github.com/rosterops/staff-operator/internal/directory"
)

// scaleTimeout bounds the waits of the tests with hundreds of members, on a busy 2-core machine.
const scaleTimeout = 5 * time.Minute

// TestPracticeBeyondTheDirectorySizeLimit: slapd answers a bind DN at most 500 entries per
// search, paged or not, unless its limits say otherwise. The operator binds as the service
// account under the limits docs/directory.md gives production, and a practice of more than
// 500 staff converges: every account, one group holding them all, every invitation mailed.
func TestPracticeBeyondTheDirectorySizeLimit(t *testing.T) {
	const n = 510
	op := startOperator(t)
	op.create(newRole("staff"))
	for i := range n {
		name := fmt.Sprintf("member-%03d", i)
		op.create(newMember(name, op.email(name), "staff"))
	}
	eventually(t, fmt.Sprintf("%d members invited", n), func() (bool, string) {
		var list staffv1alpha1.StaffMemberList
		if err := k8s.List(context.Background(), &list, client.InNamespace(op.ns)); err != nil {
			return false, err.Error()
		}
		invited := 0
		for _, m := range list.Items {
			if m.Status.Phase == staffv1alpha1.StaffMemberInvited {
				invited++
			}
		}
		return invited == n, fmt.Sprintf("%d invited", invited)
	}, scaleTimeout)
	eventually(t, fmt.Sprintf("the staff group with %d members", n), func() (bool, string) {
		role := op.get("staff", &staffv1alpha1.Role{}).(*staffv1alpha1.Role)
		return role.Status.MemberCount == n && len(op.groupMembersOf(directory.GroupRole, "staff")) == n,
			fmt.Sprintf("memberCount %d", role.Status.MemberCount)
	}, scaleTimeout)
	inventory := op.inventory()
	accounts := 0
	for _, a := range inventory.Accounts {
		if a.Key.Organization == op.ns {
			accounts++
		}
	}
	if accounts != n {
		t.Errorf("the resync listing shows %d accounts of the practice, want %d", accounts, n)
	}
}

// TestSizeLimitNamesTheSetting: a size-limit answer becomes a condition that names the server
// setting to change, not a generic directory error.
func TestSizeLimitNamesTheSetting(t *testing.T) {
	var conds []metav1.Condition
	err := fmt.Errorf("set group members: %w: %w: LDAP Result Code 4", directory.ErrAccessDenied, directory.ErrSizeLimit)
	setDirectoryError(&conds, 3, "set group members", err)
	for _, typ := range []string{staffv1alpha1.ConditionDirectorySynced, staffv1alpha1.ConditionReady} {
		if !hasCondition(conds, typ, metav1.ConditionFalse, staffv1alpha1.ReasonDirectorySizeLimit) {
			t.Errorf("%s: %+v", typ, conds)
		}
		if msg := conditionMessage(conds, typ); !strings.Contains(msg, "size.prtotal=unlimited") || !strings.Contains(msg, "directory.ldap.bindDN") {
			t.Errorf("%s does not name the setting: %s", typ, msg)
		}
	}
	if errors.Is(err, directory.ErrInvalid) {
		t.Error("a size limit is not invalid data")
	}
}
