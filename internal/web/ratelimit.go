package web

import (
	"container/list"
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

// defaultMaxKeys bounds the memory of one limiter: about 250 bytes a key.
const defaultMaxKeys = 100_000

// limiter is a set of token buckets (golang.org/x/time/rate) keyed by string: a client address
// or a token hash. Memory is bounded, and so is the work per request, whatever the number of
// keys: the buckets are kept in order of last use (least recently used at the back), so
//   - a bucket unused for a whole period has refilled, which is the same as no bucket: such
//     buckets are all at the back, and each request drops the ones it finds there (each is
//     dropped once, so this costs O(1) per request, amortized);
//   - when the set is full, the least recently used bucket goes, in O(1). That forgets a
//     client that is still limited only after maxKeys other keys were used since its last
//     request, and then errs on the side of letting a request through.
//
// An attacker rotating through many addresses therefore costs one map insert and one list
// move per request, never a sweep of the whole set under the lock. Time is passed in, so the
// page's clock drives it.
type limiter struct {
	every   rate.Limit
	burst   int
	per     time.Duration
	maxKeys int

	mu      sync.Mutex
	buckets map[string]*list.Element // of *bucket
	lru     *list.List               // most recently used at the front
}

type bucket struct {
	key  string
	lim  *rate.Limiter
	last time.Time // the last request that took or asked for a token
}

func newLimiter(l Limit, maxKeys int) *limiter {
	return &limiter{
		every:   rate.Every(l.Per / time.Duration(l.Events)),
		burst:   l.Events,
		per:     l.Per,
		maxKeys: maxKeys,
		buckets: map[string]*list.Element{},
		lru:     list.New(),
	}
}

// allow takes a token from key's bucket. When there is none it returns false and how long
// until there is one.
func (l *limiter) allow(key string, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()

	l.dropRefilled(now)
	b := l.touch(key, now)
	r := b.lim.ReserveN(now, 1)
	if wait := r.DelayFrom(now); wait > 0 {
		r.CancelAt(now) // a refused request costs nothing
		return false, wait
	}
	return true, 0
}

// touch returns key's bucket, made when missing, and moves it to the front.
func (l *limiter) touch(key string, now time.Time) *bucket {
	if e, ok := l.buckets[key]; ok {
		l.lru.MoveToFront(e)
		b := e.Value.(*bucket)
		if now.After(b.last) {
			b.last = now
		}
		return b
	}
	if len(l.buckets) >= l.maxKeys {
		l.remove(l.lru.Back())
	}
	b := &bucket{key: key, lim: rate.NewLimiter(l.every, l.burst), last: now}
	l.buckets[key] = l.lru.PushFront(b)
	return b
}

// dropRefilled drops, from the back, the buckets unused for a whole period: a bucket refills
// completely within one period, so they hold nothing worth keeping. It stops at the first
// bucket used more recently, since every bucket in front of it was too.
func (l *limiter) dropRefilled(now time.Time) {
	for e := l.lru.Back(); e != nil; e = l.lru.Back() {
		if now.Sub(e.Value.(*bucket).last) < l.per {
			return
		}
		l.remove(e)
	}
}

func (l *limiter) remove(e *list.Element) {
	delete(l.buckets, e.Value.(*bucket).key)
	l.lru.Remove(e)
}

// size is the number of keys held, for tests.
func (l *limiter) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}
