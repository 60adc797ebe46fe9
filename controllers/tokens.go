package controllers

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strconv"

	"k8s.io/apimachinery/pkg/types"
)

// TokenIssuer derives the token of each link from a secret key, the Invitation's UID and the
// attempt: 256 bits that only the key's holder can compute, never stored. Deriving instead of
// storing is what makes sending crash-safe: a manager restarted between recording an attempt
// and sending it computes the same token again and sends the very mail it was about to send,
// so the link in whatever mail arrives always matches the stored hash.
type TokenIssuer struct {
	key []byte
}

// NewTokenIssuer returns an issuer for a key of at least 32 bytes.
func NewTokenIssuer(key []byte) (TokenIssuer, error) {
	if len(key) < 32 {
		return TokenIssuer{}, errors.New("the token key must be at least 32 bytes")
	}
	return TokenIssuer{key: key}, nil
}

// Token returns the link token of one attempt, URL-safe.
func (t TokenIssuer) Token(uid types.UID, attempt int64) string {
	mac := hmac.New(sha256.New, t.key)
	mac.Write([]byte("staff.rosterops.io/link-token\x00" + string(uid) + "\x00" + strconv.FormatInt(attempt, 10)))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}
