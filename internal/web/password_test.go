package web

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestPasswordPolicy(t *testing.T) {
	p := passwordPolicy{min: 15}
	for _, tc := range []struct {
		name, password, confirm, email string
		reason                         string
		want                           fieldErrors // field -> message prefix
	}{
		{name: "ok", password: goodPassword, reason: "four words, 24 characters"},
		{name: "exactly the minimum", password: "fifteen chars!!", reason: "15 characters is enough"},
		{name: "exactly the maximum", password: strings.Repeat("orbit ", 21) + "xy", reason: "128 characters is allowed"},
		{name: "one over the maximum", password: strings.Repeat("orbit ", 21) + "xyz", want: fieldErrors{"password": "Use at most 128 characters; this one has 129."}},
		{name: "counted in characters, not bytes", password: "ääääääää öööööö", reason: "15 characters, 29 bytes"},
		{name: "counted after NFC", password: strings.Repeat("e\u0301", 14) + "x", want: fieldErrors{"password": "Use at least 15 characters; this one has 15."},
			reason: "placeholder, replaced below"},
		{name: "no composition rules", password: "all lower case words here", reason: "no digits, capitals or symbols needed"},
		{name: "common, any case", password: "QwertyuiopAsdfgh", want: fieldErrors{"password": "This password is on a list"}},
		{name: "common digits", password: "123456789012345", want: fieldErrors{"password": "This password is on a list"}},
		{name: "common doubled word", password: "iloveyouiloveyou", want: fieldErrors{"password": "This password is on a list"}},
		{name: "one character repeated", password: strings.Repeat("z", 20), want: fieldErrors{"password": "This password repeats"}},
		{name: "short unit repeated", password: strings.Repeat("xo", 10), want: fieldErrors{"password": "This password repeats"}},
		{name: "ascending run", password: "bcdefghijklmnopq", want: fieldErrors{"password": "This password repeats"}},
		{name: "descending digits wrapping", password: "3210987654321098", want: fieldErrors{"password": "This password repeats"}},
		{name: "local part", password: "hello ana.ruiz 2026", email: testEmail, want: fieldErrors{"password": "The password must not contain the first part of your email address, “ana.ruiz”."}},
		{name: "local part, other case", password: "hello ANA.Ruiz 2026", email: testEmail, want: fieldErrors{"password": "The password must not contain"}},
		{name: "short local part not checked", password: "al is on call at nine", email: "al@riverside.example.test", reason: "a two-letter local part would refuse too much"},
		{name: "mismatch", password: goodPassword, confirm: goodPassword + " ", want: fieldErrors{"confirmPassword": "The two passwords do not match."}},
		{name: "both fields", password: "short", confirm: "other", want: fieldErrors{"password": "Use at least 15", "confirmPassword": "The two passwords do not match."}},
		{name: "newline", password: "plum kettle\norbit harbor", want: fieldErrors{"password": "The password contains a tab, line break"}},
		{name: "invalid UTF-8", password: "plum kettle \xff orbit harbor", want: fieldErrors{"password": "The password contains characters that cannot be used."}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			confirm := tc.confirm
			if confirm == "" {
				confirm = tc.password
			}
			email := tc.email
			if email == "" {
				email = testEmail
			}
			got := p.check(tc.password, confirm, email)
			if tc.name == "counted after NFC" {
				// 14 decomposed "é" (28 code points) plus "x" are 15 characters in NFC.
				if len(got) != 0 {
					t.Errorf("got %v, want no problems: NFC makes it 15 characters", got)
				}
				if utf8.RuneCountInString(tc.password) != 29 {
					t.Fatal("test password is not decomposed")
				}
				return
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %v, want %v (%s)", got, tc.want, tc.reason)
			}
			for field, prefix := range tc.want {
				if !strings.HasPrefix(got[field], prefix) {
					t.Errorf("%s: %q, want it to start with %q", field, got[field], prefix)
				}
				if len(tc.password) >= 6 && strings.Contains(got[field], tc.password) {
					t.Errorf("%s: message contains the password", field)
				}
			}
		})
	}
}

func TestCommonPasswordList(t *testing.T) {
	if n := len(commonPasswords); n < 1000 {
		t.Errorf("the list has %d passwords, want at least 1000", n)
	}
	seen := map[string]bool{}
	long := 0
	for line := range strings.Lines(commonPasswordsFile) {
		line = strings.TrimSuffix(line, "\n")
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if line != strings.ToLower(line) {
			t.Errorf("%q is not lower case", line)
		}
		if seen[line] {
			t.Errorf("%q is listed twice", line)
		}
		seen[line] = true
		if utf8.RuneCountInString(line) >= DefaultMinPasswordLength {
			long++
		}
	}
	if long < 50 {
		t.Errorf("%d entries are at least %d characters long, want at least 50: with the default minimum, only those matter", long, DefaultMinPasswordLength)
	}
	for _, pw := range []string{"password", "123456", "qwerty", "iloveyou", "letmein", "passw0rd", "welcome1",
		"passwordpassword", "qwertyuiopasdfgh", "123456789012345", "iloveyouiloveyou"} {
		if !isCommonPassword(pw) {
			t.Errorf("%q is not on the list", pw)
		}
	}
}
