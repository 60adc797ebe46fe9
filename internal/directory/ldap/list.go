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
// carries a marker value, split into accounts and groups. Each page is turned into the
// inventory's own values before the next is read (searchPages), so the listing never holds the
// whole directory's decoded responses.
func (c *Client) ListManaged(ctx context.Context) (directory.Inventory, error) {
	attrs := slices.Concat(accountReadAttrs, []string{"description", "member"})
	mark := c.members.mark()
	var l listing
	err := c.searchPages(ctx, searchReq(c.base, goldap.ScopeWholeSubtree,
		"(&(|(objectClass=inetOrgPerson)(objectClass=groupOfNames))("+markerAttr+"="+goldap.EscapeFilter(markerPrefix)+"*))", attrs),
		l.reset, func(entries []*goldap.Entry) error { return l.add(ctx, c, entries) })
	if err != nil {
		return directory.Inventory{}, fmt.Errorf("list managed entries: %w", err)
	}
	c.dns.replace(l.byKey)
	inv := directory.Inventory{Accounts: l.accounts}
	listed := make(map[directory.GroupKey]map[string]string, len(l.groups))
	for _, g := range l.groups {
		listed[g.Key] = byNormDN(g.members)
		inv.Groups = append(inv.Groups, g.state(l.byDN))
	}
	c.members.replace(listed, mark)
	return inv, nil
}

// listing collects ListManaged's pages. Groups are kept with their member values until every
// account is known, since a member's key comes from its account.
type listing struct {
	accounts []directory.AccountState
	byDN     map[string]directory.AccountKey
	byKey    map[directory.AccountKey]string
	groups   []listedGroup
}

// listedGroup is a managed group as listed, its members still DNs.
type listedGroup struct {
	directory.GroupState
	members []string
}

func (l *listing) reset() {
	*l = listing{byDN: map[string]directory.AccountKey{}, byKey: map[directory.AccountKey]string{}}
}

func (l *listing) add(ctx context.Context, c *Client, entries []*goldap.Entry) error {
	for _, e := range entries {
		if isClass(e, "groupOfNames") {
			if g, ok := groupFromEntry(e); ok {
				l.groups = append(l.groups, g)
			}
			continue
		}
		key, ok := accountOwner(e)
		if !ok {
			continue
		}
		facts, err := c.facts(ctx, e)
		if err != nil {
			return err
		}
		l.accounts = append(l.accounts, directory.AccountState{Account: accountFromEntry(e), SignInFacts: facts, ID: e.DN})
		l.byDN[normDN(e.DN)] = key
		l.byKey[key] = e.DN
	}
	return nil
}

// groupFromEntry reads a managed group's key, names, description and permissions; false when
// the entry is not a role's or location's group.
func groupFromEntry(e *goldap.Entry) (listedGroup, bool) {
	var g listedGroup
	owned, _ := ownedMarkerValues(e)
	for _, v := range owned {
		if k, ok := groupKeyOf(v); ok {
			g.Key = k
		} else if perm, ok := strings.CutPrefix(v, permissionMarker); ok {
			g.Permissions = append(g.Permissions, perm)
		}
	}
	if g.Key.Name == "" {
		return listedGroup{}, false
	}
	for _, cn := range e.GetEqualFoldAttributeValues("cn") {
		if cn != g.Key.Name {
			g.DisplayName = cn
		}
	}
	g.Description = e.GetEqualFoldAttributeValue("description")
	g.ID = e.DN
	g.members = e.GetEqualFoldAttributeValues("member")
	return g, true
}

// state resolves the group's member DNs to the managed accounts listed; the group's own DN (the
// placeholder of an empty group) is no member, and anything else is a foreign member.
func (g listedGroup) state(byDN map[string]directory.AccountKey) directory.GroupState {
	gs := g.GroupState
	self := normDN(g.ID)
	for _, m := range g.members {
		n := normDN(m)
		switch k, ok := byDN[n]; {
		case n == self:
		case ok:
			gs.Members = append(gs.Members, k)
		default:
			gs.ForeignMembers = append(gs.ForeignMembers, m)
		}
	}
	return gs
}

func isClass(e *goldap.Entry, class string) bool {
	return slices.ContainsFunc(e.GetEqualFoldAttributeValues("objectClass"), func(v string) bool { return strings.EqualFold(v, class) })
}
