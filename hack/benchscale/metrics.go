package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// sample is one series of the Prometheus text format: a name, its labels and a value.
type sample struct {
	name   string
	labels map[string]string
	value  float64
}

// samples are the series of one scrape, keyed by the series as exposed (name and labels):
// a server exposes a series the same way every time, so two scrapes subtract key by key.
type samples map[string]sample

// parseMetrics reads the Prometheus text format and keeps the series whose name keep accepts.
func parseMetrics(r io.Reader, keep func(name string) bool) (samples, error) {
	out := samples{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		nameEnd := strings.IndexAny(line, "{ ")
		if nameEnd < 0 {
			return nil, fmt.Errorf("metrics: no value in %q", line)
		}
		name := line[:nameEnd]
		if !keep(name) {
			continue
		}
		rest := line[nameEnd:]
		var labels map[string]string
		if rest[0] == '{' {
			var n int
			var err error
			if labels, n, err = parseLabels(rest); err != nil {
				return nil, fmt.Errorf("metrics: %q: %w", line, err)
			}
			rest = rest[n:]
		}
		fields := strings.Fields(rest) // the value, and maybe a timestamp
		if len(fields) == 0 {
			return nil, fmt.Errorf("metrics: no value in %q", line)
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			return nil, fmt.Errorf("metrics: %q: %w", line, err)
		}
		key := strings.TrimSpace(line[:len(line)-len(rest)])
		out[key] = sample{name: name, labels: labels, value: v}
	}
	return out, sc.Err()
}

// parseLabels parses {a="x",b="y\"z"} at the start of s and returns the labels and the
// length it read.
func parseLabels(s string) (map[string]string, int, error) {
	labels := map[string]string{}
	i := 1
	for {
		for i < len(s) && (s[i] == ',' || s[i] == ' ') {
			i++
		}
		if i >= len(s) {
			return nil, 0, fmt.Errorf("unterminated labels")
		}
		if s[i] == '}' {
			return labels, i + 1, nil
		}
		eq := strings.IndexByte(s[i:], '=')
		if eq < 0 || i+eq+1 >= len(s) || s[i+eq+1] != '"' {
			return nil, 0, fmt.Errorf("bad label at %d", i)
		}
		name := s[i : i+eq]
		i += eq + 2
		var v strings.Builder
		for ; i < len(s) && s[i] != '"'; i++ {
			if s[i] == '\\' && i+1 < len(s) {
				i++
				switch s[i] {
				case 'n':
					v.WriteByte('\n')
				default:
					v.WriteByte(s[i])
				}
				continue
			}
			v.WriteByte(s[i])
		}
		if i >= len(s) {
			return nil, 0, fmt.Errorf("unterminated label value")
		}
		labels[name] = v.String()
		i++
	}
}

// minus returns the increase of every series of s since before (counters only grow; a series
// new in s counts whole).
func (s samples) minus(before samples) samples {
	out := samples{}
	for k, v := range s {
		v.value -= before[k].value
		if v.value != 0 {
			out[k] = v
		}
	}
	return out
}

// sumBy adds up the series called name whose labels match, by the value of label by.
func (s samples) sumBy(name, by string, match func(map[string]string) bool) map[string]float64 {
	out := map[string]float64{}
	for _, v := range s {
		if v.name == name && (match == nil || match(v.labels)) {
			out[v.labels[by]] += v.value
		}
	}
	return out
}

// total adds up the series called name whose labels match.
func (s samples) total(name string, match func(map[string]string) bool) float64 {
	var t float64
	for _, v := range s.sumBy(name, "", match) {
		t += v
	}
	return t
}

// scrape GETs a metrics endpoint with c and parses what keep accepts.
func scrape(ctx context.Context, c *http.Client, url string, keep func(string) bool) (samples, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("scrape %s: %s", url, resp.Status)
	}
	return parseMetrics(resp.Body, keep)
}

// The API server's request counter: apiserver_request_total{verb,group,resource,subresource,code}.
// Server-side apply is counted as verb APPLY, kept apart from other PATCHes.
const apiRequests = "apiserver_request_total"

// isWrite says whether an apiserver_request_total verb changes something.
func isWrite(verb string) bool {
	switch verb {
	case "POST", "PUT", "PATCH", "APPLY", "DELETE", "DELETECOLLECTION":
		return true
	}
	return false
}

// writeKey names a kind of write as the API server's metrics label it.
type writeKey struct {
	verb, group, resource, subresource string
}

func (k writeKey) String() string {
	r := k.resource
	if k.subresource != "" {
		r += "/" + k.subresource
	}
	return r + " " + k.verb
}

// countedWrite: the writes the operator's work is made of. Leases are the API server's own
// heartbeat (and leader election, which the bench leaves off); they are not the operator's.
func countedWrite(l map[string]string) bool {
	return isWrite(l["verb"]) && l["group"] != "coordination.k8s.io"
}

// apiWrites groups the counted writes of a scrape (or a difference of two) by kind.
func apiWrites(s samples) map[writeKey]float64 {
	out := map[writeKey]float64{}
	for _, v := range s {
		if v.name == apiRequests && countedWrite(v.labels) {
			out[writeKey{v.labels["verb"], v.labels["group"], v.labels["resource"], v.labels["subresource"]}] += v.value
		}
	}
	return out
}

// writeCounter counts the write requests the bench's own client sends, labelled as the API
// server labels them, so that they can be taken out of the server's totals.
type writeCounter struct {
	mu     sync.Mutex
	counts map[writeKey]int
}

func newWriteCounter() *writeCounter { return &writeCounter{counts: map[writeKey]int{}} }

// wrap is a rest.Config WrapTransport.
func (c *writeCounter) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripFunc(func(req *http.Request) (*http.Response, error) {
		verb := req.Method
		if verb == http.MethodPatch && strings.Contains(req.Header.Get("Content-Type"), "apply-patch") {
			verb = "APPLY"
		}
		if isWrite(verb) {
			k := keyOfPath(req.URL.Path)
			k.verb = verb
			c.mu.Lock()
			c.counts[k]++
			c.mu.Unlock()
		}
		return rt.RoundTrip(req)
	})
}

// snapshot returns the counts so far.
func (c *writeCounter) snapshot() map[writeKey]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[writeKey]int, len(c.counts))
	for k, v := range c.counts {
		out[k] = v
	}
	return out
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// keyOfPath reads group, resource and subresource from an API path:
// /api/v1/[namespaces/NS/]RESOURCE[/NAME[/SUB]] or /apis/GROUP/VERSION/[namespaces/NS/]RESOURCE[/NAME[/SUB]].
func keyOfPath(path string) writeKey {
	seg := strings.Split(strings.Trim(path, "/"), "/")
	var k writeKey
	switch {
	case len(seg) >= 3 && seg[0] == "api":
		seg = seg[2:]
	case len(seg) >= 4 && seg[0] == "apis":
		k.group, seg = seg[1], seg[3:]
	default:
		return writeKey{resource: path}
	}
	if len(seg) >= 3 && seg[0] == "namespaces" {
		seg = seg[2:]
	}
	k.resource = seg[0]
	if len(seg) >= 3 {
		k.subresource = seg[2]
	}
	return k
}

// describeCounts renders counts per member, largest first: "staffmembers/status PATCH 1.00, ...";
// with per 1, whole counts.
func describeCounts[K comparable](counts map[K]float64, per float64, name func(K) string) string {
	type kv struct {
		k string
		v float64
	}
	var list []kv
	for k, v := range counts {
		if v != 0 {
			list = append(list, kv{name(k), v})
		}
	}
	sort.Slice(list, func(i, j int) bool {
		if list[i].v != list[j].v {
			return list[i].v > list[j].v
		}
		return list[i].k < list[j].k
	})
	parts := make([]string, len(list))
	for i, e := range list {
		if per == 1 {
			parts[i] = fmt.Sprintf("%s %.0f", e.k, e.v)
		} else {
			parts[i] = fmt.Sprintf("%s %.2f", e.k, e.v/per)
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}
