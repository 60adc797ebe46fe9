package controllers

import (
	"context"
	"errors"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/recorder"

	staffv1alpha1 "github.com/rosterops/staff-operator/api/v1alpha1"
	"github.com/rosterops/staff-operator/internal/linktoken"
	"github.com/rosterops/staff-operator/internal/metrics"
	"github.com/rosterops/staff-operator/internal/staff"
	"github.com/rosterops/staff-operator/internal/web/invitationstore"
)

// InvitationReconciler issues an Invitation's links and mails them: it records each attempt
// before talking to SMTP, sends it, moves the Invitation to Expired at the deadline, resends on
// request or by policy, and revokes it when the member can no longer accept it.
type InvitationReconciler struct {
	client.Client
	// APIReader reads past the cache: a send must know for sure whether its attempt was
	// already accepted by the mail server.
	APIReader client.Reader
	Mail      Mailer
	Tokens    linktoken.Issuer
	Clock     clock.PassiveClock
	// DefaultTTL is the lifetime of a link when the Invitation does not set one.
	DefaultTTL time.Duration
	// PublicURL is where invitees reach the invitation page; links start with it.
	PublicURL string
	// EmailChangeNoticeWindow: a password reset mailed within this time after an email change
	// is announced to the previous address too.
	EmailChangeNoticeWindow time.Duration
	// Workers is how many passes run at once; 1 when 0.
	Workers int
	// ReminderBefore: a link that lives longer than 48h is reminded of this long before it
	// expires, once; 0 sends no reminders.
	ReminderBefore time.Duration
	// AutoResendMax is the autoResend.maxResends of the operator's own Invitations.
	AutoResendMax int32

	recorder recorder.EventRecorder
}

// +kubebuilder:rbac:groups=staff.rosterops.io,resources=invitations,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=staff.rosterops.io,resources=invitations/status,verbs=get;update;patch
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch

// Reconcile moves an Invitation one step along its lifecycle and records it in one status write.
// A pass that took on an expiry reminder mails it after that write.
func (r *InvitationReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var inv staffv1alpha1.Invitation
	if err := r.Get(ctx, req.NamespacedName, &inv); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	before := inv.DeepCopy()
	res, err := r.step(ctx, &inv)
	if werr := r.record(ctx, before, &inv, err); werr != nil {
		return res, errors.Join(err, werr)
	}
	if err == nil && tookReminder(before, &inv) {
		return res, r.remind(ctx, &inv, before.Status.RemindedAttempt)
	}
	return res, err
}

// step takes the pass's step. Accepted and Revoked Invitations take none: the pass only records
// that it saw their spec.
func (r *InvitationReconciler) step(ctx context.Context, inv *staffv1alpha1.Invitation) (ctrl.Result, error) {
	if terminal(inv.Status.Phase) {
		return ctrl.Result{}, nil
	}
	return r.reconcile(ctx, inv)
}

// record writes the pass's status once, when it changed: observedGeneration on a verdict (also
// a terminal failure, so that kubectl wait sees Failed), the kstatus conditions, and the step.
func (r *InvitationReconciler) record(ctx context.Context, before, inv *staffv1alpha1.Invitation, err error) error {
	if verdict(err) {
		inv.Status.ObservedGeneration = inv.Generation
	}
	setProgressConditions(inv)
	if inv.Status.DelegatedTo == "" { // a delegated Invitation's phases are its delegate's, counted there
		metrics.CountFinished(before.Status.Phase, inv.Status.Phase)
	}
	changed := !equality.Semantic.DeepEqual(before.Status, inv.Status)
	return patchStatus(ctx, r.Client, inv, before, changed, statusPatchLock(before, inv)...)
}

// statusPatchLock says how a pass writes its status. A pass that mailed records it whatever
// else changed meanwhile: a conflict would lose the record and mail again. Any other pass
// writes only over the version it read, so that it never expires, resends or revokes over a
// claim of the invitation page that it has not seen.
func statusPatchLock(before, after *staffv1alpha1.Invitation) []client.MergeFromOption {
	if after.Status.SentAttempt != before.Status.SentAttempt {
		return nil
	}
	return []client.MergeFromOption{client.MergeFromWithOptimisticLock{}}
}

// reconcile decides the one step this pass takes.
func (r *InvitationReconciler) reconcile(ctx context.Context, inv *staffv1alpha1.Invitation) (ctrl.Result, error) {
	member, err := r.member(ctx, inv)
	if err != nil {
		return ctrl.Result{}, err
	}
	siblings, err := r.siblings(ctx, inv)
	if err != nil {
		return ctrl.Result{}, err
	}
	if d := r.delegateOf(inv, member, siblings); d != nil {
		followDelegate(inv, d)
		return ctrl.Result{}, nil
	}
	endDelegation(inv)
	if why := r.revocationReason(inv, member, siblings); why != "" {
		r.revoke(inv, why)
		return ctrl.Result{}, nil
	}
	if member == nil {
		setInvitationCondition(inv, staffv1alpha1.ConditionReady, metav1.ConditionFalse, staffv1alpha1.ReasonMemberNotFound,
			"Waiting for StaffMember "+string(inv.Spec.MemberRef.Name)+" to exist")
		return ctrl.Result{}, nil
	}

	now := r.Clock.Now()
	terms := r.terms(inv, siblings)
	followTerms(inv, terms)
	switch {
	case inv.Status.ClaimedAt != nil:
		return r.waitForClaim(inv, now)
	case r.resendRequested(inv):
		inv.Status.LastHandledResendAt = inv.Annotations[staffv1alpha1.ResendRequestedAtAnnotation]
		return r.startAttempt(inv, member, "Resend requested")
	case inv.Status.Attempt == 0:
		// The first attempt needs no status write of its own before the mail: an Invitation
		// without an attempt is one whose first mail is under way, and a pass after a restart
		// sends that same mail again (token and Message-ID derive from the UID and attempt 1).
		// The one status write after the mail records both. That is one API write per member.
		r.newAttempt(inv, member, "First invitation")
		return r.send(ctx, inv, member, terms.TTL)
	case inv.Status.Attempt > inv.Status.SentAttempt && inv.Status.Phase != staffv1alpha1.InvitationFailed:
		return r.send(ctx, inv, member, terms.TTL)
	case inv.Status.Phase == staffv1alpha1.InvitationSent && !now.Before(inv.Status.ExpiresAt.Time):
		return r.expire(inv, member, terms)
	case r.reminderDue(inv, now):
		takeReminder(inv)
		return ctrl.Result{}, nil
	case inv.Status.Phase == staffv1alpha1.InvitationSent:
		// Wake up for the reminder or at the deadline; no polling in between.
		return ctrl.Result{RequeueAfter: r.nextWake(inv, now)}, nil
	}
	return ctrl.Result{}, nil
}

// member returns the invited StaffMember, or nil when it does not exist.
func (r *InvitationReconciler) member(ctx context.Context, inv *staffv1alpha1.Invitation) (*staffv1alpha1.StaffMember, error) {
	var m staffv1alpha1.StaffMember
	err := r.Get(ctx, client.ObjectKey{Namespace: inv.Namespace, Name: string(inv.Spec.MemberRef.Name)}, &m)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	return &m, err
}

func (r *InvitationReconciler) resendRequested(inv *staffv1alpha1.Invitation) bool {
	v := inv.Annotations[staffv1alpha1.ResendRequestedAtAnnotation]
	return v != "" && v != inv.Status.LastHandledResendAt
}

// waitForClaim holds expiry and resends while the invitation page sets a password through the
// link, and releases a claim that outlived invitationstore.ClaimTimeout: the replica that made it stopped
// mid-way, and the invitee must be able to try again with the same link.
func (r *InvitationReconciler) waitForClaim(inv *staffv1alpha1.Invitation, now time.Time) (ctrl.Result, error) {
	deadline := inv.Status.ClaimedAt.Add(invitationstore.ClaimTimeout)
	if now.Before(deadline) {
		return ctrl.Result{RequeueAfter: deadline.Sub(now)}, nil
	}
	claimed := inv.Status.ClaimedAt.UTC().Format(time.RFC3339)
	inv.Status.ClaimedAt = nil
	r.recorder.Eventf(inv, nil, corev1.EventTypeWarning, staffv1alpha1.ReasonClaimReleased, "ReleaseClaim",
		"The invitation page began setting a password at %s and did not finish; the link works again", claimed)
	// The status write triggers the next pass, which expires or resends as usual.
	return ctrl.Result{}, nil
}

// expire ends a link at its deadline, or replaces it while the terms' autoResend allows.
func (r *InvitationReconciler) expire(inv *staffv1alpha1.Invitation, member *staffv1alpha1.StaffMember, t invitationTerms) (ctrl.Result, error) {
	if inv.Status.AutoResends < t.MaxResends {
		inv.Status.AutoResends++
		return r.startAttempt(inv, member, "Link expired unused; automatic resend")
	}
	inv.Status.Phase = staffv1alpha1.InvitationExpired
	inv.Status.TokenHash, inv.Status.ClaimedAt = "", nil
	// Ready=True: the Invitation is at rest, with nothing left for the operator to do until a
	// person asks for a resend; kstatus reads that as Current, and Ready=False would read as
	// InProgress forever. That nobody can sign in is the StaffMember's Ready=False.
	setInvitationCondition(inv, staffv1alpha1.ConditionReady, metav1.ConditionTrue, staffv1alpha1.ReasonExpired,
		"The link expired unused; annotate "+staffv1alpha1.ResendRequestedAtAnnotation+"=<now> to send a new one")
	r.recorder.Eventf(inv, nil, corev1.EventTypeNormal, staffv1alpha1.ReasonExpired, "Expire", "Invitation link expired unused")
	return ctrl.Result{}, nil
}

// revoke ends the Invitation for good: its link stops working at once.
func (r *InvitationReconciler) revoke(inv *staffv1alpha1.Invitation, why string) {
	inv.Status.Phase = staffv1alpha1.InvitationRevoked
	inv.Status.TokenHash, inv.Status.ClaimedAt = "", nil
	// Ready=True, as for Expired: at rest, and Current for kstatus.
	setInvitationCondition(inv, staffv1alpha1.ConditionReady, metav1.ConditionTrue, staffv1alpha1.ReasonRevoked, why)
	r.recorder.Eventf(inv, nil, corev1.EventTypeNormal, staffv1alpha1.ReasonRevoked, "Revoke", "Invitation revoked: %s", why)
}

// revocationReason says why the Invitation can no longer be accepted, or "" when it can.
func (r *InvitationReconciler) revocationReason(inv *staffv1alpha1.Invitation, m *staffv1alpha1.StaffMember, siblings []staffv1alpha1.Invitation) string {
	switch {
	case m == nil && inv.Status.Attempt > 0:
		return "the StaffMember was deleted"
	case m == nil:
		return ""
	case !m.DeletionTimestamp.IsZero():
		return "the StaffMember is being deleted"
	case staff.Deactivated(m):
		return "the StaffMember was deactivated"
	case staff.CreatedForAnother(inv, m):
		return "it was created for an earlier StaffMember named " + m.Name + ", which was deleted"
	case inv.Status.Email != "" && inv.Status.Email != m.Spec.Email:
		return "the StaffMember's email changed; the new address gets its own invitation"
	case inv.Spec.Purpose == staffv1alpha1.PurposeInvitation && m.Status.PasswordSetAt != nil && inv.Status.ClaimedAt == nil:
		// A claim is the page setting the password through this very link: it ends Accepted.
		return "the account got a password another way (a password reset or an administrator); the invitation is not needed"
	}
	return supersededBy(inv, siblings)
}

// supersededBy keeps one live Invitation per member and purpose: the oldest invitation (the one
// already out) and the newest password reset (the latest request). Between the operator's
// invitation and a committed one, apply order does not decide (invitation_terms.go): the
// operator's keeps its link, under the committed one's terms, until the committed one mails a
// link of its own on a resend request, which supersedes it.
func supersededBy(inv *staffv1alpha1.Invitation, siblings []staffv1alpha1.Invitation) string {
	for i := range siblings {
		other := &siblings[i]
		if terminal(other.Status.Phase) {
			continue
		}
		if inv.Spec.Purpose == staffv1alpha1.PurposeInvitation && operatorMade(inv) != operatorMade(other) {
			if operatorMade(inv) && other.Status.Attempt > 0 {
				return "superseded by Invitation " + other.Name + ", committed for this member, which mailed a link of its own"
			}
			continue
		}
		otherFirst := createdBefore(other, inv)
		if inv.Spec.Purpose == staffv1alpha1.PurposePasswordReset {
			otherFirst = !otherFirst
		}
		if otherFirst {
			return "superseded by Invitation " + other.Name + ": a member has one live link of each purpose"
		}
	}
	return ""
}

func createdBefore(a, b *staffv1alpha1.Invitation) bool {
	if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
		return a.CreationTimestamp.Before(&b.CreationTimestamp)
	}
	return a.Name < b.Name
}

func terminal(p staffv1alpha1.InvitationPhase) bool {
	return p == staffv1alpha1.InvitationAccepted || p == staffv1alpha1.InvitationRevoked
}

func setInvitationCondition(inv *staffv1alpha1.Invitation, typ string, status metav1.ConditionStatus, reason, msg string) {
	setCondition(&inv.Status.Conditions, typ, status, inv.Generation, reason, msg)
}

// SetupWithManager registers the reconciler. An Invitation is reconciled when it changes, when
// its member changes (deactivation, deletion and a new email revoke it), and when the member's
// Invitation of the other origin (operator's or committed) changes.
func (r *InvitationReconciler) SetupWithManager(mgr ctrl.Manager) error {
	r.recorder = mgr.GetEventRecorder("invitation-controller")
	return ctrl.NewControllerManagedBy(mgr).
		For(&staffv1alpha1.Invitation{}).
		Watches(&staffv1alpha1.StaffMember{}, handler.EnqueueRequestsFromMapFunc(r.invitationsOf), builder.WithPredicates(memberEndsInvitations)).
		// A committed Invitation mirrors the operator's, whose terms come from it.
		Watches(&staffv1alpha1.Invitation{}, handler.EnqueueRequestsFromMapFunc(r.otherOrigin)).
		Named("invitation").
		WithOptions(controller.Options{MaxConcurrentReconciles: r.Workers}).
		Complete(quietConflicts(r))
}

// invitationsOf maps a StaffMember to its Invitations.
func (r *InvitationReconciler) invitationsOf(ctx context.Context, o client.Object) []reconcile.Request {
	invs, err := invitationsFor(ctx, r.Client, o.GetNamespace(), o.GetName())
	if err != nil {
		log.FromContext(ctx).Error(err, "map a member to its invitations")
		return nil
	}
	reqs := make([]reconcile.Request, 0, len(invs))
	for i := range invs {
		if !terminal(invs[i].Status.Phase) {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&invs[i])})
		}
	}
	return reqs
}
