package main

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	staffv1alpha1 "github.com/rosterops/staff-operator/api/v1alpha1"
)

const (
	invited     = staffv1alpha1.StaffMemberInvited
	deactivated = staffv1alpha1.StaffMemberDeactivated
	// offboardDelay lets the burst fill the manager's queues before the first deactivation.
	offboardDelay = time.Second
	// quietFor is how long nothing may change for the manager to count as idle.
	quietFor = 3 * time.Second
	// The manager's own metrics.
	dirOpsCount   = "staff_operator_directory_operation_duration_seconds_count"
	dirOpsSum     = "staff_operator_directory_operation_duration_seconds_sum"
	reconcileRuns = "controller_runtime_reconcile_total"
)

// setup creates both practices and the members to offboard, and waits until those are
// invited and the manager is idle, so that the burst starts from rest.
func (b *bench) setup(ctx context.Context) error {
	for _, ns := range []string{burstNS, offboardNS} {
		if err := createPractice(ctx, b.k8s, ns); err != nil {
			return err
		}
	}
	b.offboarding.expect(invited, b.o.offboard)
	b.mails.expect(offboardNS, b.o.offboard)
	go b.follow(ctx, b.offboarding, offboardNS)
	if err := applyMembers(ctx, b.k8s, offboardNS, b.o.offboard, b.o.workers); err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	if err := b.offboarding.waitFor(wctx, func() bool { return b.offboarding.in(invited) == b.o.offboard }); err != nil {
		return fmt.Errorf("the members of %s are not invited within 5 minutes (%s): %w", offboardNS, b.offboarding.summary(), err)
	}
	if err := b.mails.waitFor(wctx, func() bool { _, ok := b.mails.reached(offboardNS); return ok }); err != nil {
		_, got := b.mails.counts(offboardNS)
		return fmt.Errorf("%d of %d invitation mails to %s within 5 minutes: %w", got, b.o.offboard, offboardNS, err)
	}
	_, err := b.waitQuiet(ctx, time.Minute)
	return err
}

// follow runs p.follow until ctx ends, and ends the run if the watch fails.
func (b *bench) follow(ctx context.Context, p *phases, ns string) {
	if err := p.follow(ctx, b.k8s, ns); err != nil {
		b.fail(err)
	}
}

// snap is what the counters say at one moment.
type snap struct {
	at  time.Time
	api samples          // the API server's requests
	mgr samples          // the manager's metrics
	own map[writeKey]int // the bench's own writes
}

func (b *bench) scrapeAPI(ctx context.Context) (samples, error) {
	return scrape(ctx, b.apiMetrics, b.apiURL, func(name string) bool { return name == apiRequests })
}

func (b *bench) scrapeManager(ctx context.Context) (samples, error) {
	return scrape(ctx, httpClient, "http://"+b.O.Metrics+"/metrics", func(name string) bool {
		return name == dirOpsCount || name == dirOpsSum || name == reconcileRuns
	})
}

func (b *bench) snapshot(ctx context.Context) (snap, error) {
	s := snap{at: time.Now(), own: b.writes.snapshot()}
	var err error
	if s.api, err = b.scrapeAPI(ctx); err != nil {
		return s, err
	}
	s.mgr, err = b.scrapeManager(ctx)
	return s, err
}

// activity is one number that moves whenever the manager does something: its directory
// operations, its reconciles and the API server's writes.
func (s snap) activity() float64 {
	return s.mgr.total(dirOpsCount, nil) + s.mgr.total(reconcileRuns, nil) + s.api.total(apiRequests, countedWrite)
}

// waitQuiet waits until nothing has moved for quietFor, at most max, and returns the last
// snapshot. A manager that never rests is reported by the figures, not by an error.
func (b *bench) waitQuiet(ctx context.Context, max time.Duration) (snap, error) {
	deadline := time.Now().Add(max)
	last, err := b.snapshot(ctx)
	if err != nil {
		return last, err
	}
	since := last.at
	for time.Since(since) < quietFor && time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return last, context.Cause(ctx)
		case <-time.After(500 * time.Millisecond):
		}
		cur, err := b.snapshot(ctx)
		if err != nil {
			return last, err
		}
		if cur.activity() != last.activity() {
			since = cur.at
		}
		last = cur
	}
	if time.Since(since) < quietFor {
		b.Say("  the manager did not rest for %s within %s; measuring anyway", quietFor, max)
	}
	return last, nil
}

// burst applies the N members and, meanwhile, deactivates the members of the second practice
// one every offboardEvery, and measures until all N are invited with their mails out.
func (b *bench) burst(ctx context.Context) error {
	n := b.o.n
	members := newPhases()
	members.expect(invited, n)
	b.mails.expect(burstNS, n)
	go b.follow(ctx, members, burstNS)

	before, err := b.snapshot(ctx)
	if err != nil {
		return err
	}
	start := time.Now()
	var applied atomic.Int64
	type applyResult struct {
		took time.Duration
		err  error
	}
	applyDone := make(chan applyResult, 1)
	go func() {
		err := parallel(ctx, n, b.o.workers, func(ctx context.Context, i int) error {
			defer applied.Add(1)
			return apply(ctx, b.k8s, memberManifest(burstNS, i))
		})
		applyDone <- applyResult{time.Since(start), err}
	}()
	patched := &patchTimes{at: map[string]time.Time{}}
	offErr := make(chan error, 1)
	go func() { offErr <- b.offboard(ctx, patched) }()

	// Wait for convergence, reporting progress now and then.
	deadline := time.After(b.o.timeout)
	progress := time.NewTicker(10 * time.Second)
	defer progress.Stop()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	converged := func() bool {
		_, a := members.reached(invited)
		_, m := b.mails.reached(burstNS)
		return a && m
	}
	applying, offboarding := true, true
	for applying || offboarding || !converged() {
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case a := <-applyDone:
			if a.err != nil {
				return a.err
			}
			applying = false
			b.res.tApplyBurst = a.took
			b.Say("  [%s] all %d applied", seconds(b.res.tApplyBurst), n)
		case err := <-offErr:
			if err != nil {
				return err
			}
			offboarding = false
		case <-deadline:
			_, got := b.mails.counts(burstNS)
			b.res.convergeNote = fmt.Sprintf("not within %s: %s, %d mails", b.o.timeout, members.summary(), got)
			b.Say("  %s", b.res.convergeNote)
			return b.measureBurst(ctx, before, patched, start)
		case <-progress.C:
			_, got := b.mails.counts(burstNS)
			b.Say("  [%s] applied %d, %s, %d mails; deactivated %d of %d", seconds(time.Since(start)), applied.Load(), members.summary(), got,
				b.offboarding.in(deactivated), b.o.offboard)
		case <-tick.C:
		}
	}
	invitedAt, _ := members.reached(invited)
	mailsAt, _ := b.mails.reached(burstNS)
	b.res.tConverge = max(invitedAt.Sub(start), mailsAt.Sub(start))
	b.res.converged = true
	b.Say("  [%s] converged: %d invited, %d mails", seconds(b.res.tConverge), n, n)
	return b.measureBurst(ctx, before, patched, start)
}

// measureBurst waits for the offboarding and for the manager to rest, then takes the burst's
// figures from the counters.
func (b *bench) measureBurst(ctx context.Context, before snap, patched *patchTimes, start time.Time) error {
	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	_ = b.offboarding.waitFor(wctx, func() bool { return b.offboarding.in(deactivated) == b.o.offboard })
	after, err := b.waitQuiet(ctx, 2*time.Minute)
	if err != nil {
		return err
	}
	r := &b.res
	r.mailsTotal, r.mailsUnique = b.mails.counts(burstNS)

	// API writes: the server's count less the bench's own.
	writes := apiWrites(after.api.minus(before.api))
	own := map[writeKey]float64{}
	for k, v := range after.own {
		own[k] = float64(v - before.own[k])
		writes[k] -= own[k]
	}
	b.Say("  the bench's own writes, taken out: %s", describeCounts(own, 1, writeKey.String))
	for _, v := range writes {
		r.apiWrites += v
	}
	r.apiBreakdown = describeCounts(writes, float64(b.o.n), writeKey.String)
	r.conflicts = after.api.minus(before.api).total(apiRequests, func(l map[string]string) bool {
		return countedWrite(l) && l["code"] == "409"
	})

	// Directory operations, by kind, and those that did not succeed, by result.
	d := after.mgr.minus(before.mgr)
	r.ldapOps = d.sumBy(dirOpsCount, "operation", nil)
	r.ldapFailed = map[string]float64{}
	for _, v := range d {
		if v.name == dirOpsCount && v.labels["result"] != "success" {
			r.ldapFailed[v.labels["operation"]+" "+v.labels["result"]] += v.value
		}
	}
	r.reconciles = d.sumBy(reconcileRuns, "controller", nil)

	// Offboarding: from each patch to the phase Deactivated, as the watch saw it.
	convergedAt := start.Add(r.tConverge)
	for _, name := range patched.names() {
		at := patched.get(name)
		if r.converged && at.Before(convergedAt) || !r.converged {
			r.offboardDuringBurst++
		}
		if done, ok := b.offboarding.firstIn(deactivated, name); ok {
			r.offboard = append(r.offboard, done.Sub(at))
		}
	}
	r.offboardPatched = len(patched.names())
	return nil
}

// offboard deactivates the members of the second practice, one every offboardEvery, and
// records when each patch was sent.
func (b *bench) offboard(ctx context.Context, patched *patchTimes) error {
	select {
	case <-ctx.Done():
		return nil
	case <-time.After(offboardDelay):
	}
	tick := time.NewTicker(b.o.offboardEvery)
	defer tick.Stop()
	for i := range b.o.offboard {
		name := memberName(i)
		patched.set(name, time.Now())
		if err := deactivate(ctx, b.k8s, offboardNS, name); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
	return nil
}

type patchTimes struct {
	mu sync.Mutex
	at map[string]time.Time
}

func (p *patchTimes) set(name string, t time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.at[name] = t
}

func (p *patchTimes) get(name string) time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.at[name]
}

func (p *patchTimes) names() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for k := range p.at {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
