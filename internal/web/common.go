package web

import (
	_ "embed"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// commonPasswordsFile is zxcvbn's password frequency list (MIT), as shipped by the npm package
// @zxcvbn-ts/language-common 4.1.3; the file's header says exactly how it was derived, and
// commonpasswords/LICENSE.txt is its licence.
//
//go:embed commonpasswords/passwords.txt
var commonPasswordsFile string

// commonPasswords is the list in normalized form (normalizePassword), built on first use:
// about 49,000 entries, a few megabytes, built once per process.
var commonPasswords = sync.OnceValue(func() map[string]struct{} { return parseCommonPasswords(commonPasswordsFile) })

// parseCommonPasswords reads the list: a header of lines starting with "#", then one password
// a line. Entries pass through the same normalization as what people type, so that both
// compare alike.
func parseCommonPasswords(file string) map[string]struct{} {
	set := make(map[string]struct{}, strings.Count(file, "\n"))
	header := true
	for line := range strings.Lines(file) {
		line = strings.TrimRight(line, "\r\n")
		if header && strings.HasPrefix(line, "#") {
			continue
		}
		header = false
		if n := normalizePassword(line); n != "" {
			set[n] = struct{}{}
		}
	}
	return set
}

// isCommonPassword reports whether a normalized password is on the list.
func isCommonPassword(normalized string) bool {
	_, ok := commonPasswords()[normalized]
	return ok
}

// leet maps the digits and symbols people put for letters ("p@ssw0rd") to the letters. '1'
// stands for 'i' here and for 'l' in leetVariants' second pass.
var leet = strings.NewReplacer("@", "a", "4", "a", "8", "b", "3", "e", "6", "g", "1", "i", "!", "i", "|", "i",
	"0", "o", "$", "s", "5", "s", "7", "t", "+", "t")

// isCommonOrLeet reports whether s, or s with the usual letter substitutions undone, is on the
// list. Attackers' guessing rules apply these substitutions first, so they add nothing.
func isCommonOrLeet(s string) bool {
	if isCommonPassword(s) {
		return true
	}
	plain := leet.Replace(s)
	if plain != s && isCommonPassword(plain) {
		return true
	}
	if strings.Contains(s, "1") {
		l := leet.Replace(strings.ReplaceAll(s, "1", "l"))
		return l != plain && isCommonPassword(l)
	}
	return false
}

// commonWithAffix reports whether s is a common password with a predictable addition in
// front of it or behind it: digits and symbols that guessing tools try first, such as
// "welcome" + "12345678" or "password" + "2024!!". The rule: strip the digits and symbols at
// both ends; if what remains (the stem, letter substitutions undone) is on the list and each
// stripped part is predictable (predictableAffix), the password is as easy to guess as its
// stem. A random tail ("welcome83920174") is not predictable and passes: that is a long
// random number, not a common password.
func commonWithAffix(s string) bool {
	start := strings.IndexFunc(s, unicode.IsLetter)
	end := strings.LastIndexFunc(s, unicode.IsLetter)
	if start < 0 {
		return false
	}
	_, size := utf8.DecodeRuneInString(s[end:])
	end += size
	prefix, stem, suffix := s[:start], s[start:end], s[end:]
	if prefix == "" && suffix == "" {
		return false // the whole password, checked by itself
	}
	return isCommonOrLeet(stem) && predictableAffix(prefix) && predictableAffix(suffix)
}

// maxShortAffix: an addition of this many characters or fewer ("2024", "!!", "1a") is
// predictable whatever it is; guessing tools try them all.
const maxShortAffix = 4

// predictableAffix reports whether an addition of digits and symbols is one that guessing
// tools try early: each of its runs of digits and of other characters is short, on the list,
// or repetitive or sequential ("12345678", "!!!!!!", "9876").
func predictableAffix(a string) bool {
	if a == "" || repetitive(a) {
		return true
	}
	for _, run := range digitRuns(a) {
		if utf8.RuneCountInString(run) > maxShortAffix && !repetitive(run) && !isCommonPassword(run) {
			return false
		}
	}
	return true
}

// digitRuns splits s into maximal runs of digits and of non-digits: "2024!!" is "2024", "!!".
func digitRuns(s string) []string {
	var runs []string
	start := 0
	for i, r := range s {
		if i > 0 {
			prev, _ := utf8.DecodeLastRuneInString(s[:i])
			if unicode.IsDigit(prev) != unicode.IsDigit(r) {
				runs = append(runs, s[start:i])
				start = i
			}
		}
	}
	return append(runs, s[start:])
}

// minCombinedPart: each part of a password joined from two list entries must be at least
// this long; the list's few shorter entries ("abc") would refuse too much by accident.
const minCombinedPart = 4

// joinsCommonPasswords reports whether s is two list entries written one after the other
// ("qwertyuiop" + "asdfgh", "sunshine" + "football"): guessing tools try such pairs
// (combinator attacks) soon after the list itself. At most one split per character, two map
// lookups each.
func joinsCommonPasswords(s string) bool {
	n := 0
	for i := range s {
		n++
		if n <= minCombinedPart {
			continue
		}
		first, second := s[:i], s[i:]
		if utf8.RuneCountInString(second) < minCombinedPart {
			return false
		}
		if isCommonPassword(first) && isCommonPassword(second) {
			return true
		}
	}
	return false
}

// repeatedUnit returns the shortest string that s is two or more copies of
// ("iloveyouiloveyou" is "iloveyou" twice), or "" when s is no repetition.
func repeatedUnit(s string) string {
	for i := range s {
		if i == 0 || len(s)%i != 0 {
			continue
		}
		if strings.Repeat(s[:i], len(s)/i) == s {
			return s[:i]
		}
	}
	return ""
}
