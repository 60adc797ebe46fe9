package invitationstore

import (
	"context"
	"crypto/subtle"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	staffv1alpha1 "github.com/rosterops/staff-operator/api/v1alpha1"
	"github.com/rosterops/staff-operator/internal/staff"
	"github.com/rosterops/staff-operator/internal/web"
)

// find returns the Invitation whose live token has this hash, from the cache's index.
func (s *Store) find(ctx context.Context, tokenHash string) (*staffv1alpha1.Invitation, error) {
	var list staffv1alpha1.InvitationList
	if err := s.Client.List(ctx, &list, client.MatchingFields{TokenHashIndex: tokenHash}); err != nil {
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
func (s *Store) liveMember(ctx context.Context, r client.Reader, inv *staffv1alpha1.Invitation, tokenHash string) (*staffv1alpha1.StaffMember, error) {
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
func (s *Store) invitedMember(ctx context.Context, r client.Reader, inv *staffv1alpha1.Invitation, tokenHash string) (*staffv1alpha1.StaffMember, error) {
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
	if !m.DeletionTimestamp.IsZero() || staff.Deactivated(&m) || m.Spec.Email != st.Email || staff.CreatedForAnother(inv, &m) {
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
func (s *Store) accountAwaitsPassword(ctx context.Context, inv *staffv1alpha1.Invitation, m *staffv1alpha1.StaffMember) error {
	obs, err := s.Directory.ObserveAccount(ctx, staff.DesiredAccount(m))
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
