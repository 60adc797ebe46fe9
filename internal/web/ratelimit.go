package web

import (
	"sync"
	"time"
)

// Limit allows Events requests per Per, as a token bucket: a burst of Events, then one more
// every Per/Events.
type Limit struct {
	Events int
	Per    time.Duration
}

// Default limits on POSTs. A person setting a password needs a handful of tries; a script
// trying many links from one address, or hammering one link, gets 429.
var (
	// DefaultClientLimit bounds POSTs from one client IP address.
	DefaultClientLimit = Limit{Events: 10, Per: time.Minute}
	// DefaultLinkLimit bounds POSTs to one link, from anywhere.
	DefaultLinkLimit = Limit{Events: 5, Per: 15 * time.Minute}
)

// defaultMaxKeys bounds the memory of one limiter: about 100 bytes a key.
const defaultMaxKeys = 100_000

// limiter is a set of token buckets keyed by string (a client address or a token hash), with
// bounded memory. Each bucket is kept as the generic cell rate algorithm keeps it: one time,
// the theoretical arrival time of the next event (tat), which is exact in integer durations.
// A bucket whose tat has passed is full again, the same as no bucket, so it is dropped at the
// next sweep; if the set is still full, the bucket with the earliest tat goes.
type limiter struct {
	interval  time.Duration // one token comes back per interval
	tolerance time.Duration // how far tat may run ahead of now: the burst
	maxKeys   int

	mu        sync.Mutex
	tats      map[string]time.Time
	lastSweep time.Time
	per       time.Duration
}

func newLimiter(l Limit, maxKeys int) *limiter {
	interval := l.Per / time.Duration(l.Events)
	return &limiter{
		interval:  interval,
		tolerance: interval * time.Duration(l.Events-1),
		maxKeys:   maxKeys,
		tats:      map[string]time.Time{},
		per:       l.Per,
	}
}

// allow takes a token from key's bucket. When there is none it returns false and how long
// until there is one.
func (l *limiter) allow(key string, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()

	if now.Sub(l.lastSweep) >= l.per || len(l.tats) >= l.maxKeys {
		l.sweep(now)
	}
	tat, ok := l.tats[key]
	if !ok && len(l.tats) >= l.maxKeys {
		l.evictOldest()
	}
	if tat.Before(now) {
		tat = now
	}
	if ahead := tat.Sub(now); ahead > l.tolerance {
		return false, ahead - l.tolerance
	}
	l.tats[key] = tat.Add(l.interval)
	return true, 0
}

// sweep drops the buckets that are full again: they hold nothing worth keeping.
func (l *limiter) sweep(now time.Time) {
	for k, tat := range l.tats {
		if !tat.After(now) {
			delete(l.tats, k)
		}
	}
	l.lastSweep = now
}

// evictOldest drops the bucket closest to full. It runs only when the set is full of busy
// buckets, which takes maxKeys distinct keys within one period; forgetting one then errs on
// the side of letting a request through.
func (l *limiter) evictOldest() {
	var oldest string
	var at time.Time
	for k, tat := range l.tats {
		if oldest == "" || tat.Before(at) {
			oldest, at = k, tat
		}
	}
	delete(l.tats, oldest)
}

// size is the number of keys held, for tests.
func (l *limiter) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.tats)
}
