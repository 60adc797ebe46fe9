package v1alpha1

// Condition types besides Ready. Each is set with the object's generation; Ready sums them up.
const (
	// ConditionDirectorySynced: the directory entry (account or group) matches the spec.
	ConditionDirectorySynced = "DirectorySynced"
	// ConditionReferencesResolved: every Role and Location a StaffMember names exists.
	ConditionReferencesResolved = "ReferencesResolved"
	// ConditionDelivered: the mail of the Invitation's current attempt reached the mail server.
	ConditionDelivered = "Delivered"
	// ConditionSignInDisabled (StaffMember): True only when nobody can sign in with the account:
	// the lock is in the directory, the directory's password policy enforces it, and the account
	// is in none of the operator's groups. What an offboarding pipeline waits for.
	ConditionSignInDisabled = "SignInDisabled"
)

// The kstatus conditions (sigs.k8s.io/cli-utils/pkg/kstatus, what Flux health checks and
// `kubectl wait` pipelines read), "abnormal-true": present only while they hold. Every kind
// derives them from Ready: Reconciling while the operator is still working toward the spec
// (or waiting for something that resolves by itself), Stalled when it cannot get there without
// a person, with Ready's reason and message.
const (
	ConditionReconciling = "Reconciling"
	ConditionStalled     = "Stalled"
)

// Condition reasons. A reason is a CamelCase word a person or a pipeline can act on; the
// condition's message says what to do.
const (
	// ReasonReady: converged.
	ReasonReady = "Ready"
	// ReasonProgressing: a step is under way and will finish by itself.
	ReasonProgressing = "Progressing"
	// ReasonDirectoryUnavailable: the directory cannot be reached; the operator retries with
	// backoff and recovers by itself.
	ReasonDirectoryUnavailable = "DirectoryUnavailable"
	// ReasonDirectoryError: the directory refused a write for a reason retrying cannot fix.
	ReasonDirectoryError = "DirectoryError"
	// ReasonDirectorySizeLimit: the directory ended a search at its size limit for the
	// operator's bind DN; the message names the server setting that lifts it. Retried with
	// backoff until the server is fixed.
	ReasonDirectorySizeLimit = "DirectorySizeLimit"
	// ReasonConflict: the email belongs to a directory entry the operator must not take over,
	// or the member's account was left by an earlier StaffMember of that name and can still
	// sign in.
	ReasonConflict = "Conflict"
	// ReasonRoleNotFound and ReasonLocationNotFound: a referenced object does not exist (yet);
	// the member converges by itself when it appears.
	ReasonRoleNotFound     = "RoleNotFound"
	ReasonLocationNotFound = "LocationNotFound"
	// ReasonInvalidTimeZone: a Location's time zone is unknown.
	ReasonInvalidTimeZone = "InvalidTimeZone"
	// ReasonDeactivated: the account is locked on request.
	ReasonDeactivated = "Deactivated"
	// ReasonLockedOut: the directory locked the account; the unlock annotation clears it.
	ReasonLockedOut = "LockedOut"
	// ReasonLockedInDirectory: the directory holds a lock the operator did not set (an
	// administrator locked the account by hand); only the unlock annotation lifts it.
	ReasonLockedInDirectory = "LockedInDirectory"
	// ReasonInvitationNameTaken: an Invitation the operator needs to create exists already and
	// is not the member's (another member's, or not created by the operator for this member).
	ReasonInvitationNameTaken = "InvitationNameTaken"
	// ReasonSending: the mail of the current attempt is being sent.
	ReasonSending = "Sending"
	// ReasonSent: the mail server accepted the mail.
	ReasonSent = "Sent"
	// ReasonMailUnavailable: the mail server cannot be reached or answered 4xx; retried.
	ReasonMailUnavailable = "MailUnavailable"
	// ReasonMailRejected: the mail server refused the mail for good (the message gives its
	// reply); a resend request tries again.
	ReasonMailRejected = "MailRejected"
	// ReasonExpired, ReasonAccepted and ReasonRevoked: the Invitation phases of those names.
	ReasonExpired  = "Expired"
	ReasonAccepted = "Accepted"
	ReasonRevoked  = "Revoked"
	// ReasonClaimReleased: a replica claimed the link to set a password and stopped before it
	// finished; the link works again.
	ReasonClaimReleased = "ClaimReleased"
	// ReasonMemberNotFound: the invited StaffMember does not exist.
	ReasonMemberNotFound = "MemberNotFound"
	// ReasonInvitationExpired, ReasonInvitationFailed and ReasonInvitationRevoked (StaffMember):
	// the member's invitation ended without a password set, and no new one is out: nobody can
	// sign in until a resend is requested.
	ReasonInvitationExpired = "InvitationExpired"
	ReasonInvitationFailed  = "InvitationFailed"
	ReasonInvitationRevoked = "InvitationRevoked"
	// ReasonLocked (SignInDisabled): the lock is in the directory and enforced, the account in no
	// group. ReasonSignInPossible: the member is not deactivated. ReasonLockNotEnforced: the lock
	// is written but the directory's password policy does not enforce it (pwdLockout is not
	// TRUE). ReasonLeavingGroups: the account is still in groups the operator is removing it
	// from.
	// ReasonRemovalHeld: a member being deleted with deletionPolicy Delete is locked, but the
	// removal of its entry waits for approval: too many members of the practice are going at
	// once (the mass-removal guard).
	ReasonRemovalHeld     = "RemovalHeld"
	ReasonLocked          = "Locked"
	ReasonSignInPossible  = "SignInPossible"
	ReasonLockNotEnforced = "LockNotEnforced"
	ReasonLeavingGroups   = "LeavingGroups"
)
