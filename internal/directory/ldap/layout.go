package ldap

import (
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/rosterops/staff-operator/internal/directory"
)

// The DN layout, under BaseDN:
//
//	ou=<organization>,<BaseDN>                      one per namespace
//	  ou=people     uid=<name>     inetOrgPerson    accounts
//	  ou=roles      cn=<name>      groupOfNames     a Role's group
//	  ou=locations  cn=<name>      groupOfNames     a Location's group
//
// Every value is escaped with EscapeDN. Adopted accounts keep their DN wherever it is under
// BaseDN; accounts are therefore found by their marker, not by DN.
const (
	peopleOU    = "people"
	rolesOU     = "roles"
	locationsOU = "locations"
)

// The managed marker is a businessCategory value (a standard attribute of inetOrgPerson,
// groupOfNames and organizationalUnit) naming the owning key, so that an entry managed for
// another key is told apart from an unmanaged one:
//
//	staff.rosterops.io/account=<organization>/<name>
//	staff.rosterops.io/role=<organization>/<name>
//	staff.rosterops.io/location=<organization>/<name>
//
// A role's permissions are further values, staff.rosterops.io/permission=<permission>.
// An account carries more, each about the account itself:
//
//	staff.rosterops.io/owner-uid=<uid>           the StaffMember object it belongs to
//	staff.rosterops.io/password=untrusted        adopted with a password the operator did not set
//	staff.rosterops.io/locked-by=operator        its administrative lock is LockAccount's
//
// A retired account (RetireAccount) has lost its account= and owner-uid= values and carries
// staff.rosterops.io/retired=<organization>/<name>/<owner uid, or "unrecorded"> instead: it
// is no key's account, and still the operator's, so never adopted.
//
// The operator owns the businessCategory values that start with markerPrefix and leaves
// the others alone.
const (
	markerPrefix     = "staff.rosterops.io/"
	accountMarker    = markerPrefix + "account="
	roleMarker       = markerPrefix + "role="
	locationMarker   = markerPrefix + "location="
	permissionMarker = markerPrefix + "permission="
	ownerUIDMarker   = markerPrefix + "owner-uid="
	retiredMarker    = markerPrefix + "retired="
	untrustedMarker  = markerPrefix + "password=untrusted"
	lockRecord       = markerPrefix + "locked-by=operator"
	markerAttr       = "businessCategory"
	// unrecordedOwner stands for the owner of an entry made before owners were recorded.
	unrecordedOwner = "unrecorded"
)

// Limits on key parts: Kubernetes namespaces are DNS labels, object names DNS subdomains.
const (
	maxOrganization = 63
	maxName         = 253
)

func (c *Client) orgDN(org string) string { return "ou=" + goldap.EscapeDN(org) + "," + c.base }

func (c *Client) containerDN(org, ou string) string { return "ou=" + ou + "," + c.orgDN(org) }

func (c *Client) accountDN(k directory.AccountKey) string {
	return "uid=" + goldap.EscapeDN(k.Name) + "," + c.containerDN(k.Organization, peopleOU)
}

func groupOU(kind directory.GroupKind) string {
	if kind == directory.GroupLocation {
		return locationsOU
	}
	return rolesOU
}

func (c *Client) groupDN(k directory.GroupKey) string {
	return "cn=" + goldap.EscapeDN(k.Name) + "," + c.containerDN(k.Organization, groupOU(k.Kind))
}

func accountMarkerOf(k directory.AccountKey) string {
	return accountMarker + k.Organization + "/" + k.Name
}

func groupMarkerOf(k directory.GroupKey) string {
	if k.Kind == directory.GroupLocation {
		return locationMarker + k.Organization + "/" + k.Name
	}
	return roleMarker + k.Organization + "/" + k.Name
}

// parseMarker splits a marker value into its kind prefix and key parts.
func parseMarker(v string) (prefix, org, name string, ok bool) {
	for _, p := range []string{accountMarker, roleMarker, locationMarker} {
		if rest, found := strings.CutPrefix(v, p); found {
			org, name, ok = strings.Cut(rest, "/")
			return p, org, name, ok && org != "" && name != ""
		}
	}
	return "", "", "", false
}

// accountOwner returns the account key an entry's marker names, if any.
func accountOwner(e *goldap.Entry) (directory.AccountKey, bool) {
	for _, v := range e.GetEqualFoldAttributeValues(markerAttr) {
		if p, org, name, ok := parseMarker(v); ok && p == accountMarker {
			return directory.AccountKey{Organization: org, Name: name}, true
		}
	}
	return directory.AccountKey{}, false
}

// markerValues returns the entry's businessCategory values that start with prefix (compared
// case-insensitively, as the server does), as stored.
func markerValues(e *goldap.Entry, prefix string) []string {
	var out []string
	for _, v := range e.GetEqualFoldAttributeValues(markerAttr) {
		if len(v) >= len(prefix) && strings.EqualFold(v[:len(prefix)], prefix) {
			out = append(out, v)
		}
	}
	return out
}

// ownerUIDs returns the owner UIDs recorded on an account entry; normally none or one.
func ownerUIDs(e *goldap.Entry) []string {
	var uids []string
	for _, v := range markerValues(e, ownerUIDMarker) {
		uids = append(uids, v[len(ownerUIDMarker):])
	}
	return uids
}

// retiredFrom returns the key an entry was retired from ("<organization>/<name>"), if retired.
func retiredFrom(e *goldap.Entry) (string, bool) {
	vals := markerValues(e, retiredMarker)
	if len(vals) == 0 {
		return "", false
	}
	parts := strings.SplitN(vals[0][len(retiredMarker):], "/", 3)
	return strings.Join(parts[:min(2, len(parts))], "/"), true
}

// managedEntry tells whether an account entry is the operator's: managed for a key, or retired.
func managedEntry(e *goldap.Entry) bool {
	_, managed := accountOwner(e)
	_, retired := retiredFrom(e)
	return managed || retired
}

// hasFlag tells whether the entry carries one of the fixed marker values (untrustedMarker,
// lockRecord), in any case, as the server compares them.
func hasFlag(e *goldap.Entry, flag string) bool {
	return slices.ContainsFunc(e.GetEqualFoldAttributeValues(markerAttr), func(v string) bool { return strings.EqualFold(v, flag) })
}

func hasValue(e *goldap.Entry, attr, value string) bool {
	for _, v := range e.GetEqualFoldAttributeValues(attr) {
		if v == value {
			return true
		}
	}
	return false
}

func validateKeyParts(what, org, name string) error {
	if err := validValue(what+" organization", org, maxOrganization); err != nil {
		return err
	}
	if strings.Contains(org, "/") {
		return fmt.Errorf("%w: %s organization %q contains '/'", directory.ErrInvalid, what, org)
	}
	return validValue(what+" name", name, maxName)
}

func validateAccountKey(k directory.AccountKey) error {
	return validateKeyParts("account", k.Organization, k.Name)
}

func validateGroupKey(k directory.GroupKey) error {
	if k.Kind != directory.GroupRole && k.Kind != directory.GroupLocation {
		return fmt.Errorf("%w: group kind %q is neither %s nor %s", directory.ErrInvalid, k.Kind, directory.GroupRole, directory.GroupLocation)
	}
	return validateKeyParts("group", k.Organization, k.Name)
}

// validValue refuses what the directory cannot hold as a string value: invalid UTF-8 and
// NUL (DirectoryString), and, when max > 0, more than max characters. Empty is refused too.
func validValue(what, v string, max int) error {
	switch {
	case v == "":
		return fmt.Errorf("%w: %s is empty", directory.ErrInvalid, what)
	case !utf8.ValidString(v):
		return fmt.Errorf("%w: %s is not valid UTF-8", directory.ErrInvalid, what)
	case strings.ContainsRune(v, 0):
		return fmt.Errorf("%w: %s contains a NUL character", directory.ErrInvalid, what)
	case max > 0 && utf8.RuneCountInString(v) > max:
		return fmt.Errorf("%w: %s is longer than %d characters", directory.ErrInvalid, what, max)
	}
	return nil
}

// normDN is a comparison key for a DN: attribute types and values case-folded (the naming
// attributes used here, uid, cn, ou, dc, match case-insensitively).
func normDN(dn string) string {
	if plainDN(dn) {
		// Nothing to unescape, trim or split: parsing would only lower the case. Group passes
		// normalize every member's DN, so this path is the one taken thousands of times.
		return strings.ToLower(dn)
	}
	return parsedNormDN(dn)
}

// parsedNormDN is normDN by parsing the DN.
func parsedNormDN(dn string) string {
	d, err := goldap.ParseDN(dn)
	if err != nil {
		return strings.ToLower(dn)
	}
	var b strings.Builder
	for i, r := range d.RDNs {
		if i > 0 {
			b.WriteByte(',')
		}
		for j, a := range r.Attributes {
			if j > 0 {
				b.WriteByte('+')
			}
			b.WriteString(strings.ToLower(a.Type))
			b.WriteByte('=')
			b.WriteString(goldap.EscapeDN(strings.ToLower(a.Value)))
		}
	}
	return b.String()
}

// plainDN tells whether dn has only characters that need no DN parsing: letters, digits and
// "=,.-_", none of which is escaped, quoted, spaced or multi-valued, and no value that starts
// with '#'.
func plainDN(dn string) bool {
	for i := 0; i < len(dn); i++ {
		switch b := dn[i]; {
		case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z', '0' <= b && b <= '9':
		case b == '=' || b == ',' || b == '.' || b == '-' || b == '_':
		default:
			return false
		}
	}
	return dn != ""
}

// under tells whether dn is parent or below it.
func under(dn, parent string) bool {
	d, err := goldap.ParseDN(dn)
	if err != nil {
		return false
	}
	p, err := goldap.ParseDN(parent)
	if err != nil {
		return false
	}
	return p.EqualFold(d) || p.AncestorOfFold(d)
}

// sameDN tells whether a and b name the same entry.
func sameDN(a, b string) bool {
	da, err := goldap.ParseDN(a)
	if err != nil {
		return false
	}
	db, err := goldap.ParseDN(b)
	return err == nil && da.EqualFold(db)
}

// rdnValues returns the values of attr in dn's first RDN.
func rdnValues(dn, attr string) []string {
	d, err := goldap.ParseDN(dn)
	if err != nil || len(d.RDNs) == 0 {
		return nil
	}
	var out []string
	for _, a := range d.RDNs[0].Attributes {
		if strings.EqualFold(a.Type, attr) {
			out = append(out, a.Value)
		}
	}
	return out
}
