package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// httpClient reads the manager's metrics, served over plain HTTP on a loopback port.
var httpClient = &http.Client{Timeout: 10 * time.Second}

// directoryWrites are the directory operations that change something.
var directoryWrites = []string{"add", "modify", "delete", "modifyDN", "passwordModify"}

// resync measures one pass of the manager's resync over the converged members. The manager
// has no metric or log line for a pass, so the bench watches the directory operations the
// manager reports: after convergence the manager is idle (waitQuiet), and the next operations
// are the pass's listing, one paged search every resyncPeriod. Polled every 50 ms, the
// pass's time is from the start of its first operation (its end as the metrics show it, less
// the duration its histogram recorded) to the end of its last, the last change seen before
// quietFor of rest. The in-memory comparison after the listing makes no request, so what it
// takes beyond its last request is not seen (nor is it in the manager's CPU time, which the
// bench's own scrapes every 50 ms would swamp). A converged pass must write nothing: neither
// to the directory nor to the API server.
func (b *bench) resync(ctx context.Context) error {
	r := &b.res.resync
	base, err := b.scrapeManager(ctx)
	if err != nil {
		return err
	}
	apiBase, err := b.scrapeAPI(ctx)
	if err != nil {
		return err
	}
	ops := func(s samples) float64 { return s.total(dirOpsCount, nil) }
	deadline := time.Now().Add(b.o.resyncPeriod + 20*time.Second)
	prev := base
	var first, last time.Time
	for {
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-time.After(50 * time.Millisecond):
		}
		cur, err := b.scrapeManager(ctx)
		if err != nil {
			return err
		}
		now := time.Now()
		if ops(cur) != ops(prev) {
			if first.IsZero() {
				first = now
				d := cur.minus(prev)
				r.lead = time.Duration(d.total(dirOpsSum, nil) * float64(time.Second))
			}
			last = now
		}
		prev = cur
		if first.IsZero() && now.After(deadline) {
			r.note = fmt.Sprintf("no pass within %s", b.o.resyncPeriod+20*time.Second)
			return nil
		}
		if !first.IsZero() && now.Sub(last) >= quietFor {
			break
		}
	}
	r.seen = true
	r.took = last.Sub(first) + r.lead
	d := prev.minus(base)
	r.ops = d.sumBy(dirOpsCount, "operation", nil)
	for _, op := range directoryWrites {
		r.directoryWrites += r.ops[op]
	}
	r.reconciles = d.total(reconcileRuns, nil)
	apiEnd, err := b.scrapeAPI(ctx)
	if err != nil {
		return err
	}
	for _, v := range apiWrites(apiEnd.minus(apiBase)) {
		r.apiWrites += v
	}
	b.Say("  a pass: %s, directory %s, %.0f directory writes, %.0f API writes, %.0f reconciles",
		dur(r.took), describeCounts(r.ops, 1, func(s string) string { return s }), r.directoryWrites, r.apiWrites, r.reconciles)
	return nil
}

// finish reads the manager's peak memory and counts the error lines of its log, while it
// still runs.
func (b *bench) finish(context.Context) error {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", b.Manager.Pid()))
	if err != nil {
		return fmt.Errorf("read the manager's memory: %w", err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		switch k {
		case "VmHWM":
			b.res.peakRSS = kb * 1024
		case "VmRSS":
			b.res.rss = kb * 1024
		}
	}
	log, err := os.ReadFile(b.ManagerLog())
	if err != nil {
		return err
	}
	for _, line := range strings.Split(string(log), "\n") {
		if strings.Contains(line, `"level":"error"`) {
			b.res.errorLines++
		}
	}
	b.Say("  peak RSS %.0f MiB (now %.0f MiB); %d error lines in %s", mib(b.res.peakRSS), mib(b.res.rss), b.res.errorLines, b.Rel(b.ManagerLog()))
	return nil
}

func mib(bytes int64) float64 { return float64(bytes) / (1 << 20) }
