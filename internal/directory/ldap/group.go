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

// A groupOfNames needs at least one member. An empty group holds its own DN as the only
// member, a placeholder that is never reported as a member.

// groupReadAttrs are what EnsureGroup and DeleteGroup read; the member list, which can be
// thousands of values, is read only by SetGroupMembers and only when it does not know it.
var groupReadAttrs = []string{"cn", "description", markerAttr, "objectClass"}

func validateGroup(g directory.Group) error {
	if err := validateGroupKey(g.Key); err != nil {
		return err
	}
	for what, v := range map[string]string{"display name": g.DisplayName, "description": g.Description} {
		if v != "" {
			if err := validValue(what, v, 0); err != nil {
				return fmt.Errorf("group %s: %w", g.Key, err)
			}
		}
	}
	for _, p := range g.Permissions {
		if err := validValue("permission", p, 0); err != nil {
			return fmt.Errorf("group %s: %w", g.Key, err)
		}
	}
	return nil
}

// wantGroupCN: the name (the RDN value) and, when different, the display name.
func wantGroupCN(g directory.Group) []string {
	cn := []string{g.Key.Name}
	if g.DisplayName != "" && !strings.EqualFold(g.DisplayName, g.Key.Name) {
		cn = append(cn, g.DisplayName)
	}
	return cn
}

// wantGroupMarkers: the marker and one value per permission (deduplicated, case-insensitively
// as the server compares them).
func wantGroupMarkers(g directory.Group) []string {
	vals := []string{groupMarkerOf(g.Key)}
	for _, p := range g.Permissions {
		v := permissionMarker + p
		if !slices.ContainsFunc(vals, func(x string) bool { return strings.EqualFold(x, v) }) {
			vals = append(vals, v)
		}
	}
	return vals
}

func ownedMarkerValues(e *goldap.Entry) (owned, foreign []string) {
	for _, v := range e.GetEqualFoldAttributeValues(markerAttr) {
		if strings.HasPrefix(strings.ToLower(v), markerPrefix) {
			owned = append(owned, v)
		} else {
			foreign = append(foreign, v)
		}
	}
	return owned, foreign
}

// readGroup reads the group at key's DN: nil when missing, a ConflictError when the entry is
// not managed for key.
func (c *Client) readGroup(ctx context.Context, key directory.GroupKey, attrs ...string) (*goldap.Entry, error) {
	dn := c.groupDN(key)
	entries, err := c.search(ctx, searchReq(dn, goldap.ScopeBaseObject, "(objectClass=*)", slices.Concat(groupReadAttrs, attrs)), false)
	if errors.Is(err, directory.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if len(entries) != 1 {
		return nil, nil
	}
	e := entries[0]
	if !hasValue(e, markerAttr, groupMarkerOf(key)) {
		owned, _ := ownedMarkerValues(e)
		for _, v := range owned {
			if p, org, name, ok := parseMarker(v); ok {
				kind := map[string]string{accountMarker: "account", roleMarker: "role", locationMarker: "location"}[p]
				return nil, &directory.ConflictError{ID: dn, Managed: true, Owner: kind + " " + org + "/" + name}
			}
		}
		return nil, &directory.ConflictError{ID: dn}
	}
	return e, nil
}

// EnsureGroup implements directory.Backend.
func (c *Client) EnsureGroup(ctx context.Context, g directory.Group) (bool, error) {
	if err := validateGroup(g); err != nil {
		return false, fmt.Errorf("ensure group: %w", err)
	}
	e, err := c.readGroup(ctx, g.Key)
	if err != nil {
		return false, fmt.Errorf("ensure group %s: %w", g.Key, err)
	}
	dn := c.groupDN(g.Key)
	if e == nil {
		// Whatever the client knew of a group that is gone is wrong for the new one.
		c.members.forget(g.Key)
		req := goldap.NewAddRequest(dn, nil)
		req.Attribute("objectClass", []string{"top", "groupOfNames"})
		req.Attribute("cn", wantGroupCN(g))
		if g.Description != "" {
			req.Attribute("description", []string{g.Description})
		}
		req.Attribute(markerAttr, wantGroupMarkers(g))
		req.Attribute("member", []string{dn})
		err := c.addUnder(ctx, g.Key.Organization, groupOU(g.Key.Kind), req)
		if errors.Is(err, directory.ErrConflict) {
			return false, fmt.Errorf("ensure group %s: %w", g.Key, c.conflictAt(ctx, dn))
		}
		if err != nil {
			return false, fmt.Errorf("ensure group %s: %w", g.Key, err)
		}
		return true, nil
	}
	req := goldap.NewModifyRequest(e.DN, nil)
	if cn := wantGroupCN(g); !sameSet(e.GetEqualFoldAttributeValues("cn"), cn) {
		req.Replace("cn", cn)
	}
	var desc []string
	if g.Description != "" {
		desc = []string{g.Description}
	}
	if !sameSet(e.GetEqualFoldAttributeValues("description"), desc) {
		req.Replace("description", desc)
	}
	owned, foreign := ownedMarkerValues(e)
	if want := wantGroupMarkers(g); !sameSet(owned, want) {
		req.Replace(markerAttr, append(foreign, want...))
	}
	if len(req.Changes) == 0 {
		return false, nil
	}
	if err := c.modify(ctx, req); err != nil {
		return false, fmt.Errorf("ensure group %s: %w", g.Key, err)
	}
	return true, nil
}

// DeleteGroup implements directory.Backend.
func (c *Client) DeleteGroup(ctx context.Context, key directory.GroupKey) error {
	if err := validateGroupKey(key); err != nil {
		return fmt.Errorf("delete group: %w", err)
	}
	e, err := c.readGroup(ctx, key)
	if err != nil {
		return fmt.Errorf("delete group %s: %w", key, err)
	}
	c.members.forget(key)
	if e == nil {
		return nil
	}
	if err := c.del(ctx, e.DN); err != nil && !errors.Is(err, directory.ErrNotFound) {
		return fmt.Errorf("delete group %s: %w", key, err)
	}
	return nil
}

// managedAccountDNs maps the keys of org's managed accounts to their DNs, in one paged search.
func (c *Client) managedAccountDNs(ctx context.Context, org string) (map[directory.AccountKey]string, error) {
	prefix := accountMarker + org + "/"
	entries, err := c.search(ctx, searchReq(c.base, goldap.ScopeWholeSubtree,
		"(&(objectClass=inetOrgPerson)("+markerAttr+"="+goldap.EscapeFilter(prefix)+"*))", []string{markerAttr}), true)
	if err != nil {
		return nil, err
	}
	m := make(map[directory.AccountKey]string, len(entries))
	for _, e := range entries {
		if k, ok := accountOwner(e); ok && k.Organization == org {
			m[k] = e.DN
			c.dns.remember(k, e.DN)
		}
	}
	return m, nil
}

// memberDNs returns the DNs of the accounts of members: from what the client remembers when it
// knows them all, else from one search of the organization's accounts.
func (c *Client) memberDNs(ctx context.Context, org string, members []directory.AccountKey) (map[directory.AccountKey]string, error) {
	if known, ok := c.dns.lookup(members); ok {
		return known, nil
	}
	return c.managedAccountDNs(ctx, org)
}

// SetGroupMembers implements directory.Backend: at most one modify that adds and deletes the
// members that changed, so a group of 10,000 that gained one member is sent one value. The
// group's current members come from what the client knows (groupMembers), else from one read;
// the accounts' DNs likewise (accountDNs), else from one search of the organization.
func (c *Client) SetGroupMembers(ctx context.Context, key directory.GroupKey, members []directory.AccountKey) (bool, error) {
	if err := validateGroupKey(key); err != nil {
		return false, fmt.Errorf("set group members: %w", err)
	}
	for _, m := range members {
		if err := validateAccountKey(m); err != nil {
			return false, fmt.Errorf("set group members %s: %w", key, err)
		}
	}
	have, err := c.currentMembers(ctx, key)
	if err != nil {
		return false, fmt.Errorf("set group members %s: %w", key, err)
	}
	want, missing, err := c.wantedMembers(ctx, key, members)
	if err != nil {
		return false, fmt.Errorf("set group members %s: %w", key, err)
	}
	add, del := memberDelta(have, want)
	changed := len(add) > 0 || len(del) > 0
	if changed {
		// Adds first: groupOfNames must keep a member, and the server checks that only once
		// the whole modify is applied. Permissive Modify makes a value someone else added or
		// deleted meanwhile no error.
		req := goldap.NewModifyRequest(c.groupDN(key), []goldap.Control{goldap.NewControlString(permissiveModifyOID, false, "")})
		if len(add) > 0 {
			req.Add("member", add)
		}
		if len(del) > 0 {
			req.Delete("member", del)
		}
		if err := c.modify(ctx, req); err != nil {
			c.members.forget(key)
			return false, fmt.Errorf("set group members %s: %w", key, err)
		}
	}
	c.members.record(key, want)
	if len(missing) > 0 {
		return changed, fmt.Errorf("set group members: %w", &directory.MissingMembersError{Group: key, Missing: missing})
	}
	return changed, nil
}

// currentMembers returns the group's member values by normalized DN: what the client knows, or
// one read of the group (ErrNotFound when it does not exist).
func (c *Client) currentMembers(ctx context.Context, key directory.GroupKey) (map[string]string, error) {
	if have, ok := c.members.lookup(key); ok {
		return have, nil
	}
	e, err := c.readGroup(ctx, key, "member")
	if err == nil && e == nil {
		err = directory.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return byNormDN(e.GetEqualFoldAttributeValues("member")), nil
}

// wantedMembers returns the DNs the group should hold, by normalized DN, and the members whose
// accounts are not found (or belong to another organization). An empty group holds its own DN.
func (c *Client) wantedMembers(ctx context.Context, key directory.GroupKey, members []directory.AccountKey) (map[string]string, []directory.AccountKey, error) {
	accounts, err := c.memberDNs(ctx, key.Organization, members)
	if err != nil {
		return nil, nil, err
	}
	want := make(map[string]string, len(members))
	var missing []directory.AccountKey
	for _, m := range members {
		dn, ok := accounts[m]
		if m.Organization != key.Organization || !ok {
			missing = append(missing, m)
			continue
		}
		want[normDN(dn)] = dn
	}
	if len(want) == 0 {
		self := c.groupDN(key)
		want[normDN(self)] = self
	}
	return want, missing, nil
}

// byNormDN indexes DNs by their normalized form.
func byNormDN(dns []string) map[string]string {
	m := make(map[string]string, len(dns))
	for _, dn := range dns {
		m[normDN(dn)] = dn
	}
	return m
}

// permissiveModifyOID is the Permissive Modify control (MS-ADTS, supported by OpenLDAP): adding
// a value that is there, or deleting one that is not, succeeds.
const permissiveModifyOID = "1.2.840.113556.1.4.1413"

// memberDelta returns the DNs of want that have lacks and those of have that want lacks,
// compared as DNs.
func memberDelta(have, want map[string]string) (add, del []string) {
	for n, dn := range want {
		if _, ok := have[n]; !ok {
			add = append(add, dn)
		}
	}
	for n, dn := range have {
		if _, ok := want[n]; !ok {
			del = append(del, dn)
		}
	}
	// Sorted, so a request is the same whatever order the maps give.
	slices.Sort(add)
	slices.Sort(del)
	return add, del
}

// GroupsOf implements directory.Backend: one search for the groups whose member values name the
// account (member is indexed), read from the server, never from what the client remembers.
func (c *Client) GroupsOf(ctx context.Context, key directory.AccountKey) ([]directory.GroupKey, error) {
	if err := validateAccountKey(key); err != nil {
		return nil, fmt.Errorf("groups of: %w", err)
	}
	e, err := c.findAccount(ctx, key)
	if err == nil && e == nil {
		err = directory.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("groups of %s: %w", key, err)
	}
	entries, err := c.search(ctx, searchReq(c.base, goldap.ScopeWholeSubtree,
		"(&(objectClass=groupOfNames)(member="+goldap.EscapeFilter(e.DN)+"))", []string{markerAttr}), false)
	if err != nil {
		return nil, fmt.Errorf("groups of %s: %w", key, err)
	}
	var keys []directory.GroupKey
	for _, g := range entries {
		owned, _ := ownedMarkerValues(g)
		for _, v := range owned {
			if k, ok := groupKeyOf(v); ok {
				keys = append(keys, k)
			}
		}
	}
	return keys, nil
}

// groupKeyOf reads the key from a role or location marker value.
func groupKeyOf(marker string) (directory.GroupKey, bool) {
	p, org, name, ok := parseMarker(marker)
	switch {
	case ok && p == roleMarker:
		return directory.GroupKey{Organization: org, Kind: directory.GroupRole, Name: name}, true
	case ok && p == locationMarker:
		return directory.GroupKey{Organization: org, Kind: directory.GroupLocation, Name: name}, true
	}
	return directory.GroupKey{}, false
}
