package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// AccountState is the state the platform team wants the account in.
// +kubebuilder:validation:Enum=Active;Deactivated
type AccountState string

const (
	// AccountStateActive lets the person sign in (once they have set a password).
	AccountStateActive AccountState = "Active"
	// AccountStateDeactivated locks the account so that sign-in fails, and revokes pending
	// invitations. The directory entry and its history are kept.
	AccountStateDeactivated AccountState = "Deactivated"
)

// DeletionPolicy says what happens to the directory account when the StaffMember is deleted.
// +kubebuilder:validation:Enum=Deactivate;Delete;Orphan
type DeletionPolicy string

const (
	// DeletionPolicyDeactivate locks the account and keeps the entry for auditing.
	DeletionPolicyDeactivate DeletionPolicy = "Deactivate"
	// DeletionPolicyDelete locks the account, then removes the entry.
	DeletionPolicyDelete DeletionPolicy = "Delete"
	// DeletionPolicyOrphan leaves the directory alone.
	DeletionPolicyOrphan DeletionPolicy = "Orphan"
)

// StaffMemberPhase summarises where a StaffMember is in its lifecycle.
// +kubebuilder:validation:Enum=Pending;Invited;Active;Deactivated;LockedOut;Failed
type StaffMemberPhase string

const (
	// StaffMemberPending: the account is not yet in the directory.
	StaffMemberPending StaffMemberPhase = "Pending"
	// StaffMemberInvited: the account exists and an invitation is out, not yet accepted.
	StaffMemberInvited StaffMemberPhase = "Invited"
	// StaffMemberActive: the person has set a password and can sign in.
	StaffMemberActive StaffMemberPhase = "Active"
	// StaffMemberDeactivated: the account is locked on request; sign-in fails.
	StaffMemberDeactivated StaffMemberPhase = "Deactivated"
	// StaffMemberLockedOut: the directory locked the account, for example after too long without
	// sign-in. The unlock annotation clears it.
	StaffMemberLockedOut StaffMemberPhase = "LockedOut"
	// StaffMemberFailed: the member cannot converge; a condition says why.
	StaffMemberFailed StaffMemberPhase = "Failed"
)

// SchedulingStep is the length of a scheduling slot in minutes.
// +kubebuilder:validation:Enum=5;10;15;20;30;45;60
type SchedulingStep int32

// StaffMemberSpec declares a person, their access and the state of their account.
// +kubebuilder:validation:XValidation:rule="!has(self.primaryLocation) || self.allLocations || self.primaryLocation in self.locations",message="primaryLocation must be one of locations unless allLocations is true"
// +kubebuilder:validation:XValidation:rule="!self.allLocations || size(self.locations) == 0",message="locations must be empty when allLocations is true: every location is granted already"
type StaffMemberSpec struct {
	// Email is the person's work email address. It receives the invitation and identifies the
	// account in the directory. Changing it revokes a pending invitation and invites the new
	// address.
	// +required
	// +kubebuilder:validation:MinLength=3
	// +kubebuilder:validation:MaxLength=254
	// +kubebuilder:validation:XValidation:rule="self.matches('^[A-Za-z0-9.!#$%&\\'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\\\\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$')",message="email must be a single address such as jane.doe@example.org"
	// The rule above takes the characters of an address; these two take its shape, as RFC 5321
	// does and as mail servers will, later and less clearly: the part before the @ is dot-atoms
	// (no dot first, last or twice in a row) of at most 64 characters.
	// +kubebuilder:validation:XValidation:rule="!self.matches('^[.]|[.]@|^[^@]*[.][.]')",message="email must not have a dot at the start or end of the part before the @, nor two dots in a row there (RFC 5321): write the address as the person's mail server knows it, such as jane.doe@example.org"
	// +kubebuilder:validation:XValidation:rule="!self.matches('^[^@]{65,}@')",message="email may have at most 64 characters before the @ (RFC 5321)"
	Email string `json:"email"`

	// Profile is the person's name and contact details.
	// +required
	Profile Profile `json:"profile"`

	// Roles are the names of the Roles granted, in this namespace.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:default={}
	Roles []ObjectName `json:"roles,omitempty"`

	// PrimaryLocation is the Location where the person usually works.
	// +optional
	PrimaryLocation ObjectName `json:"primaryLocation,omitempty"`

	// Locations are the names of the Locations the person may access, in this namespace.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:default={}
	Locations []ObjectName `json:"locations,omitempty"`

	// AllLocations grants access to every Location of the practice, present and future.
	// +optional
	// +kubebuilder:default=false
	AllLocations bool `json:"allLocations"`

	// ProviderCredentials are set for clinicians who see patients.
	// +optional
	ProviderCredentials *ProviderCredentials `json:"providerCredentials,omitempty"`

	// AccountState is Active (default) or Deactivated. Deactivated locks the account so that
	// sign-in fails and revokes pending invitations; reactivating unlocks it.
	// +optional
	// +kubebuilder:default=Active
	AccountState AccountState `json:"accountState,omitempty"`

	// DeletionPolicy says what deleting this object does to the account: Deactivate (default:
	// lock and keep the entry), Delete (lock, then remove the entry) or Orphan (leave it).
	// +optional
	// +kubebuilder:default=Deactivate
	DeletionPolicy DeletionPolicy `json:"deletionPolicy,omitempty"`
}

// Profile is a person's name and contact details.
type Profile struct {
	// GivenName is the person's first name.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	GivenName DisplayText `json:"givenName"`

	// FamilyName is the person's last name.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	FamilyName DisplayText `json:"familyName"`

	// DisplayName is how the person is addressed; defaults to "GivenName FamilyName".
	// +optional
	// +kubebuilder:validation:MaxLength=128
	DisplayName DisplayText `json:"displayName,omitempty"`

	// Phone is a work phone number in international form, such as +1 312 555 0100.
	// +optional
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="self.matches('^\\\\+?[0-9][0-9 ().-]{5,30}$')",message="phone must be a phone number such as +1 312 555 0100: digits, spaces, '(', ')', '.', '-' and an optional leading '+'"
	Phone string `json:"phone,omitempty"`

	// Title is the job title, such as Physician Assistant.
	// +optional
	// +kubebuilder:validation:MaxLength=128
	Title DisplayText `json:"title,omitempty"`

	// EmployeeID is the practice's own identifier for the person.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="self.matches('^[A-Za-z0-9._-]+$')",message="employeeID may contain only letters, digits, '.', '_' and '-'"
	EmployeeID string `json:"employeeID,omitempty"`
}

// ProviderCredentials describe a clinician who sees patients.
type ProviderCredentials struct {
	// NPI is the 10-digit US National Provider Identifier. Its last digit is a Luhn check digit
	// over the prefix 80840 and the first nine digits (CMS), so a mistyped NPI is refused at
	// admission; the prefix adds a constant 24 to the sum.
	// +optional
	// +kubebuilder:validation:MaxLength=10
	// +kubebuilder:validation:XValidation:rule="self.matches('^[0-9]{10}$')",message="npi must be exactly 10 digits"
	// +kubebuilder:validation:XValidation:rule="!self.matches('^[0-9]{10}$') || (24 + [0, 2, 4, 6, 8].map(i, int(self.substring(i, i + 1)) * 2).map(d, d > 9 ? d - 9 : d).sum() + [1, 3, 5, 7, 9].map(i, int(self.substring(i, i + 1))).sum()) % 10 == 0",message="npi check digit does not match: the number is mistyped (check it in the NPPES registry)"
	NPI string `json:"npi,omitempty"`

	// TaxonomyCode is the NUCC health care provider taxonomy code, such as 207Q00000X.
	// +optional
	// +kubebuilder:validation:MaxLength=10
	// +kubebuilder:validation:XValidation:rule="self.matches('^[0-9]{3}[0-9A-Z]{6}X$')",message="taxonomyCode must be a 10-character NUCC code such as 207Q00000X: 3 digits, 6 digits or capital letters, then X"
	TaxonomyCode string `json:"taxonomyCode,omitempty"`

	// Bio is a short biography shown to patients.
	// +optional
	// +kubebuilder:validation:MaxLength=2000
	Bio ParagraphText `json:"bio,omitempty"`

	// Capacity is how many patients the provider can see in one scheduling slot.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100
	Capacity *int32 `json:"capacity,omitempty"`

	// SchedulingStepMinutes is the length of the provider's scheduling slots: 5, 10, 15, 20, 30,
	// 45 or 60 minutes.
	// +optional
	SchedulingStepMinutes SchedulingStep `json:"schedulingStepMinutes,omitempty"`

	// Tags are free-form labels for scheduling and search, such as pediatrics or telehealth.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=20
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=64
	Tags []DisplayText `json:"tags,omitempty"`

	// EHRStaffID is the provider's identifier in the electronic health record system.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	EHRStaffID DisplayText `json:"ehrStaffID,omitempty"`
}

// StaffMemberStatus is the observed state of a StaffMember.
type StaffMemberStatus struct {
	// ObservedGeneration is the generation of the spec that was last acted on. A pipeline waits
	// for it to reach metadata.generation to know its change was handled. Always written (0 until
	// the first pass), so that a member never reconciled is not taken for one that was.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration"`

	// Phase is Pending, Invited, Active, Deactivated, LockedOut or Failed.
	// +optional
	Phase StaffMemberPhase `json:"phase,omitempty"`

	// PhaseSince is when the member entered its current phase.
	// +optional
	PhaseSince *metav1.Time `json:"phaseSince,omitempty"`

	// Conditions: Ready sums up; the others say what is stuck.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=16
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// AccountID identifies the member's account in the directory.
	// +optional
	AccountID string `json:"accountID,omitempty"`

	// SignInName is what the person types to sign in: the account's uid, the member's name for
	// an account the operator created, the entry's own for an adopted one.
	// +optional
	SignInName string `json:"signInName,omitempty"`

	// LastSignInAt is the last successful sign-in the directory recorded.
	// +optional
	LastSignInAt *metav1.Time `json:"lastSignInAt,omitempty"`

	// Invitation is the name of the member's current Invitation, if any.
	// +optional
	Invitation string `json:"invitation,omitempty"`

	// LastHandledPasswordResetAt is the value of the password-reset-requested-at annotation that
	// was last carried out.
	// +optional
	LastHandledPasswordResetAt string `json:"lastHandledPasswordResetAt,omitempty"`

	// LastHandledUnlockAt is the value of the unlock-requested-at annotation that was last
	// carried out.
	// +optional
	LastHandledUnlockAt string `json:"lastHandledUnlockAt,omitempty"`

	// LastHandledResendAt is the value of the resend-requested-at annotation that was last
	// passed on to the member's Invitation.
	// +optional
	LastHandledResendAt string `json:"lastHandledResendAt,omitempty"`

	// PasswordSetAt is when the account's password was last set, as the directory records it;
	// empty while the account has no password the operator trusts (a new account, or an
	// adopted one whose owner has not yet chosen a password through a link).
	// +optional
	PasswordSetAt *metav1.Time `json:"passwordSetAt,omitempty"`

	// EmailChange records the last change of the email of an account that had a password. It is
	// written before the directory changes, so that the previous address is told even when the
	// manager stops in between; password resets requested soon after are announced to the
	// previous address too.
	// +optional
	EmailChange *EmailChange `json:"emailChange,omitempty"`
}

// EmailChangeNotice is the state of the notice mailed to the previous address.
// +kubebuilder:validation:Enum=Pending;Sent;Rejected
type EmailChangeNotice string

const (
	// EmailChangeNoticePending: the notice is to be sent.
	EmailChangeNoticePending EmailChangeNotice = "Pending"
	// EmailChangeNoticeSent: the previous address's mail server accepted the notice.
	EmailChangeNoticeSent EmailChangeNotice = "Sent"
	// EmailChangeNoticeRejected: the previous address's mail server refused the notice for
	// good (an event gives its reply); it is not sent again.
	EmailChangeNoticeRejected EmailChangeNotice = "Rejected"
)

// EmailChange is one change of a member's account email.
type EmailChange struct {
	// PreviousEmail is the address the account had.
	// +required
	PreviousEmail string `json:"previousEmail"`

	// NewEmail is the address it was changed to.
	// +required
	NewEmail string `json:"newEmail"`

	// ChangedAt is when the operator saw the change.
	// +required
	ChangedAt metav1.Time `json:"changedAt"`

	// Generation is the spec generation that changed the email. It numbers the notice's
	// Message-ID, so that a notice sent again after a restart is the same message.
	// +required
	Generation int64 `json:"generation"`

	// Notice is Pending until the previous address was told, then Sent or Rejected.
	// +required
	Notice EmailChangeNotice `json:"notice"`
}

// Ready and its reason are default columns because the phase alone hides a stuck onboarding: a
// member whose link expired is still Invited, and only Ready's reason (InvitationExpired) says
// so. The account's DN is what the person signs in with (its uid is the member's name unless the
// account was adopted); it is long, so it is shown with -o wide.
//
// Selectable fields find people the way HR knows them, with kubectl get --field-selector; the
// API server filters, so a pipeline lists one member of thousands without reading the others.
// +kubebuilder:selectablefield:JSONPath=`.spec.email`
// +kubebuilder:selectablefield:JSONPath=`.spec.profile.employeeID`
// +kubebuilder:selectablefield:JSONPath=`.spec.accountState`
// +kubebuilder:selectablefield:JSONPath=`.status.phase`

// StaffMember is a person working for the practice and their account in the directory.
// Its name is a DNS label, stricter than what Kubernetes allows: an Invitation names its member in
// spec.memberRef, which takes only DNS labels, and the operator names the member's Invitations
// <name>-<8 hex> and <name>-reset-<8 hex>, which then always fit (at most 78 characters).
// The name is checked when the object is created, so objects made before this rule can still
// be changed and deleted.
// +kubebuilder:validation:XValidation:rule="oldSelf.hasValue() || self.metadata.name.matches('^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$')",optionalOldSelf=true,message="metadata.name of a StaffMember must be a DNS label, because Invitations name their member in spec.memberRef: at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit, no '.' (ana-ruiz, not ana.ruiz)"
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=sm,categories=staff
// +kubebuilder:printcolumn:name="Email",type=string,JSONPath=`.spec.email`
// +kubebuilder:printcolumn:name="Sign-in",type=string,JSONPath=`.status.signInName`,description="What the person types to sign in (the account's uid)"
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`,description="Why the member is or is not Ready, such as InvitationExpired"
// +kubebuilder:printcolumn:name="Roles",type=string,JSONPath=`.spec.roles`
// +kubebuilder:printcolumn:name="Account",type=string,JSONPath=`.status.accountID`,priority=1,description="The directory entry the person signs in with"
// +kubebuilder:printcolumn:name="Since",type=date,JSONPath=`.status.phaseSince`,priority=1
// +kubebuilder:printcolumn:name="Last Sign-in",type=date,JSONPath=`.status.lastSignInAt`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type StaffMember struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +required
	Spec StaffMemberSpec `json:"spec"`
	// Status is the observed state of the StaffMember. It defaults to observedGeneration 0, so that
	// one never reconciled reads as not yet observed (kstatus: InProgress), not as Current.
	// +kubebuilder:default={observedGeneration:0}
	Status StaffMemberStatus `json:"status,omitempty"`
}

// StaffMemberList is a list of StaffMembers.
// +kubebuilder:object:root=true
type StaffMemberList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []StaffMember `json:"items"`
}

func init() {
	SchemeBuilder.Register(&StaffMember{}, &StaffMemberList{})
}
