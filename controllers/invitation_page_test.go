package controllers

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	staffv1alpha1 "github.com/rosterops/staff-operator/api/v1alpha1"
	"github.com/rosterops/staff-operator/internal/directory"
	"github.com/rosterops/staff-operator/internal/directory/ldaptest"
	"github.com/rosterops/staff-operator/internal/mail/smtptest"
	"github.com/rosterops/staff-operator/internal/staff"
	"github.com/rosterops/staff-operator/internal/web"
	"github.com/rosterops/staff-operator/internal/web/browsertest"
	"github.com/rosterops/staff-operator/internal/web/invitationstore"
)

// The invitation page against the real parts: envtest, slapd, the SMTP server, the manager's
// cache and the page served by the manager on a loopback port.

const (
	goodPassword  = "violet tram harbor ninety"
	otherPassword = "copper lantern meadow seven"
)

// TestInvitationInBrowser is the whole path of an invitee: the mail, the link in Chromium, a
// refused password, a good one, the success page, a sign-in to the directory.
func TestInvitationInBrowser(t *testing.T) {
	const signIn = "https://sign-in.example.test/" // only read from the page, never opened
	op := startOperator(t, func(o *operatorOptions) { o.page.SignInURL = signIn })
	op.create(&staffv1alpha1.Location{
		ObjectMeta: metav1.ObjectMeta{Name: "downtown"},
		Spec:       staffv1alpha1.LocationSpec{DisplayName: "Downtown Clinic", TimeZone: "America/Chicago"},
	})
	m := newMember("ana", op.email("ana.ruiz"))
	m.Spec.PrimaryLocation, m.Spec.Locations = "downtown", []staffv1alpha1.ObjectName{"downtown"}
	op.create(m)
	mail := waitMails(t, op.email("ana.ruiz"), 1)[0]
	link := linkIn(t, op, mail)
	op.openForm(t, tokenIn(t, mail)) // wait until the manager's cache knows the link

	out := browsertest.ArtifactDir(t)
	browser := browsertest.New(t)
	ctx, cancel := context.WithTimeout(browser, time.Minute)
	defer cancel()
	b := &browserSteps{t: t, ctx: ctx}

	b.do("open the link from the mail",
		chromedp.EmulateViewport(800, 900),
		chromedp.Navigate(link),
		chromedp.WaitVisible(chromedp.CSS("#password")),
	)
	if got := b.text("h1"); got != "Set your password" {
		t.Errorf("heading = %q", got)
	}
	if got := b.text(".practice"); !strings.HasPrefix(got, "Practice "+op.ns) {
		t.Errorf("practice = %q, want the namespace's organization name", got)
	}
	// Sent at 09:00 UTC with a TTL of an hour: 4:00 AM in Chicago (CST in November).
	if got := b.text(".facts"); !strings.Contains(got, op.email("ana.ruiz")) || !strings.Contains(got, "Monday, November 23, 2026 at 4:00 AM CST") {
		t.Errorf("facts = %q, want the email and the expiry in the practice's time zone", got)
	}
	b.screenshot(out, "form.png")

	short := "kiwi lemon 7"
	b.do("submit a password that is too short",
		chromedp.SendKeys(chromedp.CSS("#password"), short),
		chromedp.SendKeys(chromedp.CSS("#confirmPassword"), short),
		chromedp.Click(chromedp.CSS("button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#password-error")),
	)
	if got := b.text("#password-error"); !strings.Contains(got, "Use at least 15 characters; this one has 12.") {
		t.Errorf("the error next to the field = %q", got)
	}
	b.screenshot(out, "form-error.png")
	if inv := op.invitation("ana"); inv.Status.Phase != staffv1alpha1.InvitationSent {
		t.Fatalf("a refused password changed the invitation to %s", inv.Status.Phase)
	}

	b.do("submit a good password",
		chromedp.SendKeys(chromedp.CSS("#password"), goodPassword),
		chromedp.SendKeys(chromedp.CSS("#confirmPassword"), goodPassword),
		chromedp.Click(chromedp.CSS("button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("a.button")),
	)
	if got := b.text("h1"); got != "Your account at Practice "+op.ns+" is ready" {
		t.Errorf("success heading = %q", got)
	}
	if href, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS("a.button"), "href")); err != nil || href.Value != signIn {
		t.Errorf("the sign-in button leads to %q (%v), want %s", href.Value, err, signIn)
	}
	b.screenshot(out, "success.png")

	m = op.waitMember("ana", "active", func(m *staffv1alpha1.StaffMember) bool { return m.Status.Phase == staffv1alpha1.StaffMemberActive })
	if err := bind(m.Status.AccountID, goodPassword); err != nil {
		t.Errorf("sign-in with the password set in the browser: %v", err)
	}
	inv := op.invitation("ana")
	if inv.Status.Phase != staffv1alpha1.InvitationAccepted || inv.Status.AcceptedAt == nil || !inv.Status.AcceptedAt.Time.Equal(op.clock.Now()) ||
		inv.Status.TokenHash != "" || inv.Status.ClaimedAt != nil {
		t.Errorf("invitation status = %+v, want Accepted at %v with no token hash and no claim", inv.Status, op.clock.Now())
	}
	if !hasCondition(inv.Status.Conditions, staffv1alpha1.ConditionReady, metav1.ConditionTrue, staffv1alpha1.ReasonAccepted) {
		t.Errorf("conditions = %v, want Ready=True Accepted", inv.Status.Conditions)
	}
	waitEvent(t, op.ns, "ana", staffv1alpha1.ReasonAccepted)
	token := tokenIn(t, mail)
	op.noSecretsInEvents(token, web.TokenHash(token), goodPassword, short)

	b.do("open the link again", chromedp.Navigate(link), chromedp.WaitVisible(chromedp.CSS("h1")))
	if got := b.text("h1"); got != "This link is no longer valid" {
		t.Errorf("a used link shows %q", got)
	}
}

// TestEveryDeadLinkGetsTheSameAnswer: unknown, used, revoked, superseded by a resend and
// expired links get the same status, headers and bytes, for GET and for POST.
func TestEveryDeadLinkGetsTheSameAnswer(t *testing.T) {
	op := startOperator(t)
	for _, name := range []string{"used", "revoked", "resent", "expired"} {
		op.create(newMember(name, op.email(name)))
	}
	forms := map[string]pageForm{}
	for _, name := range []string{"used", "revoked", "resent", "expired"} {
		forms[name] = op.openForm(t, tokenIn(t, waitMails(t, op.email(name), 1)[0]))
	}

	reference := op.page(t, http.MethodGet, web.LinkPath+"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", nil)
	if reference.status != http.StatusNotFound || !strings.Contains(reference.body, "This link is no longer valid") {
		t.Fatalf("an unknown link: %d %s", reference.status, reference.body)
	}
	dead := map[string]pageForm{"unknown": {token: "unknownunknownunknownunknownunknownunknownu"}}

	if res := forms["used"].submit(t, op, goodPassword); res.status != http.StatusOK {
		t.Fatalf("accept: %d %s", res.status, res.body)
	}
	op.waitInvitation("used", "accepted", func(i *staffv1alpha1.Invitation) bool { return i.Status.Phase == staffv1alpha1.InvitationAccepted })
	dead["used"] = forms["used"]

	op.deactivate("revoked")
	op.waitInvitation("revoked", "revoked", func(i *staffv1alpha1.Invitation) bool { return i.Status.Phase == staffv1alpha1.InvitationRevoked })
	dead["revoked"] = forms["revoked"]

	op.annotate(&staffv1alpha1.Invitation{ObjectMeta: metav1.ObjectMeta{Name: "resent"}}, staffv1alpha1.ResendRequestedAtAnnotation, "2026-11-23T09:10:00Z")
	op.waitInvitation("resent", "resent", func(i *staffv1alpha1.Invitation) bool { return sent(i) && i.Status.Attempt == 2 })
	dead["resent"] = forms["resent"]

	// Past the deadline the page refuses the link at once, before the controller marks it.
	op.clock.Step(time.Hour)
	dead["expired"] = forms["expired"]
	check := func(when string) {
		t.Helper()
		for name, f := range dead {
			got := op.page(t, http.MethodGet, web.LinkPath+f.token, nil)
			if diff := got.differsFrom(reference); diff != "" {
				t.Errorf("%s: GET of the %s link: %s", when, name, diff)
			}
			if f.csrf == "" {
				continue // never had a form
			}
			got = f.post(t, op, url.Values{"password": {otherPassword}, "confirmPassword": {otherPassword}})
			if diff := got.differsFrom(reference); diff != "" {
				t.Errorf("%s: POST to the %s link: %s", when, name, diff)
			}
		}
	}
	check("before the controller saw the deadline")
	op.poke("expired", 1)
	op.waitInvitation("expired", "expired", func(i *staffv1alpha1.Invitation) bool { return i.Status.Phase == staffv1alpha1.InvitationExpired })
	// The POSTs above count against the per-client limit; a new minute refills it.
	op.clock.Step(time.Minute)
	check("after")

	if err := bind(op.member("used").Status.AccountID, goodPassword); err != nil {
		t.Errorf("the first password no longer works after POSTs to the used link: %v", err)
	}
}

// TestConcurrentSubmitsAcceptOnce: 20 submits of one link at once, each with its own password:
// one is accepted, the others get the dead-link page, and the directory holds the winner's.
func TestConcurrentSubmitsAcceptOnce(t *testing.T) {
	lots := web.Limit{Events: 1000, Per: time.Minute}
	op := startOperator(t, func(o *operatorOptions) { o.page.ClientLimit, o.page.LinkLimit = lots, lots })
	op.create(newMember("rush", op.email("rush")))
	form := op.openForm(t, tokenIn(t, waitMails(t, op.email("rush"), 1)[0]))

	const n = 20
	results := make([]pageResponse, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			results[i] = form.submit(t, op, fmt.Sprintf("%s %02d", goodPassword, i))
		})
	}
	close(start)
	wg.Wait()

	winner := -1
	for i, res := range results {
		switch res.status {
		case http.StatusOK:
			if winner >= 0 {
				t.Errorf("submits %d and %d were both accepted", winner, i)
			}
			winner = i
		case http.StatusNotFound:
		default:
			t.Errorf("submit %d: %d %s", i, res.status, res.body)
		}
	}
	if winner < 0 {
		t.Fatal("no submit was accepted")
	}
	m := op.waitMember("rush", "active", func(m *staffv1alpha1.StaffMember) bool { return m.Status.Phase == staffv1alpha1.StaffMemberActive })
	if err := bind(m.Status.AccountID, fmt.Sprintf("%s %02d", goodPassword, winner)); err != nil {
		t.Errorf("the accepted password does not sign in: %v", err)
	}
	if err := bind(m.Status.AccountID, fmt.Sprintf("%s %02d", goodPassword, (winner+1)%n)); err == nil {
		t.Error("a refused submit's password signs in")
	}
	if inv := op.invitation("rush"); inv.Status.Phase != staffv1alpha1.InvitationAccepted {
		t.Errorf("phase = %s, want Accepted", inv.Status.Phase)
	}
}

// TestReplicasShareLinks: a second replica, which runs no controller (it does not hold the
// lease), serves the page too. A form loaded from one replica is accepted by the other, and
// submits spread over both replicas accept once.
func TestReplicasShareLinks(t *testing.T) {
	lots := web.Limit{Events: 1000, Per: time.Minute}
	op := startOperator(t, func(o *operatorOptions) { o.page.ClientLimit, o.page.LinkLimit = lots, lots })
	replica := op.startPageReplica(web.Options{ClientLimit: lots, LinkLimit: lots})
	op.create(newMember("rex", op.email("rex")))
	form := op.openForm(t, tokenIn(t, waitMails(t, op.email("rex"), 1)[0]))
	fromReplica := replica.openForm(t, form.token)
	if fromReplica.csrf != form.csrf {
		t.Error("the replicas put different CSRF values in the same link's form")
	}

	const n = 20
	statuses := make([]int, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		page := op
		if i%2 == 1 {
			page = replica
		}
		wg.Go(func() {
			<-start
			statuses[i] = form.submit(t, page, fmt.Sprintf("%s %02d", goodPassword, i)).status
		})
	}
	close(start)
	wg.Wait()
	accepted := 0
	for i, status := range statuses {
		switch status {
		case http.StatusOK:
			accepted++
		case http.StatusNotFound:
		default:
			t.Errorf("submit %d: %d", i, status)
		}
	}
	if accepted != 1 {
		t.Fatalf("%d submits were accepted over two replicas, want exactly 1", accepted)
	}
	op.waitMember("rex", "active", func(m *staffv1alpha1.StaffMember) bool { return m.Status.Phase == staffv1alpha1.StaffMemberActive })
}

// TestRateLimitsAnswer429: five tries per link, then 429 until the bucket refills by the
// page's clock; ten POSTs a minute per client.
func TestRateLimitsAnswer429(t *testing.T) {
	op := startOperator(t)
	op.create(newMember("ray", op.email("ray")))
	form := op.openForm(t, tokenIn(t, waitMails(t, op.email("ray"), 1)[0]))

	for i := range 5 {
		if res := form.submit(t, op, "too short"); res.status != http.StatusUnprocessableEntity {
			t.Fatalf("try %d: %d, want 422", i+1, res.status)
		}
	}
	res := form.submit(t, op, goodPassword)
	if res.status != http.StatusTooManyRequests || res.header.Get("Retry-After") != "180" {
		t.Fatalf("sixth try on one link: %d Retry-After %q, want 429 after 180 s", res.status, res.header.Get("Retry-After"))
	}
	// Four more from this client on made-up links reach the CSRF check; the next is one too many.
	for i := range 4 {
		made := pageForm{token: fmt.Sprintf("madeupmadeupmadeupmadeupmadeupmadeupmade%03d", i), csrf: "x"}
		if res := made.post(t, op, url.Values{}); res.status != http.StatusForbidden {
			t.Fatalf("POST %d on a made-up link: %d, want 403", i+7, res.status)
		}
	}
	if res := form.submit(t, op, goodPassword); res.status != http.StatusTooManyRequests {
		t.Fatalf("eleventh POST in a minute from one client: %d, want 429", res.status)
	}
	if inv := op.invitation("ray"); inv.Status.Phase != staffv1alpha1.InvitationSent {
		t.Fatalf("refused POSTs changed the invitation to %s", inv.Status.Phase)
	}

	op.clock.Step(3 * time.Minute)
	if res := form.submit(t, op, goodPassword); res.status != http.StatusOK {
		t.Fatalf("after the wait: %d %s", res.status, res.body)
	}
}

// TestPasswordResetLinkWorksOnce: a reset link from the annotation replaces the password once.
func TestPasswordResetLinkWorksOnce(t *testing.T) {
	op := startOperator(t)
	op.create(newMember("rue", op.email("rue")))
	if res := op.openForm(t, tokenIn(t, waitMails(t, op.email("rue"), 1)[0])).submit(t, op, goodPassword); res.status != http.StatusOK {
		t.Fatalf("accept the invitation: %d %s", res.status, res.body)
	}
	m := op.waitMember("rue", "active", func(m *staffv1alpha1.StaffMember) bool { return m.Status.Phase == staffv1alpha1.StaffMemberActive })

	op.annotate(m, staffv1alpha1.PasswordResetRequestedAtAnnotation, "2026-11-23T09:20:00Z")
	form := op.openForm(t, tokenIn(t, waitMails(t, op.email("rue"), 2)[1]))
	if !strings.Contains(form.body, "<h1>Choose a new password</h1>") {
		t.Errorf("the reset form does not say it is a reset:\n%s", form.body)
	}
	if res := form.submit(t, op, otherPassword); res.status != http.StatusOK {
		t.Fatalf("reset: %d %s", res.status, res.body)
	}
	if err := bind(m.Status.AccountID, otherPassword); err != nil {
		t.Errorf("the new password does not sign in: %v", err)
	}
	if err := bind(m.Status.AccountID, goodPassword); err == nil {
		t.Error("the old password still signs in")
	}

	if res := form.submit(t, op, goodPassword+" again"); res.status != http.StatusNotFound {
		t.Errorf("the reset link worked twice: %d", res.status)
	}
	if res := op.page(t, http.MethodGet, web.LinkPath+form.token, nil); res.status != http.StatusNotFound {
		t.Errorf("the used reset link still shows a form: %d", res.status)
	}
	if err := bind(m.Status.AccountID, otherPassword); err != nil {
		t.Errorf("a second submit changed the password: %v", err)
	}
}

// TestDirectoryFailureKeepsTheLinkUsable: the directory is down when the form is submitted;
// the page says nothing changed, the claim is released, and the same link works later.
func TestDirectoryFailureKeepsTheLinkUsable(t *testing.T) {
	own := ldaptest.New(t, ldaptest.Options{})
	op := startOperator(t, func(o *operatorOptions) { o.ldap = own })
	op.create(newMember("dot", op.email("dot")))
	form := op.openForm(t, tokenIn(t, waitMails(t, op.email("dot"), 1)[0]))

	if err := own.Stop(); err != nil {
		t.Fatal(err)
	}
	res := form.submit(t, op, goodPassword)
	if res.status != http.StatusServiceUnavailable || !strings.Contains(res.body, "Your password has not been changed") {
		t.Fatalf("with the directory down: %d %s", res.status, res.body)
	}
	if inv := op.invitation("dot"); inv.Status.Phase != staffv1alpha1.InvitationSent || inv.Status.ClaimedAt != nil {
		t.Fatalf("after a directory failure: phase %s claimedAt %v, want Sent and no claim", inv.Status.Phase, inv.Status.ClaimedAt)
	}

	if err := own.Start(); err != nil {
		t.Fatal(err)
	}
	if res := form.submit(t, op, goodPassword); res.status != http.StatusOK {
		t.Fatalf("the same link once the directory is back: %d %s", res.status, res.body)
	}
	m := op.waitMember("dot", "active", func(m *staffv1alpha1.StaffMember) bool { return m.Status.Phase == staffv1alpha1.StaffMemberActive })
	if err := bindTo(own, m.Status.AccountID, goodPassword); err != nil {
		t.Errorf("sign-in: %v", err)
	}
}

// TestDeactivationDuringSubmitStaysLocked: the member is deactivated, and the account locked
// by its reconciler, at the worst moment: after the page set the password and before it
// cleared lockouts. The account must end locked and the page must not say it is ready.
func TestDeactivationDuringSubmitStaysLocked(t *testing.T) {
	var op *operator
	var once sync.Once
	op = startOperator(t, func(o *operatorOptions) {
		o.pageDirectory = func(d directory.Backend) directory.Backend {
			return beforeUnlock{Backend: d, hook: func() {
				once.Do(func() {
					op.deactivate("dee")
					op.waitMember("dee", "deactivated", func(m *staffv1alpha1.StaffMember) bool {
						return m.Status.Phase == staffv1alpha1.StaffMemberDeactivated
					})
				})
			}}
		}
	})
	op.create(newMember("dee", op.email("dee")))
	form := op.openForm(t, tokenIn(t, waitMails(t, op.email("dee"), 1)[0]))

	if res := form.submit(t, op, goodPassword); res.status != http.StatusNotFound {
		t.Errorf("a submit that lost to a deactivation: %d, want the dead-link page", res.status)
	}
	m := op.member("dee")
	if err := bind(m.Status.AccountID, goodPassword); err == nil {
		t.Fatal("the deactivated account signs in")
	}
	facts, err := op.directory.SignInFacts(context.Background(), staff.AccountKey(m))
	if err != nil || !facts.Locked || facts.LockReason != directory.LockAdministrative {
		t.Errorf("sign-in facts %+v (%v), want locked by an administrator", facts, err)
	}
	op.waitInvitation("dee", "revoked", func(i *staffv1alpha1.Invitation) bool { return i.Status.Phase == staffv1alpha1.InvitationRevoked })
}

// beforeUnlock runs hook before the directory clears lockouts.
type beforeUnlock struct {
	directory.Backend
	hook func()
}

func (b beforeUnlock) UnlockAccount(ctx context.Context, key directory.AccountKey) (bool, error) {
	b.hook()
	return b.Backend.UnlockAccount(ctx, key)
}

// TestAbandonedClaimIsReleased: a replica that claimed a link and stopped leaves the link dead
// until the claim times out; then the controller releases it and the link works again.
func TestAbandonedClaimIsReleased(t *testing.T) {
	op := startOperator(t)
	op.create(newMember("abe", op.email("abe")))
	token := tokenIn(t, waitMails(t, op.email("abe"), 1)[0])
	op.waitInvitation("abe", "sent", sent)

	inv := op.invitation("abe")
	claimed := metav1.NewTime(op.clock.Now())
	inv.Status.ClaimedAt = &claimed
	if err := k8s.Status().Update(context.Background(), inv); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the page to see the claim", func() (bool, string) {
		res := op.page(t, http.MethodGet, web.LinkPath+token, nil)
		return res.status == http.StatusNotFound, fmt.Sprint(res.status)
	})

	op.clock.Step(invitationstore.ClaimTimeout - time.Second)
	op.poke("abe", 1)
	if inv := op.invitation("abe"); inv.Status.ClaimedAt == nil {
		t.Fatal("the claim was released before its timeout")
	}
	op.clock.Step(time.Second)
	op.poke("abe", 2)
	op.waitInvitation("abe", "claim released", func(i *staffv1alpha1.Invitation) bool { return sent(i) && i.Status.ClaimedAt == nil })
	waitEvent(t, op.ns, "abe", staffv1alpha1.ReasonClaimReleased)
	if res := op.openForm(t, token).submit(t, op, goodPassword); res.status != http.StatusOK {
		t.Fatalf("the link after the release: %d %s", res.status, res.body)
	}
}

// --- helpers ---

// deactivate sets the member's accountState to Deactivated.
func (op *operator) deactivate(name string) {
	m := &staffv1alpha1.StaffMember{}
	m.Name = name
	op.update(m, func() { m.Spec.AccountState = staffv1alpha1.AccountStateDeactivated })
}

// noSecretsInEvents fails the test when any event of the namespace mentions one of secrets.
func (op *operator) noSecretsInEvents(secrets ...string) {
	op.t.Helper()
	var list eventsv1.EventList
	if err := k8s.List(context.Background(), &list, client.InNamespace(op.ns)); err != nil {
		op.t.Fatal(err)
	}
	for _, e := range list.Items {
		for _, secret := range secrets {
			if strings.Contains(e.Note, secret) || strings.Contains(e.Reason, secret) {
				op.t.Errorf("event %s %q gives a secret away", e.Reason, e.Note)
			}
		}
	}
}

// linkIn returns the link a mail carries and checks that it points at this manager's page.
func linkIn(t *testing.T, op *operator, m smtptest.Message) string {
	t.Helper()
	link := regexp.MustCompile(`https?://[^\s"<>]+/invite/[A-Za-z0-9_-]+`).FindString(m.Text)
	if link != web.Link(op.pageURL, tokenIn(t, m)) {
		t.Fatalf("the mail's link %q is not the page's (%s)", link, op.pageURL)
	}
	return link
}

// pageResponse is what the page answered.
type pageResponse struct {
	status int
	header http.Header
	body   string
}

// differsFrom says how r differs from want in status, headers (but Date) and body; "" when not.
func (r pageResponse) differsFrom(want pageResponse) string {
	if r.status != want.status {
		return fmt.Sprintf("status %d, want %d", r.status, want.status)
	}
	if r.body != want.body {
		return fmt.Sprintf("body differs:\n%s\nwant:\n%s", r.body, want.body)
	}
	for k := range mergedKeys(r.header, want.header) {
		if k != "Date" && !slices.Equal(r.header.Values(k), want.header.Values(k)) {
			return fmt.Sprintf("header %s = %q, want %q", k, r.header.Values(k), want.header.Values(k))
		}
	}
	return ""
}

func mergedKeys(a, b http.Header) map[string]bool {
	keys := map[string]bool{}
	for k := range a {
		keys[k] = true
	}
	for k := range b {
		keys[k] = true
	}
	return keys
}

// page sends one request to the manager's page and checks the headers every answer carries.
func (op *operator) page(t *testing.T, method, path string, form url.Values) pageResponse {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, op.pageURL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer func() { _ = res.Body.Close() }()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{
		"Content-Security-Policy": "default-src 'none'; style-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
		"Referrer-Policy":         "no-referrer",
		"X-Frame-Options":         "DENY",
		"Cache-Control":           "no-store",
	} {
		if got := res.Header.Get(k); got != want {
			t.Errorf("%s %s: %s = %q, want %q", method, path, k, got, want)
		}
	}
	return pageResponse{status: res.StatusCode, header: res.Header, body: string(b)}
}

// pageForm is a form the page served for a link, with its CSRF field.
type pageForm struct {
	token, csrf, body string
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// openForm loads the form of a live link. The mail can arrive a moment before the manager's
// cache holds the Sent status written after it, so the first answers may still be 404.
func (op *operator) openForm(t *testing.T, token string) pageForm {
	t.Helper()
	var res pageResponse
	eventually(t, "the link to open", func() (bool, string) {
		res = op.page(t, http.MethodGet, web.LinkPath+token, nil)
		return res.status == http.StatusOK, fmt.Sprintf("%d %s", res.status, res.body)
	})
	match := csrfField.FindStringSubmatch(res.body)
	if match == nil {
		t.Fatalf("no CSRF field in the form:\n%s", res.body)
	}
	return pageForm{token: token, csrf: match[1], body: res.body}
}

// submit posts a password, typed twice, as the browser would.
func (f pageForm) submit(t *testing.T, op *operator, password string) pageResponse {
	t.Helper()
	return f.post(t, op, url.Values{"password": {password}, "confirmPassword": {password}})
}

func (f pageForm) post(t *testing.T, op *operator, form url.Values) pageResponse {
	t.Helper()
	form.Set("csrf", f.csrf)
	return op.page(t, http.MethodPost, web.LinkPath+f.token, form)
}

// browserSteps runs chromedp steps and fails the test on the first error.
type browserSteps struct {
	t   *testing.T
	ctx context.Context
}

func (b *browserSteps) do(step string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, actions...); err != nil {
		b.t.Fatalf("%s: %v", step, err)
	}
}

func (b *browserSteps) text(sel string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("read %s: %v", sel, err)
	}
	return strings.TrimSpace(s)
}

func (b *browserSteps) screenshot(dir, name string) {
	b.t.Helper()
	buf, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	browsertest.SaveScreenshot(b.t, dir, name, buf)
}
