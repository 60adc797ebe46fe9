package web

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/url"
	"strings"
	"time"
)

// Purpose says what a link is for.
type Purpose string

const (
	// PurposeInvitation: a new member chooses a first password.
	PurposeInvitation Purpose = "Invitation"
	// PurposePasswordReset: a member chooses a new password.
	PurposePasswordReset Purpose = "PasswordReset"
)

// Invitee is what the page shows for a live link.
type Invitee struct {
	// Practice is the organization's display name.
	Practice string
	// Name is the person's display name.
	Name string
	// GivenName and FamilyName are the person's names (spec.profile), which a password
	// must not contain.
	GivenName  string
	FamilyName string
	Email      string
	// ExpiresAt is when the link stops working.
	ExpiresAt time.Time
	// TimeZone is the practice's IANA time zone; the expiry is shown in it. Empty means UTC.
	TimeZone string
	// Purpose is PurposeInvitation or PurposePasswordReset; anything else reads as an invitation.
	Purpose Purpose
}

// ErrInvalidLink means the link cannot be used: its token is unknown, expired, revoked,
// superseded by a resend, or already used. The page shows the same response for all of them,
// so a Store need not (and should not) say which.
var ErrInvalidLink = errors.New("link is no longer valid")

// ErrNotConfirmed means that a Redeem sent the password to the directory but could not
// confirm that the link was used up by it: it lost its claim on the link before it finished
// (it took longer than a claim lasts, or the link was revoked or taken by another submit
// meanwhile). The password may be set; the page says so, instead of a success that may
// belong to someone else's submit or a "try again" that may be untrue.
var ErrNotConfirmed = errors.New("the password was sent to the directory but the use of the link could not be confirmed")

// Store finds and redeems links. Tokens never reach it: only their hex SHA-256 (TokenHash).
//
// Any error other than ErrInvalidLink is taken as a passing failure: the page shows "try again"
// and logs the error, so errors must not carry the hash, the password or anything derived
// from them.
type Store interface {
	// Lookup returns the invitee of a live link, or ErrInvalidLink.
	Lookup(ctx context.Context, tokenHash string) (Invitee, error)

	// Redeem sets the password and uses up the link, exactly once: of concurrent calls for one
	// hash, across all replicas, at most one returns nil; the others return ErrInvalidLink.
	// A call that returns another error must leave the link usable (or used up with the
	// password set), never used up without the password. A call that lost its claim on the
	// link before recording the use returns ErrNotConfirmed (wrapped), never nil.
	Redeem(ctx context.Context, tokenHash string, password string) error
}

// TokenHash returns the hex SHA-256 of a token, the form in which tokens are stored and
// looked up.
func TokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// LinkPath is the path under which the page serves links: LinkPath + token.
const LinkPath = "/invite/"

// Link builds the page link for a token: publicURL + "/invite/" + token. A trailing slash
// on publicURL is allowed; a path on it is kept (for a page served under a prefix by an
// ingress that strips it).
func Link(publicURL, token string) string {
	return strings.TrimRight(publicURL, "/") + LinkPath + url.PathEscape(token)
}

// Token sizes the page accepts. The controllers issue 256-bit tokens, which are 43 characters
// in unpadded base64url or 64 in hex; anything outside these bounds or alphabet is not a
// token and is answered as an invalid link without asking the Store.
const (
	minTokenLength = 16
	maxTokenLength = 128
)

// wellFormed reports whether s could be a token: base64url or hex characters, of a sane
// length. It only saves a Store lookup; it decides nothing about validity.
func wellFormed(s string) bool {
	if len(s) < minTokenLength || len(s) > maxTokenLength {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_':
		default:
			return false
		}
	}
	return true
}
