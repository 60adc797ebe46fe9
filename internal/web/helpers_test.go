package web

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// The practice every test link belongs to.
const (
	testPractice = "Riverside Family Health"
	testName     = "Ana Ruiz"
	testEmail    = "ana.ruiz@riverside.example.test"
	testZone     = "America/Chicago"
	testSignIn   = "https://sign-in.riverside.example.test/"
)

// testStart is a Tuesday; Chicago is on CDT (UTC-5) since March 8, 2026.
var testStart = time.Date(2026, time.March, 10, 19, 0, 0, 0, time.UTC)

// testToken makes a well-formed token (43 characters of base64url, like the controllers')
// from a name, so that tests read well and are repeatable.
func testToken(name string) string {
	sum := sha256.Sum256([]byte("test token " + name))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func testInvitee(purpose Purpose) Invitee {
	return Invitee{
		Practice:   testPractice,
		Name:       testName,
		GivenName:  "Ana",
		FamilyName: "Ruiz",
		Email:      testEmail,
		ExpiresAt:  testStart.Add(time.Hour),
		TimeZone:   testZone,
		Purpose:    purpose,
	}
}

// clock is the page's time in tests; it moves only when told.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// fakeStore is an in-memory Store that redeems exactly once, under a mutex, as the real one
// must across replicas. It knows links by hash only, as the real one does.
type fakeStore struct {
	now func() time.Time

	mu        sync.Mutex
	links     map[string]*fakeLink
	lookups   int
	redeems   int // calls
	accepted  int // calls that returned nil
	passwords map[string]string
	lookupErr error
	redeemErr error

	// When gate is set, every Redeem call announces itself on arrived and then waits for
	// gate to close, so that a test can hold many calls inside Redeem at once.
	gate    chan struct{}
	arrived chan struct{}
}

type fakeLink struct {
	inv     Invitee
	used    bool
	revoked bool
}

func newFakeStore(now func() time.Time) *fakeStore {
	return &fakeStore{now: now, links: map[string]*fakeLink{}, passwords: map[string]string{}}
}

func (f *fakeStore) add(token string, inv Invitee) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.links[TokenHash(token)] = &fakeLink{inv: inv}
}

func (f *fakeStore) revoke(token string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.links[TokenHash(token)].revoked = true
}

// resend replaces a link by a new one for the same invitee: the old one is forgotten, as the
// controllers overwrite status.tokenHash.
func (f *fakeStore) resend(oldToken, newToken string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	l := f.links[TokenHash(oldToken)]
	delete(f.links, TokenHash(oldToken))
	f.links[TokenHash(newToken)] = &fakeLink{inv: l.inv}
}

func (f *fakeStore) live(hash string) (*fakeLink, bool) {
	l, ok := f.links[hash]
	if !ok || l.used || l.revoked || !f.now().Before(l.inv.ExpiresAt) {
		return nil, false
	}
	return l, true
}

func (f *fakeStore) Lookup(_ context.Context, hash string) (Invitee, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lookups++
	if f.lookupErr != nil {
		return Invitee{}, f.lookupErr
	}
	l, ok := f.live(hash)
	if !ok {
		return Invitee{}, ErrInvalidLink
	}
	return l.inv, nil
}

func (f *fakeStore) Redeem(_ context.Context, hash, password string) error {
	if f.gate != nil {
		f.arrived <- struct{}{}
		<-f.gate
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.redeems++
	if f.redeemErr != nil {
		return f.redeemErr
	}
	l, ok := f.live(hash)
	if !ok {
		return ErrInvalidLink
	}
	l.used = true
	f.passwords[hash] = password
	f.accepted++
	return nil
}

func (f *fakeStore) counts() (lookups, redeems, accepted int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lookups, f.redeems, f.accepted
}

func (f *fakeStore) password(token string) (string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, ok := f.passwords[TokenHash(token)]
	return p, ok
}

// env is the page served over HTTP on 127.0.0.1 with a fake store and a fake clock.
type env struct {
	t      *testing.T
	h      *handler
	srv    *httptest.Server
	store  *fakeStore
	clock  *clock
	client *http.Client
}

// newEnv serves the page with generous rate limits (tests of the limits set their own) and
// one live invitation, testToken("ana").
func newEnv(t *testing.T, configure ...func(*Options)) *env {
	t.Helper()
	c := &clock{now: testStart}
	store := newFakeStore(c.Now)
	store.add(testToken("ana"), testInvitee(PurposeInvitation))
	opts := Options{
		Store:       store,
		SignInURL:   testSignIn,
		Now:         c.Now,
		ClientLimit: Limit{Events: 1000, Per: time.Minute},
		LinkLimit:   Limit{Events: 1000, Per: time.Minute},
	}
	for _, f := range configure {
		f(&opts)
	}
	h, err := newHandler(opts)
	if err != nil {
		t.Fatalf("newHandler: %v", err)
	}
	srv := httptest.NewServer(h.routes())
	t.Cleanup(srv.Close)
	client := srv.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &env{t: t, h: h, srv: srv, store: store, clock: c, client: client}
}

// response is a whole response, read.
type response struct {
	status int
	header http.Header
	body   string
}

func (e *env) do(req *http.Request) response {
	e.t.Helper()
	res, err := e.client.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatalf("read %s %s: %v", req.Method, req.URL.Path, err)
	}
	return response{status: res.StatusCode, header: res.Header, body: string(body)}
}

func (e *env) request(method, path string, form url.Values, header http.Header) response {
	e.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(e.t.Context(), method, e.srv.URL+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range header {
		req.Header[k] = v
	}
	return e.do(req)
}

func (e *env) get(path string) response {
	e.t.Helper()
	return e.request(http.MethodGet, path, nil, nil)
}

// submit posts the form for token as a browser would, with the right CSRF value, and checks
// that the password is not in the answer.
func (e *env) submit(token, password, confirm string) response {
	e.t.Helper()
	form := url.Values{
		"csrf":            {e.h.csrf.value(TokenHash(token))},
		"username":        {testEmail},
		"password":        {password},
		"confirmPassword": {confirm},
	}
	res := e.request(http.MethodPost, LinkPath+token, form, nil)
	assertNoSecrets(e.t, res, token, password, confirm)
	return res
}

// assertNoSecrets fails when a token or a password shows up in a response.
func assertNoSecrets(t *testing.T, res response, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if len(s) < 6 {
			continue // too short to tell apart from the page's own words
		}
		if strings.Contains(res.body, s) {
			t.Errorf("response body contains the secret %q", s)
		}
		for k, vs := range res.header {
			for _, v := range vs {
				if strings.Contains(v, s) {
					t.Errorf("response header %s contains the secret %q", k, s)
				}
			}
		}
	}
}

// goodPassword passes every rule for testEmail.
const goodPassword = "plum kettle orbit harbor"
