package main

import (
	"math"
	"strings"
	"testing"
	"time"
)

func TestParseMetrics(t *testing.T) {
	const text = `# HELP apiserver_request_total Counter of apiserver requests.
# TYPE apiserver_request_total counter
apiserver_request_total{code="201",component="apiserver",dry_run="",group="staff.rosterops.io",resource="staffmembers",scope="resource",subresource="",verb="APPLY",version="v1alpha1"} 1000
apiserver_request_total{code="200",component="apiserver",dry_run="",group="staff.rosterops.io",resource="staffmembers",scope="resource",subresource="status",verb="PATCH",version="v1alpha1"} 2.5e+03
apiserver_request_total{code="409",component="apiserver",dry_run="",group="staff.rosterops.io",resource="staffmembers",scope="resource",subresource="status",verb="PATCH",version="v1alpha1"} 7
apiserver_request_total{code="200",component="apiserver",dry_run="",group="coordination.k8s.io",resource="leases",scope="resource",subresource="",verb="PUT",version="v1"} 40
apiserver_request_total{code="200",component="apiserver",dry_run="",group="",resource="pods",scope="namespace",subresource="",verb="LIST",version="v1"} 3
odd_metric{a="x\"y,z}",b="2"} 4 1700000000
other_total 9
`
	s, err := parseMetrics(strings.NewReader(text), func(name string) bool { return name != "other_total" })
	if err != nil {
		t.Fatal(err)
	}
	w := apiWrites(s)
	if got := w[writeKey{"APPLY", "staff.rosterops.io", "staffmembers", ""}]; got != 1000 {
		t.Errorf("applies: %v", got)
	}
	if got := w[writeKey{"PATCH", "staff.rosterops.io", "staffmembers", "status"}]; got != 2507 {
		t.Errorf("status patches: %v", got)
	}
	if len(w) != 2 {
		t.Errorf("leases and reads must not count as writes: %v", w)
	}
	odd := s.sumBy("odd_metric", "a", nil)
	if odd[`x"y,z}`] != 4 {
		t.Errorf("escaped label: %v", odd)
	}
	if s.total("other_total", nil) != 0 {
		t.Error("a series not kept was kept")
	}

	before, _ := parseMetrics(strings.NewReader(`apiserver_request_total{code="201",component="apiserver",dry_run="",group="staff.rosterops.io",resource="staffmembers",scope="resource",subresource="",verb="APPLY",version="v1alpha1"} 400`+"\n"), func(string) bool { return true })
	if got := apiWrites(s.minus(before))[writeKey{"APPLY", "staff.rosterops.io", "staffmembers", ""}]; got != 600 {
		t.Errorf("difference: %v", got)
	}
}

// The bench's own writes must be labelled as the API server labels them.
func TestKeyOfPath(t *testing.T) {
	for path, want := range map[string]writeKey{
		"/apis/staff.rosterops.io/v1alpha1/namespaces/ns/staffmembers/m":        {group: "staff.rosterops.io", resource: "staffmembers"},
		"/apis/staff.rosterops.io/v1alpha1/namespaces/ns/staffmembers/m/status": {group: "staff.rosterops.io", resource: "staffmembers", subresource: "status"},
		"/apis/staff.rosterops.io/v1alpha1/namespaces/ns/staffmembers":          {group: "staff.rosterops.io", resource: "staffmembers"},
		"/api/v1/namespaces":           {resource: "namespaces"},
		"/api/v1/namespaces/ns":        {resource: "namespaces"},
		"/api/v1/namespaces/ns/events": {resource: "events"},
	} {
		if got := keyOfPath(path); got != want {
			t.Errorf("%s: got %+v, want %+v", path, got, want)
		}
	}
}

func TestPercentile(t *testing.T) {
	var done []time.Duration
	for i := 50; i >= 1; i-- {
		done = append(done, time.Duration(i)*time.Millisecond)
	}
	if got := percentile(done, 50, 0.5); got != 25*time.Millisecond {
		t.Errorf("p50 = %s", got)
	}
	if got := percentile(done, 50, 0.99); got != 50*time.Millisecond {
		t.Errorf("p99 = %s", got)
	}
	if got := percentile(done[:49], 50, 0.99); got != time.Duration(math.MaxInt64) {
		t.Errorf("p99 with one never done = %s", got)
	}
}
