package directory

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors. Backends wrap them with context (%w); callers branch with errors.Is.
var (
	// ErrNotFound: the account or group does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict: the entry exists but is not the operator's to change for this key: it is
	// unmanaged (also ErrNotManaged), managed for another key, or ambiguous.
	ErrConflict = errors.New("conflict")
	// ErrNotManaged: the entry (an email's account, a group's DN) exists and the operator does
	// not manage it. Every ErrNotManaged is also an ErrConflict.
	ErrNotManaged = errors.New("not managed by staff-operator")
	// ErrUnavailable: the directory cannot be reached or is busy; retry later.
	ErrUnavailable = errors.New("directory unavailable")
	// ErrInvalid: the directory refused the data for good (syntax, length, schema); retrying
	// the same data cannot help.
	ErrInvalid = errors.New("invalid")
	// ErrLocked: the account is locked by an administrator (deactivated), and the operation
	// would lift the lock as a side effect (OpenLDAP's ppolicy clears a lockout when a password
	// is set). Unlock it first.
	ErrLocked = errors.New("account is locked")
	// ErrAccessDenied: the operator's credentials were refused or lack the rights; fix the
	// configuration (bind DN, password file, ACLs).
	ErrAccessDenied = errors.New("access denied")
	// ErrSizeLimit: the directory ended a search at the size limit it sets for the operator's
	// bind DN, so a listing (every account of a practice, every managed entry) came back
	// incomplete. The server's configuration must lift the limit for the bind DN; every
	// ErrSizeLimit is also an ErrAccessDenied, retried with backoff until it is.
	ErrSizeLimit = errors.New("size limit exceeded")
)

// ConflictError says why an entry is not the operator's to change.
type ConflictError struct {
	// ID is the conflicting entry (a DN for LDAP).
	ID string
	// Managed: the entry is managed for Owner; otherwise it is unmanaged.
	Managed bool
	Owner   string
	// Ambiguous: several entries match (share an email or a key).
	Ambiguous bool
	// Detail adds why, for the message.
	Detail string
}

func (e *ConflictError) Error() string {
	var msg string
	switch {
	case e.Ambiguous:
		msg = fmt.Sprintf("conflict: ambiguous entries %s", e.ID)
	case e.Managed:
		msg = fmt.Sprintf("conflict: %s is managed for %s", e.ID, e.Owner)
	default:
		msg = fmt.Sprintf("conflict: %s exists and is not managed by staff-operator", e.ID)
	}
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	return msg
}

// Is makes a ConflictError match ErrConflict, and ErrNotManaged when the entry is unmanaged.
func (e *ConflictError) Is(target error) bool {
	return target == ErrConflict || (target == ErrNotManaged && !e.Managed && !e.Ambiguous)
}

// MissingMembersError lists the accounts SetGroupMembers left out because they do not exist.
type MissingMembersError struct {
	Group   GroupKey
	Missing []AccountKey
}

func (e *MissingMembersError) Error() string {
	names := make([]string, 0, len(e.Missing))
	for _, k := range e.Missing {
		names = append(names, k.String())
	}
	return fmt.Sprintf("group %s: %d member account(s) not found: %s", e.Group, len(e.Missing), strings.Join(names, ", "))
}

// Is makes a MissingMembersError match ErrNotFound.
func (e *MissingMembersError) Is(target error) bool { return target == ErrNotFound }
