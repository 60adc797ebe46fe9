package ldap

import (
	"sync"

	"github.com/rosterops/staff-operator/internal/directory"
)

// accountDNs remembers where each managed account is, by key, as this client created, adopted,
// found or listed it. A group's member list is then written without a search of every account
// of the practice on each pass, which at 10,000 staff was most of the directory's work. A key
// it does not know sends SetGroupMembers to the directory, which answers for all; a retired or
// deleted account is forgotten, and every ListManaged (the resync) starts it afresh, so an
// entry moved or removed by hand is corrected within a resync period.
type accountDNs struct {
	mu    sync.Mutex
	byKey map[directory.AccountKey]string
}

func (d *accountDNs) remember(key directory.AccountKey, dn string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.byKey == nil {
		d.byKey = map[directory.AccountKey]string{}
	}
	d.byKey[key] = dn
}

func (d *accountDNs) forget(key directory.AccountKey) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.byKey, key)
}

// replace starts afresh from a complete listing.
func (d *accountDNs) replace(byKey map[directory.AccountKey]string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.byKey = byKey
}

// lookup returns the DNs of keys, and whether it knows every one of them.
func (d *accountDNs) lookup(keys []directory.AccountKey) (map[directory.AccountKey]string, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make(map[directory.AccountKey]string, len(keys))
	for _, k := range keys {
		dn, ok := d.byKey[k]
		if !ok {
			return nil, false
		}
		out[k] = dn
	}
	return out, true
}
