package v1alpha1

// OrganizationNameAnnotation on a namespace gives the practice's display name, used in mails and on
// the invitation page. Without it the namespace name is shown.
const OrganizationNameAnnotation = "staff.rosterops.io/organization-name"

// RemovalsApprovedAtAnnotation on a namespace (a practice) approves, at the RFC 3339 time it
// holds, the removal of the directory entries of every member whose deletion began before then
// and that the mass-removal guard holds back (README: Install on a cluster).
const RemovalsApprovedAtAnnotation = "staff.rosterops.io/removals-approved-at"

// AdoptFromAnywhereAnnotation on a namespace (a practice) lists, comma-separated, the
// StaffMembers of that namespace whose account may be adopted from anywhere in the directory
// rather than only from the practice's own part of it. Namespaces are cluster-scoped, so only a
// cluster administrator can grant it: nobody whose rights end at the practice's namespace can.
// It matters only when the operator's configuration allows adoption at all.
const AdoptFromAnywhereAnnotation = "staff.rosterops.io/adopt-from-anywhere"

// Annotations that request an imperative action on a declarative object (the Flux "requested at"
// convention). The value is any new string, typically a timestamp; the object's status records the
// last value handled, so each request is carried out once and never fights with what Git holds.
const (
	// ResendRequestedAtAnnotation on an Invitation sends a fresh link and invalidates older ones.
	// On a StaffMember it does the same for the member's current Invitation, so that a pipeline
	// (or `kubectl annotate -l`) needs no Invitation names.
	ResendRequestedAtAnnotation = "staff.rosterops.io/resend-requested-at"
	// PasswordResetRequestedAtAnnotation on a StaffMember mails a password-reset link.
	PasswordResetRequestedAtAnnotation = "staff.rosterops.io/password-reset-requested-at"
	// UnlockRequestedAtAnnotation on a StaffMember clears a lockout made by the directory.
	UnlockRequestedAtAnnotation = "staff.rosterops.io/unlock-requested-at"
)

// ConditionReady is the condition every kind reports: True when the object has converged.
const ConditionReady = "Ready"

// ObjectName is the name of another object of this API in the same namespace.
// +kubebuilder:validation:MinLength=1
// +kubebuilder:validation:MaxLength=63
// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')",message="must be the name of an object in this namespace: lowercase letters, digits and '-', starting and ending with a letter or digit"
type ObjectName string

// LocalObjectReference names an object of a known kind in the same namespace.
type LocalObjectReference struct {
	// Name of the referenced object.
	// +required
	Name ObjectName `json:"name"`
}
