package ldap

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/rosterops/staff-operator/internal/directory"
)

// The account attributes the operator owns (besides its marker value, the password and the
// lock). uid is the naming attribute and never changes.
var ownedAccountAttrs = []string{"cn", "sn", "givenName", "displayName", "mail", "telephoneNumber", "title", "employeeNumber"}

var accountReadAttrs = append(slices.Clone(ownedAccountAttrs), "uid", "objectClass", markerAttr, "entryUUID",
	"pwdAccountLockedTime", "pwdLastSuccess", "pwdChangedTime", "pwdFailureTime", "pwdPolicySubentry")

// wantAccountAttrs maps a profile to attribute values. inetOrgPerson requires cn and sn:
// cn is the display name, else "given family", else the name; sn falls back to cn.
func wantAccountAttrs(a directory.Account) map[string][]string {
	cn := a.DisplayName
	if cn == "" {
		cn = strings.TrimSpace(a.GivenName + " " + a.FamilyName)
	}
	if cn == "" {
		cn = a.Key.Name
	}
	sn := a.FamilyName
	if sn == "" {
		sn = cn
	}
	m := map[string][]string{"cn": {cn}, "sn": {sn}}
	for attr, v := range map[string]string{
		"givenName": a.GivenName, "displayName": a.DisplayName, "mail": a.Email,
		"telephoneNumber": a.Phone, "title": a.Title, "employeeNumber": a.EmployeeID,
	} {
		if v != "" {
			m[attr] = []string{v}
		}
	}
	return m
}

func validateAccount(a directory.Account) error {
	if err := validateAccountKey(a.Key); err != nil {
		return err
	}
	for what, v := range map[string]string{
		"owner UID": a.OwnerUID, "given name": a.GivenName, "family name": a.FamilyName, "display name": a.DisplayName,
		"email": a.Email, "phone": a.Phone, "title": a.Title, "employee ID": a.EmployeeID,
	} {
		if v == "" {
			continue
		}
		if err := validValue(what, v, 0); err != nil {
			return fmt.Errorf("account %s: %w", a.Key, err)
		}
	}
	return nil
}

func accountFromEntry(e *goldap.Entry) directory.Account {
	key, _ := accountOwner(e)
	first := func(attr string) string { return e.GetEqualFoldAttributeValue(attr) }
	var owner string
	if uids := ownerUIDs(e); len(uids) > 0 {
		owner = uids[0]
	}
	return directory.Account{
		Key: key, OwnerUID: owner, GivenName: first("givenName"), FamilyName: first("sn"), DisplayName: first("displayName"),
		Email: first("mail"), Phone: first("telephoneNumber"), Title: first("title"), EmployeeID: first("employeeNumber"),
	}
}

// accountChanges returns the owned attributes whose values differ from want, with the values
// to replace them with. A naming (RDN) value of the entry is kept, so that an adopted entry
// named cn=... stays valid.
func accountChanges(e *goldap.Entry, want map[string][]string) (attrs []string, values [][]string) {
	for _, attr := range ownedAccountAttrs {
		w := slices.Clone(want[attr])
		for _, rv := range rdnValues(e.DN, attr) {
			if !slices.ContainsFunc(w, func(v string) bool { return strings.EqualFold(v, rv) }) {
				w = append(w, rv)
			}
		}
		if !sameSet(e.GetEqualFoldAttributeValues(attr), w) {
			attrs = append(attrs, attr)
			values = append(values, w)
		}
	}
	return attrs, values
}

// ownerDrift tells whether the entry's recorded owner differs from want's: an entry records
// exactly want.OwnerUID, or none when want has none.
func ownerDrift(e *goldap.Entry, want directory.Account) bool {
	uids := ownerUIDs(e)
	if want.OwnerUID == "" {
		return len(uids) > 0
	}
	return len(uids) != 1 || uids[0] != want.OwnerUID
}

// ownerStamp says whether UpdateAccount should record want.OwnerUID on an entry that has no
// owner yet. An entry owned by someone else is a conflict: the owner is what tells one person
// from the next who is given the same name, so it is never rewritten, only first recorded.
func ownerStamp(e *goldap.Entry, want directory.Account) (bool, error) {
	if !ownerDrift(e, want) {
		return false, nil
	}
	uids := ownerUIDs(e)
	if len(uids) == 0 {
		return true, nil
	}
	wanted := want.OwnerUID
	if wanted == "" {
		wanted = "none"
	}
	return false, &directory.ConflictError{ID: e.DN, Managed: true, Owner: want.Key.String(),
		Detail: fmt.Sprintf("the account belongs to another owner UID (%s), not %s", strings.Join(uids, ", "), wanted)}
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

func markerFilter(marker string) string {
	return "(" + markerAttr + "=" + goldap.EscapeFilter(marker) + ")"
}

// findAccount returns the entry managed for key, or nil. The marker attribute matches case-
// insensitively, so candidates are checked for the exact marker.
func (c *Client) findAccount(ctx context.Context, key directory.AccountKey) (*goldap.Entry, error) {
	marker := accountMarkerOf(key)
	entries, err := c.search(ctx, searchReq(c.base, goldap.ScopeWholeSubtree,
		"(&(objectClass=inetOrgPerson)"+markerFilter(marker)+")", accountReadAttrs), false)
	if err != nil {
		return nil, err
	}
	var found []*goldap.Entry
	for _, e := range entries {
		if hasValue(e, markerAttr, marker) {
			found = append(found, e)
		}
	}
	switch len(found) {
	case 0:
		c.dns.forget(key)
		return nil, nil
	case 1:
		c.dns.remember(key, found[0].DN)
		return found[0], nil
	default:
		return nil, &directory.ConflictError{ID: found[0].DN + ", " + found[1].DN, Ambiguous: true,
			Detail: fmt.Sprintf("%d entries are marked as the account of %s", len(found), key)}
	}
}

// ObserveAccount implements directory.Backend.
func (c *Client) ObserveAccount(ctx context.Context, want directory.Account) (directory.Observation, error) {
	if err := validateAccount(want); err != nil {
		return directory.Observation{}, fmt.Errorf("observe account: %w", err)
	}
	e, err := c.findAccount(ctx, want.Key)
	if err != nil {
		return directory.Observation{}, fmt.Errorf("observe account %s: %w", want.Key, err)
	}
	if e == nil {
		return directory.Observation{}, nil
	}
	o, err := c.observation(ctx, e)
	if err != nil {
		return directory.Observation{}, fmt.Errorf("observe account %s: %w", want.Key, err)
	}
	o.Drift, _ = accountChanges(e, wantAccountAttrs(want))
	if ownerDrift(e, want) {
		o.Drift = append(o.Drift, "owner")
	}
	o.UpToDate = len(o.Drift) == 0
	return o, nil
}

func (c *Client) observation(ctx context.Context, e *goldap.Entry) (directory.Observation, error) {
	facts, err := c.facts(ctx, e)
	if err != nil {
		return directory.Observation{}, err
	}
	owner, managed := accountOwner(e)
	return directory.Observation{Exists: true, Managed: managed, Owner: owner, Actual: accountFromEntry(e), ID: e.DN,
		SignInName: e.GetEqualFoldAttributeValue("uid"), SignInFacts: facts}, nil
}

// FindAccountByEmail implements directory.Backend.
func (c *Client) FindAccountByEmail(ctx context.Context, email string) (directory.Observation, error) {
	if err := validValue("email", email, 0); err != nil {
		return directory.Observation{}, fmt.Errorf("find account by email: %w", err)
	}
	entries, err := c.search(ctx, searchReq(c.base, goldap.ScopeWholeSubtree,
		"(&(objectClass=inetOrgPerson)(mail="+goldap.EscapeFilter(email)+"))", accountReadAttrs), false)
	if err != nil {
		return directory.Observation{}, fmt.Errorf("find account by email %q: %w", email, err)
	}
	switch len(entries) {
	case 0:
		return directory.Observation{}, fmt.Errorf("find account by email %q: %w", email, directory.ErrNotFound)
	case 1:
		o, err := c.observation(ctx, entries[0])
		if err != nil {
			return directory.Observation{}, fmt.Errorf("find account by email %q: %w", email, err)
		}
		return o, nil
	default:
		return directory.Observation{}, fmt.Errorf("find account by email %q: %w", email, &directory.ConflictError{
			ID: entries[0].DN + ", " + entries[1].DN, Ambiguous: true, Detail: fmt.Sprintf("%d entries have this email", len(entries))})
	}
}

// candidates returns the entries that either carry key's marker or have email.
func (c *Client) candidates(ctx context.Context, key directory.AccountKey, email string) (mine *goldap.Entry, byEmail []*goldap.Entry, err error) {
	marker := accountMarkerOf(key)
	filter := markerFilter(marker)
	if email != "" {
		filter = "(|" + filter + "(mail=" + goldap.EscapeFilter(email) + "))"
	}
	entries, err := c.search(ctx, searchReq(c.base, goldap.ScopeWholeSubtree, "(&(objectClass=inetOrgPerson)"+filter+")", accountReadAttrs), false)
	if err != nil {
		return nil, nil, err
	}
	for _, e := range entries {
		if hasValue(e, markerAttr, marker) {
			if mine != nil {
				return nil, nil, &directory.ConflictError{ID: mine.DN + ", " + e.DN, Ambiguous: true,
					Detail: "several entries are marked as the account of " + key.String()}
			}
			mine = e
			continue
		}
		if email != "" && slices.ContainsFunc(e.GetEqualFoldAttributeValues("mail"), func(v string) bool { return strings.EqualFold(v, email) }) {
			byEmail = append(byEmail, e)
		}
	}
	return mine, byEmail, nil
}

func conflictWith(e *goldap.Entry) *directory.ConflictError {
	if owner, ok := accountOwner(e); ok {
		return &directory.ConflictError{ID: e.DN, Managed: true, Owner: owner.String()}
	}
	if key, ok := retiredFrom(e); ok {
		return &directory.ConflictError{ID: e.DN, Managed: true, Owner: key, Detail: "retired account of a previous member"}
	}
	return &directory.ConflictError{ID: e.DN}
}

// CreateAccount implements directory.Backend.
func (c *Client) CreateAccount(ctx context.Context, want directory.Account) error {
	if err := validateAccount(want); err != nil {
		return fmt.Errorf("create account: %w", err)
	}
	defer c.lockEmail(want.Email)()
	mine, byEmail, err := c.candidates(ctx, want.Key, want.Email)
	if err != nil {
		return fmt.Errorf("create account %s: %w", want.Key, err)
	}
	if mine != nil {
		return nil // already there; UpdateAccount converges it
	}
	if len(byEmail) > 0 {
		return fmt.Errorf("create account %s: email %q is taken: %w", want.Key, want.Email, conflictWith(byEmail[0]))
	}
	dn := c.accountDN(want.Key)
	req := goldap.NewAddRequest(dn, nil)
	req.Attribute("objectClass", []string{"top", "person", "organizationalPerson", "inetOrgPerson"})
	req.Attribute("uid", []string{want.Key.Name})
	markers := []string{accountMarkerOf(want.Key)}
	if want.OwnerUID != "" {
		markers = append(markers, ownerUIDMarker+want.OwnerUID)
	}
	req.Attribute(markerAttr, markers)
	for _, attr := range ownedAccountAttrs {
		if v := wantAccountAttrs(want)[attr]; len(v) > 0 {
			req.Attribute(attr, v)
		}
	}
	err = c.addUnder(ctx, want.Key.Organization, peopleOU, req)
	if errors.Is(err, directory.ErrConflict) {
		// Someone else's entry sits at our DN.
		return fmt.Errorf("create account %s: %w", want.Key, c.conflictAt(ctx, dn))
	}
	if err != nil {
		return fmt.Errorf("create account %s: %w", want.Key, err)
	}
	c.dns.remember(want.Key, dn)
	return nil
}

// conflictAt describes the entry at dn that blocked an add.
func (c *Client) conflictAt(ctx context.Context, dn string) error {
	entries, err := c.search(ctx, searchReq(dn, goldap.ScopeBaseObject, "(objectClass=*)", []string{markerAttr}), false)
	if err != nil || len(entries) == 0 {
		return &directory.ConflictError{ID: dn}
	}
	return conflictWith(entries[0])
}

// addUnder adds req below the organization's container ou, creating the containers first
// (once per client; again when they were deleted behind its back).
func (c *Client) addUnder(ctx context.Context, org, ou string, req *goldap.AddRequest) error {
	if err := c.ensureContainers(ctx, org, ou); err != nil {
		return err
	}
	err := c.add(ctx, req)
	if errors.Is(err, directory.ErrNotFound) {
		c.containers.Delete(c.orgDN(org))
		c.containers.Delete(c.containerDN(org, ou))
		if err := c.ensureContainers(ctx, org, ou); err != nil {
			return err
		}
		err = c.add(ctx, req)
	}
	return err
}

func (c *Client) ensureContainers(ctx context.Context, org, ou string) error {
	for _, e := range []struct{ dn, ou string }{{c.orgDN(org), org}, {c.containerDN(org, ou), ou}} {
		if _, ok := c.containers.Load(e.dn); ok {
			continue
		}
		req := goldap.NewAddRequest(e.dn, nil)
		req.Attribute("objectClass", []string{"organizationalUnit"})
		req.Attribute("ou", []string{e.ou})
		if err := c.add(ctx, req); err != nil && !errors.Is(err, directory.ErrConflict) {
			return fmt.Errorf("create %s: %w", e.dn, err)
		}
		c.containers.Store(e.dn, true)
	}
	return nil
}

// UpdateAccount implements directory.Backend.
func (c *Client) UpdateAccount(ctx context.Context, want directory.Account) (bool, error) {
	if err := validateAccount(want); err != nil {
		return false, fmt.Errorf("update account: %w", err)
	}
	defer c.lockEmail(want.Email)()
	e, err := c.findAccount(ctx, want.Key)
	if err != nil {
		return false, fmt.Errorf("update account %s: %w", want.Key, err)
	}
	if e == nil {
		return false, fmt.Errorf("update account %s: %w", want.Key, directory.ErrNotFound)
	}
	stamp, err := ownerStamp(e, want)
	if err != nil {
		return false, fmt.Errorf("update account %s: %w", want.Key, err)
	}
	attrs, values := accountChanges(e, wantAccountAttrs(want))
	if len(attrs) == 0 && !stamp {
		return false, nil
	}
	if slices.Contains(attrs, "mail") && want.Email != "" {
		_, byEmail, err := c.candidates(ctx, want.Key, want.Email)
		if err != nil {
			return false, fmt.Errorf("update account %s: %w", want.Key, err)
		}
		if len(byEmail) > 0 {
			return false, fmt.Errorf("update account %s: email %q is taken: %w", want.Key, want.Email, conflictWith(byEmail[0]))
		}
	}
	req := goldap.NewModifyRequest(e.DN, nil)
	for i, attr := range attrs {
		req.Replace(attr, values[i])
	}
	if stamp {
		req.Add(markerAttr, []string{ownerUIDMarker + want.OwnerUID})
	}
	if err := c.modify(ctx, req); err != nil {
		return false, fmt.Errorf("update account %s: %w", want.Key, err)
	}
	return true, nil
}

// AdoptAccount implements directory.Backend. Adoption adds the marker, records the owner,
// marks the entry's password as untrusted and converges the profile, in one modify; the entry
// keeps its DN (and uid).
func (c *Client) AdoptAccount(ctx context.Context, want directory.Account, scope directory.AdoptionScope) error {
	if err := validateAccount(want); err != nil {
		return fmt.Errorf("adopt account: %w", err)
	}
	defer c.lockEmail(want.Email)()
	switch scope {
	case "":
		scope = directory.AdoptWithinOrganization
	case directory.AdoptWithinOrganization, directory.AdoptAnywhere:
	default:
		return fmt.Errorf("adopt account %s: %w: adoption scope %q is neither %s nor %s", want.Key, directory.ErrInvalid,
			scope, directory.AdoptWithinOrganization, directory.AdoptAnywhere)
	}
	if want.Email == "" {
		return fmt.Errorf("adopt account %s: %w: no email to adopt by", want.Key, directory.ErrInvalid)
	}
	mine, byEmail, err := c.candidates(ctx, want.Key, want.Email)
	if err != nil {
		return fmt.Errorf("adopt account %s: %w", want.Key, err)
	}
	switch {
	case mine != nil && hasMail(mine, want.Email):
		return nil // adopted before
	case mine != nil:
		return fmt.Errorf("adopt account %s: %w", want.Key, &directory.ConflictError{ID: mine.DN, Managed: true, Owner: want.Key.String(),
			Detail: "the key already has an account with another email"})
	case len(byEmail) == 0:
		return fmt.Errorf("adopt account %s: no entry has email %q: %w", want.Key, want.Email, directory.ErrNotFound)
	case len(byEmail) > 1:
		return fmt.Errorf("adopt account %s: %w", want.Key, &directory.ConflictError{ID: byEmail[0].DN + ", " + byEmail[1].DN,
			Ambiguous: true, Detail: fmt.Sprintf("%d entries have email %q", len(byEmail), want.Email)})
	}
	e := byEmail[0]
	if managedEntry(e) {
		return fmt.Errorf("adopt account %s: %w", want.Key, conflictWith(e))
	}
	if !c.cfg.AdoptExisting {
		return fmt.Errorf("adopt account %s: %w", want.Key, &directory.ConflictError{ID: e.DN,
			Detail: "adoption of existing entries is disabled (directory.ldap.adoptExisting: false)"})
	}
	if !slices.ContainsFunc(e.GetEqualFoldAttributeValues("objectClass"), func(v string) bool { return strings.EqualFold(v, "inetOrgPerson") }) {
		return fmt.Errorf("adopt account %s: %w", want.Key, &directory.ConflictError{ID: e.DN, Detail: "the entry is not an inetOrgPerson"})
	}
	// Whoever can write a StaffMember in a practice's namespace could otherwise take over any
	// person in the directory by naming their email: by default only the practice's own
	// subtree is theirs to adopt from.
	if org := c.orgDN(want.Key.Organization); scope == directory.AdoptWithinOrganization && !under(e.DN, org) {
		return fmt.Errorf("adopt account %s: %w", want.Key, &directory.ConflictError{ID: e.DN,
			Detail: fmt.Sprintf("outside the practice's subtree %s; a cluster administrator can grant adoption from anywhere (see docs/directory.md)", org)})
	}
	req := goldap.NewModifyRequest(e.DN, nil)
	// Owner values a previous owner left when the entry was released (its account= value
	// deleted by hand) go first, so that the new owner's value can be added after them.
	if stale := slices.DeleteFunc(markerValues(e, ownerUIDMarker), func(v string) bool { return v == ownerUIDMarker+want.OwnerUID }); len(stale) > 0 {
		req.Delete(markerAttr, stale)
	}
	req.Add(markerAttr, adoptionMarkers(e, want))
	attrs, values := accountChanges(e, wantAccountAttrs(want))
	for i, attr := range attrs {
		req.Replace(attr, values[i])
	}
	if err := c.modify(ctx, req); err != nil {
		return fmt.Errorf("adopt account %s: %w", want.Key, err)
	}
	c.dns.remember(want.Key, e.DN)
	return nil
}

// adoptionMarkers are the values adoption adds: the marker, the owner, and the flag that the
// entry's password, set by someone else for someone the operator cannot vouch for, is not
// trusted until SetPassword replaces it.
func adoptionMarkers(e *goldap.Entry, want directory.Account) []string {
	add := []string{accountMarkerOf(want.Key)}
	if want.OwnerUID != "" && !hasValue(e, markerAttr, ownerUIDMarker+want.OwnerUID) {
		add = append(add, ownerUIDMarker+want.OwnerUID)
	}
	if !hasFlag(e, untrustedMarker) {
		add = append(add, untrustedMarker)
	}
	return add
}

func hasMail(e *goldap.Entry, email string) bool {
	return slices.ContainsFunc(e.GetEqualFoldAttributeValues("mail"), func(v string) bool { return strings.EqualFold(v, email) })
}

// DeleteAccount implements directory.Backend.
func (c *Client) DeleteAccount(ctx context.Context, key directory.AccountKey) error {
	if err := validateAccountKey(key); err != nil {
		return fmt.Errorf("delete account: %w", err)
	}
	e, err := c.findAccount(ctx, key)
	if err != nil {
		return fmt.Errorf("delete account %s: %w", key, err)
	}
	if e == nil {
		return nil
	}
	if err := c.del(ctx, e.DN); err != nil && !errors.Is(err, directory.ErrNotFound) {
		return fmt.Errorf("delete account %s: %w", key, err)
	}
	c.dns.forget(key)
	return nil
}

// SetPassword implements directory.Backend with the Password Modify extended operation
// (RFC 3062), so that the server hashes the password and ppolicy records pwdChangedTime.
func (c *Client) SetPassword(ctx context.Context, key directory.AccountKey, password string) error {
	if err := validateAccountKey(key); err != nil {
		return fmt.Errorf("set password: %w", err)
	}
	// An empty new password would ask the server to generate one.
	if password == "" {
		return fmt.Errorf("set password %s: %w: the password is empty", key, directory.ErrInvalid)
	}
	e, err := c.findAccount(ctx, key)
	if err != nil {
		return fmt.Errorf("set password %s: %w", key, err)
	}
	if e == nil {
		return fmt.Errorf("set password %s: %w", key, directory.ErrNotFound)
	}
	// ppolicy removes pwdAccountLockedTime when a password is set: do not let a password
	// change undo a deactivation.
	if e.GetEqualFoldAttributeValue("pwdAccountLockedTime") == permanentLock {
		return fmt.Errorf("set password %s: %w by an administrator; unlock it first", key, directory.ErrLocked)
	}
	if err := c.passwordModify(ctx, e.DN, password); err != nil {
		return fmt.Errorf("set password %s: %w", key, err)
	}
	// The password is now one the person chose through the operator: trusted. Should this
	// fail, the caller retries, sets the password again and gets here again.
	if hasFlag(e, untrustedMarker) {
		req := goldap.NewModifyRequest(e.DN, nil)
		req.Delete(markerAttr, []string{untrustedMarker})
		if err := c.modify(ctx, req); err != nil && !goldap.IsErrorWithCode(err, goldap.LDAPResultNoSuchAttribute) {
			return fmt.Errorf("set password %s: trust the new password: %w", key, err)
		}
	}
	return nil
}
