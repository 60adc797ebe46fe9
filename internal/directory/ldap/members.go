package ldap

import (
	"sync"

	"github.com/rosterops/staff-operator/internal/directory"
)

// groupMembers remembers the member list of each managed group as this client last wrote or
// read it, so that a pass over a group of 10,000 that gained one member sends one value and
// reads nothing: reading and comparing the whole list on every pass made onboarding quadratic
// in the size of a practice.
//
// It is only ever a cache of the directory, never a source of truth:
//   - every resync (ListManaged) replaces it with what the directory holds, so a member added or
//     removed by hand is seen and put back within a resync period, as accounts are;
//   - a group written while a listing was under way is forgotten instead of replaced with the
//     listing, which may predate the write: an entry that said "not a member" of someone the
//     write had just added would let a later removal skip them, and access would outlive the
//     person until the next resync;
//   - a failed write forgets the group: the server may or may not have applied it.
//
// A forgotten or unknown group is read from the directory on its next pass.
type groupMembers struct {
	mu sync.Mutex
	// byKey holds, per group, its member values by normalized DN.
	byKey map[directory.GroupKey]map[string]string
	// writes counts record and forget calls; written holds each group's count at its last one.
	writes  uint64
	written map[directory.GroupKey]uint64
}

// lookup returns the members of key, or false when the client does not know them.
func (g *groupMembers) lookup(key directory.GroupKey) (map[string]string, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	m, ok := g.byKey[key]
	return m, ok
}

// record remembers members (by normalized DN) as what key holds after a write or a read.
func (g *groupMembers) record(key directory.GroupKey, members map[string]string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.touch(key)
	g.byKey[key] = members
}

// forget drops what the client knows of key.
func (g *groupMembers) forget(key directory.GroupKey) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.touch(key)
	delete(g.byKey, key)
}

func (g *groupMembers) touch(key directory.GroupKey) {
	if g.byKey == nil {
		g.byKey, g.written = map[directory.GroupKey]map[string]string{}, map[directory.GroupKey]uint64{}
	}
	g.writes++
	g.written[key] = g.writes
}

// mark is taken before a listing starts; replace uses it to tell the groups written meanwhile.
func (g *groupMembers) mark() uint64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.writes
}

// replace starts afresh from a complete listing begun at mark; groups written since are left
// unknown, to be read again.
func (g *groupMembers) replace(listed map[directory.GroupKey]map[string]string, mark uint64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for key, at := range g.written {
		if at > mark {
			delete(listed, key)
		} else {
			delete(g.written, key)
		}
	}
	g.byKey = listed
	if g.written == nil {
		g.written = map[directory.GroupKey]uint64{}
	}
}
