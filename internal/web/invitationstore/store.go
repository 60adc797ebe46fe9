// Package invitationstore is the invitation page's web.Store: a link is an Invitation, found by
// the hash of its token through the manager's cache, checked against the token key, the
// StaffMember and the directory, and redeemed exactly once across replicas with
// resourceVersion-checked status patches.
package invitationstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/go-logr/logr"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/recorder"

	staffv1alpha1 "github.com/rosterops/staff-operator/api/v1alpha1"
	"github.com/rosterops/staff-operator/internal/directory"
	"github.com/rosterops/staff-operator/internal/linktoken"
	"github.com/rosterops/staff-operator/internal/staff"
	"github.com/rosterops/staff-operator/internal/web"
)

// ClaimTimeout is how long a claim on a link may stand before the Invitation reconciler
// releases it. It is far longer than a Redeem takes (see MaxDirectoryTimeout), so an older
// claim was left by a replica that stopped mid-way.
const ClaimTimeout = time.Minute

// RedeemTimeout bounds a Redeem once it has started: no API or directory request starts after
// it. A Redeem is not cut short when the visitor goes away: a claim must be followed by
// Accepted or a release, not left standing. Half the claim leaves the other half for the one
// directory request that may still be under way at this deadline.
const RedeemTimeout = ClaimTimeout / 2

// directoryWaitsPerRequest is how many directory timeouts (directory.ldap.timeout) one
// request may take at worst: connecting (with the TLS handshake), StartTLS, the bind and the
// request itself on a fresh connection, plus one for the status write that ends the Redeem.
const directoryWaitsPerRequest = 5

// MaxDirectoryTimeout is the longest directory timeout with which a Redeem still ends inside
// its claim: a request started just before RedeemTimeout waits at most
// directoryWaitsPerRequest timeouts, which must fit in what is left of ClaimTimeout. A longer
// timeout would let a Redeem set its password after its claim was released and another
// visitor's Redeem had claimed the link (6s; the configuration refuses more).
const MaxDirectoryTimeout = (ClaimTimeout - RedeemTimeout) / directoryWaitsPerRequest

// Store is the invitation page's web.Store: it finds links through the manager's cache by the
// token-hash index (TokenHashIndex) and redeems them against the API server and the directory.
// It runs on every replica, leader or not; the API server's optimistic concurrency, not a
// lock in memory, makes a link redeem once.
type Store struct {
	// Client reads through the manager's cache and writes to the API server.
	Client client.Client
	// APIReader reads past the cache: a Redeem decides on what the API server holds now.
	APIReader client.Reader
	Directory directory.Backend
	// Tokens derives the token of every real link: a hash that it does not derive is no link,
	// whatever an Invitation's status says.
	Tokens linktoken.Issuer
	Clock  clock.PassiveClock
	Log    logr.Logger

	recorder recorder.EventRecorder
}

var _ web.Store = (*Store)(nil)

// New returns the Store for a manager whose cache has the TokenHashIndex (IndexTokenHash).
func New(mgr ctrl.Manager, dir directory.Backend, tokens linktoken.Issuer, clk clock.PassiveClock) *Store {
	return &Store{
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
func (s *Store) Lookup(ctx context.Context, tokenHash string) (web.Invitee, error) {
	inv, err := s.find(ctx, tokenHash)
	if err != nil {
		return web.Invitee{}, err
	}
	m, err := s.liveMember(ctx, s.Client, inv, tokenHash)
	if err != nil {
		return web.Invitee{}, err
	}
	practice, err := staff.PracticeName(ctx, s.Client, inv.Namespace)
	if err != nil {
		return web.Invitee{}, err
	}
	return web.Invitee{
		Practice:   practice,
		Name:       staff.DisplayName(m),
		GivenName:  m.Spec.Profile.GivenName,
		FamilyName: m.Spec.Profile.FamilyName,
		Email:      inv.Status.Email,
		ExpiresAt:  inv.Status.ExpiresAt.Time,
		TimeZone:   staff.PrimaryTimeZone(ctx, s.Client, m),
		Purpose:    web.Purpose(inv.Spec.Purpose),
	}, nil
}

// Redeem implements web.Store: claim the link, set the password, record Accepted. The claim
// comes first so that two racing submits cannot both set a password; a directory failure
// releases it, so the link is never used up without a password. A Redeem that no longer
// holds its claim when it records Accepted (the claim outlived ClaimTimeout, or was released
// and taken by another submit) reports web.ErrNotConfirmed, not success: see accept.
func (s *Store) Redeem(ctx context.Context, tokenHash, password string) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), RedeemTimeout)
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
	return s.accept(ctx, inv)
}

// relockIfDeactivated closes the race with an offboarding. A deactivation that reached the API
// server while the password was being set may have been carried out (locked) just before the
// unlock above undid it, and nothing would lock the account again until the next resync.
// Reading the member again after the directory writes, and locking when it is deactivated,
// leaves the account locked whichever came first; a deactivation after this read is carried
// out by the member's reconciler after the unlock. The answer is then ErrInvalidLink.
func (s *Store) relockIfDeactivated(ctx context.Context, m *staffv1alpha1.StaffMember) error {
	var now staffv1alpha1.StaffMember
	err := s.APIReader.Get(ctx, client.ObjectKeyFromObject(m), &now)
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("read the invited member again: %w", err)
	}
	if err == nil && !staff.Deactivated(&now) && now.DeletionTimestamp.IsZero() {
		return nil
	}
	// A member deleted meanwhile is locked too: its finalizer may have locked the account
	// before the unlock (deletionPolicy Deactivate). An account already removed is fine.
	if _, err := s.Directory.LockAccount(ctx, staff.AccountKey(m)); err != nil && !errors.Is(err, directory.ErrNotFound) {
		return fmt.Errorf("lock %s again after a deactivation: %w", staff.AccountKey(m), err)
	}
	return web.ErrInvalidLink
}

// setPassword sets the password, then clears what could still stop the sign-in: failures
// counted against the account and a failure lockout. The directory refuses the password of an
// account locked by an administrator (a deactivated member), so this never reactivates one.
func (s *Store) setPassword(ctx context.Context, m *staffv1alpha1.StaffMember, password string) error {
	key := staff.AccountKey(m)
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

// TokenHashIndex is the field index of Invitations by the hash of their live token, which the
// manager's cache must have (IndexTokenHash).
const TokenHashIndex = "status.tokenHash"

// IndexTokenHash registers TokenHashIndex with the manager's cache.
func IndexTokenHash(ctx context.Context, idx client.FieldIndexer) error {
	return idx.IndexField(ctx, &staffv1alpha1.Invitation{}, TokenHashIndex, func(o client.Object) []string {
		if h := o.(*staffv1alpha1.Invitation).Status.TokenHash; h != "" {
			return []string{h}
		}
		return nil
	})
}
