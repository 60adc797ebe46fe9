package web

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/rosterops/staff-operator/internal/testenv"
	"github.com/rosterops/staff-operator/internal/web/browsertest"
)

// TestInBrowser drives the page in headless Chromium, served on 127.0.0.1 with the fake
// store: open the link, submit a password that is too short, see the message next to the
// field, submit a good one, see the success page. Screenshots of the form and of the success
// page go to testdata/out/TestInBrowser; with UPDATE_SCREENSHOTS=1 the form's also replaces
// docs/invitation-page.png.
func TestInBrowser(t *testing.T) {
	c := &clock{now: testStart}
	store := newFakeStore(c.Now)
	token := testToken("browser")
	store.add(token, testInvitee(PurposeInvitation))
	h, err := NewHandler(Options{Store: store, SignInURL: testSignIn, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	out := browsertest.ArtifactDir(t)

	browser := browsertest.New(t)
	ctx, cancel := context.WithTimeout(browser, time.Minute)
	defer cancel()

	run := func(step string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatalf("%s: %v", step, err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("read %s: %v", sel, err)
		}
		return strings.TrimSpace(s)
	}
	attr := func(sel, name string) string {
		t.Helper()
		a, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS(sel), name))
		if err != nil {
			t.Fatalf("read %s[%s]: %v", sel, name, err)
		}
		return a.Value
	}
	eval := func(expr string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr))
		if err != nil {
			t.Fatalf("evaluate %s: %v", expr, err)
		}
		return v
	}
	screenshot := func(name string) []byte {
		t.Helper()
		buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		browsertest.SaveScreenshot(t, out, name, buf)
		return buf
	}

	// The form, at a laptop's width.
	run("open the link",
		chromedp.EmulateViewport(800, 900),
		chromedp.Navigate(Link(srv.URL, token)),
		chromedp.WaitVisible(chromedp.CSS("#password")),
	)
	if got := text("h1"); got != "Set your password" {
		t.Errorf("heading = %q", got)
	}
	if got := text(".practice"); !strings.HasPrefix(got, testPractice) {
		t.Errorf("practice = %q", got)
	}
	if got := text(".facts"); !strings.Contains(got, testEmail) || !strings.Contains(got, "Tuesday, March 10, 2026 at 3:00 PM CDT") {
		t.Errorf("facts = %q", got)
	}
	// The stylesheet loaded under the Content-Security-Policy.
	if got := eval(`getComputedStyle(document.body).backgroundColor`); got != "rgb(243, 245, 247)" {
		t.Errorf("body background = %s: the stylesheet did not apply", got)
	}
	form := screenshot("form.png")
	if os.Getenv("UPDATE_SCREENSHOTS") == "1" {
		root, err := testenv.RepoRoot()
		if err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(root, "docs", "invitation-page.png")
		if err := os.WriteFile(dst, form, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("updated %s", dst)
	}

	// Readable on a phone: nothing sticks out sideways.
	run("narrow to a phone", chromedp.EmulateViewport(375, 740, chromedp.EmulateMobile))
	if got := eval(`String(document.documentElement.scrollWidth)`); got != "375" {
		t.Errorf("on a 375px phone the page is %spx wide", got)
	}
	screenshot("form-phone.png")
	run("back to a laptop", chromedp.EmulateViewport(800, 900))

	// Too short: the message is next to the field, and the field is empty again.
	short := "kiwi lemon 7"
	run("submit a short password",
		chromedp.SendKeys(chromedp.CSS("#password"), short),
		chromedp.SendKeys(chromedp.CSS("#confirmPassword"), short),
		chromedp.Click(chromedp.CSS("button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#password-error")),
	)
	if got := text("#password-error"); !strings.Contains(got, "Use at least 15 characters; this one has 12.") {
		t.Errorf("error next to the field = %q", got)
	}
	if got := attr("#password", "aria-invalid"); got != "true" {
		t.Errorf("aria-invalid = %q", got)
	}
	if got := attr("#password", "aria-describedby"); got != "password-hint password-error" {
		t.Errorf("aria-describedby = %q", got)
	}
	if got := eval(`document.querySelector('#password').value + document.querySelector('#confirmPassword').value`); got != "" {
		t.Error("the refused password was filled back into the form")
	}
	if got := eval(`document.documentElement.outerHTML`); strings.Contains(got, short) {
		t.Error("the refused password is in the page")
	}
	screenshot("form-error.png")

	// A good password: the success page.
	run("submit a good password",
		chromedp.SendKeys(chromedp.CSS("#password"), goodPassword),
		chromedp.SendKeys(chromedp.CSS("#confirmPassword"), goodPassword),
		chromedp.Click(chromedp.CSS("button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("a.button")),
	)
	if got := text("h1"); got != "Your account at Riverside Family Health is ready" {
		t.Errorf("heading = %q", got)
	}
	if got := attr("a.button", "href"); got != testSignIn {
		t.Errorf("sign-in link = %q", got)
	}
	if got := eval(`document.documentElement.outerHTML`); strings.Contains(got, goodPassword) {
		t.Error("the password is in the success page")
	}
	screenshot("success.png")
	if got, _ := store.password(token); got != goodPassword {
		t.Errorf("store got a different password than typed")
	}

	// The link is used up: opening it again shows the invalid-link page.
	run("reopen the link",
		chromedp.Navigate(Link(srv.URL, token)),
		chromedp.WaitVisible(chromedp.CSS("h1")),
	)
	if got := text("h1"); got != "This link is no longer valid" {
		t.Errorf("reopened link: heading = %q", got)
	}
}
