// Package staff holds what the reconcilers and the invitation page both derive from the API
// objects: the directory account a StaffMember stands for, whether its access must end, the
// names and time zone its mails and page show, and whether an Invitation is really its own.
package staff

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	staffv1alpha1 "github.com/rosterops/staff-operator/api/v1alpha1"
	"github.com/rosterops/staff-operator/internal/directory"
)

// AccountKey is the directory key of the member's account: its practice (namespace) and name.
func AccountKey(m *staffv1alpha1.StaffMember) directory.AccountKey {
	return directory.AccountKey{Organization: m.Namespace, Name: m.Name}
}

// DesiredAccount is the account the spec asks for, owned by this StaffMember object.
func DesiredAccount(m *staffv1alpha1.StaffMember) directory.Account {
	p := m.Spec.Profile
	return directory.Account{
		Key:         AccountKey(m),
		OwnerUID:    string(m.UID),
		GivenName:   p.GivenName,
		FamilyName:  p.FamilyName,
		DisplayName: p.DisplayName,
		Email:       m.Spec.Email,
		Phone:       p.Phone,
		Title:       p.Title,
		EmployeeID:  p.EmployeeID,
	}
}

// Deactivated reports whether the spec asks that the member can no longer sign in.
func Deactivated(m *staffv1alpha1.StaffMember) bool {
	return m.Spec.AccountState == staffv1alpha1.AccountStateDeactivated
}

// CreatedForAnother reports whether the operator created the Invitation for another object
// than m: an earlier StaffMember of the same name, deleted since. Its link belongs to the
// person that member was, never to the person m is.
func CreatedForAnother(inv *staffv1alpha1.Invitation, m *staffv1alpha1.StaffMember) bool {
	owner := metav1.GetControllerOf(inv)
	return owner != nil && owner.Kind == "StaffMember" && owner.UID != m.UID
}

// DisplayName is the member's name as mails and the page address them.
func DisplayName(m *staffv1alpha1.StaffMember) string {
	if m.Spec.Profile.DisplayName != "" {
		return m.Spec.Profile.DisplayName
	}
	return m.Spec.Profile.GivenName + " " + m.Spec.Profile.FamilyName
}

// PracticeName is the organization's display name: the namespace annotation, else its name.
func PracticeName(ctx context.Context, c client.Reader, namespace string) (string, error) {
	var ns corev1.Namespace
	if err := c.Get(ctx, client.ObjectKey{Name: namespace}, &ns); err != nil {
		return "", fmt.Errorf("read namespace %s: %w", namespace, err)
	}
	if name := ns.Annotations[staffv1alpha1.OrganizationNameAnnotation]; name != "" {
		return name, nil
	}
	return namespace, nil
}

// PrimaryTimeZone is the time zone of the member's primary location, in which expiry times are
// shown; empty (UTC) when there is none.
func PrimaryTimeZone(ctx context.Context, c client.Reader, m *staffv1alpha1.StaffMember) string {
	if m.Spec.PrimaryLocation == "" {
		return ""
	}
	var loc staffv1alpha1.Location
	if err := c.Get(ctx, client.ObjectKey{Namespace: m.Namespace, Name: string(m.Spec.PrimaryLocation)}, &loc); err != nil {
		return ""
	}
	return loc.Spec.TimeZone
}
