package invitationstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	staffv1alpha1 "github.com/rosterops/staff-operator/api/v1alpha1"
	"github.com/rosterops/staff-operator/internal/metrics"
	"github.com/rosterops/staff-operator/internal/web"
)

// claim marks the link as being redeemed with a status patch that carries the
// resourceVersion it was read at: of concurrent claims, on any replica, the API server lets one
// through and answers the others with a conflict. A loser reads the Invitation again from the
// API server; the winner's claim makes it dead there.
func (s *Store) claim(ctx context.Context, tokenHash string) (*staffv1alpha1.Invitation, *staffv1alpha1.StaffMember, error) {
	inv, err := s.find(ctx, tokenHash)
	if err != nil {
		return nil, nil, err
	}
	for range 3 {
		m, err := s.liveMember(ctx, s.APIReader, inv, tokenHash)
		if err != nil {
			return nil, nil, err
		}
		claimed := inv.DeepCopy()
		now := metav1.NewTime(s.Clock.Now())
		err = s.patchStatus(ctx, claimed, func(st *staffv1alpha1.InvitationStatus) { st.ClaimedAt = &now })
		switch {
		case err == nil:
			return claimed, m, nil
		case apierrors.IsNotFound(err):
			return nil, nil, web.ErrInvalidLink
		case !apierrors.IsConflict(err):
			return nil, nil, fmt.Errorf("claim invitation %s/%s: %w", inv.Namespace, inv.Name, err)
		}
		inv = &staffv1alpha1.Invitation{}
		if err := s.APIReader.Get(ctx, client.ObjectKeyFromObject(claimed), inv); err != nil {
			if apierrors.IsNotFound(err) {
				return nil, nil, web.ErrInvalidLink
			}
			return nil, nil, fmt.Errorf("read invitation %s/%s: %w", claimed.Namespace, claimed.Name, err)
		}
	}
	return nil, nil, fmt.Errorf("claim invitation %s/%s: it kept changing", inv.Namespace, inv.Name)
}

// accept records that the invitee set a password, if the claim is still this Redeem's. When it
// is not (the claim outlived ClaimTimeout, was released and taken by another submit, or the
// Invitation was revoked meanwhile), the password is already in the directory and stays:
// the Store contract allows a link used up with the password set, and there is no earlier
// password to put back. Whoever holds the link now decides its end (another submit's
// password, a revocation, a release), so nothing is written and the visitor is told that the
// outcome is not confirmed (web.ErrNotConfirmed) instead of a success that may not be theirs.
func (s *Store) accept(ctx context.Context, inv *staffv1alpha1.Invitation) error {
	claimedAt := inv.Status.ClaimedAt
	err := s.updateClaimed(ctx, inv, claimedAt, func(st *staffv1alpha1.InvitationStatus) {
		now := metav1.NewTime(s.Clock.Now())
		st.Phase, st.AcceptedAt, st.ClaimedAt, st.TokenHash = staffv1alpha1.InvitationAccepted, &now, nil, ""
		meta.SetStatusCondition(&st.Conditions, metav1.Condition{
			Type: staffv1alpha1.ConditionReady, Status: metav1.ConditionTrue, ObservedGeneration: inv.Generation,
			Reason: staffv1alpha1.ReasonAccepted, Message: "The invitee set a password at " + now.UTC().Format(time.RFC3339),
		})
	})
	if errors.Is(err, errClaimGone) {
		s.Log.Info("the claim on the invitation was lost while its password was being set; not recorded as accepted",
			"invitation", client.ObjectKeyFromObject(inv))
		return fmt.Errorf("%w: %w", web.ErrNotConfirmed, err)
	}
	if err != nil {
		// The claim is still ours and the password is set, so the visitor is told so; the
		// member turns Active, the claim is released within ClaimTimeout and the link then
		// expires as usual.
		s.Log.Error(err, "record an accepted invitation", "invitation", client.ObjectKeyFromObject(inv))
		return nil
	}
	metrics.CountFinished(staffv1alpha1.InvitationSent, staffv1alpha1.InvitationAccepted)
	s.recorder.Eventf(inv, nil, corev1.EventTypeNormal, staffv1alpha1.ReasonAccepted, "SetPassword",
		"The invitee set a password through the %s link", inv.Spec.Purpose)
	return nil
}

// release gives up a claim after a failure, so the same link can be used again.
func (s *Store) release(ctx context.Context, inv *staffv1alpha1.Invitation) {
	err := s.updateClaimed(ctx, inv, inv.Status.ClaimedAt, func(st *staffv1alpha1.InvitationStatus) { st.ClaimedAt = nil })
	if err != nil && !errors.Is(err, errClaimGone) {
		s.Log.Error(err, "release a claim on an invitation; the controller releases it after the claim timeout",
			"invitation", client.ObjectKeyFromObject(inv))
	}
}

// errClaimGone: the Invitation is no longer Sent and claimed by this Redeem; it was revoked,
// its claim was released after ClaimTimeout (and perhaps taken by another Redeem), or the
// claim is older than ClaimTimeout and may be released at any moment.
var errClaimGone = errors.New("the claim on the invitation is gone")

// updateClaimed applies change to the Invitation's status while it is still Sent and claimed at
// claimedAt, retrying on conflicts with what the API server holds.
func (s *Store) updateClaimed(ctx context.Context, inv *staffv1alpha1.Invitation, claimedAt *metav1.Time, change func(*staffv1alpha1.InvitationStatus)) error {
	first := true
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if !first {
			if err := s.APIReader.Get(ctx, client.ObjectKeyFromObject(inv), inv); err != nil {
				if apierrors.IsNotFound(err) {
					return errClaimGone
				}
				return err
			}
		}
		first = false
		if !s.holdsClaim(&inv.Status, claimedAt) {
			return errClaimGone
		}
		err := s.patchStatus(ctx, inv, change)
		if apierrors.IsNotFound(err) {
			return errClaimGone
		}
		return err
	})
}

// patchStatus applies change to the Invitation's status with a patch that carries the
// resourceVersion it was read at: it fails with a conflict when anyone wrote in between.
func (s *Store) patchStatus(ctx context.Context, inv *staffv1alpha1.Invitation, change func(*staffv1alpha1.InvitationStatus)) error {
	before := inv.DeepCopy()
	change(&inv.Status)
	return s.Client.Status().Patch(ctx, inv, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{}))
}

// holdsClaim reports whether st still shows the claim made at claimedAt, and that claim is
// younger than ClaimTimeout by the Store's clock. An older claim is not trusted even while it
// is still recorded: the Invitation reconciler may release it at any moment, and another
// submit may claim the link. The write that follows carries the resourceVersion it was read
// at, so a release between this check and that write makes the write fail.
func (s *Store) holdsClaim(st *staffv1alpha1.InvitationStatus, claimedAt *metav1.Time) bool {
	if st.Phase != staffv1alpha1.InvitationSent || st.ClaimedAt == nil || claimedAt == nil || !st.ClaimedAt.Equal(claimedAt) {
		return false
	}
	return s.Clock.Since(claimedAt.Time) < ClaimTimeout
}
