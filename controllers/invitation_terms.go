package controllers

import (
	"context"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	staffv1alpha1 "github.com/rosterops/staff-operator/api/v1alpha1"
)

// Apply order does not matter for Invitations. A member without a committed Invitation gets one
// from the operator, which mails it at once. When the platform team's Invitation for that member
// reaches the cluster after it (Git applied in another order, or the member's manifest first),
// the person already holds the operator's link. Mailing the committed Invitation's own link
// would be a second mail that nobody asked for, and revoking the committed one would throw its
// terms away. So the two split the work:
//
//   - the operator's Invitation keeps the link and lives by the committed one's terms (spec.ttl
//     and spec.autoResend): the live link's deadline moves to sentAt + the committed ttl, and
//     expired links are resent as the committed autoResend says;
//   - the committed Invitation is delegated: it sends nothing, names the operator's in
//     status.delegatedTo, and mirrors its phase, deadline and Ready, so that `kubectl get inv`
//     and kstatus read the state of the person's link on the object that is in Git;
//   - a resend request on the committed Invitation (a new link is wanted anyway) ends the
//     delegation: it mails its own link, and the operator's is superseded by it.
//
// Only a committed Invitation that has not mailed a link of its own is delegated; the operator
// never creates one for a member that already has a live committed Invitation.

// invitationTerms are what an Invitation's links live by.
type invitationTerms struct {
	// TTL is the life of each link.
	TTL time.Duration
	// MaxResends bounds the automatic resends of expired links; 0 for none.
	MaxResends int32
	// From names the Invitation whose spec set them.
	From string
}

// operatorMade reports whether the operator created the Invitation for its member: a
// StaffMember controls it. Any other Invitation was committed by people (Git).
func operatorMade(inv *staffv1alpha1.Invitation) bool {
	owner := metav1.GetControllerOf(inv)
	return owner != nil && owner.Kind == "StaffMember"
}

// siblings lists the member's other Invitations of the same purpose, from the cache's index.
func (r *InvitationReconciler) siblings(ctx context.Context, inv *staffv1alpha1.Invitation) ([]staffv1alpha1.Invitation, error) {
	all, err := invitationsFor(ctx, r.Client, inv.Namespace, string(inv.Spec.MemberRef.Name))
	if err != nil {
		return nil, err
	}
	out := all[:0]
	for _, other := range all {
		if other.Name != inv.Name && other.Spec.Purpose == inv.Spec.Purpose {
			out = append(out, other)
		}
	}
	return out, nil
}

// terms are the operator-wide defaults for the operator's own Invitations, the spec for the
// committed ones, and the delegated committed Invitation's spec for the operator's Invitation
// that carries it out.
func (r *InvitationReconciler) terms(inv *staffv1alpha1.Invitation, siblings []staffv1alpha1.Invitation) invitationTerms {
	src := inv
	if d := delegator(inv, siblings); d != nil {
		src = d
	}
	t := invitationTerms{TTL: r.DefaultTTL, From: src.Name}
	if src.Spec.TTL != nil {
		t.TTL = src.Spec.TTL.Duration
	}
	switch {
	case src.Spec.AutoResend != nil:
		t.MaxResends = src.Spec.AutoResend.MaxResends
	case src == inv && operatorMade(inv) && inv.Spec.Purpose == staffv1alpha1.PurposeInvitation:
		t.MaxResends = r.AutoResendMax
	}
	return t
}

// delegator returns the committed Invitation whose terms the operator's Invitation inv carries
// out: the oldest live one that has no link of its own. Nil for any other Invitation.
func delegator(inv *staffv1alpha1.Invitation, siblings []staffv1alpha1.Invitation) *staffv1alpha1.Invitation {
	if !operatorMade(inv) || inv.Spec.Purpose != staffv1alpha1.PurposeInvitation {
		return nil
	}
	var oldest *staffv1alpha1.Invitation
	for i := range siblings {
		c := &siblings[i]
		if operatorMade(c) || terminal(c.Status.Phase) || c.Status.Attempt > 0 {
			continue
		}
		if oldest == nil || createdBefore(c, oldest) {
			oldest = c
		}
	}
	return oldest
}

// delegateOf returns the operator's Invitation that carries out the committed Invitation inv,
// or nil when inv acts on its own: it is the operator's, has mailed a link of its own, has a
// resend request to carry out, an older committed Invitation supersedes it, or the member has
// no operator's Invitation that is live or was accepted. A revoked one is not followed: inv then
// decides for itself (it is revoked for the same reason, or mails the member's new address).
func (r *InvitationReconciler) delegateOf(inv *staffv1alpha1.Invitation, m *staffv1alpha1.StaffMember, siblings []staffv1alpha1.Invitation) *staffv1alpha1.Invitation {
	if m == nil || operatorMade(inv) || inv.Spec.Purpose != staffv1alpha1.PurposeInvitation ||
		inv.Status.Attempt > 0 || r.resendRequested(inv) {
		return nil
	}
	var live, accepted *staffv1alpha1.Invitation
	for i := range siblings {
		o := &siblings[i]
		switch {
		case !operatorMade(o):
			if !terminal(o.Status.Phase) && createdBefore(o, inv) {
				return nil // an older committed Invitation supersedes inv
			}
		case !metav1.IsControlledBy(o, m):
			// Left by an earlier member of that name: it is being revoked.
		case o.Status.Phase == staffv1alpha1.InvitationAccepted:
			accepted = o
		case !terminal(o.Status.Phase):
			live = o
		}
	}
	if live != nil {
		return live
	}
	return accepted
}

// followDelegate mirrors the operator's Invitation d that carries out inv: its phase, the
// deadline of the person's link, and its Ready and Delivered conditions, naming it.
func followDelegate(inv, d *staffv1alpha1.Invitation) {
	st, ds := &inv.Status, &d.Status
	st.DelegatedTo = d.Name
	st.Phase = ds.Phase
	st.SentAt, st.ExpiresAt, st.AcceptedAt = ds.SentAt.DeepCopy(), ds.ExpiresAt.DeepCopy(), ds.AcceptedAt.DeepCopy()
	for _, typ := range []string{staffv1alpha1.ConditionReady, staffv1alpha1.ConditionDelivered} {
		c := meta.FindStatusCondition(ds.Conditions, typ)
		if c == nil {
			meta.RemoveStatusCondition(&st.Conditions, typ)
			continue
		}
		setInvitationCondition(inv, typ, c.Status, c.Reason, fmt.Sprintf(
			"Carried out by Invitation %s, which the operator created before this one was applied and whose link the person holds: %s", d.Name, c.Message))
	}
}

// endDelegation lets a committed Invitation whose delegate is gone or revoked act on its own,
// from a clean slate: it has mailed nothing itself.
func endDelegation(inv *staffv1alpha1.Invitation) {
	st := &inv.Status
	if st.DelegatedTo == "" {
		return
	}
	st.DelegatedTo, st.Phase = "", ""
	st.SentAt, st.ExpiresAt, st.AcceptedAt = nil, nil, nil
	meta.RemoveStatusCondition(&st.Conditions, staffv1alpha1.ConditionDelivered)
}

// followTerms keeps the deadline of the live link at sentAt + the terms' TTL, so that a link the
// person already holds lives by the terms that apply now: those of a committed Invitation that
// arrived after the operator's mailed it, or an edited spec.ttl. The token does not depend on
// the deadline; the invitation page reads it from the status.
func followTerms(inv *staffv1alpha1.Invitation, t invitationTerms) {
	st := &inv.Status
	if st.Phase != staffv1alpha1.InvitationSent || st.SentAt == nil || st.ExpiresAt == nil || st.ClaimedAt != nil {
		return
	}
	want := metav1.NewTime(st.SentAt.Add(t.TTL))
	if st.ExpiresAt.Equal(&want) {
		return
	}
	st.ExpiresAt = &want
	note := sentNote(st) + " (ttl " + t.TTL.String() + " from Invitation " + t.From + ")"
	setInvitationCondition(inv, staffv1alpha1.ConditionDelivered, metav1.ConditionTrue, staffv1alpha1.ReasonSent, note)
	setInvitationCondition(inv, staffv1alpha1.ConditionReady, metav1.ConditionTrue, staffv1alpha1.ReasonSent, note)
}

// sentNote says which attempt went where and when its link expires.
func sentNote(st *staffv1alpha1.InvitationStatus) string {
	return fmt.Sprintf("Attempt %d mailed to %s; the link expires at %s", st.Attempt, st.Email, st.ExpiresAt.UTC().Format(time.RFC3339))
}

// otherOrigin maps an Invitation to the member's Invitations of the other origin (operator's or
// committed) and the same purpose: a committed one mirrors the operator's, whose terms come
// from the committed one.
func (r *InvitationReconciler) otherOrigin(ctx context.Context, o client.Object) []reconcile.Request {
	inv, ok := o.(*staffv1alpha1.Invitation)
	if !ok || inv.Spec.Purpose == staffv1alpha1.PurposePasswordReset {
		return nil
	}
	sibs, err := r.siblings(ctx, inv)
	if err != nil {
		log.FromContext(ctx).Error(err, "map an invitation to the member's other invitations")
		return nil
	}
	var reqs []reconcile.Request
	for i := range sibs {
		if operatorMade(&sibs[i]) != operatorMade(inv) {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&sibs[i])})
		}
	}
	return reqs
}
