package web

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr/funcr"
)

func TestFormShowsTheInvitation(t *testing.T) {
	e := newEnv(t)
	e.store.add(testToken("reset"), testInvitee(PurposePasswordReset))

	for _, tc := range []struct {
		name, token, heading, submit string
	}{
		{"invitation", testToken("ana"), "Set your password", "Set password"},
		{"password reset", testToken("reset"), "Choose a new password", "Save new password"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := e.get(LinkPath + tc.token)
			if res.status != http.StatusOK {
				t.Fatalf("status = %d, want 200", res.status)
			}
			if got := res.header.Get("Content-Type"); got != "text/html; charset=utf-8" {
				t.Errorf("Content-Type = %q", got)
			}
			for _, want := range []string{
				`<html lang="en">`,
				`<meta name="viewport" content="width=device-width, initial-scale=1">`,
				`<p class="practice">Riverside Family Health`,
				`<span class="monogram" aria-hidden="true">R</span>`,
				"<h1>" + tc.heading + "</h1>",
				"<dd>ana.ruiz@riverside.example.test</dd>",
				// 20:00 UTC is 3:00 PM in Chicago, on daylight time since March 8.
				`<time datetime="2026-03-10T15:00:00-05:00">Tuesday, March 10, 2026 at 3:00 PM CDT</time> <span class="muted">(in 1 hour)</span>`,
				`<label for="password">`,
				`<input type="password" id="password" name="password" autocomplete="new-password" spellcheck="false" aria-describedby="password-hint">`,
				`<label for="confirmPassword">`,
				`<input type="password" id="confirmPassword" name="confirmPassword" autocomplete="new-password" spellcheck="false">`,
				`<input type="hidden" name="csrf" value="` + e.h.csrf.value(TokenHash(tc.token)) + `">`,
				`<link rel="stylesheet" href="/static/page.css">`,
				">" + tc.submit + "</button>",
				"At least 15 characters.",
			} {
				if !strings.Contains(res.body, want) {
					t.Errorf("page lacks %s", want)
				}
			}
			for _, unwanted := range []string{"<script", "style=", tc.token, TokenHash(tc.token), "aria-invalid"} {
				if strings.Contains(res.body, unwanted) {
					t.Errorf("page contains %q", unwanted)
				}
			}
		})
	}
}

func TestExpiryWithoutTimeZoneIsUTC(t *testing.T) {
	e := newEnv(t)
	inv := testInvitee(PurposeInvitation)
	inv.TimeZone = ""
	inv.ExpiresAt = testStart.Add(3*24*time.Hour + 90*time.Minute)
	e.store.add(testToken("utc"), inv)
	res := e.get(LinkPath + testToken("utc"))
	want := `<time datetime="2026-03-13T20:30:00Z">Friday, March 13, 2026 at 8:30 PM UTC</time> <span class="muted">(in 3 days)</span>`
	if !strings.Contains(res.body, want) {
		t.Errorf("page lacks %s", want)
	}
}

// TestInvalidLinksGetTheSameResponse: whatever makes a link unusable, the visitor sees the
// same status and the same bytes, by GET and by a well-formed POST.
func TestInvalidLinksGetTheSameResponse(t *testing.T) {
	e := newEnv(t)
	store := e.store

	store.add(testToken("expired"), Invitee{Practice: testPractice, Email: testEmail, ExpiresAt: testStart.Add(-time.Second)})
	// The store still hands out this one, but its time is up: the page's own clock decides.
	lagging := testInvitee(PurposeInvitation)
	lagging.ExpiresAt = testStart
	store.add(testToken("lagging"), lagging)
	store.add(testToken("revoked"), testInvitee(PurposeInvitation))
	store.revoke(testToken("revoked"))
	store.add(testToken("old"), testInvitee(PurposeInvitation))
	store.resend(testToken("old"), testToken("new"))
	store.add(testToken("used"), testInvitee(PurposePasswordReset))
	if res := e.submit(testToken("used"), goodPassword, goodPassword); res.status != http.StatusOK {
		t.Fatalf("redeem the link to be used: status %d", res.status)
	}

	paths := map[string]string{
		"unknown":             LinkPath + testToken("never issued"),
		"expired":             LinkPath + testToken("expired"),
		"expired, store lags": LinkPath + testToken("lagging"),
		"revoked":             LinkPath + testToken("revoked"),
		"superseded":          LinkPath + testToken("old"),
		"used":                LinkPath + testToken("used"),
		"too short":           LinkPath + "abc",
		"too long":            LinkPath + strings.Repeat("a", maxTokenLength+1),
		"bad characters":      LinkPath + url.PathEscape(testToken("ana")[:20]+"<>\"'"),
		"empty":               LinkPath,
		"with a slash":        LinkPath + testToken("ana")[:20] + "/" + testToken("ana")[20:],
	}
	want := e.get(LinkPath + testToken("never issued"))
	if want.status != http.StatusNotFound {
		t.Fatalf("status = %d, want 404", want.status)
	}
	for _, s := range []string{"This link is no longer valid", "Ask the person who manages staff accounts at your practice to send you a new link."} {
		if !strings.Contains(want.body, s) {
			t.Errorf("invalid-link page lacks %q", s)
		}
	}
	for _, s := range []string{testPractice, testEmail, testName, "expired", "revoked", "used up"} {
		if strings.Contains(want.body, s) {
			t.Errorf("invalid-link page says %q", s)
		}
	}

	same := func(t *testing.T, got response) {
		t.Helper()
		if got.status != want.status {
			t.Errorf("status = %d, want %d", got.status, want.status)
		}
		if got.body != want.body {
			t.Errorf("body differs from the unknown-link body:\n%s", got.body)
		}
		for _, k := range []string{"Content-Type", "Content-Security-Policy", "Cache-Control", "Referrer-Policy", "X-Frame-Options", "X-Content-Type-Options"} {
			if got.header.Get(k) != want.header.Get(k) {
				t.Errorf("%s = %q, want %q", k, got.header.Get(k), want.header.Get(k))
			}
		}
		if len(got.header) != len(want.header) {
			t.Errorf("headers %v, want the same names as %v", got.header, want.header)
		}
	}
	for name, path := range paths {
		t.Run(name+"/GET", func(t *testing.T) { same(t, e.get(path)) })
		t.Run(name+"/POST", func(t *testing.T) {
			token := strings.TrimPrefix(path, LinkPath)
			if unescaped, err := url.PathUnescape(token); err == nil {
				token = unescaped
			}
			form := url.Values{
				"csrf":            {e.h.csrf.value(TokenHash(token))},
				"password":        {goodPassword},
				"confirmPassword": {goodPassword},
			}
			same(t, e.request(http.MethodPost, path, form, nil))
		})
	}
	if _, _, accepted := store.counts(); accepted != 1 {
		t.Errorf("store accepted %d times, want 1 (the used link)", accepted)
	}
}

// TestConcurrentSubmitsRedeemOnce holds 20 submits of one link inside Store.Redeem at once,
// then lets them go: exactly one wins, the others get the invalid-link page.
func TestConcurrentSubmitsRedeemOnce(t *testing.T) {
	e := newEnv(t)
	const n = 20
	e.store.gate = make(chan struct{})
	e.store.arrived = make(chan struct{}, n)
	invalid := e.get(LinkPath + testToken("nobody")).body
	token := testToken("ana")

	results := make([]response, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			pw := fmt.Sprintf("%s %02d", goodPassword, i)
			results[i] = e.submit(token, pw, pw)
		})
	}
	// Every submit has passed the rate limits, the CSRF check, the lookup and the password
	// rules, and waits inside Redeem.
	for range n {
		<-e.store.arrived
	}
	close(e.store.gate)
	wg.Wait()

	var winners []int
	for i, res := range results {
		switch res.status {
		case http.StatusOK:
			winners = append(winners, i)
		case http.StatusNotFound:
			if res.body != invalid {
				t.Errorf("submit %d: 404 body is not the invalid-link page", i)
			}
		default:
			t.Errorf("submit %d: status %d, want 200 or 404", i, res.status)
		}
	}
	if len(winners) != 1 {
		t.Fatalf("%d submits succeeded (%v), want exactly 1", len(winners), winners)
	}
	_, redeems, accepted := e.store.counts()
	if redeems != n || accepted != 1 {
		t.Errorf("Redeem called %d times and accepted %d, want %d and 1", redeems, accepted, n)
	}
	got, _ := e.store.password(token)
	if want := fmt.Sprintf("%s %02d", goodPassword, winners[0]); got != want {
		t.Errorf("store holds the password of another submit than the winner's")
	}
	if res := e.get(LinkPath + token); res.status != http.StatusNotFound {
		t.Errorf("after the race, GET = %d, want 404", res.status)
	}
}

func TestSuccessPage(t *testing.T) {
	for _, tc := range []struct {
		name     string
		purpose  Purpose
		signIn   string
		want     []string
		unwanted []string
	}{
		{
			name: "invitation with sign-in link", purpose: PurposeInvitation, signIn: testSignIn,
			want: []string{"<h1>Your account at Riverside Family Health is ready</h1>", "Your password is saved.",
				`<a class="button" href="https://sign-in.riverside.example.test/">Sign in</a>`, "<strong>ana.ruiz@riverside.example.test</strong>"},
		},
		{
			name: "password reset without sign-in link", purpose: PurposePasswordReset,
			want:     []string{"<h1>Your account at Riverside Family Health is ready</h1>", "Your new password is saved.", "sign in where you usually do"},
			unwanted: []string{"Sign in</a>"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, func(o *Options) { o.SignInURL = tc.signIn })
			token := testToken("success")
			e.store.add(token, testInvitee(tc.purpose))
			// Spaces and non-ASCII are kept as typed: the directory compares bytes.
			typed := "  Grüße aus der Küche 42  "
			res := e.submit(token, typed, typed)
			if res.status != http.StatusOK {
				t.Fatalf("status = %d, want 200\n%s", res.status, res.body)
			}
			for _, s := range tc.want {
				if !strings.Contains(res.body, s) {
					t.Errorf("success page lacks %s", s)
				}
			}
			for _, s := range tc.unwanted {
				if strings.Contains(res.body, s) {
					t.Errorf("success page has %s", s)
				}
			}
			if got, _ := e.store.password(token); got != typed {
				t.Errorf("store got %q, want the password exactly as typed", got)
			}
			// The link works once, then is dead, by GET and by POST.
			if res := e.get(LinkPath + token); res.status != http.StatusNotFound {
				t.Errorf("GET after success = %d, want 404", res.status)
			}
			if res := e.submit(token, goodPassword, goodPassword); res.status != http.StatusNotFound {
				t.Errorf("second POST = %d, want 404", res.status)
			}
		})
	}
}

// errorFor finds the message shown next to a field, and checks that the field points at it.
var inputTag = regexp.MustCompile(`<input type="password" id="(\w+)"[^>]*>`)

func fieldError(t *testing.T, body, field string) string {
	t.Helper()
	re := regexp.MustCompile(`<p class="error" id="` + field + `-error"><span class="visually-hidden">Error: </span>([^<]*)</p>\s*<input type="password" id="` + field + `"`)
	m := re.FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	for _, tag := range inputTag.FindAllStringSubmatch(body, -1) {
		if tag[1] != field {
			continue
		}
		if !strings.Contains(tag[0], ` aria-invalid="true"`) {
			t.Errorf("input %s lacks aria-invalid: %s", field, tag[0])
		}
		if !regexp.MustCompile(`aria-describedby="[^"]*\b` + field + `-error\b`).MatchString(tag[0]) {
			t.Errorf("input %s does not point at its error with aria-describedby: %s", field, tag[0])
		}
		if strings.Contains(tag[0], "value=") {
			t.Errorf("input %s carries a value: %s", field, tag[0])
		}
	}
	return m[1]
}

func TestPasswordProblemsAreShownNextToTheField(t *testing.T) {
	for _, tc := range []struct {
		name, password, confirm string
		field, want             string
	}{
		{"empty", "", "", "password", "Enter a password."},
		{"too short", "kiwi-lemon-7", "kiwi-lemon-7", "password", "Use at least 15 characters; this one has 12."},
		{"too long", strings.Repeat("longer than allowed ", 7), strings.Repeat("longer than allowed ", 7), "password", "Use at most 128 characters; this one has 139."}, // the trailing space does not count
		{"common", "PasswordPassword", "PasswordPassword", "password", "This password is on a list of commonly used passwords"},
		{"common plus a sequence", "Welcome 12345678", "Welcome 12345678", "password", "This password is a commonly used password with predictable digits or symbols added"},
		{"two common passwords", "Sunshine Football", "Sunshine Football", "password", "This password joins two commonly used passwords"},
		{"given name", "ana rides quiet trains", "ana rides quiet trains", "password", "The password must not contain your name, “ana”."},
		{"practice name", "riverside at night 2026", "riverside at night 2026", "password", "The password must not contain a word of the name of your practice, “riverside”."},
		{"repetitive", "abcabcabcabcabcabc", "abcabcabcabcabcabc", "password", "This password repeats or counts through the same characters"},
		{"email local part", "my ANA.RUIZ account 2026", "my ANA.RUIZ account 2026", "password", "The password must not contain the first part of your email address, “ana.ruiz”."},
		{"control character", "plum kettle\torbit harbor", "plum kettle\torbit harbor", "password", "The password contains a tab, line break or other control character."},
		{"mismatch", goodPassword, goodPassword + "!", "confirmPassword", "The two passwords do not match. Type the same password in both fields."},
		{"confirmation missing", goodPassword, "", "confirmPassword", "Type the password a second time."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			res := e.submit(testToken("ana"), tc.password, tc.confirm)
			if res.status != http.StatusUnprocessableEntity {
				t.Fatalf("status = %d, want 422", res.status)
			}
			got := fieldError(t, strings.ReplaceAll(res.body, "&#34;", `"`), tc.field)
			if !strings.HasPrefix(got, tc.want) {
				t.Errorf("message next to %s = %q, want %q", tc.field, got, tc.want)
			}
			if !strings.Contains(res.body, `<li><a href="#`+tc.field+`">`) {
				t.Errorf("error summary does not link to #%s", tc.field)
			}
			if !strings.Contains(res.body, "<title>Error: Set your password") {
				t.Errorf("title does not start with Error:")
			}
			if _, redeems, _ := e.store.counts(); redeems != 0 {
				t.Errorf("Redeem called %d times, want 0", redeems)
			}
			// The form is usable again: same link, fresh CSRF value, nothing typed.
			if !strings.Contains(res.body, `name="csrf" value="`+e.h.csrf.value(TokenHash(testToken("ana")))+`"`) {
				t.Errorf("form lost its CSRF value")
			}
		})
	}
}

func TestMinPasswordLengthIsConfigurable(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.MinPasswordLength = 20 })
	res := e.submit(testToken("ana"), goodPassword[:19], goodPassword[:19])
	if got := fieldError(t, res.body, "password"); !strings.HasPrefix(got, "Use at least 20 characters; this one has 19.") {
		t.Errorf("message = %q", got)
	}
	if res := e.submit(testToken("ana"), goodPassword[:20], goodPassword[:20]); res.status != http.StatusOK {
		t.Errorf("20 characters: status %d, want 200", res.status)
	}
}

func TestCSRF(t *testing.T) {
	token := testToken("ana")
	for _, tc := range []struct {
		name   string
		form   url.Values
		header http.Header
	}{
		{name: "missing", form: url.Values{}},
		{name: "wrong", form: url.Values{"csrf": {"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}}},
		{name: "not base64", form: url.Values{"csrf": {"%%%"}}},
		{name: "another link's", form: url.Values{"csrf": {(&env{}).csrfFor(t, testToken("other"))}}},
		{name: "another key's", form: url.Values{"csrf": {mustCSRF(t, make([]byte, 32)).value(TokenHash(token))}}},
		{name: "cross-site browser form", header: http.Header{"Sec-Fetch-Site": {"cross-site"}}},
		{name: "foreign origin", header: http.Header{"Origin": {"https://evil.example.test"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			form := tc.form
			if form == nil {
				form = url.Values{"csrf": {e.h.csrf.value(TokenHash(token))}}
			}
			form.Set("password", goodPassword)
			form.Set("confirmPassword", goodPassword)
			res := e.request(http.MethodPost, LinkPath+token, form, tc.header)
			if res.status != http.StatusForbidden {
				t.Fatalf("status = %d, want 403", res.status)
			}
			if !strings.Contains(res.body, "This form could not be accepted") {
				t.Errorf("403 page lacks its heading")
			}
			assertNoSecrets(t, res, goodPassword, token)
			if lookups, redeems, _ := e.store.counts(); lookups != 0 || redeems != 0 {
				t.Errorf("store called (%d lookups, %d redeems), want no calls", lookups, redeems)
			}
		})
	}
}

func (*env) csrfFor(t *testing.T, token string) string {
	return mustCSRF(t, nil).value(TokenHash(token))
}

func mustCSRF(t *testing.T, key []byte) csrfTokens {
	t.Helper()
	c, err := newCSRFTokens(key)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestReplicasSharingAKeyAcceptEachOthersForms: the CSRF value is stateless, so a form
// served by one replica is accepted by another when they share the key.
func TestReplicasSharingAKeyAcceptEachOthersForms(t *testing.T) {
	key := CSRFKeyFrom([]byte("the invitation token key, shared by all replicas"))
	a := newEnv(t, func(o *Options) { o.CSRFKey = key })
	b := newEnv(t, func(o *Options) { o.CSRFKey = key })
	if a.h.csrf.value("h") != b.h.csrf.value("h") {
		t.Fatal("replicas with one key make different CSRF values")
	}
	c := newEnv(t, func(o *Options) { o.CSRFKey = CSRFKeyFrom([]byte("another secret")) })
	if a.h.csrf.value("h") == c.h.csrf.value("h") {
		t.Fatal("different keys make the same CSRF value")
	}
	if got := len(CSRFKeyFrom([]byte("x"))); got < minCSRFKeyLength {
		t.Errorf("derived key has %d bytes", got)
	}
}

func TestRateLimits(t *testing.T) {
	short := "kiwi-lemon-7" // refused with 422, so the link stays usable

	t.Run("per client", func(t *testing.T) {
		e := newEnv(t, func(o *Options) { o.ClientLimit = Limit{Events: 3, Per: time.Minute} })
		for i := range 3 {
			if res := e.submit(testToken("ana"), short, short); res.status != http.StatusUnprocessableEntity {
				t.Fatalf("POST %d: status %d, want 422", i+1, res.status)
			}
		}
		lookups, _, _ := e.store.counts()
		res := e.submit(testToken("ana"), short, short)
		if res.status != http.StatusTooManyRequests {
			t.Fatalf("POST 4: status %d, want 429", res.status)
		}
		if got := res.header.Get("Retry-After"); got != "20" {
			t.Errorf("Retry-After = %q, want 20 (one more POST every 20s)", got)
		}
		if !strings.Contains(res.body, "Please wait 20 seconds") {
			t.Errorf("429 page does not say how long to wait")
		}
		if now, _, _ := e.store.counts(); now != lookups {
			t.Errorf("a refused POST reached the store")
		}
		// Another link from the same client is refused too, and X-Forwarded-For is not
		// believed by default.
		form := url.Values{"csrf": {e.h.csrf.value(TokenHash(testToken("b")))}}
		if res := e.request(http.MethodPost, LinkPath+testToken("b"), form, http.Header{"X-Forwarded-For": {"203.0.113.9"}}); res.status != http.StatusTooManyRequests {
			t.Errorf("POST with X-Forwarded-For: status %d, want 429", res.status)
		}
		// GETs are not limited.
		if res := e.get(LinkPath + testToken("ana")); res.status != http.StatusOK {
			t.Errorf("GET while limited: status %d, want 200", res.status)
		}
		e.clock.Add(20 * time.Second)
		if res := e.submit(testToken("ana"), goodPassword, goodPassword); res.status != http.StatusOK {
			t.Errorf("POST after 20s: status %d, want 200", res.status)
		}
	})

	t.Run("per link", func(t *testing.T) {
		e := newEnv(t, func(o *Options) { o.LinkLimit = Limit{Events: 2, Per: 10 * time.Minute} })
		e.store.add(testToken("other"), testInvitee(PurposeInvitation))
		for i := range 2 {
			if res := e.submit(testToken("ana"), short, short); res.status != http.StatusUnprocessableEntity {
				t.Fatalf("POST %d: status %d, want 422", i+1, res.status)
			}
		}
		res := e.submit(testToken("ana"), goodPassword, goodPassword)
		if res.status != http.StatusTooManyRequests {
			t.Fatalf("POST 3: status %d, want 429", res.status)
		}
		if got := res.header.Get("Retry-After"); got != "300" {
			t.Errorf("Retry-After = %q, want 300", got)
		}
		if !strings.Contains(res.body, "Please wait 5 minutes") {
			t.Errorf("429 page does not say how long to wait")
		}
		if res := e.submit(testToken("other"), goodPassword, goodPassword); res.status != http.StatusOK {
			t.Errorf("another link: status %d, want 200", res.status)
		}
		e.clock.Add(5 * time.Minute)
		if res := e.submit(testToken("ana"), goodPassword, goodPassword); res.status != http.StatusOK {
			t.Errorf("after 5 minutes: status %d, want 200", res.status)
		}
	})
}

func TestSecurityHeadersOnEveryResponse(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.LinkLimit = Limit{Events: 4, Per: time.Hour} })
	e.store.add(testToken("other"), testInvitee(PurposeInvitation))
	token := testToken("ana")
	csrf := url.Values{"csrf": {e.h.csrf.value(TokenHash(token))}}

	responses := map[string]response{
		"form":                 e.get(LinkPath + token),
		"HEAD form":            e.request(http.MethodHead, LinkPath+token, nil, nil),
		"invalid link":         e.get(LinkPath + testToken("unknown")),
		"stylesheet":           e.get("/static/page.css"),
		"healthz":              e.get("/healthz"),
		"not found":            e.get("/favicon.ico"),
		"redirect":             e.get("/invite"),
		"method not allowed":   e.request(http.MethodPut, LinkPath+token, url.Values{}, nil),
		"CSRF refused":         e.request(http.MethodPost, LinkPath+token, url.Values{}, nil),
		"cross-origin refused": e.request(http.MethodPost, LinkPath+token, csrf, http.Header{"Sec-Fetch-Site": {"cross-site"}}),
		"password refused":     e.submit(token, "short", "short"),
		"success":              e.submit(token, goodPassword, goodPassword),
		"used link":            e.submit(token, goodPassword, goodPassword),
		"rate limited":         e.submit(token, goodPassword, goodPassword),
	}
	e.store.lookupErr = errors.New("apiserver unreachable")
	responses["store failure"] = e.submit(testToken("other"), goodPassword, goodPassword)

	wantStatus := map[string]int{
		"form": 200, "HEAD form": 200, "invalid link": 404, "stylesheet": 200, "healthz": 200, "not found": 404,
		"redirect": 307, "method not allowed": 405, "CSRF refused": 403, "cross-origin refused": 403,
		"password refused": 422, "success": 200, "used link": 404, "rate limited": 429, "store failure": 503,
	}
	want := map[string]string{
		"Content-Security-Policy": "default-src 'none'; style-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
		"Referrer-Policy":         "no-referrer",
		"X-Frame-Options":         "DENY",
		"Cache-Control":           "no-store",
		"X-Content-Type-Options":  "nosniff",
	}
	for name, res := range responses {
		if res.status != wantStatus[name] {
			t.Errorf("%s: status %d, want %d", name, res.status, wantStatus[name])
		}
		for k, v := range want {
			if got := res.header.Values(k); len(got) != 1 || got[0] != v {
				t.Errorf("%s: %s = %q, want %q", name, k, got, v)
			}
		}
	}
	if got := responses["stylesheet"].header.Get("Content-Type"); got != "text/css; charset=utf-8" {
		t.Errorf("stylesheet Content-Type = %q", got)
	}
	if got := responses["method not allowed"].header.Get("Allow"); got != "GET, HEAD, POST" {
		t.Errorf("Allow = %q", got)
	}
	if got := responses["store failure"].header.Get("Retry-After"); got == "" {
		t.Errorf("503 without Retry-After")
	}
}

// TestSecretsStayOutOfLogs: a failing store makes the page log; the log holds neither the
// token, nor its hash, nor the password.
func TestSecretsStayOutOfLogs(t *testing.T) {
	var mu sync.Mutex
	var logs strings.Builder
	logger := funcr.New(func(prefix, args string) {
		mu.Lock()
		defer mu.Unlock()
		logs.WriteString(prefix + " " + args + "\n")
	}, funcr.Options{Verbosity: 10})
	e := newEnv(t, func(o *Options) {
		o.Log = logger
		o.ClientLimit = Limit{Events: 4, Per: time.Minute}
	})
	token := testToken("ana")

	e.submit(token, goodPassword, goodPassword+"x") // 422
	e.store.redeemErr = errors.New("directory unavailable")
	if res := e.submit(token, goodPassword, goodPassword); res.status != http.StatusServiceUnavailable {
		t.Errorf("Redeem failing: status %d, want 503", res.status)
	}
	e.store.redeemErr = nil
	if res := e.submit(token, goodPassword, goodPassword); res.status != http.StatusOK {
		t.Errorf("after a failed Redeem the link still works: status %d, want 200", res.status)
	}
	e.submit(token, goodPassword, goodPassword) // 404
	e.submit(token, goodPassword, goodPassword) // 429

	mu.Lock()
	out := logs.String()
	mu.Unlock()
	for _, want := range []string{`"step"="redeem"`, "directory unavailable", "rate limit reached", "password set through link"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %s:\n%s", want, out)
		}
	}
	for _, secret := range []string{token, TokenHash(token), TokenHash(token)[:8], goodPassword} {
		if strings.Contains(out, secret) {
			t.Errorf("log contains a secret %q:\n%s", secret, out)
		}
	}
}

func TestNewHandlerOptions(t *testing.T) {
	store := newFakeStore(time.Now)
	for _, tc := range []struct {
		name string
		opts Options
		want string
	}{
		{"no store", Options{}, "web: Options.Store is required"},
		{"minimum below NIST", Options{Store: store, MinPasswordLength: 6}, "web: MinPasswordLength must be between 8 and 128, got 6"},
		{"minimum above maximum", Options{Store: store, MinPasswordLength: 129}, "web: MinPasswordLength must be between 8 and 128, got 129"},
		{"sign-in URL", Options{Store: store, SignInURL: "javascript:alert(1)"}, `web: SignInURL must be an http:// or https:// URL, got "javascript:alert(1)"`},
		{"short CSRF key", Options{Store: store, CSRFKey: []byte("short")}, "web: CSRF key has 5 bytes, need at least 32"},
		{"bad limit", Options{Store: store, LinkLimit: Limit{Events: 0, Per: time.Minute}}, "web: LinkLimit must allow at least one event per positive period, got 0 per 1m0s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewHandler(tc.opts)
			if err == nil || err.Error() != tc.want {
				t.Errorf("err = %v, want %s", err, tc.want)
			}
		})
	}
	if _, err := NewHandler(Options{Store: store}); err != nil {
		t.Errorf("defaults: %v", err)
	}
}

func TestTokenHashAndLink(t *testing.T) {
	// SHA-256("abc") from FIPS 180-2.
	if got, want := TokenHash("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"; got != want {
		t.Errorf("TokenHash = %s, want %s", got, want)
	}
	for _, tc := range []struct{ public, want string }{
		{"https://staff.example.org", "https://staff.example.org/invite/tok-EN_1"},
		{"https://staff.example.org/", "https://staff.example.org/invite/tok-EN_1"},
		{"http://127.0.0.1:8082", "http://127.0.0.1:8082/invite/tok-EN_1"},
	} {
		if got := Link(tc.public, "tok-EN_1"); got != tc.want {
			t.Errorf("Link(%q) = %s, want %s", tc.public, got, tc.want)
		}
	}
	if !wellFormed(testToken("x")) || !wellFormed(TokenHash("x")) {
		t.Error("base64url and hex tokens must be well-formed")
	}
}

// TestUnconfirmedRedeemIsNoSuccess: a Redeem that lost its claim is not answered with the
// success page, nor with "your password has not been changed", which may be untrue.
func TestUnconfirmedRedeemIsNoSuccess(t *testing.T) {
	e := newEnv(t)
	e.store.redeemErr = fmt.Errorf("%w: the claim is gone", ErrNotConfirmed)
	res := e.submit(testToken("ana"), goodPassword, goodPassword)
	if res.status != http.StatusConflict {
		t.Fatalf("status %d, want 409", res.status)
	}
	for _, want := range []string{"Your new password could not be confirmed", "try signing in with it"} {
		if !strings.Contains(res.body, want) {
			t.Errorf("page does not say %q", want)
		}
	}
	if strings.Contains(res.body, "has not been changed") {
		t.Error("the page says the password was not changed, which may be untrue")
	}
}
