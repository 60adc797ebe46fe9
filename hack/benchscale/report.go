package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"
)

// results are the figures of one run.
type results struct {
	tLDAP, tApply, tApplyBurst, tConverge time.Duration
	converged                             bool
	convergeNote                          string
	mailsTotal, mailsUnique               int

	apiWrites    float64 // the manager's, during the burst
	apiBreakdown string
	conflicts    float64

	ldapOps, ldapFailed, reconciles map[string]float64

	offboard                             []time.Duration
	offboardPatched, offboardDuringBurst int

	resync resyncResult

	peakRSS, rss int64
	errorLines   int
}

type resyncResult struct {
	seen                                   bool
	note                                   string
	took, lead, cpu                        time.Duration
	ops                                    map[string]float64
	directoryWrites, apiWrites, reconciles float64
}

// The goals of issue 12.
const (
	goalRatio       = 2.0
	goalWrites      = 4.0
	goalOffboardP99 = 2 * time.Second
	goalResync      = 10 * time.Second
	goalPeakRSS     = 256 << 20
)

func verdict(ok bool) string {
	if ok {
		return "PASS"
	}
	return "FAIL"
}

// table renders the figures as one markdown table: figure, measured, goal, result.
func (r *results) table(o benchOptions) string {
	n := float64(o.n)
	type row struct{ figure, measured, goal, result string }
	var rows []row
	add := func(figure, measured, goal, result string) {
		if goal == "" {
			goal, result = "—", "—"
		}
		rows = append(rows, row{figure, measured, goal, result})
	}

	add(fmt.Sprintf("T_apply: server-side apply of %d members, %d at a time, manager not running", o.n, o.workers),
		fmt.Sprintf("%s (%.0f/s)", seconds(r.tApply), n/r.tApply.Seconds()), "", "")
	add(fmt.Sprintf("T_ldap: %d adds on one connection as the service account", o.n),
		fmt.Sprintf("%s (%.0f/s)", seconds(r.tLDAP), n/r.tLDAP.Seconds()), "", "")
	floor := r.tApply + r.tLDAP
	if r.converged {
		add("T_converge: apply start → all `Invited` and every invitation mail received",
			fmt.Sprintf("%s (the burst's applies took %s; %d mails to %d members)", seconds(r.tConverge), seconds(r.tApplyBurst), r.mailsTotal, r.mailsUnique), "", "")
		ratio := r.tConverge.Seconds() / floor.Seconds()
		add("T_converge / (T_apply + T_ldap)", fmt.Sprintf("%.2f", ratio), fmt.Sprintf("≤ %.1f", goalRatio), verdict(ratio <= goalRatio))
	} else {
		add("T_converge: apply start → all `Invited` and every invitation mail received", r.convergeNote, "", "")
		add("T_converge / (T_apply + T_ldap)", "—", fmt.Sprintf("≤ %.1f", goalRatio), verdict(false))
	}
	add("API writes per member, the manager's (during the burst)",
		fmt.Sprintf("%.2f: %s; %.0f answered 409 Conflict", r.apiWrites/n, r.apiBreakdown, r.conflicts),
		fmt.Sprintf("≤ %.0f", goalWrites), verdict(r.apiWrites/n <= goalWrites))
	failed := ""
	if len(r.ldapFailed) > 0 {
		failed = "; of these not successful: " + describeCounts(r.ldapFailed, n, func(s string) string { return s })
	}
	add("directory operations per member", describeCounts(r.ldapOps, n, func(s string) string { return s })+failed, "", "")
	add("reconciles per member, by controller", describeCounts(r.reconciles, n, func(s string) string { return s }), "", "")

	p50, p99 := percentile(r.offboard, r.offboardPatched, 0.50), percentile(r.offboard, r.offboardPatched, 0.99)
	add(fmt.Sprintf("offboarding: patch → `Deactivated`, p50 / p99 of %d", r.offboardPatched),
		fmt.Sprintf("%s / %s (%d done; %d patched before convergence)", latency(p50), latency(p99), len(r.offboard), r.offboardDuringBurst),
		fmt.Sprintf("p99 < %s", seconds(goalOffboardP99)), verdict(p99 < goalOffboardP99 && r.offboardPatched > 0))

	s := r.resync
	figure := fmt.Sprintf("resync: one pass over %d converged members", o.n+o.offboard)
	resyncGoal := fmt.Sprintf("< %.0f s at 10,000; 0 writes", goalResync.Seconds())
	if s.seen {
		writes := s.directoryWrites + s.apiWrites
		add(figure, fmt.Sprintf("%s, %.0f writes (directory: %s; %.0f API writes; %.0f reconciles)",
			dur(s.took), writes, describeCounts(s.ops, 1, func(s string) string { return s }), s.apiWrites, s.reconciles),
			resyncGoal, verdict(writes == 0 && s.took < goalResync))
	} else {
		add(figure, "not measured: "+s.note, resyncGoal, verdict(false))
	}
	add("manager peak RSS (VmHWM)", fmt.Sprintf("%.0f MiB", mib(r.peakRSS)), "< 256 MiB at 10,000", verdict(r.peakRSS < goalPeakRSS))
	add("error lines in the manager's log", fmt.Sprint(r.errorLines), "0", verdict(r.errorLines == 0))

	var b strings.Builder
	b.WriteString("| figure | measured | goal | result |\n| --- | --- | --- | --- |\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", r.figure, r.measured, r.goal, r.result)
	}
	return b.String()
}

// percentile is the nearest-rank percentile of the latencies of all patched members; one
// that never got there counts as infinitely slow.
func percentile(done []time.Duration, all int, q float64) time.Duration {
	if all == 0 {
		return time.Duration(math.MaxInt64)
	}
	sorted := slices.Clone(done)
	slices.Sort(sorted)
	rank := int(math.Ceil(q*float64(all))) - 1
	if rank < len(sorted) {
		return sorted[max(rank, 0)]
	}
	return time.Duration(math.MaxInt64)
}

func latency(d time.Duration) string {
	if d == time.Duration(math.MaxInt64) {
		return "never"
	}
	return dur(d)
}

// dur shows a duration in milliseconds below a second, else in seconds.
func dur(d time.Duration) string {
	if d < time.Second {
		return fmt.Sprintf("%d ms", d.Milliseconds())
	}
	return seconds(d)
}

// resultsHeader starts bench/results.md.
const resultsHeader = `# make bench-scale results

` + "`make bench-scale`" + ` (N=1000) and ` + "`make bench-scale N=10000`" + ` run hack/benchscale: the real manager
binary against the local stack of ` + "`make demo`" + ` (etcd and kube-apiserver, slapd under the production access
control with the manager bound as the service account, the mail catcher), all on 127.0.0.1 of one
machine, with ` + "`resyncPeriod: 30s`" + `. Each run appends its table here with the date, the commit and N, so a
regression shows. The goals are issue 12's.

| figure | how it is measured | goal |
| --- | --- | --- |
| T_apply | wall time to server-side apply N members (1 Role, 2 Locations each) from the bench's client, 16 at a time, into a practice of their own before the manager starts; they are deleted again before it starts | the floor of the API server |
| T_ldap | wall time to add N inetOrgPerson entries to ou=floor, one after another on one connection bound as the service account, before the manager starts | the floor of the directory |
| T_converge | from the first apply of the burst (the same N manifests, into an empty practice, manager running) until every member is ` + "`Invited`" + ` (seen by a watch) and the mail catcher received an invitation mail for every one | ratio T_converge / (T_apply + T_ldap) ≤ 2.0 |
| API writes per member | the API server's ` + "`apiserver_request_total`" + ` writes (POST, PUT, PATCH, APPLY, DELETE; leases left out) from before the burst until the manager rests, less the bench's own writes (counted by its client), divided by N; includes the offboarding's writes and Events | ≤ 4 |
| directory operations per member | the manager's ` + "`staff_operator_directory_operation_duration_seconds_count`" + ` by operation over the same window, divided by N | none; shows the shape |
| reconciles per member | controller-runtime's ` + "`controller_runtime_reconcile_total`" + ` by controller over the same window, divided by N | none; shows the shape |
| offboarding p50 / p99 | 50 invited members of a second practice are patched to ` + "`accountState: Deactivated`" + ` one every 200 ms from 1 s into the burst; from each patch to ` + "`status.phase: Deactivated`" + ` seen by a watch (nearest rank: with 50, p99 is the slowest) | p99 < 2 s |
| resync | after convergence and rest, the next pass of the manager's resync: from the start of its first directory request to the end of its last (metrics polled every 50 ms); writes are the directory writes and API writes meanwhile | < 10 s at 10,000 members; 0 writes |
| peak RSS | VmHWM of the manager process at the end of the run | < 256 MiB at 10,000 |
| error lines | lines with ` + "`\"level\":\"error\"`" + ` in the manager's log | 0 |
`

// appendResults appends the table to path under a heading with the date, the commit and N,
// and creates the file with its header first.
func appendResults(ctx context.Context, root, path string, n int, table string) error {
	commit, err := exec.CommandContext(ctx, "git", "-C", root, "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return fmt.Errorf("git rev-parse --short HEAD: %w", err)
	}
	rev := strings.TrimSpace(string(commit))
	if dirty, err := exec.CommandContext(ctx, "git", "-C", root, "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(dirty) > 0 {
		rev += " with uncommitted changes"
	}
	var out strings.Builder
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		out.WriteString(resultsHeader)
	}
	fmt.Fprintf(&out, "\n## %s · commit %s · N=%d · %d CPUs\n\n%s", time.Now().UTC().Format("2006-01-02 15:04 UTC"), rev, n, runtime.NumCPU(), table)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(out.String()); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
