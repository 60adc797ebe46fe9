package staff

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	staffv1alpha1 "github.com/rosterops/staff-operator/api/v1alpha1"
)

func TestDesiredAccountIsOwnedByTheObject(t *testing.T) {
	m := &staffv1alpha1.StaffMember{ObjectMeta: metav1.ObjectMeta{Namespace: "practice", Name: "ana", UID: "uid-1"}}
	m.Spec.Email = "ana@example.test"
	a := DesiredAccount(m)
	if a.Key.Organization != "practice" || a.Key.Name != "ana" || a.OwnerUID != "uid-1" || a.Email != "ana@example.test" {
		t.Errorf("account %+v", a)
	}
}

func TestCreatedForAnother(t *testing.T) {
	m := &staffv1alpha1.StaffMember{ObjectMeta: metav1.ObjectMeta{Name: "ana", UID: "uid-new"}}
	owned := func(kind string, uid types.UID) *staffv1alpha1.Invitation {
		return &staffv1alpha1.Invitation{ObjectMeta: metav1.ObjectMeta{OwnerReferences: []metav1.OwnerReference{{
			APIVersion: staffv1alpha1.GroupVersion.String(), Kind: kind, Name: "ana", UID: uid, Controller: ptr.To(true),
		}}}}
	}
	for name, tc := range map[string]struct {
		inv  *staffv1alpha1.Invitation
		want bool
	}{
		"made for this member":                  {owned("StaffMember", "uid-new"), false},
		"made for an earlier member, same name": {owned("StaffMember", "uid-old"), true},
		"committed by hand, no owner":           {&staffv1alpha1.Invitation{}, false},
	} {
		if got := CreatedForAnother(tc.inv, m); got != tc.want {
			t.Errorf("%s: %v, want %v", name, got, tc.want)
		}
	}
}
