package controllers

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	goldap "github.com/go-ldap/ldap/v3"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	staffv1alpha1 "github.com/rosterops/staff-operator/api/v1alpha1"
	"github.com/rosterops/staff-operator/internal/directory"
	"github.com/rosterops/staff-operator/internal/directory/ldaptest"
	"github.com/rosterops/staff-operator/internal/staff"
	"github.com/rosterops/staff-operator/internal/web"
)

// These tests prove that no access passes from one person to another: each closes one way an
// account, a password or a link could outlive the person it was for.

// acceptInvitation sets a password through the member's invitation link, as the person does.
func (op *operator) acceptInvitation(name, password string) *staffv1alpha1.StaffMember {
	op.t.Helper()
	m := op.member(name)
	form := op.openForm(op.t, tokenIn(op.t, waitMails(op.t, m.Spec.Email, 1)[0]))
	if res := form.submit(op.t, op, password); res.status != http.StatusOK {
		op.t.Fatalf("accept the invitation of %s: %d %s", name, res.status, res.body)
	}
	return op.waitMember(name, "active", func(m *staffv1alpha1.StaffMember) bool { return m.Status.Phase == staffv1alpha1.StaffMemberActive })
}

func (op *operator) deleteMember(name string) {
	op.t.Helper()
	if err := k8s.Delete(context.Background(), &staffv1alpha1.StaffMember{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: op.ns}}); err != nil {
		op.t.Fatal(err)
	}
	eventually(op.t, name+" gone", func() (bool, string) {
		err := k8s.Get(context.Background(), client.ObjectKey{Namespace: op.ns, Name: name}, &staffv1alpha1.StaffMember{})
		return client.IgnoreNotFound(err) == nil && err != nil, "still there"
	})
}

// entriesWithUID lists the DNs of every entry of the test's practice whose uid starts with name.
func (op *operator) entriesWithUID(t *testing.T, server *ldaptest.Server, name string) []string {
	t.Helper()
	conn, err := server.Dial()
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	res, err := conn.Search(goldap.NewSearchRequest("ou="+op.ns+","+server.BaseDN, goldap.ScopeWholeSubtree, goldap.NeverDerefAliases, 0, 0, false,
		"(uid="+goldap.EscapeFilter(name)+"*)", []string{"dn"}, nil))
	if err != nil {
		t.Fatal(err)
	}
	var dns []string
	for _, e := range res.Entries {
		dns = append(dns, e.DN)
	}
	return dns
}

// TestReusedNameGetsANewAccount: a member accepts, is deleted, and a different person gets a
// StaffMember of the same name: the former password binds nowhere, the new person is invited.
func TestReusedNameGetsANewAccount(t *testing.T) {
	op := startOperator(t)
	op.create(newMember("ana", op.email("ana")))
	first := op.acceptInvitation("ana", goodPassword)
	if err := bind(first.Status.AccountID, goodPassword); err != nil {
		t.Fatalf("the first person cannot sign in: %v", err)
	}
	op.deleteMember("ana")

	op.create(newMember("ana", op.email("ana.newhire")))
	second := op.waitMember("ana", "invited", func(m *staffv1alpha1.StaffMember) bool {
		return isReady(m) && m.Status.Phase == staffv1alpha1.StaffMemberInvited
	})
	for _, dn := range op.entriesWithUID(t, slapd, "ana") {
		if err := bind(dn, goodPassword); err == nil {
			t.Errorf("the former employee's password signs in to %s", dn)
		}
	}
	if len(op.entriesWithUID(t, slapd, "ana")) != 2 {
		t.Errorf("want the new account and the retired one, got %v", op.entriesWithUID(t, slapd, "ana"))
	}
	waitEvent(t, op.ns, "ana", "AccountRetired")
	msgs := waitMails(t, op.email("ana.newhire"), 1)
	inv := op.waitInvitation(second.Status.Invitation, "sent", sent)
	if len(mailsTo(op.email("ana.newhire"))) != 1 || web.TokenHash(tokenIn(t, msgs[0])) != inv.Status.TokenHash {
		t.Errorf("want exactly one invitation mail to the new address with the live link, got %d", len(mailsTo(op.email("ana.newhire"))))
	}
	if got := len(mailsTo(op.email("ana"))); got != 1 {
		t.Errorf("the former address got %d mails, want only its own first invitation", got)
	}
	op.acceptInvitation("ana", otherPassword)
	if err := bind(second.Status.AccountID, otherPassword); err != nil {
		t.Errorf("the new person cannot sign in with the password they chose: %v", err)
	}
}

// TestEmailChangeTellsThePreviousAddress: the account keeps working, the old address hears of the
// change, and of a password reset requested right after it.
func TestEmailChangeTellsThePreviousAddress(t *testing.T) {
	op := startOperator(t)
	op.create(newMember("eli", op.email("eli")))
	m := op.acceptInvitation("eli", goodPassword)

	op.update(m, func() { m.Spec.Email = op.email("eli.new") })
	notice := waitMails(t, op.email("eli"), 2)[1]
	if id := notice.Header.Get("Message-Id"); !strings.HasPrefix(id, "<email-changed.") {
		t.Errorf("the second mail to the old address is %s, want the email-changed notice", id)
	}
	if !strings.Contains(notice.Text, op.email("eli.new")) || linkToken.MatchString(notice.Text) {
		t.Errorf("the notice must name the new address and carry no link:\n%s", notice.Text)
	}
	m = op.waitMember("eli", "email changed", func(m *staffv1alpha1.StaffMember) bool {
		return isReady(m) && m.Status.Phase == staffv1alpha1.StaffMemberActive &&
			m.Status.EmailChange != nil && m.Status.EmailChange.Notice == staffv1alpha1.EmailChangeNoticeSent
	})
	if err := bind(m.Status.AccountID, goodPassword); err != nil {
		t.Errorf("the password no longer signs in after the email change: %v", err)
	}

	op.clock.Step(time.Hour)
	op.annotate(m, staffv1alpha1.PasswordResetRequestedAtAnnotation, "2026-11-23T10:00:00Z")
	warning := waitMails(t, op.email("eli"), 3)[2]
	if id := warning.Header.Get("Message-Id"); !strings.HasPrefix(id, "<password-reset-notice.") {
		t.Errorf("the third mail to the old address is %s, want the password-reset notice", id)
	}
	if linkToken.MatchString(warning.Text) {
		t.Errorf("the notice to the old address carries a link:\n%s", warning.Text)
	}
	reset := waitMails(t, op.email("eli.new"), 1)[0]
	if !strings.HasPrefix(reset.Header.Get("Message-Id"), "<password-reset.") {
		t.Errorf("the new address got %s, want the reset link", reset.Header.Get("Message-Id"))
	}
}

// TestAdoptionStaysInsideThePractice: with adoption on, an unmanaged entry with the member's
// email in another practice's subtree is not touched, and the member says why.
func TestAdoptionStaysInsideThePractice(t *testing.T) {
	own := ldaptest.New(t, ldaptest.Options{})
	op := startOperator(t, func(o *operatorOptions) { o.ldap, o.adoptExisting = own, true })
	admin, err := own.Dial()
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	foreign := "uid=pat,ou=people,ou=other-practice," + own.BaseDN
	addPerson(t, admin, foreign, op.email("pat"), "the other practice's password")
	before := entryDump(t, admin, foreign)

	op.create(newMember("pat", op.email("pat")))
	m := op.waitMember("pat", "in conflict", func(m *staffv1alpha1.StaffMember) bool {
		return m.Status.Phase == staffv1alpha1.StaffMemberFailed &&
			hasCondition(m.Status.Conditions, staffv1alpha1.ConditionReady, metav1.ConditionFalse, staffv1alpha1.ReasonConflict)
	})
	msg := conditionMessage(m.Status.Conditions, staffv1alpha1.ConditionReady)
	if !strings.Contains(msg, "outside the practice") || !strings.Contains(msg, staffv1alpha1.AdoptFromAnywhereAnnotation) {
		t.Errorf("the condition does not say the entry is outside the practice and how to grant it: %s", msg)
	}
	if after := entryDump(t, admin, foreign); after != before {
		t.Errorf("the other practice's entry changed:\nbefore %s\nafter  %s", before, after)
	}
	if len(mailsTo(op.email("pat"))) != 0 {
		t.Error("a mail went to the other practice's person")
	}
}

// addPerson adds, as the directory's administrator, a person the operator does not manage at
// dn (uid=<name>,ou=...,<base>), with the ou= containers above it that are missing.
func addPerson(t *testing.T, admin *goldap.Conn, dn, email, password string) {
	t.Helper()
	parsed, err := goldap.ParseDN(dn)
	if err != nil {
		t.Fatal(err)
	}
	for i := len(parsed.RDNs) - 1; i >= 1; i-- {
		rdn := parsed.RDNs[i].Attributes[0]
		if rdn.Type != "ou" {
			continue
		}
		add := goldap.NewAddRequest((&goldap.DN{RDNs: parsed.RDNs[i:]}).String(), nil)
		add.Attribute("objectClass", []string{"organizationalUnit"})
		add.Attribute("ou", []string{rdn.Value})
		if err := admin.Add(add); err != nil && !goldap.IsErrorWithCode(err, goldap.LDAPResultEntryAlreadyExists) {
			t.Fatal(err)
		}
	}
	uid := parsed.RDNs[0].Attributes[0].Value
	add := goldap.NewAddRequest(dn, nil)
	add.Attribute("objectClass", []string{"inetOrgPerson"})
	add.Attribute("uid", []string{uid})
	add.Attribute("cn", []string{uid})
	add.Attribute("sn", []string{uid})
	add.Attribute("mail", []string{email})
	add.Attribute("userPassword", []string{password})
	if err := admin.Add(add); err != nil {
		t.Fatal(err)
	}
}

// entryDump renders every attribute of an entry, user and operational, in a fixed order.
func entryDump(t *testing.T, conn *goldap.Conn, dn string) string {
	t.Helper()
	res, err := conn.Search(goldap.NewSearchRequest(dn, goldap.ScopeBaseObject, goldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=*)", []string{"*", "+"}, nil))
	if err != nil || len(res.Entries) != 1 {
		t.Fatalf("read %s: %v", dn, err)
	}
	var lines []string
	for _, a := range res.Entries[0].Attributes {
		lines = append(lines, a.Name+"="+strings.Join(a.Values, "|"))
	}
	slices.Sort(lines)
	return strings.Join(lines, "; ")
}

// TestForgedStatusMakesNoLink: whoever can write an Invitation's status sets a hash of a token
// they made up, an address and a deadline: the page answers as for any dead link, and the
// password does not change.
func TestForgedStatusMakesNoLink(t *testing.T) {
	op := startOperator(t)
	op.create(newMember("fay", op.email("fay")))
	real := waitMails(t, op.email("fay"), 1)[0]
	inv := op.waitInvitation("fay", "sent", sent)

	forged := "forgedforgedforgedforgedforgedforgedforged"
	before := inv.DeepCopy()
	expires := metav1.NewTime(op.clock.Now().Add(time.Hour))
	inv.Status.TokenHash, inv.Status.ExpiresAt, inv.Status.Phase = web.TokenHash(forged), &expires, staffv1alpha1.InvitationSent
	if err := k8s.Status().Patch(context.Background(), inv, client.MergeFrom(before)); err != nil {
		t.Fatal(err)
	}
	op.waitInvitation("fay", "forged", func(i *staffv1alpha1.Invitation) bool { return i.Status.TokenHash == web.TokenHash(forged) })

	reference := op.page(t, http.MethodGet, web.LinkPath+"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", nil)
	if diff := op.page(t, http.MethodGet, web.LinkPath+forged, nil).differsFrom(reference); diff != "" {
		t.Errorf("GET of the forged link: %s", diff)
	}
	// The page serves no form for the forged link; a POST with the CSRF value it would carry
	// must reach the Store and fail there too.
	form := pageForm{token: forged, csrf: csrfFor(web.TokenHash(forged))}
	if diff := form.submit(t, op, goodPassword).differsFrom(reference); diff != "" {
		t.Errorf("POST to the forged link: %s", diff)
	}
	facts, err := op.directory.SignInFacts(context.Background(), staff.AccountKey(op.member("fay")))
	if err != nil {
		t.Fatal(err)
	}
	if facts.PasswordSet {
		t.Error("a forged link set a password")
	}
	// The mailed link is no longer the live one either: status decides which link is live.
	if diff := op.page(t, http.MethodGet, web.LinkPath+tokenIn(t, real), nil).differsFrom(reference); diff != "" {
		t.Errorf("GET of the real link after the forgery: %s", diff)
	}
}

// csrfFor computes the CSRF value the page puts in the form of a link (web's csrfTokens, with
// the test manager's key), so that a test can post to a link the page never served a form for.
func csrfFor(tokenHash string) string {
	m := hmac.New(sha256.New, web.CSRFKeyFrom(testTokenKey))
	m.Write([]byte("staff-operator/web/csrf/v1\x00" + tokenHash))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// TestSquattedInvitationNameIsReported: someone created an Invitation under the name the
// operator would give the member's, for another member: the member says so, nothing is mailed
// on its account, and once the name is free the member is invited.
func TestSquattedInvitationNameIsReported(t *testing.T) {
	op := startOperator(t)
	op.create(&staffv1alpha1.Invitation{
		ObjectMeta: metav1.ObjectMeta{Name: "sky"},
		Spec:       staffv1alpha1.InvitationSpec{MemberRef: staffv1alpha1.LocalObjectReference{Name: "nobody"}},
	})
	op.create(newMember("sky", op.email("sky")))
	m := op.waitMember("sky", "reporting the taken name", func(m *staffv1alpha1.StaffMember) bool {
		return hasCondition(m.Status.Conditions, staffv1alpha1.ConditionReady, metav1.ConditionFalse, staffv1alpha1.ReasonInvitationNameTaken)
	})
	waitEvent(t, op.ns, "sky", staffv1alpha1.ReasonInvitationNameTaken)
	if m.Status.Invitation != "" {
		t.Errorf("the member names %q as its invitation", m.Status.Invitation)
	}
	if n := len(mailsTo(op.email("sky"))); n != 0 {
		t.Errorf("%d mails to the member", n)
	}
	if p := op.invitation("sky").Status.Phase; p == staffv1alpha1.InvitationSent {
		t.Error("the squatting invitation was mailed")
	}

	if err := k8s.Delete(context.Background(), op.invitation("sky")); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the squatter gone", func() (bool, string) {
		err := k8s.Get(context.Background(), client.ObjectKey{Namespace: op.ns, Name: "sky"}, &staffv1alpha1.Invitation{})
		return client.IgnoreNotFound(err) == nil && err != nil, "still there"
	})
	op.annotate(m, "example.test/poke", "1")
	waitMails(t, op.email("sky"), 1)
	op.waitMember("sky", "invited", func(m *staffv1alpha1.StaffMember) bool { return isReady(m) && m.Status.Invitation == "sky" })
}

// TestDeactivationLeavesEveryGroup: a deactivated member is in no role or location group, so
// applications that authorize by group grant nothing; reactivation puts them back.
func TestDeactivationLeavesEveryGroup(t *testing.T) {
	op := startOperator(t)
	op.create(newRole("nurse"))
	op.create(&staffv1alpha1.Location{ObjectMeta: metav1.ObjectMeta{Name: "north"},
		Spec: staffv1alpha1.LocationSpec{DisplayName: "North", TimeZone: "America/Chicago"}})
	m := newMember("gus", op.email("gus"), "nurse")
	m.Spec.PrimaryLocation, m.Spec.Locations = "north", []staffv1alpha1.ObjectName{"north"}
	op.create(m)
	inGroups := func(want []string) func() (bool, string) {
		return func() (bool, string) {
			role, loc := op.groupMembersOf(directory.GroupRole, "nurse"), op.groupMembersOf(directory.GroupLocation, "north")
			return slices.Equal(role, want) && slices.Equal(loc, want), "role " + join(role) + " location " + join(loc)
		}
	}
	eventually(t, "gus in both groups", inGroups([]string{"gus"}))

	op.deactivate("gus")
	op.waitMember("gus", "deactivated", func(m *staffv1alpha1.StaffMember) bool { return m.Status.Phase == staffv1alpha1.StaffMemberDeactivated })
	eventually(t, "gus in no group", inGroups(nil))

	op.update(m, func() { m.Spec.AccountState = staffv1alpha1.AccountStateActive })
	eventually(t, "gus back in both groups", inGroups([]string{"gus"}))
}

// TestLockSetByHandSurvivesResync: an administrator locks a compromised account in the
// directory; the operator reports it and leaves it, pass after pass, until the unlock request.
func TestLockSetByHandSurvivesResync(t *testing.T) {
	op := startOperator(t)
	op.create(newMember("hal", op.email("hal")))
	m := op.acceptInvitation("hal", goodPassword)

	admin, err := slapd.Dial()
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	lock := goldap.NewModifyRequest(m.Status.AccountID, nil)
	lock.Replace("pwdAccountLockedTime", []string{"000001010000Z"})
	if err := admin.Modify(lock); err != nil {
		t.Fatal(err)
	}
	for pass := range 2 {
		if err := op.resync.RunOnce(context.Background()); err != nil {
			t.Fatal(err)
		}
		op.annotate(m, "example.test/poke", time.Duration(pass).String())
		op.waitMember("hal", "locked in the directory", func(m *staffv1alpha1.StaffMember) bool {
			return m.Status.Phase == staffv1alpha1.StaffMemberLockedOut &&
				hasCondition(m.Status.Conditions, staffv1alpha1.ConditionReady, metav1.ConditionFalse, staffv1alpha1.ReasonLockedInDirectory)
		})
		if err := bind(m.Status.AccountID, goodPassword); err == nil {
			t.Fatalf("pass %d: the operator lifted a lock it did not set", pass+1)
		}
	}

	op.annotate(m, staffv1alpha1.UnlockRequestedAtAnnotation, "2026-11-23T12:00:00Z")
	op.waitMember("hal", "active again", func(m *staffv1alpha1.StaffMember) bool {
		return isReady(m) && m.Status.Phase == staffv1alpha1.StaffMemberActive
	})
	if err := bind(m.Status.AccountID, goodPassword); err != nil {
		t.Errorf("bind after the unlock request: %v", err)
	}
}

// TestPasswordFromResetKillsTheInvitationLink: the invitation link is still out when the
// account gets a password through a reset link; the invitation link is dead from then on.
func TestPasswordFromResetKillsTheInvitationLink(t *testing.T) {
	op := startOperator(t)
	op.create(newMember("ivy", op.email("ivy")))
	m := op.waitMember("ivy", "invited", func(m *staffv1alpha1.StaffMember) bool { return m.Status.Phase == staffv1alpha1.StaffMemberInvited })
	invitation := op.openForm(t, tokenIn(t, waitMails(t, op.email("ivy"), 1)[0]))

	op.annotate(m, staffv1alpha1.PasswordResetRequestedAtAnnotation, "2026-11-23T09:30:00Z")
	reset := op.openForm(t, tokenIn(t, waitMails(t, op.email("ivy"), 2)[1]))
	if res := reset.submit(t, op, goodPassword); res.status != http.StatusOK {
		t.Fatalf("reset: %d %s", res.status, res.body)
	}

	reference := op.page(t, http.MethodGet, web.LinkPath+"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", nil)
	if diff := op.page(t, http.MethodGet, web.LinkPath+invitation.token, nil).differsFrom(reference); diff != "" {
		t.Errorf("GET of the invitation link after the reset: %s", diff)
	}
	if diff := invitation.post(t, op, url.Values{"password": {otherPassword}, "confirmPassword": {otherPassword}}).differsFrom(reference); diff != "" {
		t.Errorf("POST to the invitation link after the reset: %s", diff)
	}
	op.waitInvitation("ivy", "revoked", func(i *staffv1alpha1.Invitation) bool { return i.Status.Phase == staffv1alpha1.InvitationRevoked })
	if err := bind(m.Status.AccountID, goodPassword); err != nil {
		t.Errorf("the password from the reset does not sign in: %v", err)
	}
}

// TestAdoptedPasswordIsNotTrusted: an unmanaged entry in the practice's own subtree is adopted,
// but the password it had is not the member's to keep: the member is invited and becomes
// Active only once the person chose a password through the link.
func TestAdoptedPasswordIsNotTrusted(t *testing.T) {
	op := startOperator(t, func(o *operatorOptions) { o.adoptExisting = true })
	admin, err := slapd.Dial()
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	existing := "uid=kim.legacy,ou=people,ou=" + op.ns + "," + slapd.BaseDN
	addPerson(t, admin, existing, op.email("kim"), "a password someone else set")

	op.create(newMember("kim", op.email("kim")))
	m := op.waitMember("kim", "adopted and invited", func(m *staffv1alpha1.StaffMember) bool {
		return isReady(m) && m.Status.Phase == staffv1alpha1.StaffMemberInvited && m.Status.AccountID == existing
	})
	waitEvent(t, op.ns, "kim", "AccountAdopted")
	if m.Status.PasswordSetAt != nil {
		t.Errorf("the adopted password is reported as set at %s", m.Status.PasswordSetAt)
	}
	op.acceptInvitation("kim", goodPassword)
	if err := bind(existing, goodPassword); err != nil {
		t.Errorf("the password chosen through the link does not sign in: %v", err)
	}
	if err := bind(existing, "a password someone else set"); err == nil {
		t.Error("the adopted password still signs in after the person chose one")
	}
}
