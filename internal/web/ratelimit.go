package web

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
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

// defaultMaxKeys bounds the memory of one limiter: about 150 bytes a key.
const defaultMaxKeys = 100_000

// limiter is a set of token buckets (golang.org/x/time/rate) keyed by string: a client address
// or a token hash. Memory is bounded: a bucket that has refilled is the same as no bucket, so
// it is dropped at the next sweep; if the set is still full, the fullest bucket goes. Time is
// passed in, so the page's clock drives it.
type limiter struct {
	every   rate.Limit
	burst   int
	per     time.Duration
	maxKeys int

	mu        sync.Mutex
	buckets   map[string]*rate.Limiter
	lastSweep time.Time
}

func newLimiter(l Limit, maxKeys int) *limiter {
	return &limiter{
		every:   rate.Every(l.Per / time.Duration(l.Events)),
		burst:   l.Events,
		per:     l.Per,
		maxKeys: maxKeys,
		buckets: map[string]*rate.Limiter{},
	}
}

// allow takes a token from key's bucket. When there is none it returns false and how long
// until there is one.
func (l *limiter) allow(key string, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()

	if now.Sub(l.lastSweep) >= l.per || len(l.buckets) >= l.maxKeys {
		l.sweep(now)
	}
	b, ok := l.buckets[key]
	if !ok {
		if len(l.buckets) >= l.maxKeys {
			l.evictFullest(now)
		}
		b = rate.NewLimiter(l.every, l.burst)
		l.buckets[key] = b
	}
	r := b.ReserveN(now, 1)
	if wait := r.DelayFrom(now); wait > 0 {
		r.CancelAt(now) // a refused request costs nothing
		return false, wait
	}
	return true, 0
}

// sweep drops the buckets that are full again: they hold nothing worth keeping.
func (l *limiter) sweep(now time.Time) {
	for k, b := range l.buckets {
		if b.TokensAt(now) >= float64(l.burst) {
			delete(l.buckets, k)
		}
	}
	l.lastSweep = now
}

// evictFullest drops the bucket closest to full. It runs only when the set is full of busy
// buckets, which takes maxKeys distinct keys within one period; forgetting one then errs on
// the side of letting a request through.
func (l *limiter) evictFullest(now time.Time) {
	var fullest string
	most := -1.0
	for k, b := range l.buckets {
		if t := b.TokensAt(now); t > most {
			fullest, most = k, t
		}
	}
	delete(l.buckets, fullest)
}

// size is the number of keys held, for tests.
func (l *limiter) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}
