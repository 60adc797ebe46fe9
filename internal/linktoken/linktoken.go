// Package linktoken derives the tokens of invitation and password-reset links.
package linktoken

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"strconv"

	"k8s.io/apimachinery/pkg/types"

	"github.com/rosterops/staff-operator/internal/web"
)

// Issuer derives the token of each link from a secret key, the Invitation's UID, the attempt
// and the address the link is mailed to: 256 bits that only the key's holder can compute,
// never stored.
//
// Deriving instead of storing is what makes sending crash-safe: a manager restarted between
// recording an attempt and sending it computes the same token again and sends the very mail it
// was about to send, so the link in whatever mail arrives always matches the stored hash. And
// it is what makes a link unforgeable: the invitation page accepts a token only when the key
// derives it for the Invitation, its current attempt and the member's email (Verify), so
// writing an Invitation's status can never make a link; the stored hash only says which link
// is live.
type Issuer struct {
	key []byte
}

// New returns an issuer for a key of at least 32 bytes.
func New(key []byte) (Issuer, error) {
	if len(key) < 32 {
		return Issuer{}, errors.New("the token key must be at least 32 bytes")
	}
	return Issuer{key: key}, nil
}

// Token returns the link token of one attempt mailed to email, URL-safe.
func (t Issuer) Token(uid types.UID, attempt int64, email string) string {
	mac := hmac.New(sha256.New, t.key)
	mac.Write([]byte("staff.rosterops.io/link-token/v2\x00" + string(uid) + "\x00" + strconv.FormatInt(attempt, 10) + "\x00" + email))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// Verify reports whether tokenHash is the hash of the token the key derives for this
// Invitation's UID, attempt and email, in constant time.
func (t Issuer) Verify(tokenHash string, uid types.UID, attempt int64, email string) bool {
	want := web.TokenHash(t.Token(uid, attempt, email))
	return subtle.ConstantTimeCompare([]byte(want), []byte(tokenHash)) == 1
}
