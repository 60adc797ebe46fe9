package web

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// The page's own cost per request, with an in-memory Store: what a replica spends on a GET of
// the form, on a dead link (what link scanners and guessers cost), and on a refused password.

func BenchmarkShowForm(b *testing.B) {
	h, token, _ := benchHandler(b)
	req := httptest.NewRequest(http.MethodGet, LinkPath+token, nil)
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatalf("GET: %d", w.Code)
		}
	}
}

func BenchmarkDeadLink(b *testing.B) {
	h, _, _ := benchHandler(b)
	req := httptest.NewRequest(http.MethodGet, LinkPath+testToken("nobody"), nil)
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusNotFound {
			b.Fatalf("GET: %d", w.Code)
		}
	}
}

func BenchmarkRefusedPassword(b *testing.B) {
	h, token, csrf := benchHandler(b)
	body := url.Values{"password": {"passwordpassword"}, "confirmPassword": {"passwordpassword"}, csrfField: {csrf}}.Encode()
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, LinkPath+token, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusUnprocessableEntity {
			b.Fatalf("POST: %d", w.Code)
		}
	}
}

// benchHandler returns a page with one live link, the link's token and its form's CSRF value;
// its limits never refuse.
func benchHandler(b *testing.B) (http.Handler, string, string) {
	b.Helper()
	c := &clock{now: testStart}
	store := newFakeStore(c.Now)
	token := testToken("bench")
	store.add(token, testInvitee(PurposeInvitation))
	lots := Limit{Events: 1 << 30, Per: 1 << 40}
	h, err := newHandler(Options{Store: store, Now: c.Now, ClientLimit: lots, LinkLimit: lots})
	if err != nil {
		b.Fatal(err)
	}
	return h.routes(), token, h.csrf.value(TokenHash(token))
}
