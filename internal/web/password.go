package web

import (
	"crypto/subtle"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Password limits. NIST SP 800-63B asks for a minimum of at least 8 (15 when the password is
// the only factor) and a maximum of at least 64.
const (
	DefaultMinPasswordLength = 15
	// MinPasswordFloor is the lowest minimum Options accepts.
	MinPasswordFloor = 8
	// MaxPasswordLength is the longest password accepted, in characters.
	MaxPasswordLength = 128
)

// minEmailPartLength: a local part shorter than this ("al") would refuse too many good
// passwords, so it is not checked.
const minEmailPartLength = 3

// fieldErrors holds at most one message per form field, keyed by the input's name.
type fieldErrors map[string]string

// passwordPolicy applies the rules of NIST SP 800-63B section 3.1.1.2: a length window
// counted in characters, no composition rules, and a refusal of passwords that are commonly
// used, repetitive or sequential, or built from the account's own name. The password is
// measured and compared in Unicode NFC, so "é" counts once however it was typed; the password
// handed to the Store is exactly what was typed, because the directory compares bytes at
// sign-in and the sign-in form is not ours.
type passwordPolicy struct {
	min int
}

// check returns the problems with a password and its confirmation, at most one per field.
// Messages never contain the password.
func (p passwordPolicy) check(password, confirm, email string) fieldErrors {
	errs := fieldErrors{}
	if msg := p.checkPassword(password, email); msg != "" {
		errs["password"] = msg
	}
	switch {
	case confirm == "" && password != "":
		errs["confirmPassword"] = "Type the password a second time."
	case subtle.ConstantTimeCompare([]byte(password), []byte(confirm)) != 1 && password != "":
		errs["confirmPassword"] = "The two passwords do not match. Type the same password in both fields."
	}
	return errs
}

func (p passwordPolicy) checkPassword(password, email string) string {
	if password == "" {
		return "Enter a password."
	}
	if !utf8.ValidString(password) {
		return "The password contains characters that cannot be used. Type it again."
	}
	n := norm.NFC.String(password)
	length := utf8.RuneCountInString(n)
	switch {
	case length < p.min:
		return fmt.Sprintf("Use at least %d characters; this one has %d. A few unrelated words make a long password that is easy to remember.", p.min, length)
	case length > MaxPasswordLength:
		return fmt.Sprintf("Use at most %d characters; this one has %d.", MaxPasswordLength, length)
	}
	if strings.IndexFunc(n, unicode.IsControl) >= 0 {
		return "The password contains a tab, line break or other control character. Use letters, digits, spaces and symbols only."
	}
	lower := strings.ToLower(n)
	if isCommonPassword(lower) {
		return "This password is on a list of commonly used passwords, so it is easy to guess. Choose something less predictable, such as a few unrelated words."
	}
	if repetitive(lower) {
		return "This password repeats or counts through the same characters, so it is easy to guess. Choose something less predictable."
	}
	if part := emailLocalPart(email); part != "" && strings.Contains(lower, part) {
		return fmt.Sprintf("The password must not contain the first part of your email address, “%s”. Choose something else.", part)
	}
	return ""
}

// emailLocalPart returns the lower-case NFC local part of an address, or "" when it is too
// short to check.
func emailLocalPart(email string) string {
	at := strings.LastIndexByte(email, '@')
	if at < 0 {
		return ""
	}
	part := strings.ToLower(norm.NFC.String(email[:at]))
	if utf8.RuneCountInString(part) < minEmailPartLength {
		return ""
	}
	return part
}

// repetitive reports whether s is one short unit repeated ("aaaaaaaaaaaaaaaa",
// "abcabcabcabcabc") or a run of consecutive characters up or down ("abcdefghijklmnop",
// "9876543210987654", digits wrapping from 9 to 0). NIST names these as examples of
// passwords to refuse; no list can hold them all.
func repetitive(s string) bool {
	r := []rune(s)
	if len(r) < 2 {
		return false
	}
	for unit := 1; unit <= 4 && unit*2 <= len(r); unit++ {
		repeats := true
		for i := unit; i < len(r); i++ {
			if r[i] != r[i-unit] {
				repeats = false
				break
			}
		}
		if repeats {
			return true
		}
	}
	return sequential(r, 1) || sequential(r, -1)
}

func sequential(r []rune, step rune) bool {
	for i := 1; i < len(r); i++ {
		next := r[i-1] + step
		switch {
		case r[i-1] == '9' && step == 1:
			next = '0'
		case r[i-1] == '0' && step == -1:
			next = '9'
		}
		if r[i] != next {
			return false
		}
	}
	return true
}
