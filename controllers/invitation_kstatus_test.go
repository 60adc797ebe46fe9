package controllers

import (
	"context"

	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/rand"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"

	staffv1alpha1 "github.com/rosterops/staff-operator/api/v1alpha1"
	"github.com/rosterops/staff-operator/internal/mail/smtp"
	"github.com/rosterops/staff-operator/internal/mail/smtptest"
)

// invitationKstatus computes kstatus for an Invitation as Flux and kubectl-based pipelines do:
// on its unstructured form, as read from the API server.
func invitationKstatus(t *testing.T, inv *staffv1alpha1.Invitation) *status.Result {
	t.Helper()
	obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(inv)
	if err != nil {
		t.Fatal(err)
	}
	u := &unstructured.Unstructured{Object: obj}
	u.SetAPIVersion(staffv1alpha1.GroupVersion.String())
	u.SetKind("Invitation")
	res, err := status.Compute(u)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// TestInvitationKstatusPerPhase drives an Invitation into each phase against the real parts and
// computes kstatus on it, as issue 13's table asks.
func TestInvitationKstatusPerPhase(t *testing.T) {
	// A mail server of its own, which refuses one address for good and answers another 4xx:
	// the suite's fixed addresses belong to accounts of other tests' practices.
	ns := "org-" + rand.String(6)
	busy, rejected := "busy@"+ns+".example.test", "rejected@"+ns+".example.test"
	srv := smtptest.New(t, smtptest.WithRejectedRecipients(rejected), smtptest.WithTempFailedRecipients(busy))
	sender, err := smtp.New(smtp.Config{Host: srv.Host(), Port: srv.Port(), ConnectTimeout: 5 * time.Second, SendTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	op := startOperator(t, func(o *operatorOptions) { o.namespace, o.sender = ns, sender })
	check := func(name string, inv *staffv1alpha1.Invitation, want status.Status, msgHas string) {
		t.Helper()
		res := invitationKstatus(t, inv)
		t.Logf("kstatus %-22s phase=%-8s -> %s %q", name, inv.Status.Phase, res.Status, res.Message)
		if res.Status != want || !strings.Contains(res.Message, msgHas) {
			t.Errorf("%s (phase %s): kstatus %s %q, want %s with %q; conditions %v", name, inv.Status.Phase, res.Status, res.Message, want, msgHas, inv.Status.Conditions)
		}
	}
	editSpec := func(name string) *staffv1alpha1.Invitation {
		inv := &staffv1alpha1.Invitation{}
		inv.Name = name
		op.update(inv, func() { inv.Spec.TTL = &metav1.Duration{Duration: 3 * time.Hour} })
		return op.waitInvitation(name, "observed the edit", func(i *staffv1alpha1.Invitation) bool {
			return i.Status.ObservedGeneration == i.Generation
		})
	}

	// Pending: the mail server answers 4xx, the operator retries by itself.
	op.create(newMember("busy", busy))
	pending := op.waitInvitation("busy", "retrying", func(i *staffv1alpha1.Invitation) bool {
		return i.Status.Phase == staffv1alpha1.InvitationPending && hasCondition(i.Status.Conditions, staffv1alpha1.ConditionReconciling, metav1.ConditionTrue, staffv1alpha1.ReasonMailUnavailable)
	})
	check("Pending (4xx, retried)", pending, status.InProgressStatus, "")

	// Failed: the mail server refused it for good.
	op.create(newMember("rej", rejected))
	failed := op.waitInvitation("rej", "failed", phase(staffv1alpha1.InvitationFailed))
	check("Failed (5xx)", failed, status.FailedStatus, "550")
	if !hasCondition(failed.Status.Conditions, staffv1alpha1.ConditionStalled, metav1.ConditionTrue, staffv1alpha1.ReasonMailRejected) {
		t.Errorf("a failed Invitation has no Stalled=True MailRejected: %v", failed.Status.Conditions)
	}
	check("Failed, spec edited", editSpec("rej"), status.FailedStatus, "550")

	// Sent: the link is out; the person has yet to act.
	op.create(newMember("acc", op.email("acc")))
	check("Sent", op.waitInvitation("acc", "sent", sent), status.CurrentStatus, "")
	op.create(newMember("rev", op.email("rev")))
	op.create(newMember("exp", op.email("exp")))
	op.waitInvitation("rev", "sent", sent)
	op.waitInvitation("exp", "sent", sent)

	// Accepted, then its spec edited: still Current, with the edit observed.
	msgs, err := srv.WaitForMessages(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	var token string
	for _, m := range msgs {
		if strings.EqualFold(m.EnvelopeTo[0], op.email("acc")) {
			token = tokenIn(t, m)
		}
	}
	if token == "" {
		t.Fatal("no invitation mail to acc")
	}
	if res := op.openForm(t, token).submit(t, op, goodPassword); res.status != 200 {
		t.Fatalf("accept: %d %s", res.status, res.body)
	}
	check("Accepted", op.waitInvitation("acc", "accepted", phase(staffv1alpha1.InvitationAccepted)), status.CurrentStatus, "")
	check("Accepted, spec edited", editSpec("acc"), status.CurrentStatus, "")

	// Revoked by deactivating the member, then edited.
	op.deactivate("rev")
	check("Revoked", op.waitInvitation("rev", "revoked", phase(staffv1alpha1.InvitationRevoked)), status.CurrentStatus, "")
	check("Revoked, spec edited", editSpec("rev"), status.CurrentStatus, "")

	// Expired at its deadline.
	op.clock.Step(time.Hour)
	op.poke("exp", 1)
	check("Expired", op.waitInvitation("exp", "expired", phase(staffv1alpha1.InvitationExpired)), status.CurrentStatus, "")
	check("Expired, spec edited", editSpec("exp"), status.CurrentStatus, "")

	// An Invitation whose member does not exist yet waits: InProgress, not Current.
	op.create(committedInvitation("later-invite", "later", time.Hour))
	waiting := op.waitInvitation("later-invite", "waiting", func(i *staffv1alpha1.Invitation) bool {
		return hasCondition(i.Status.Conditions, staffv1alpha1.ConditionReconciling, metav1.ConditionTrue, staffv1alpha1.ReasonMemberNotFound)
	})
	check("waiting for its member", waiting, status.InProgressStatus, "Waiting for StaffMember later")
}

// A new Invitation that no pass has seen yet is not taken for a reconciled one.
func TestInvitationKstatusBeforeTheFirstPass(t *testing.T) {
	inv := committedInvitation("new", "someone", time.Hour)
	inv.Generation = 1
	inv.Status.ObservedGeneration = 0
	obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(inv)
	if err != nil {
		t.Fatal(err)
	}
	if _, found, _ := unstructured.NestedInt64(obj, "status", "observedGeneration"); !found {
		t.Fatal("status.observedGeneration 0 is left out of the object: kstatus cannot tell a never-reconciled Invitation")
	}
	if res := invitationKstatus(t, inv); res.Status != status.InProgressStatus {
		t.Errorf("kstatus before the first pass = %s, want InProgress", res.Status)
	}
}

// An Invitation stored by the API server, with no operator running, reads as not reconciled.
func TestInvitationKstatusNeverReconciled(t *testing.T) {
	ns := "no-operator-" + strings.ToLower(time.Now().Format("150405"))
	ensureNamespace(t, ns)
	inv := committedInvitation("orphan", "nobody", time.Hour)
	inv.Namespace = ns
	if err := k8s.Create(context.Background(), inv); err != nil {
		t.Fatal(err)
	}
	got := &staffv1alpha1.Invitation{}
	if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(inv), got); err != nil {
		t.Fatal(err)
	}
	if res := invitationKstatus(t, got); res.Status != status.InProgressStatus {
		t.Errorf("kstatus of an Invitation no pass has seen = %s (%s), want InProgress", res.Status, res.Message)
	}
}
