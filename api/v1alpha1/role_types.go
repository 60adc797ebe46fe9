package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// RoleCategory groups roles for licensing and audits.
// +kubebuilder:validation:Enum=Provider;Administrative;Compliance
type RoleCategory string

const (
	// RoleCategoryProvider is a clinical role: physicians, therapists, nurses.
	RoleCategoryProvider RoleCategory = "Provider"
	// RoleCategoryAdministrative is a front-office or back-office role.
	RoleCategoryAdministrative RoleCategory = "Administrative"
	// RoleCategoryCompliance is an audit or compliance role.
	RoleCategoryCompliance RoleCategory = "Compliance"
)

// Permission is one entry of the fixed permission catalogue, named <module>.<action>.
// +kubebuilder:validation:Enum=calendar.view;calendar.create;calendar.delete;billing.processPayments;billing.issueRefunds;billing.viewRevenue;clinical.viewCharts;clinical.writeNotes;clinical.manageMedications;settings.manage;queue.delayCallback
type Permission string

// The permission catalogue.
const (
	PermissionCalendarView              Permission = "calendar.view"
	PermissionCalendarCreate            Permission = "calendar.create"
	PermissionCalendarDelete            Permission = "calendar.delete"
	PermissionBillingProcessPayments    Permission = "billing.processPayments"
	PermissionBillingIssueRefunds       Permission = "billing.issueRefunds"
	PermissionBillingViewRevenue        Permission = "billing.viewRevenue"
	PermissionClinicalViewCharts        Permission = "clinical.viewCharts"
	PermissionClinicalWriteNotes        Permission = "clinical.writeNotes"
	PermissionClinicalManageMedications Permission = "clinical.manageMedications"
	PermissionSettingsManage            Permission = "settings.manage"
	PermissionQueueDelayCallback        Permission = "queue.delayCallback"
)

// RoleSpec declares a named set of permissions.
type RoleSpec struct {
	// DisplayName is the role's name as staff know it.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	DisplayName DisplayText `json:"displayName"`

	// Description says what the role is for.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Description ParagraphText `json:"description,omitempty"`

	// Category is Provider, Administrative or Compliance.
	// +required
	Category RoleCategory `json:"category"`

	// Billable says whether a member holding this role takes a paid seat.
	// +optional
	// +kubebuilder:default=false
	Billable bool `json:"billable"`

	// Permissions granted by the role, from the catalogue: calendar.view, calendar.create,
	// calendar.delete, billing.processPayments, billing.issueRefunds, billing.viewRevenue,
	// clinical.viewCharts, clinical.writeNotes, clinical.manageMedications, settings.manage and
	// queue.delayCallback.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=11
	Permissions []Permission `json:"permissions,omitempty"`
}

// RoleStatus is the observed state of a Role.
type RoleStatus struct {
	// ObservedGeneration is the generation of the spec that was last acted on.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration"`

	// Conditions: Ready says whether the role's directory group matches the spec.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=8
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// GroupID identifies the role's group in the directory.
	// +optional
	GroupID string `json:"groupID,omitempty"`

	// MemberCount is the number of staff members holding this role.
	// +optional
	MemberCount int32 `json:"memberCount"`
}

// Role is a named set of permissions. In the directory it is a group carrying the permissions.
// Its name is a DNS label, stricter than what Kubernetes allows: StaffMembers name their Roles in
// spec.roles, which takes only DNS labels, so a Role named front.desk could never be held.
// The name is checked when the object is created, so objects made before this rule can still
// be changed and deleted.
// +kubebuilder:validation:XValidation:rule="oldSelf.hasValue() || self.metadata.name.matches('^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$')",optionalOldSelf=true,message="metadata.name of a Role must be a DNS label, because StaffMembers list Roles by name in spec.roles: at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit, no '.' (front-desk, not front.desk)"
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=srole,categories=staff
// +kubebuilder:printcolumn:name="Category",type=string,JSONPath=`.spec.category`
// +kubebuilder:printcolumn:name="Billable",type=boolean,JSONPath=`.spec.billable`
// +kubebuilder:printcolumn:name="Members",type=integer,JSONPath=`.status.memberCount`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Role struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +required
	Spec RoleSpec `json:"spec"`
	// Status is the observed state of the Role. It defaults to observedGeneration 0, so that
	// one never reconciled reads as not yet observed (kstatus: InProgress), not as Current.
	// +kubebuilder:default={observedGeneration:0}
	Status RoleStatus `json:"status,omitempty"`
}

// RoleList is a list of Roles.
// +kubebuilder:object:root=true
type RoleList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Role `json:"items"`
}

func init() {
	SchemeBuilder.Register(&Role{}, &RoleList{})
}
