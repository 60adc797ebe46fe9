package controllers

import (
	"fmt"
	"sync"
	"time"

	staffv1alpha1 "github.com/rosterops/staff-operator/api/v1alpha1"
)

// Defaults of RemovalGuard: more than 20 entries, or more than 10% of a practice if that is
// more, removed within 10 minutes.
const (
	DefaultRemovalGuardEntries = 20
	DefaultRemovalGuardPercent = 10
	DefaultRemovalGuardWindow  = 10 * time.Minute
)

// RemovalGuard holds back the removal of directory entries (deletionPolicy Delete) when many
// members of one practice go within a short window: a Git revert or a Flux prune of a whole
// practice would otherwise erase its accounts, their sign-in history and their audit trail in
// one pass. Access ends at once regardless: the account is locked before the guard is asked.
// Only the removal of the entry waits, until a person approves it on the practice's Namespace
// (staffv1alpha1.RemovalsApprovedAtAnnotation).
//
// The limit is the larger of Entries and Percent of the practice, so a small practice offboards
// one person without ceremony and a large one its usual share. It counts the practice's members
// that are being deleted with policy Delete right now (a prune deletes them all at once) and the
// entries this manager removed within Window. That history lives in memory: a restarted or new
// leader starts without it, so a slow drip of removals across restarts is not caught; a burst
// always is, since its members are all still there, being deleted.
type RemovalGuard struct {
	Entries int
	Percent int
	Window  time.Duration

	mu      sync.Mutex
	removed map[string][]time.Time // by practice (namespace), times of removals
}

// limit is how many removals a practice of size members may have within the window.
func (g *RemovalGuard) limit(size int) int {
	entries, percent := g.Entries, g.Percent
	if entries <= 0 {
		entries = DefaultRemovalGuardEntries
	}
	if percent <= 0 {
		percent = DefaultRemovalGuardPercent
	}
	return max(entries, size*percent/100)
}

func (g *RemovalGuard) window() time.Duration {
	if g.Window <= 0 {
		return DefaultRemovalGuardWindow
	}
	return g.Window
}

// recent returns how many entries of the practice were removed within the window before now,
// forgetting older ones.
func (g *RemovalGuard) recent(practice string, now time.Time) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	kept := g.removed[practice][:0]
	for _, t := range g.removed[practice] {
		if now.Sub(t) < g.window() {
			kept = append(kept, t)
		}
	}
	if g.removed == nil {
		g.removed = map[string][]time.Time{}
	}
	g.removed[practice] = kept
	return len(kept)
}

// record notes a removal.
func (g *RemovalGuard) record(practice string, now time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.removed == nil {
		g.removed = map[string][]time.Time{}
	}
	g.removed[practice] = append(g.removed[practice], now)
}

// hold says why a removal must wait, or "" when it may go ahead: pending members of a practice
// of size are being deleted with policy Delete (this one included), and the practice's
// Namespace was last approved at approvedAt (zero when never) for removals whose deletion began
// before then.
func (g *RemovalGuard) hold(m *staffv1alpha1.StaffMember, pending, size int, approvedAt, now time.Time) string {
	if !approvedAt.IsZero() && !m.DeletionTimestamp.Time.After(approvedAt) {
		return ""
	}
	count, limit := g.recent(m.Namespace, now)+pending, g.limit(size)
	if count <= limit {
		return ""
	}
	return fmt.Sprintf("The account is locked (sign-in is gone), but its directory entry is kept: %d members of this practice are being removed within %s, "+
		"more than the guard allows (%d); if this is intended, approve with: kubectl annotate namespace %s --overwrite %s=\"$(date -u +%%Y-%%m-%%dT%%H:%%M:%%SZ)\"",
		count, g.window(), limit, m.Namespace, staffv1alpha1.RemovalsApprovedAtAnnotation)
}
