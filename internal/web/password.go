package web

import (
	"crypto/subtle"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/cases"
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
// used, repetitive or sequential, or built from the account's own context (the person's
// names, the email address, the practice's name).
//
// Every rule looks at the password normalized (normalizePassword): in NFKC, case-folded,
// invisible characters removed and whitespace collapsed, so that "ＰＡＳＳＷＯＲＤ", "Password"
// and "pass\u200bword" are the same word to the rules, and invisible padding does not make a
// short password long. The password handed to the Store is exactly what was typed, not the
// normalized form: the directory compares the bytes that a sign-in form sends, and those forms
// are not ours, so a normalized password could refuse the very password the person chose.
type passwordPolicy struct {
	min int
}

// check returns the problems with a password and its confirmation, at most one per field, for
// the invitee whose link it is. Messages never contain the password.
func (p passwordPolicy) check(password, confirm string, who Invitee) fieldErrors {
	errs := fieldErrors{}
	if msg := p.checkPassword(password, who); msg != "" {
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

func (p passwordPolicy) checkPassword(password string, who Invitee) string {
	switch {
	case password == "":
		return "Enter a password."
	case !utf8.ValidString(password):
		return "The password contains characters that cannot be used. Type it again."
	case strings.IndexFunc(password, unicode.IsControl) >= 0:
		return "The password contains a tab, line break or other control character. Use letters, digits, spaces and symbols only."
	}
	n := normalizePassword(password)
	length := utf8.RuneCountInString(n)
	switch {
	case length < p.min:
		return fmt.Sprintf("Use at least %d characters; this one has %d. A few unrelated words make a long password that is easy to remember.", p.min, length)
	case length > MaxPasswordLength:
		return fmt.Sprintf("Use at most %d characters; this one has %d.", MaxPasswordLength, length)
	}
	if msg := guessable(n); msg != "" {
		return msg
	}
	return contextWordIn(n, who)
}

// guessable checks a normalized password against the list and the patterns guessing tools
// try first. Spaces are taken out for these checks too: "pass word 1234567" is the same guess.
func guessable(n string) string {
	compact := strings.ReplaceAll(n, " ", "")
	for _, s := range []string{n, compact} {
		unit := repeatedUnit(s)
		switch {
		case isCommonOrLeet(s), unit != "" && isCommonOrLeet(unit):
			return "This password is on a list of commonly used passwords, so it is easy to guess. Choose something less predictable, such as a few unrelated words."
		case commonWithAffix(s):
			return "This password is a commonly used password with predictable digits or symbols added, so it is easy to guess. Choose something less predictable, such as a few unrelated words."
		case repetitive(s):
			return "This password repeats or counts through the same characters, so it is easy to guess. Choose something less predictable."
		}
	}
	if joinsCommonPasswords(compact) {
		return "This password joins two commonly used passwords, so it is easy to guess. Choose something less predictable, such as a few more unrelated words."
	}
	return ""
}

// normalizePassword returns the form in which a password is measured and compared: invisible
// characters removed, NFKC (fullwidth letters, ligatures and compatibility forms become the
// plain ones), Unicode case folding (which, unlike lower-casing, also equates "ß" and "ss"),
// NFKC again (folding can undo it), and every run of whitespace made one space, none at
// either end.
func normalizePassword(s string) string {
	s = strings.Map(func(r rune) rune {
		if invisible(r) {
			return -1
		}
		return r
	}, s)
	s = norm.NFKC.String(foldCase.String(norm.NFKC.String(s)))
	return strings.Join(strings.Fields(s), " ")
}

// foldCase is stateless and safe for concurrent use.
var foldCase = cases.Fold()

// invisible reports whether r shows nothing: format characters (\p{Cf}: zero-width space
// and joiners, bidi controls, the byte order mark, soft hyphen), variation selectors, and
// the other default-ignorable code points (Hangul fillers, the combining grapheme joiner).
// They would let "short" plus ten zero-width spaces pass as 15 characters.
func invisible(r rune) bool {
	return unicode.Is(unicode.Cf, r) || unicode.Is(unicode.Variation_Selector, r) ||
		unicode.Is(unicode.Other_Default_Ignorable_Code_Point, r)
}

// Context words shorter than these are not checked: a two-letter name ("Li") or a short word
// of a practice's name ("of", "the", "and") would refuse too many good passwords.
const (
	minNameWordLength     = 3
	minPracticeWordLength = 4
	// minDistinctiveWord: a context word this long is refused anywhere in a password; a
	// shorter one only as a word of its own, because short words hide inside others by
	// chance ("ana" in "banana", "health" in "healthy").
	minDistinctiveWord = 7
)

// contextWordIn returns the message for the first word of the invitee's own context found in
// a normalized password: the local part of the email address, the person's names, or the
// practice's name or one of its words. Attackers who target a practice try these first.
// Whole forms (the local part, the full name, the practice's name, spaces and dots taken out)
// and long words are refused anywhere; short words only as words of their own.
func contextWordIn(n string, who Invitee) string {
	compact := strings.ReplaceAll(n, " ", "")
	words := map[string]bool{}
	for _, w := range strings.FieldsFunc(n, func(r rune) bool { return !unicode.IsLetter(r) }) {
		words[w] = true
	}
	found := func(word string) bool {
		n := utf8.RuneCountInString(word)
		return words[word] || (n >= minDistinctiveWord && strings.Contains(compact, word))
	}
	foundAnywhere := func(whole string) bool {
		return utf8.RuneCountInString(whole) >= minEmailPartLength && strings.Contains(compact, whole)
	}
	if part := emailLocalPart(who.Email); part != "" && (strings.Contains(n, part) || foundAnywhere(lettersAndDigits(part))) {
		return fmt.Sprintf("The password must not contain the first part of your email address, “%s”. Choose something else.", part)
	}
	names := contextWords(minNameWordLength, who.GivenName, who.FamilyName)
	for _, w := range names {
		if found(w) {
			return fmt.Sprintf("The password must not contain your name, “%s”. Choose something else.", w)
		}
	}
	if full := lettersAndDigits(normalizePassword(who.GivenName + who.FamilyName)); len(names) > 0 && foundAnywhere(full) {
		return fmt.Sprintf("The password must not contain your name, “%s”. Choose something else.", full)
	}
	if whole := lettersAndDigits(normalizePassword(who.Practice)); utf8.RuneCountInString(whole) >= minPracticeWordLength && foundAnywhere(whole) {
		return fmt.Sprintf("The password must not contain the name of your practice, “%s”. Choose something else.", whole)
	}
	for _, w := range contextWords(minPracticeWordLength, who.Practice) {
		if found(w) {
			return fmt.Sprintf("The password must not contain a word of the name of your practice, “%s”. Choose something else.", w)
		}
	}
	return ""
}

// contextWords splits names into normalized words of letters and digits, keeping those of at
// least min characters.
func contextWords(min int, names ...string) []string {
	var words []string
	for _, name := range names {
		for _, w := range strings.FieldsFunc(normalizePassword(name), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
			if utf8.RuneCountInString(w) >= min {
				words = append(words, w)
			}
		}
	}
	return words
}

// lettersAndDigits drops everything else: "ana.ruiz" becomes "anaruiz".
func lettersAndDigits(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			return r
		}
		return -1
	}, s)
}

// emailLocalPart returns the normalized local part of an address, or "" when it is too short
// to check.
func emailLocalPart(email string) string {
	at := strings.LastIndexByte(email, '@')
	if at < 0 {
		return ""
	}
	part := normalizePassword(email[:at])
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
