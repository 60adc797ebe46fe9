package ldap

import (
	"context"
	"fmt"
	"slices"
	"strings"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/rosterops/staff-operator/internal/directory"
)

// ListManaged implements directory.Backend: one paged subtree search for every entry that
// carries a marker value, split into accounts and groups.
func (c *Client) ListManaged(ctx context.Context) (directory.Inventory, error) {
	attrs := slices.Concat(accountReadAttrs, []string{"description", "member"})
	mark := c.members.mark()
	entries, err := c.search(ctx, searchReq(c.base, goldap.ScopeWholeSubtree,
		"(&(|(objectClass=inetOrgPerson)(objectClass=groupOfNames))("+markerAttr+"="+goldap.EscapeFilter(markerPrefix)+"*))", attrs), true)
	if err != nil {
		return directory.Inventory{}, fmt.Errorf("list managed entries: %w", err)
	}
	var inv directory.Inventory
	byDN := map[string]directory.AccountKey{}
	byKey := map[directory.AccountKey]string{}
	var groups []*goldap.Entry
	for _, e := range entries {
		if isClass(e, "groupOfNames") {
			groups = append(groups, e)
			continue
		}
		key, ok := accountOwner(e)
		if !ok {
			continue
		}
		facts, err := c.facts(ctx, e)
		if err != nil {
			return directory.Inventory{}, fmt.Errorf("list managed entries: %w", err)
		}
		inv.Accounts = append(inv.Accounts, directory.AccountState{Account: accountFromEntry(e), SignInFacts: facts, ID: e.DN})
		byDN[normDN(e.DN)] = key
		byKey[key] = e.DN
	}
	c.dns.replace(byKey)
	listed := make(map[directory.GroupKey]map[string]string, len(groups))
	for _, e := range groups {
		var gs directory.GroupState
		owned, _ := ownedMarkerValues(e)
		for _, v := range owned {
			if p, org, name, ok := parseMarker(v); ok && (p == roleMarker || p == locationMarker) {
				kind := directory.GroupRole
				if p == locationMarker {
					kind = directory.GroupLocation
				}
				gs.Key = directory.GroupKey{Organization: org, Kind: kind, Name: name}
			} else if perm, ok := strings.CutPrefix(v, permissionMarker); ok {
				gs.Permissions = append(gs.Permissions, perm)
			}
		}
		if gs.Key.Name == "" {
			continue
		}
		for _, cn := range e.GetEqualFoldAttributeValues("cn") {
			if cn != gs.Key.Name {
				gs.DisplayName = cn
			}
		}
		gs.Description = e.GetEqualFoldAttributeValue("description")
		gs.ID = e.DN
		self := normDN(e.DN)
		listed[gs.Key] = byNormDN(e.GetEqualFoldAttributeValues("member"))
		for _, m := range e.GetEqualFoldAttributeValues("member") {
			n := normDN(m)
			switch k, ok := byDN[n]; {
			case n == self:
			case ok:
				gs.Members = append(gs.Members, k)
			default:
				gs.ForeignMembers = append(gs.ForeignMembers, m)
			}
		}
		inv.Groups = append(inv.Groups, gs)
	}
	c.members.replace(listed, mark)
	return inv, nil
}

func isClass(e *goldap.Entry, class string) bool {
	return slices.ContainsFunc(e.GetEqualFoldAttributeValues("objectClass"), func(v string) bool { return strings.EqualFold(v, class) })
}
