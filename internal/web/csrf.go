package web

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
)

// csrfField is the name of the form's hidden CSRF input.
const csrfField = "csrf"

// csrfContext separates this use of the key from any other.
const csrfContext = "staff-operator/web/csrf/v1\x00"

// minCSRFKeyLength is the shortest CSRFKey accepted: the key is an HMAC-SHA256 key.
const minCSRFKeyLength = 32

// csrfTokens makes and checks the form's CSRF value: HMAC-SHA256(key, tokenHash), stateless,
// so any replica sharing the key accepts a form another replica served, and no cookie or
// session is needed. It binds a form to its link: a value made for one link is worthless for
// any other, and it cannot be made without loading the page from us first. Cross-site
// submission is stopped earlier, by http.CrossOriginProtection (Sec-Fetch-Site and Origin).
type csrfTokens struct {
	key []byte
}

func newCSRFTokens(key []byte) (csrfTokens, error) {
	if key == nil {
		key = make([]byte, minCSRFKeyLength)
		if _, err := rand.Read(key); err != nil {
			return csrfTokens{}, fmt.Errorf("generate CSRF key: %w", err)
		}
	}
	if len(key) < minCSRFKeyLength {
		return csrfTokens{}, fmt.Errorf("CSRF key has %d bytes, need at least %d", len(key), minCSRFKeyLength)
	}
	return csrfTokens{key: key}, nil
}

func (c csrfTokens) mac(tokenHash string) []byte {
	m := hmac.New(sha256.New, c.key)
	m.Write([]byte(csrfContext))
	m.Write([]byte(tokenHash))
	return m.Sum(nil)
}

// value is what the form carries for the link with this token hash.
func (c csrfTokens) value(tokenHash string) string {
	return base64.RawURLEncoding.EncodeToString(c.mac(tokenHash))
}

// valid reports whether got is the value for this token hash, in constant time.
func (c csrfTokens) valid(tokenHash, got string) bool {
	raw, err := base64.RawURLEncoding.DecodeString(got)
	if err != nil {
		return false
	}
	return hmac.Equal(raw, c.mac(tokenHash))
}

// CSRFKeyFrom derives the page's CSRF key from a longer-lived secret that every replica has
// (the manager uses the invitation token key), so that a form served by one replica is
// accepted by another.
func CSRFKeyFrom(secret []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("staff-operator/web/csrf-key/v1"))
	return m.Sum(nil)
}
