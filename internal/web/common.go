package web

import (
	_ "embed"
	"strings"

	"golang.org/x/text/unicode/norm"
)

// commonPasswordsFile is a hand-compiled list of frequently used passwords; the file's header
// says where it comes from.
//
//go:embed common-passwords.txt
var commonPasswordsFile string

// commonPasswords holds the list, lower-cased and in NFC, built once at start-up.
var commonPasswords = parseCommonPasswords(commonPasswordsFile)

func parseCommonPasswords(file string) map[string]struct{} {
	set := map[string]struct{}{}
	for line := range strings.Lines(file) {
		line = strings.TrimRight(line, "\r\n")
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		set[strings.ToLower(norm.NFC.String(line))] = struct{}{}
	}
	return set
}

// isCommonPassword reports whether a lower-cased NFC password is on the list.
func isCommonPassword(lower string) bool {
	_, ok := commonPasswords[lower]
	return ok
}
