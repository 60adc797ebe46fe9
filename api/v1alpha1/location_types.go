package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// LocationSpec declares a facility of the practice: a clinic, a division, a site.
type LocationSpec struct {
	// DisplayName is the facility's name as staff know it.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	DisplayName DisplayText `json:"displayName"`

	// Address is the facility's postal address.
	// +optional
	Address *PostalAddress `json:"address,omitempty"`

	// TimeZone is the facility's IANA time zone, such as America/Chicago. Expiry times in mails and
	// on the invitation page are shown in it.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="self == 'UTC' || self.matches('^[A-Za-z]+(/[A-Za-z0-9_+-]+)+$')",message="timeZone must be an IANA time zone name such as America/Chicago or UTC"
	// A name of the right shape may still name no zone (America/Chicag), and then every mail
	// to the people of the location would fail. CEL resolves the zone with the API server's
	// own tz database and fails on an unknown one; an evaluation error refuses the object, and
	// the user reads the error followed by this message. Names of the wrong shape are left to
	// the rule above, so that they get one clear message.
	// +kubebuilder:validation:XValidation:rule="!self.matches('^[A-Za-z]+(/[A-Za-z0-9_+-]+)+$') || timestamp('2000-01-01T00:00:00Z').getHours(self) >= 0",message="timeZone must name a zone of the IANA tz database, such as America/Chicago: check the spelling and capitals"
	TimeZone string `json:"timeZone"`
}

// PostalAddress is a postal address.
type PostalAddress struct {
	// Lines are the street lines, most specific first.
	// +optional
	// +kubebuilder:validation:MaxItems=3
	// +kubebuilder:validation:items:MaxLength=128
	Lines []DisplayText `json:"lines,omitempty"`
	// City or locality.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	City DisplayText `json:"city,omitempty"`
	// Region is the state, province or county.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	Region DisplayText `json:"region,omitempty"`
	// PostalCode is the ZIP or postal code.
	// +optional
	// +kubebuilder:validation:MaxLength=16
	PostalCode DisplayText `json:"postalCode,omitempty"`
	// Country is the ISO 3166-1 alpha-2 code, such as US.
	// +optional
	// +kubebuilder:validation:XValidation:rule="self.matches('^[A-Z]{2}$')",message="country must be a two-letter ISO 3166-1 code such as US"
	// +kubebuilder:validation:MaxLength=2
	Country string `json:"country,omitempty"`
}

// LocationStatus is the observed state of a Location.
type LocationStatus struct {
	// ObservedGeneration is the generation of the spec that was last acted on.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration"`

	// Conditions: Ready says whether the location's directory group matches the spec.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=8
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// GroupID identifies the location's group in the directory.
	// +optional
	GroupID string `json:"groupID,omitempty"`

	// MemberCount is the number of staff members with access to this location.
	// +optional
	MemberCount int32 `json:"memberCount"`
}

// Location is a facility of the practice. In the directory it is a group whose members may access
// the facility.
// Its name is a DNS label, stricter than what Kubernetes allows: StaffMembers name their Locations
// in spec.locations and spec.primaryLocation, which take only DNS labels.
// The name is checked when the object is created, so objects made before this rule can still
// be changed and deleted.
// +kubebuilder:validation:XValidation:rule="oldSelf.hasValue() || self.metadata.name.matches('^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$')",optionalOldSelf=true,message="metadata.name of a Location must be a DNS label, because StaffMembers list Locations by name in spec.locations and spec.primaryLocation: at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit, no '.' (north-clinic, not north.clinic)"
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=loc,categories=staff
// +kubebuilder:printcolumn:name="Display Name",type=string,JSONPath=`.spec.displayName`
// +kubebuilder:printcolumn:name="Time Zone",type=string,JSONPath=`.spec.timeZone`
// +kubebuilder:printcolumn:name="Members",type=integer,JSONPath=`.status.memberCount`,priority=1
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Location struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +required
	Spec LocationSpec `json:"spec"`
	// Status is the observed state of the Location. It defaults to observedGeneration 0, so that
	// one never reconciled reads as not yet observed (kstatus: InProgress), not as Current.
	// +kubebuilder:default={observedGeneration:0}
	Status LocationStatus `json:"status,omitempty"`
}

// LocationList is a list of Locations.
// +kubebuilder:object:root=true
type LocationList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Location `json:"items"`
}

func init() {
	SchemeBuilder.Register(&Location{}, &LocationList{})
}
