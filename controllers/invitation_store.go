package controllers

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/recorder"

	staffv1alpha1 "github.com/rosterops/staff-operator/api/v1alpha1"
	"github.com/rosterops/staff-operator/internal/directory"
	"github.com/rosterops/staff-operator/internal/web"
)

// claimTimeout is how long a claim on a link may stand before the Invitation reconciler
// releases it. It is far longer than a Redeem takes (two directory writes, each bounded by the
// directory's timeout), so an older claim was left by a replica that stopped mid-way.
const claimTimeout = time.Minute

// redeemTimeout bounds a Redeem once it has started. A Redeem is not cut short when the
// visitor goes away: a claim must be followed by Accepted or a release, not left standing.
const redeemTimeout = 30 * time.Second

// InvitationStore is the invitation page's web.Store: it finds links through the manager's
// cache by the token-hash index and redeems them against the API server and the directory.
// It runs on every replica, leader or not; the API server's optimistic concurrency, not a
// lock in memory, makes a link redeem once.
type InvitationStore struct {
	// Client reads through the manager's cache and writes to the API server.
	Client client.Client
	// APIReader reads past the cache: a Redeem decides on what the API server holds now.
	APIReader client.Reader
	Directory directory.Backend
	// Tokens derives the token of every real link: a hash that it does not derive is no link,
	// whatever an Invitation's status says.
	Tokens TokenIssuer
	Clock  clock.PassiveClock
	Log    logr.Logger

	recorder recorder.EventRecorder
}

var _ web.Store = (*InvitationStore)(nil)

// NewInvitationStore returns the Store for a manager whose cache has the indexes of
// SetupIndexes (Setup registers them).
func NewInvitationStore(mgr ctrl.Manager, dir directory.Backend, tokens TokenIssuer, clk clock.PassiveClock) *InvitationStore {
	return &InvitationStore{
		Client:    mgr.GetClient(),
		APIReader: mgr.GetAPIReader(),
		Directory: dir,
		Tokens:    tokens,
		Clock:     clk,
		Log:       mgr.GetLogger().WithName("invitation-page"),
		recorder:  mgr.GetEventRecorder("invitation-page"),
	}
}

// Lookup implements web.Store: the invitee of a live link, read from the cache.
func (s *InvitationStore) Lookup(ctx context.Context, tokenHash string) (web.Invitee, error) {
	inv, err := s.find(ctx, tokenHash)
	if err != nil {
		return web.Invitee{}, err
	}
	m, err := s.liveMember(ctx, s.Client, inv, tokenHash)
	if err != nil {
		return web.Invitee{}, err
	}
	practice, err := practiceName(ctx, s.Client, inv.Namespace)
	if err != nil {
		return web.Invitee{}, err
	}
	return web.Invitee{
		Practice:  practice,
		Name:      displayName(m),
		Email:     inv.Status.Email,
		ExpiresAt: inv.Status.ExpiresAt.Time,
		TimeZone:  primaryTimeZone(ctx, s.Client, m),
		Purpose:   web.Purpose(inv.Spec.Purpose),
	}, nil
}

// Redeem implements web.Store: claim the link, set the password, record Accepted. The claim
// comes first so that two racing submits cannot both set a password; a directory failure
// releases it, so the link is never used up without a password.
func (s *InvitationStore) Redeem(ctx context.Context, tokenHash, password string) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), redeemTimeout)
	defer cancel()
	inv, m, err := s.claim(ctx, tokenHash)
	if err != nil {
		return err
	}
	if err := s.setPassword(ctx, m, password); err != nil {
		s.release(ctx, inv)
		if errors.Is(err, directory.ErrLocked) {
			// Deactivated after the link was checked: the link is as dead as the account.
			return web.ErrInvalidLink
		}
		return err
	}
	if err := s.relockIfDeactivated(ctx, m); err != nil {
		s.release(ctx, inv)
		return err
	}
	s.accept(ctx, inv)
	return nil
}

// relockIfDeactivated closes the race with an offboarding. A deactivation that reached the API
// server while the password was being set may have been carried out (locked) just before the
// unlock above undid it, and nothing would lock the account again until the next resync.
// Reading the member again after the directory writes, and locking when it is deactivated,
// leaves the account locked whichever came first; a deactivation after this read is carried
// out by the member's reconciler after the unlock. The answer is then ErrInvalidLink.
func (s *InvitationStore) relockIfDeactivated(ctx context.Context, m *staffv1alpha1.StaffMember) error {
	var now staffv1alpha1.StaffMember
	err := s.APIReader.Get(ctx, client.ObjectKeyFromObject(m), &now)
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("read the invited member again: %w", err)
	}
	if err == nil && !wantLocked(&now) && now.DeletionTimestamp.IsZero() {
		return nil
	}
	// A member deleted meanwhile is locked too: its finalizer may have locked the account
	// before the unlock (deletionPolicy Deactivate). An account already removed is fine.
	if _, err := s.Directory.LockAccount(ctx, accountKey(m)); err != nil && !errors.Is(err, directory.ErrNotFound) {
		return fmt.Errorf("lock %s again after a deactivation: %w", accountKey(m), err)
	}
	return web.ErrInvalidLink
}

// find returns the Invitation whose live token has this hash, from the cache's index.
func (s *InvitationStore) find(ctx context.Context, tokenHash string) (*staffv1alpha1.Invitation, error) {
	var list staffv1alpha1.InvitationList
	if err := s.Client.List(ctx, &list, client.MatchingFields{IndexInvitationTokenHash: tokenHash}); err != nil {
		return nil, fmt.Errorf("look up the link: %w", err)
	}
	if len(list.Items) != 1 {
		// None, or (with 2^-256 odds) two: either way not a link anyone can use.
		return nil, web.ErrInvalidLink
	}
	return &list.Items[0], nil
}

// liveMember checks that the link still leads to a password and returns the member it is for.
// Every reason it does not is the same ErrInvalidLink: the page must not tell them apart.
func (s *InvitationStore) liveMember(ctx context.Context, r client.Reader, inv *staffv1alpha1.Invitation, tokenHash string) (*staffv1alpha1.StaffMember, error) {
	m, err := s.invitedMember(ctx, r, inv, tokenHash)
	if err != nil {
		return nil, err
	}
	if err := s.accountAwaitsPassword(ctx, inv, m); err != nil {
		return nil, err
	}
	return m, nil
}

// invitedMember checks the Invitation and its member as the API server holds them.
func (s *InvitationStore) invitedMember(ctx context.Context, r client.Reader, inv *staffv1alpha1.Invitation, tokenHash string) (*staffv1alpha1.StaffMember, error) {
	st := inv.Status
	if st.Phase != staffv1alpha1.InvitationSent || st.ClaimedAt != nil ||
		st.ExpiresAt == nil || !s.Clock.Now().Before(st.ExpiresAt.Time) ||
		subtle.ConstantTimeCompare([]byte(st.TokenHash), []byte(tokenHash)) != 1 {
		return nil, web.ErrInvalidLink
	}
	var m staffv1alpha1.StaffMember
	err := r.Get(ctx, client.ObjectKey{Namespace: inv.Namespace, Name: string(inv.Spec.MemberRef.Name)}, &m)
	if apierrors.IsNotFound(err) {
		return nil, web.ErrInvalidLink
	}
	if err != nil {
		return nil, fmt.Errorf("read the invited member: %w", err)
	}
	// The Invitation reconciler revokes the link in each of these cases; checking here closes
	// the moment before it has.
	if !m.DeletionTimestamp.IsZero() || wantLocked(&m) || m.Spec.Email != st.Email || createdForAnother(inv, &m) {
		return nil, web.ErrInvalidLink
	}
	// Status says which link is live; only the key says a link is real. A status written by
	// anyone but the operator (a self-made hash, another address, another attempt) makes none.
	if !s.Tokens.Verify(tokenHash, inv.UID, st.Attempt, m.Spec.Email) {
		return nil, web.ErrInvalidLink
	}
	return &m, nil
}

// accountAwaitsPassword checks the member's account in the directory: it must be this member's
// (not an entry left by an earlier member of the same name), and an invitation, unlike a
// password reset, is dead once the account has a password by any route.
func (s *InvitationStore) accountAwaitsPassword(ctx context.Context, inv *staffv1alpha1.Invitation, m *staffv1alpha1.StaffMember) error {
	obs, err := s.Directory.ObserveAccount(ctx, desiredAccount(m))
	if err != nil {
		return fmt.Errorf("read the invited member's account: %w", err)
	}
	if !obs.Exists || obs.Actual.OwnerUID != string(m.UID) {
		return web.ErrInvalidLink
	}
	if inv.Spec.Purpose == staffv1alpha1.PurposeInvitation && obs.PasswordSet {
		return web.ErrInvalidLink
	}
	return nil
}

// claim marks the link as being redeemed with a status patch that carries the
// resourceVersion it was read at: of concurrent claims, on any replica, the API server lets one
// through and answers the others with a conflict. A loser reads the Invitation again from the
// API server; the winner's claim makes it dead there.
func (s *InvitationStore) claim(ctx context.Context, tokenHash string) (*staffv1alpha1.Invitation, *staffv1alpha1.StaffMember, error) {
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

// setPassword sets the password, then clears what could still stop the sign-in: failures
// counted against the account and a failure lockout. The directory refuses the password of an
// account locked by an administrator (a deactivated member), so this never reactivates one.
func (s *InvitationStore) setPassword(ctx context.Context, m *staffv1alpha1.StaffMember, password string) error {
	key := accountKey(m)
	if err := s.Directory.SetPassword(ctx, key, password); err != nil {
		return fmt.Errorf("set the password of %s: %w", key, err)
	}
	if _, err := s.Directory.UnlockAccount(ctx, key); err != nil && !errors.Is(err, directory.ErrInvalid) {
		// ErrInvalid is an idle lockout that only the directory's administrator can clear; the
		// member shows LockedOut with the reason. Anything else is worth a retry.
		return fmt.Errorf("unlock %s: %w", key, err)
	}
	return nil
}

// accept records that the invitee set a password. The claim is ours, so this write wins unless
// the Invitation was revoked meanwhile (a deactivation goes ahead of a claim); then the
// revocation stands and the member's lock is put back by its reconciler.
func (s *InvitationStore) accept(ctx context.Context, inv *staffv1alpha1.Invitation) {
	claimedAt := inv.Status.ClaimedAt
	err := s.updateClaimed(ctx, inv, claimedAt, func(st *staffv1alpha1.InvitationStatus) {
		now := metav1.NewTime(s.Clock.Now())
		st.Phase, st.AcceptedAt, st.ClaimedAt, st.TokenHash = staffv1alpha1.InvitationAccepted, &now, nil, ""
		setInvitationCondition(inv, staffv1alpha1.ConditionReady, metav1.ConditionTrue, staffv1alpha1.ReasonAccepted,
			"The invitee set a password at "+now.UTC().Format(time.RFC3339))
	})
	if errors.Is(err, errClaimGone) {
		s.Log.Info("the invitation was revoked while its password was being set", "invitation", client.ObjectKeyFromObject(inv))
		return
	}
	if err != nil {
		// The password is set and the member turns Active; the claim is released within
		// claimTimeout and the link then expires as usual.
		s.Log.Error(err, "record an accepted invitation", "invitation", client.ObjectKeyFromObject(inv))
		return
	}
	countFinished(staffv1alpha1.InvitationSent, staffv1alpha1.InvitationAccepted)
	s.recorder.Eventf(inv, nil, corev1.EventTypeNormal, staffv1alpha1.ReasonAccepted, "SetPassword",
		"The invitee set a password through the %s link", inv.Spec.Purpose)
}

// release gives up a claim after a failure, so the same link can be used again.
func (s *InvitationStore) release(ctx context.Context, inv *staffv1alpha1.Invitation) {
	err := s.updateClaimed(ctx, inv, inv.Status.ClaimedAt, func(st *staffv1alpha1.InvitationStatus) { st.ClaimedAt = nil })
	if err != nil && !errors.Is(err, errClaimGone) {
		s.Log.Error(err, "release a claim on an invitation; the controller releases it after the claim timeout",
			"invitation", client.ObjectKeyFromObject(inv))
	}
}

// errClaimGone: the Invitation is no longer Sent and claimed by this Redeem; it was revoked,
// or its claim was released after claimTimeout.
var errClaimGone = errors.New("the claim on the invitation is gone")

// updateClaimed applies change to the Invitation's status while it is still Sent and claimed at
// claimedAt, retrying on conflicts with what the API server holds.
func (s *InvitationStore) updateClaimed(ctx context.Context, inv *staffv1alpha1.Invitation, claimedAt *metav1.Time, change func(*staffv1alpha1.InvitationStatus)) error {
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
		st := &inv.Status
		if st.Phase != staffv1alpha1.InvitationSent || st.ClaimedAt == nil || !st.ClaimedAt.Equal(claimedAt) {
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
func (s *InvitationStore) patchStatus(ctx context.Context, inv *staffv1alpha1.Invitation, change func(*staffv1alpha1.InvitationStatus)) error {
	before := inv.DeepCopy()
	change(&inv.Status)
	return s.Client.Status().Patch(ctx, inv, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{}))
}
