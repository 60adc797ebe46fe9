// Package directory declares what the controllers need from a user directory: accounts for
// staff members, groups for roles and locations, passwords, locks and sign-in facts.
//
// It speaks of accounts and keys, never of DNs, so that backends other than LDAP (SCIM 2.0)
// can implement it. The OpenLDAP backend lives in directory/ldap; directory/ldaptest runs a
// private slapd for tests and the demo.
package directory

import (
	"context"
	"time"
)

// Backend is a user directory. All methods are safe for concurrent use.
//
// Reads never write. Writes are idempotent: a write whose outcome is already in the directory
// sends nothing to the server, and the methods that can tell report whether they changed
// anything, so that a controller can record a DriftCorrected event only when it did.
// Errors match ErrNotFound, ErrConflict (and ErrNotManaged), ErrUnavailable, ErrInvalid,
// ErrLocked or ErrAccessDenied under errors.Is.
type Backend interface {
	// ObserveAccount reads the account managed for want.Key and compares it with want.
	// A missing account is Observation{Exists: false} and no error.
	ObserveAccount(ctx context.Context, want Account) (Observation, error)
	// FindAccountByEmail returns the one account whose email is email, managed or not, for
	// adoption. ErrNotFound when there is none; ErrConflict when several entries share it.
	FindAccountByEmail(ctx context.Context, email string) (Observation, error)
	// CreateAccount creates the account. When an account with the same email exists and is
	// not managed for want.Key, it returns ErrConflict (ErrNotManaged for an unmanaged one).
	// When the account already exists for want.Key it does nothing.
	CreateAccount(ctx context.Context, want Account) error
	// UpdateAccount writes the profile attributes that differ from want, in one modify.
	UpdateAccount(ctx context.Context, want Account) (changed bool, err error)
	// AdoptAccount marks the existing unmanaged account with want.Email as managed for
	// want.Key and owned by want.OwnerUID. Refused with ErrNotManaged unless adoption is enabled
	// in the configuration; an account managed for another key is never taken over
	// (ErrConflict), nor one outside scope (ErrConflict naming the scope). The adopted
	// account's existing password is not trusted: PasswordSet stays false until SetPassword.
	AdoptAccount(ctx context.Context, want Account, scope AdoptionScope) error
	// RetireAccount moves the account managed for key out of the way when it was left by
	// another owner, so that the key's new owner starts from a fresh account and never
	// inherits a password: the entry is kept for auditing under another ID, no longer managed
	// for the key. It acts only when the account's recorded owner is previousOwnerUID ("" for
	// an entry made before owners were recorded) and the account is locked, and returns
	// ErrConflict otherwise (an account that can still sign in may be someone's). It returns
	// the entry's new ID. A key without an account is ErrNotFound.
	RetireAccount(ctx context.Context, key AccountKey, previousOwnerUID string) (newID string, err error)
	// DeleteAccount removes the account. A missing account is not an error.
	DeleteAccount(ctx context.Context, key AccountKey) error

	// SetPassword sets the account's password; the server hashes it. It refuses with
	// ErrLocked while the account is locked administratively, so that setting a password
	// never reactivates a deactivated account: unlock first. A password set here is trusted
	// (PasswordSet), also on an adopted account.
	SetPassword(ctx context.Context, key AccountKey, password string) error
	// LockAccount locks the account until UnlockAccount: it can no longer sign in. The lock is
	// recorded as the operator's (SignInFacts.LockedByOperator). An account already locked
	// administratively by someone else is left as it is (changed false, not the operator's).
	LockAccount(ctx context.Context, key AccountKey) (changed bool, err error)
	// UnlockAccount clears an administrative or failure lockout, whoever set it, and the
	// record of the operator's lock.
	UnlockAccount(ctx context.Context, key AccountKey) (changed bool, err error)
	// SignInFacts reads when the account last signed in and whether, and why, it is locked.
	SignInFacts(ctx context.Context, key AccountKey) (SignInFacts, error)

	// EnsureGroup creates the group or brings its attributes in line; it never touches members.
	EnsureGroup(ctx context.Context, g Group) (changed bool, err error)
	// DeleteGroup removes the group. A missing group is not an error.
	DeleteGroup(ctx context.Context, key GroupKey) error
	// SetGroupMembers replaces the group's members with the given accounts, in one write,
	// and sends nothing when they are already the members. Accounts that do not exist yet
	// are left out and reported by an error matching ErrNotFound (a MissingMembersError)
	// after the others have been written.
	SetGroupMembers(ctx context.Context, g GroupKey, members []AccountKey) (changed bool, err error)

	// GroupsOf returns the managed groups that hold the account, from the directory (not
	// from what the client remembers): what an offboarding check must see.
	GroupsOf(ctx context.Context, key AccountKey) ([]GroupKey, error)
	// ListManaged returns every managed account and group with its state, read in one paged
	// pass, for resync and drift detection.
	ListManaged(ctx context.Context) (Inventory, error)
}

// AccountKey names an account by the operator's own key: the organization (the Kubernetes
// namespace) and the StaffMember's name.
type AccountKey struct {
	Organization string
	Name         string
}

func (k AccountKey) String() string { return k.Organization + "/" + k.Name }

// GroupKind says what a group stands for.
type GroupKind string

const (
	// GroupRole is a Role's group: its members hold the role.
	GroupRole GroupKind = "Role"
	// GroupLocation is a Location's group: its members may access the facility.
	GroupLocation GroupKind = "Location"
)

// GroupKey names a group by organization, kind and the Role's or Location's name.
type GroupKey struct {
	Organization string
	Kind         GroupKind
	Name         string
}

func (k GroupKey) String() string { return k.Organization + "/" + string(k.Kind) + "/" + k.Name }

// Account is the profile of a staff account as the directory holds it. Empty fields are
// absent in the directory. Roles and locations are group memberships (SetGroupMembers).
type Account struct {
	Key AccountKey
	// OwnerUID identifies the owner of the account: the UID of the StaffMember object it was
	// created or adopted for. A new object that reuses a name is another person, with another
	// UID. Empty on an entry made before owners were recorded.
	OwnerUID    string
	GivenName   string
	FamilyName  string
	DisplayName string
	Email       string
	Phone       string
	Title       string
	EmployeeID  string
}

// Group is a role's or a location's group.
type Group struct {
	Key         GroupKey
	DisplayName string
	Description string
	// Permissions are the role's permissions (a set; order does not matter).
	Permissions []string
}

// AdoptionScope says where AdoptAccount may take over an entry.
type AdoptionScope string

const (
	// AdoptWithinOrganization: only an entry inside the organization's own part of the
	// directory (for LDAP, the subtree ou=<organization>). The default.
	AdoptWithinOrganization AdoptionScope = "Organization"
	// AdoptAnywhere: any entry the backend can reach (for LDAP, under baseDN), for a member a
	// cluster administrator granted it.
	AdoptAnywhere AdoptionScope = "Anywhere"
)

// LockReason says why an account cannot sign in.
type LockReason string

const (
	// LockNone: the account is not locked.
	LockNone LockReason = ""
	// LockAdministrative: locked by the operator (deactivation) or an administrator, until
	// unlocked; SignInFacts.LockedByOperator tells the two apart.
	LockAdministrative LockReason = "Administrative"
	// LockTooManyFailures: the server locked it after too many failed sign-ins.
	LockTooManyFailures LockReason = "TooManyFailures"
	// LockIdle: no successful sign-in for longer than the server's maximum idle time.
	LockIdle LockReason = "Idle"
)

// SignInFacts is what the directory knows about an account's sign-ins.
type SignInFacts struct {
	// LastSignIn is the last successful sign-in; zero when never (or not recorded).
	LastSignIn time.Time
	// PasswordSet tells whether the account has a password the operator trusts: one set through
	// SetPassword, or one the account had before owners were recorded. An adopted account's
	// existing password is not trusted (PasswordSet false, PasswordUntrusted true) until the
	// person sets one through SetPassword.
	PasswordSet       bool
	PasswordUntrusted bool
	// PasswordChanged is when the password was last set; zero when never.
	PasswordChanged time.Time
	Locked          bool
	LockReason      LockReason
	// LockedByOperator: the administrative lock is the one LockAccount set. A lock that an
	// administrator set by hand is not, and only an explicit UnlockAccount request lifts it.
	LockedByOperator bool
	// LockEnforced: the lock is one the directory acts on at bind. OpenLDAP's ppolicy ignores
	// pwdAccountLockedTime unless the account's effective policy has pwdLockout TRUE, so a lock
	// written under any other policy (or none) stops nobody.
	LockEnforced bool
	// LockedSince is when the lock took effect, when the directory knows it.
	LockedSince time.Time
	// FailedSignIns counts failed sign-ins since the last success, as the server records them.
	FailedSignIns int
}

// Observation is the state of one account in the directory.
type Observation struct {
	// Exists is false when there is no such account; the other fields are then zero.
	Exists bool
	// Managed tells whether the entry carries the operator's marker; Owner is the key it is
	// managed for (which can differ from the key asked about, in FindAccountByEmail).
	Managed bool
	Owner   AccountKey
	// UpToDate: the profile equals the wanted one (ObserveAccount only).
	UpToDate bool
	// Drift names the profile fields that differ from the wanted ones, for events.
	Drift []string
	// Actual is the profile as the directory holds it.
	Actual Account
	// ID identifies the entry in the directory (a DN for LDAP), for messages only.
	ID string
	// SignInName is what the person types to sign in (the uid for LDAP): the member's name for
	// an account the operator created, the entry's own for an adopted one.
	SignInName string
	SignInFacts
}

// GroupState is a managed group as the directory holds it.
type GroupState struct {
	Group
	Members []AccountKey
	// ForeignMembers are members that are not managed accounts (added by hand), by ID.
	ForeignMembers []string
	ID             string
}

// AccountState is a managed account as the directory holds it.
type AccountState struct {
	Account
	SignInFacts
	ID string
}

// Inventory is everything the operator manages in the directory.
type Inventory struct {
	Accounts []AccountState
	Groups   []GroupState
}
