package ldap

import (
	"context"
	"errors"
	"fmt"
	"strings"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/rosterops/staff-operator/internal/directory"
)

// retiredInfix joins a retired account's name and the start of its entryUUID in its new uid:
// uid=<name>.retired.<8 hex digits>. Kubernetes names are DNS subdomains, so a StaffMember
// may be named like that too; the entryUUID part makes a clash with one practically
// impossible, and the add of such an account fails rather than overwrite anything.
const retiredInfix = ".retired."

// RetireAccount implements directory.Backend. The account managed for key is renamed to
// uid=<name>.retired.<first 8 characters of its entryUUID> in the same container, and its
// account= and owner-uid= values give way to staff.rosterops.io/retired=<org>/<name>/<owner>.
// Everything else but its mail address stays: the lock, the password, ppolicy's history and
// the group entries' references (the group reconcilers rewrite those). The new owner then gets a fresh entry at
// uid=<name> from CreateAccount.
//
// Why a new entry rather than handing the old one over: the sign-in name is the manifest's
// name, which is reused for a new person, but the entry's history (pwdLastSuccess, pwdHistory,
// pwdFailureTime) is the previous person's, and OpenLDAP does not let clients reset it.
//
// It is done in two writes, the rename first: until the second write, the entry still carries
// the key's marker, so a later call finds it by the same search, at its new DN, and finishes
// the job (the owner and lock checks still hold, and the rename is skipped as done). The other
// order would leave, after a crash, an entry marked retired but still at uid=<name>: found
// by no key, in the way of the new account, and with nothing that looks for it.
func (c *Client) RetireAccount(ctx context.Context, key directory.AccountKey, previousOwnerUID string) (string, error) {
	if err := validateAccountKey(key); err != nil {
		return "", fmt.Errorf("retire account: %w", err)
	}
	if previousOwnerUID != "" {
		if err := validValue("previous owner UID", previousOwnerUID, 0); err != nil {
			return "", fmt.Errorf("retire account %s: %w", key, err)
		}
	}
	e, err := c.findAccount(ctx, key)
	if err == nil && e == nil {
		err = directory.ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("retire account %s: %w", key, err)
	}
	if err := retirable(e, key, previousOwnerUID); err != nil {
		return "", fmt.Errorf("retire account %s: %w", key, err)
	}
	newDN, rename, err := retiredName(e, key)
	if err != nil {
		return "", fmt.Errorf("retire account %s: %w", key, err)
	}
	if rename != nil {
		if err := c.modifyDN(ctx, rename); err != nil && !c.renamedAlready(ctx, key, newDN, err) {
			if errors.Is(err, directory.ErrConflict) {
				err = c.conflictAt(ctx, newDN)
			}
			return "", fmt.Errorf("retire account %s: rename to %s: %w", key, newDN, err)
		}
	}
	owner := previousOwnerUID
	if owner == "" {
		owner = unrecordedOwner
	}
	req := goldap.NewModifyRequest(newDN, nil)
	req.Delete(markerAttr, append([]string{accountMarkerOf(key)}, markerValues(e, ownerUIDMarker)...))
	req.Add(markerAttr, []string{retiredMarker + key.Organization + "/" + key.Name + "/" + owner})
	// The address goes with the person: a retired entry holding it would make the same person,
	// hired again under a new StaffMember, a conflict, and would answer searches by mail.
	if len(e.GetEqualFoldAttributeValues("mail")) > 0 {
		req.Delete("mail", nil)
	}
	if err := c.modify(ctx, req); err != nil {
		return "", fmt.Errorf("retire account %s: mark %s retired: %w", key, newDN, err)
	}
	c.dns.forget(key)
	return newDN, nil
}

// retirable refuses to retire an account that is someone else's to retire, or still usable.
func retirable(e *goldap.Entry, key directory.AccountKey, previousOwnerUID string) error {
	uids := ownerUIDs(e)
	if !(len(uids) == 0 && previousOwnerUID == "") && !(len(uids) == 1 && uids[0] == previousOwnerUID) {
		recorded, previous := strings.Join(uids, ", "), previousOwnerUID
		if recorded == "" {
			recorded = "none"
		}
		if previous == "" {
			previous = "none"
		}
		return &directory.ConflictError{ID: e.DN, Managed: true, Owner: key.String(),
			Detail: fmt.Sprintf("its recorded owner UID is %s, not %s", recorded, previous)}
	}
	// Only an administrative lock: a failure lockout lifts itself (pwdLockoutDuration) or on
	// the person's request, and the account is then someone's live account again.
	if e.GetEqualFoldAttributeValue("pwdAccountLockedTime") != permanentLock {
		return &directory.ConflictError{ID: e.DN, Managed: true, Owner: key.String(),
			Detail: "the account is not locked, so it can still sign in and may be someone's; only a locked account is retired"}
	}
	return nil
}

// retiredName returns the entry's retired DN and the rename that takes it there, nil when it
// is there already (a previous call renamed it).
func retiredName(e *goldap.Entry, key directory.AccountKey) (string, *goldap.ModifyDNRequest, error) {
	uuid := e.GetEqualFoldAttributeValue("entryUUID")
	if len(uuid) < 8 {
		return "", nil, fmt.Errorf("%w: %s has no entryUUID to name its retired entry by", directory.ErrInvalid, e.DN)
	}
	d, err := goldap.ParseDN(e.DN)
	if err != nil || len(d.RDNs) < 2 {
		return "", nil, fmt.Errorf("%w: cannot rename %s", directory.ErrInvalid, e.DN)
	}
	rdn := "uid=" + goldap.EscapeDN(key.Name+retiredInfix+strings.ToLower(uuid[:8]))
	parent := &goldap.DN{RDNs: d.RDNs[1:]}
	newDN := rdn + "," + parent.String()
	if sameDN(e.DN, newDN) { // renamed before
		return newDN, nil, nil
	}
	// The old uid value goes, so that the sign-in name is free for the new account. A naming
	// attribute other than uid (an adopted cn=... entry) is kept: cn is required, and it is
	// not a sign-in name.
	old := d.RDNs[0].Attributes
	deleteOld := len(old) == 1 && strings.EqualFold(old[0].Type, "uid")
	return newDN, goldap.NewModifyDNRequest(e.DN, rdn, deleteOld, ""), nil
}

// renamedAlready tells a rename that failed because it had been done: sent again after the
// connection dropped (the server had carried out the first), the entry is at newDN.
func (c *Client) renamedAlready(ctx context.Context, key directory.AccountKey, newDN string, err error) bool {
	if !errors.Is(err, directory.ErrNotFound) {
		return false
	}
	e, ferr := c.findAccount(ctx, key)
	return ferr == nil && e != nil && sameDN(e.DN, newDN)
}
