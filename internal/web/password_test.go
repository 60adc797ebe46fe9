package web

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// Prefixes of the messages, for the tables below.
const (
	onList     = "This password is on a list"
	withAffix  = "This password is a commonly used password with predictable digits or symbols added"
	joined     = "This password joins two commonly used passwords"
	repeats    = "This password repeats"
	tooShort   = "Use at least 15 characters"
	inEmail    = "The password must not contain the first part of your email address"
	inName     = "The password must not contain your name"
	inPractice = "The password must not contain the name of your practice"
	inPractWd  = "The password must not contain a word of the name of your practice"
)

type passwordCase struct {
	name, password, confirm string
	who                     *Invitee // nil means testInvitee
	reason                  string
	want                    fieldErrors // field -> message prefix; nil means accepted
}

func runPasswordCases(t *testing.T, cases []passwordCase) {
	t.Helper()
	p := passwordPolicy{min: 15}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			confirm := tc.confirm
			if confirm == "" {
				confirm = tc.password
			}
			who := testInvitee(PurposeInvitation)
			if tc.who != nil {
				who = *tc.who
			}
			got := p.check(tc.password, confirm, who)
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

func TestPasswordPolicy(t *testing.T) {
	runPasswordCases(t, []passwordCase{
		{name: "ok", password: goodPassword, reason: "four words, 24 characters"},
		{name: "exactly the minimum", password: "fifteen chars!!", reason: "15 characters is enough"},
		{name: "exactly the maximum", password: strings.Repeat("orbit ", 21) + "xy", reason: "128 characters is allowed"},
		{name: "one over the maximum", password: strings.Repeat("orbit ", 21) + "xyz", want: fieldErrors{"password": "Use at most 128 characters; this one has 129."}},
		{name: "counted in characters, not bytes", password: "ääääääää öööööö", reason: "15 characters, 29 bytes"},
		{name: "counted after NFC", password: strings.Repeat("e\u0301", 14) + "x", reason: "14 decomposed é (28 code points) and x are 15 characters"},
		{name: "no composition rules", password: "all lower case words here", reason: "no digits, capitals or symbols needed"},
		{name: "one character repeated", password: strings.Repeat("z", 20), want: fieldErrors{"password": repeats}},
		{name: "short unit repeated", password: strings.Repeat("xo", 10), want: fieldErrors{"password": repeats}},
		{name: "ascending run", password: "bcdefghijklmnopq", want: fieldErrors{"password": repeats}},
		{name: "descending digits wrapping", password: "3210987654321098", want: fieldErrors{"password": repeats}},
		{name: "digits counting up, wrapping", password: "123456789012345", want: fieldErrors{"password": repeats}},
		{name: "mismatch", password: goodPassword, confirm: goodPassword + " ", want: fieldErrors{"confirmPassword": "The two passwords do not match."}},
		{name: "both fields", password: "short", confirm: "other", want: fieldErrors{"password": tooShort, "confirmPassword": "The two passwords do not match."}},
		{name: "newline", password: "plum kettle\norbit harbor", want: fieldErrors{"password": "The password contains a tab, line break"}},
		{name: "invalid UTF-8", password: "plum kettle \xff orbit harbor", want: fieldErrors{"password": "The password contains characters that cannot be used."}},
	})
}

// TestPasswordNormalization: the rules see one form of a password however it was typed.
func TestPasswordNormalization(t *testing.T) {
	runPasswordCases(t, []passwordCase{
		{name: "fullwidth", password: "ＰＡＳＳＷＯＲＤ１２３４５６７", want: fieldErrors{"password": withAffix}, reason: "NFKC makes it password1234567"},
		{name: "fullwidth passphrase", password: "ｐｌｕｍ ｋｅｔｔｌｅ ｏｒｂｉｔ", reason: "NFKC keeps a good passphrase good"},
		{name: "ligature", password: "\ufb02ower123456789", want: fieldErrors{"password": withAffix}, reason: "the ﬂ ligature is fl"},
		{name: "mixed case", password: "PassWord1234567", want: fieldErrors{"password": withAffix}},
		{name: "upper case on the list", password: "PASSWORDPASSWORD", want: fieldErrors{"password": onList}},
		{name: "sharp s folds to ss", password: "PASSWORTPASSWORT", who: &Invitee{Practice: "Straße"}, want: fieldErrors{"password": onList}, reason: "a doubled common word"},
		{name: "spaces collapse", password: "pass   word   1234567", want: fieldErrors{"password": withAffix}, reason: "the same guess as password1234567"},
		{name: "no-break spaces collapse", password: "plum\u00a0kettle\u3000orbit harbor", reason: "a passphrase with other spaces"},
		{name: "leading and trailing spaces do not count", password: "   short one   ", want: fieldErrors{"password": tooShort + "; this one has 9."}},
	})
}

// TestPasswordInvisibleCharacters: characters that show nothing neither count toward the
// length nor hide a common password.
func TestPasswordInvisibleCharacters(t *testing.T) {
	zw := strings.Repeat("\u200b", 12)
	runPasswordCases(t, []passwordCase{
		{name: "zero-width spaces", password: "short" + zw, want: fieldErrors{"password": tooShort + "; this one has 5."}},
		{name: "zero-width joiners between letters", password: "s\u200ch\u200do\u2060r\ufefft!!", want: fieldErrors{"password": tooShort + "; this one has 7."}},
		{name: "bidi controls and soft hyphens", password: "\u202eabc\u00addef\u2066ghi\u2069", want: fieldErrors{"password": tooShort + "; this one has 9."}},
		{name: "variation selectors and Hangul fillers", password: "orbit\ufe0f\ufe0f\u3164\u3164\u3164 kettle\u034f\u034f", want: fieldErrors{"password": tooShort + "; this one has 12."}},
		{name: "a common password split by zero-width spaces", password: "pass\u200bword\u200b1234567", want: fieldErrors{"password": withAffix}},
		{name: "a good passphrase with a zero-width space", password: "plum kettle\u200b orbit harbor", reason: "still 24 characters without it"},
	})
	if n := utf8.RuneCountInString("short" + zw); n != 17 {
		t.Fatalf("the padded password has %d characters, want 17", n)
	}
}

// TestPasswordContextWords: the person's names, email and practice are the first guesses of
// anyone who targets the practice.
func TestPasswordContextWords(t *testing.T) {
	long := &Invitee{GivenName: "Margarita", FamilyName: "Oyelaran-Smith", Email: "m.oyelaran@lakeshore.example.test", Practice: "Lakeshore Pediatrics of Evanston"}
	runPasswordCases(t, []passwordCase{
		{name: "email local part", password: "hello ana.ruiz 2026", want: fieldErrors{"password": inEmail + ", “ana.ruiz”."}},
		{name: "email local part, other case", password: "hello ANA.Ruiz 2026", want: fieldErrors{"password": inEmail}},
		{name: "email local part without its dot", password: "my login is anaruiz now", want: fieldErrors{"password": inEmail}},
		{name: "short local part not checked", password: "al is on call at nine", who: &Invitee{Email: "al@riverside.example.test"}, reason: "a two-letter local part would refuse too much"},
		{name: "given name as a word", password: "ana likes quiet trains", want: fieldErrors{"password": inName + ", “ana”."}},
		{name: "family name as a word", password: "quiet trains for RUIZ", want: fieldErrors{"password": inName + ", “ruiz”."}},
		{name: "family name with digits", password: "ruiz2026 quiet trains", want: fieldErrors{"password": inName}},
		{name: "a short name inside another word is fine", password: "banana bread on fridays", reason: "ana is inside banana by chance"},
		{name: "full name run together", password: "AnaRuizQuietTrains", want: fieldErrors{"password": inEmail}, reason: "anaruiz is also the local part without its dot"},
		{name: "long given name anywhere", password: "quiettrainsmargarita", who: long, want: fieldErrors{"password": inName + ", “margarita”."}},
		{name: "hyphenated family name, one part", password: "evening smith crossing", who: long, want: fieldErrors{"password": inName + ", “smith”."}},
		{name: "full name run together, other email", password: "margaritaoyelaransmith", who: long, want: fieldErrors{"password": inName}},
		{name: "whole practice name", password: "riversidefamilyhealth rocks", want: fieldErrors{"password": inPractice + ", “riversidefamilyhealth”."}},
		{name: "long practice word anywhere", password: "welcome to riverside!", want: fieldErrors{"password": inPractWd + ", “riverside”."}},
		{name: "short practice word as a word", password: "my family eats tacos", want: fieldErrors{"password": inPractWd + ", “family”."}},
		{name: "short practice word inside another word is fine", password: "healthy tacos every day", reason: "health is inside healthy by chance"},
		{name: "practice word in other case and width", password: "ＰＥＤＩＡＴＲＩＣＳ night shift", who: long, want: fieldErrors{"password": inPractWd + ", “pediatrics”."}},
		{name: "short practice words are not checked", password: "the lake of dreams at dusk", who: long, reason: "of is too short to check"},
		{name: "unrelated passphrase", password: goodPassword, who: long},
	})
}

// TestPasswordCommonList: what people type at 15 characters and more is refused, by the list
// itself or by the rules built on it.
func TestPasswordCommonList(t *testing.T) {
	runPasswordCases(t, []passwordCase{
		{name: "password1234567", password: "password1234567", want: fieldErrors{"password": withAffix}},
		{name: "welcome12345678", password: "welcome12345678", want: fieldErrors{"password": withAffix}},
		{name: "a year and symbols", password: "sunshine2024!!!!", want: fieldErrors{"password": withAffix}},
		{name: "digits in front", password: "123456789dragon", want: fieldErrors{"password": withAffix}},
		{name: "letters substituted", password: "P@ssw0rd12345678", want: fieldErrors{"password": withAffix}},
		{name: "on the list at 16", password: "passwordpassword", want: fieldErrors{"password": onList}},
		{name: "on the list, keyboard walk", password: "1qaz2wsx3edc4rfv", want: fieldErrors{"password": onList}},
		{name: "a common password doubled", password: "iloveyouiloveyou", want: fieldErrors{"password": onList}},
		{name: "two keyboard walks joined", password: "QwertyuiopAsdfgh", want: fieldErrors{"password": joined}},
		{name: "two common words joined", password: "sunshinefootball", want: fieldErrors{"password": joined}},
		{name: "a common word and a random number", password: "welcome83920174", reason: "the tail is not predictable"},
		{name: "good passphrase", password: "violet tram harbor ninety"},
		{name: "good passphrase with digits", password: "plum kettle orbit 42"},
		{name: "random characters", password: "xq7#Lm2!pV9zRt4@"},
	})
}

func TestCommonPasswordList(t *testing.T) {
	if n := len(commonPasswords()); n < 40000 {
		t.Errorf("the list has %d passwords, want the whole zxcvbn list (about 49,000)", n)
	}
	for _, pw := range []string{"password", "123456", "qwerty", "iloveyou", "letmein", "passw0rd", "welcome",
		"passwordpassword", "1qaz2wsx3edc4rfv", "#name?"} {
		if !isCommonPassword(pw) {
			t.Errorf("%q is not on the list", pw)
		}
	}
	if isCommonPassword("# source: the npm package @zxcvbn-ts/language-common, version 4.1.3, file src/passwords.json:") {
		t.Error("a header line was read as a password")
	}
}

func BenchmarkPasswordCheck(b *testing.B) {
	p := passwordPolicy{min: 15}
	who := testInvitee(PurposeInvitation)
	commonPasswords()
	for b.Loop() {
		p.check("violet tram harbor ninety 2026", "violet tram harbor ninety 2026", who)
	}
}
