package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// InvitationPhase is where an Invitation is in its lifecycle.
// +kubebuilder:validation:Enum=Pending;Sent;Accepted;Expired;Revoked;Failed
type InvitationPhase string

const (
	// InvitationPending: no link has been mailed yet.
	InvitationPending InvitationPhase = "Pending"
	// InvitationSent: a link is out and has not expired.
	InvitationSent InvitationPhase = "Sent"
	// InvitationAccepted: the invitee set a password. Terminal.
	InvitationAccepted InvitationPhase = "Accepted"
	// InvitationExpired: the link expired unused. A resend request starts over.
	InvitationExpired InvitationPhase = "Expired"
	// InvitationRevoked: the member was deactivated, deleted, or its email changed. Terminal.
	InvitationRevoked InvitationPhase = "Revoked"
	// InvitationFailed: the mail server refused the message for good; a condition gives the
	// SMTP reason. A resend request tries again.
	InvitationFailed InvitationPhase = "Failed"
)

// InvitationPurpose says what the link lets its holder do.
// +kubebuilder:validation:Enum=Invitation;PasswordReset
type InvitationPurpose string

const (
	// PurposeInvitation invites a new member to choose a first password.
	PurposeInvitation InvitationPurpose = "Invitation"
	// PurposePasswordReset lets a member choose a new password; the operator creates these on
	// the password-reset-requested-at annotation.
	PurposePasswordReset InvitationPurpose = "PasswordReset"
)

// InvitationSpec declares an invitation for one StaffMember.
type InvitationSpec struct {
	// MemberRef names the StaffMember invited, in this namespace.
	// +required
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="memberRef is immutable: create a new Invitation for another member"
	MemberRef LocalObjectReference `json:"memberRef"`

	// Purpose is Invitation (default) or PasswordReset.
	// +optional
	// +kubebuilder:default=Invitation
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="purpose is immutable"
	Purpose InvitationPurpose `json:"purpose,omitempty"`

	// TTL is how long a mailed link stays valid, from 5m to 720h (30 days). Defaults to the
	// operator's invitations.defaultTTL (1h unless configured).
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+(\\\\.[0-9]+)?(ns|us|ms|s|m|h))+$') && duration(self) >= duration('5m') && duration(self) <= duration('720h')",message="ttl must be a duration between 5m and 720h (30 days), such as 1h or 48h"
	TTL *metav1.Duration `json:"ttl,omitempty"`

	// AutoResend mails a fresh link when one expires unused, a bounded number of times.
	// +optional
	AutoResend *AutoResendPolicy `json:"autoResend,omitempty"`
}

// AutoResendPolicy bounds automatic resends of expired invitations.
type AutoResendPolicy struct {
	// MaxResends is how many times an expired link is replaced by a fresh one automatically,
	// from 0 (never) to 10.
	// +required
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=10
	MaxResends int32 `json:"maxResends"`
}

// InvitationStatus is the observed state of an Invitation. The token itself is never stored: it
// exists only in the mail; TokenHash lets the invitation page find the invitation.
type InvitationStatus struct {
	// ObservedGeneration is the generation of the spec that was last acted on, also by an
	// Accepted or Revoked Invitation after a spec edit. Always written (0 until the first pass),
	// so that an Invitation never reconciled is not taken for one that was.
	ObservedGeneration int64 `json:"observedGeneration"`

	// Phase is Pending, Sent, Accepted, Expired, Revoked or Failed.
	// +optional
	Phase InvitationPhase `json:"phase,omitempty"`

	// Conditions: Ready sums up; Delivered says what happened to the last mail; Reconciling
	// (while a mail is under way or the member is awaited) and Stalled (the mail server refused
	// the mail for good) are present only while they hold, for kstatus.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=8
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// Attempt counts links issued: 1 for the first mail, one more for every resend. Each attempt
	// has its own token and its own Message-ID.
	// +optional
	Attempt int64 `json:"attempt,omitempty"`

	// SentAttempt is the last attempt the mail server accepted. While it is below Attempt, the
	// mail for Attempt is being sent: a restarted manager sends exactly that mail again, with the
	// same link and Message-ID, so it is neither lost nor told apart from the first try.
	// +optional
	SentAttempt int64 `json:"sentAttempt,omitempty"`

	// RemindedAttempt is the last attempt whose expiry reminder was taken on. It is written
	// before the reminder goes to the mail server, so that a reminder is mailed at most once per
	// attempt, even when the manager stops right after the server accepted it.
	// +optional
	RemindedAttempt int64 `json:"remindedAttempt,omitempty"`

	// DelegatedTo names the operator's own Invitation for the same member that carries out this
	// Invitation's terms (ttl, autoResend): it was there first, and its link is the one the
	// person holds. This Invitation then sends nothing and mirrors its phase, so that the order
	// in which Git and the operator created them does not cost the person a second mail. A
	// resend request on this Invitation ends the delegation: it mails its own link, and the
	// operator's is superseded.
	// +optional
	DelegatedTo string `json:"delegatedTo,omitempty"`

	// TokenHash is the hex SHA-256 of the live link's token.
	// +optional
	TokenHash string `json:"tokenHash,omitempty"`

	// Email is the address the live link was sent to.
	// +optional
	Email string `json:"email,omitempty"`

	// SentAt is when the live link was accepted by the mail server.
	// +optional
	SentAt *metav1.Time `json:"sentAt,omitempty"`

	// ExpiresAt is SentAt plus the TTL: the live link stops working then.
	// +optional
	ExpiresAt *metav1.Time `json:"expiresAt,omitempty"`

	// ClaimedAt is set while the invitation page sets a password through the live link: from
	// then on the link works for no other request, so that of concurrent submits, on any
	// replica, only one sets a password. The page clears it when it records Accepted, or when
	// the directory failed and the link stays usable; a claim left by a replica that stopped
	// mid-way is cleared by the controller after a minute.
	// +optional
	ClaimedAt *metav1.Time `json:"claimedAt,omitempty"`

	// AcceptedAt is when the invitee set a password.
	// +optional
	AcceptedAt *metav1.Time `json:"acceptedAt,omitempty"`

	// AutoResends counts the resends made by spec.autoResend.
	// +optional
	AutoResends int32 `json:"autoResends,omitempty"`

	// LastHandledResendAt is the value of the resend-requested-at annotation that was last
	// carried out.
	// +optional
	LastHandledResendAt string `json:"lastHandledResendAt,omitempty"`
}

// Invitation invites one StaffMember to set a password. It drives the invitation mail and page;
// it has nothing of its own in the directory.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=inv,categories=staff
// +kubebuilder:printcolumn:name="Member",type=string,JSONPath=`.spec.memberRef.name`
// +kubebuilder:printcolumn:name="Purpose",type=string,JSONPath=`.spec.purpose`,priority=1
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Expires",type=string,format=date-time,JSONPath=`.status.expiresAt`
// +kubebuilder:printcolumn:name="Attempt",type=integer,JSONPath=`.status.attempt`,priority=1
// +kubebuilder:printcolumn:name="Accepted",type=date,JSONPath=`.status.acceptedAt`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Invitation struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +required
	Spec InvitationSpec `json:"spec"`
	// Status is the observed state of the Invitation. It defaults to observedGeneration 0, so
	// that an Invitation no pass has seen yet reads as not reconciled (kstatus: InProgress).
	// +kubebuilder:default={observedGeneration:0}
	Status InvitationStatus `json:"status,omitempty"`
}

// InvitationList is a list of Invitations.
// +kubebuilder:object:root=true
type InvitationList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Invitation `json:"items"`
}

func init() {
	SchemeBuilder.Register(&Invitation{}, &InvitationList{})
}
