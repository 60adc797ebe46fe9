package web

import (
	"fmt"
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

func TestLimiter(t *testing.T) {
	start := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	l := newLimiter(Limit{Events: 2, Per: time.Minute}, 100)

	for i := range 2 {
		if ok, _ := l.allow("a", start); !ok {
			t.Fatalf("event %d refused", i+1)
		}
	}
	ok, wait := l.allow("a", start)
	if ok || wait != 30*time.Second {
		t.Fatalf("third event: ok=%v wait=%s, want refused for 30s", ok, wait)
	}
	if ok, _ := l.allow("b", start); !ok {
		t.Fatal("another key shares a's bucket")
	}
	if ok, wait := l.allow("a", start.Add(20*time.Second)); ok || wait != 10*time.Second {
		t.Fatalf("after 20s: ok=%v wait=%s, want refused for 10s more", ok, wait)
	}
	if ok, _ := l.allow("a", start.Add(30*time.Second)); !ok {
		t.Fatal("after 30s a token is back, but the event was refused")
	}
}

func TestLimiterMemoryIsBounded(t *testing.T) {
	start := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	l := newLimiter(Limit{Events: 5, Per: time.Minute}, 50)

	// Idle buckets are dropped once they have refilled.
	for i := range 40 {
		l.allow(fmt.Sprint("idle", i), start)
	}
	l.allow("fresh", start.Add(time.Minute))
	if got := l.size(); got != 1 {
		t.Errorf("after a quiet minute %d keys are held, want 1", got)
	}

	// Many busy keys at once never hold more than the cap; the stalest goes first.
	for i := range 500 {
		l.allow(fmt.Sprint("busy", i), start.Add(time.Minute+time.Duration(i)*time.Millisecond))
	}
	if got := l.size(); got > 50 {
		t.Errorf("%d keys held, want at most 50", got)
	}
	if _, ok := l.buckets["busy499"]; !ok {
		t.Error("the newest key was evicted")
	}
	if _, ok := l.buckets["busy0"]; ok {
		t.Error("the stalest key was kept")
	}
}

func TestClientKey(t *testing.T) {
	h := &handler{}
	for _, tc := range []struct{ remote, want string }{
		{"192.0.2.10:5555", "192.0.2.10"},
		{"[::ffff:192.0.2.10]:5555", "192.0.2.10"},
		{"[2001:db8:a:b:1:2:3:4]:443", "2001:db8:a:b::/64"},
		{"[fe80::1%eth0]:443", "fe80::/64"},
		{"not an address", "not an address"},
	} {
		if got := h.clientKey(&http.Request{RemoteAddr: tc.remote, Header: http.Header{}}); got != tc.want {
			t.Errorf("clientKey(%s) = %s, want %s", tc.remote, got, tc.want)
		}
	}
}

func TestWaitText(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{time.Second, "1 second"},
		{20 * time.Second, "20 seconds"},
		{time.Minute, "1 minute"},
		{61 * time.Second, "2 minutes"},
		{5 * time.Minute, "5 minutes"},
	} {
		if got := waitText(tc.d); got != tc.want {
			t.Errorf("waitText(%s) = %q, want %q", tc.d, got, tc.want)
		}
	}
}

// TestLimiterEvictsLeastRecentlyUsed: a full set drops the bucket used longest ago, not one
// that is busy now.
func TestLimiterEvictsLeastRecentlyUsed(t *testing.T) {
	start := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	l := newLimiter(Limit{Events: 1, Per: time.Minute}, 3)
	l.allow("a", start)
	l.allow("b", start.Add(time.Second))
	l.allow("c", start.Add(2*time.Second))
	l.allow("a", start.Add(3*time.Second)) // refused, but used: a is now the most recent
	l.allow("d", start.Add(4*time.Second)) // evicts b
	if _, ok := l.buckets["b"]; ok || l.size() != 3 {
		t.Fatalf("keys %v, want b evicted and 3 kept", l.size())
	}
	if ok, _ := l.allow("a", start.Add(5*time.Second)); ok {
		t.Error("a was forgotten although it was used recently")
	}
}

// BenchmarkLimiterRotatingKeys is an attacker rotating through new addresses with the
// limiter full (defaultMaxKeys busy keys, none refilled): every request is a new key. The
// cost per request must not grow with the number of keys held.
func BenchmarkLimiterRotatingKeys(b *testing.B) {
	start := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	l := newLimiter(DefaultClientLimit, defaultMaxKeys)
	for i := range defaultMaxKeys {
		l.allow(fmt.Sprint("seed", i), start)
	}
	keys := make([]string, 1<<16)
	for i := range keys {
		keys[i] = fmt.Sprint("203.0.", i>>8, ".", i&255)
	}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		l.allow(keys[i&(len(keys)-1)]+fmt.Sprint(i>>16), start.Add(time.Duration(i)*time.Microsecond))
	}
	if l.size() > defaultMaxKeys {
		b.Fatalf("%d keys held, more than %d", l.size(), defaultMaxKeys)
	}
}

// BenchmarkLimiterRotatingKeysParallel is the same from many goroutines at once, as the
// page's requests arrive.
func BenchmarkLimiterRotatingKeysParallel(b *testing.B) {
	start := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	l := newLimiter(DefaultClientLimit, defaultMaxKeys)
	var n atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			l.allow(strconv.FormatInt(i, 10), start.Add(time.Duration(i)*time.Microsecond))
		}
	})
}
