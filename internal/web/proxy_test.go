package web

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"
)

// fromAddress returns a client whose connections leave from ip, an address of the loopback
// range: the page then sees that address as the TCP peer, as it sees an ingress pod's.
func fromAddress(t *testing.T, ip string) *http.Client {
	t.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	return &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		return d.DialContext(ctx, network, addr)
	}}}
}

// TestRateLimitsBehindProxies runs the page behind a simulated chain: an ingress on
// 127.0.0.2 (trusted), an inner proxy tier in 10.0.0.0/8 (trusted), and a client on
// 127.0.0.3 that reaches the page's Service directly (not trusted). Each client gets one POST
// a minute, so a second POST under the same key is 429.
func TestRateLimitsBehindProxies(t *testing.T) {
	e := newEnv(t, func(o *Options) {
		o.ClientLimit = Limit{Events: 1, Per: time.Minute}
		o.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32"), netip.MustParsePrefix("10.0.0.0/8")}
	})
	ingress, direct := fromAddress(t, "127.0.0.2"), fromAddress(t, "127.0.0.3")
	post := func(c *http.Client, xff ...string) int {
		t.Helper()
		form := url.Values{"csrf": {e.h.csrf.value(TokenHash(testToken("ana")))}, "password": {"x"}, "confirmPassword": {"x"}}
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, e.srv.URL+LinkPath+testToken("ana"), strings.NewReader(form.Encode()))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header["X-Forwarded-For"] = xff
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = res.Body.Close()
		return res.StatusCode
	}
	const first, limited = http.StatusUnprocessableEntity, http.StatusTooManyRequests
	steps := []struct {
		name   string
		client *http.Client
		xff    []string
		want   int
	}{
		{"client A through the ingress", ingress, []string{"198.51.100.1"}, first},
		{"client A again", ingress, []string{"198.51.100.1"}, limited},
		{"client B behind the same ingress has its own limit", ingress, []string{"203.0.113.8"}, first},
		{"client A spoofs an entry, the ingress appends its address", ingress, []string{"6.6.6.6, 198.51.100.1"}, limited},
		{"client A through the inner tier, host:port forms", ingress, []string{"7.7.7.7", "198.51.100.1:50123, 10.1.2.3:443"}, limited},
		{"an IPv6 client in brackets with a port", ingress, []string{"[2001:db8:1:2::1]:443"}, first},
		{"the same IPv6 /64", ingress, []string{"2001:db8:1:2:ffff::9"}, limited},
		{"a direct client's header is not believed", direct, []string{"192.0.2.50"}, first},
		{"a direct client cannot change its key with the header", direct, []string{"192.0.2.51"}, limited},
		{"nor use up another client's limit", ingress, []string{"192.0.2.50"}, first},
		{"a malformed entry ends at the last trusted address", ingress, []string{"unknown, 10.9.9.9"}, first},
		{"which is that proxy's own key", ingress, []string{"10.9.9.9"}, limited},
		{"garbage alone counts as the ingress", ingress, []string{"not-an-address"}, first},
		{"an empty header counts as the ingress too", ingress, []string{" , "}, limited},
	}
	for _, s := range steps {
		if got := post(s.client, s.xff...); got != s.want {
			t.Errorf("%s (X-Forwarded-For %q): status %d, want %d", s.name, s.xff, got, s.want)
		}
	}
}

func TestClientAddr(t *testing.T) {
	h := &handler{proxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8:ffff::/48")}}
	for _, tc := range []struct {
		peer string
		xff  []string
		want string
	}{
		{"192.0.2.1", []string{"203.0.113.9"}, "192.0.2.1"},
		{"10.0.0.1", nil, "10.0.0.1"},
		{"10.0.0.1", []string{"203.0.113.9"}, "203.0.113.9"},
		{"10.0.0.1", []string{"203.0.113.9:1234"}, "203.0.113.9"},
		{"10.0.0.1", []string{"[2001:db8::7]:1234"}, "2001:db8::7"},
		{"10.0.0.1", []string{"[2001:db8::7]"}, "2001:db8::7"},
		{"10.0.0.1", []string{"::ffff:203.0.113.9"}, "203.0.113.9"},
		{"10.0.0.1", []string{"1.1.1.1, 203.0.113.9, 10.2.2.2"}, "203.0.113.9"},
		{"10.0.0.1", []string{"1.1.1.1", "203.0.113.9", "10.2.2.2, 2001:db8:ffff::1"}, "203.0.113.9"},
		{"10.0.0.1", []string{"10.3.3.3, 10.2.2.2"}, "10.3.3.3"},
		{"10.0.0.1", []string{"203.0.113.9, [oops"}, "10.0.0.1"},
		{"10.0.0.1", []string{"203.0.113.9, 10.2.2.2, "}, "10.0.0.1"},
		{"10.0.0.1", []string{"203.0.113.9]:80"}, "10.0.0.1"},
		{"10.0.0.1", []string{"[203.0.113.9]"}, "10.0.0.1"},
		{"10.0.0.1", []string{strings.Repeat("1.", 5000)}, "10.0.0.1"},
	} {
		got := h.clientAddr(netip.MustParseAddr(tc.peer), tc.xff)
		if got.String() != tc.want {
			t.Errorf("clientAddr(%s, %q) = %s, want %s", tc.peer, tc.xff, got, tc.want)
		}
	}
}
