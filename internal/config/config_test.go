package config

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// writeFile writes content into dir/name and returns its path.
func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// validConfig returns a minimal valid configuration whose secret files exist in dir.
func validConfig(t *testing.T, dir string) string {
	t.Helper()
	pw := writeFile(t, dir, "ldap-password", "s3cret\n")
	key := writeFile(t, dir, "token-key", "0123456789abcdef0123456789abcdef")
	return `
directory:
  ldap:
    url: ldap://127.0.0.1:3899
    bindDN: cn=admin,dc=example,dc=test
    bindPasswordFile: ` + pw + `
    baseDN: dc=example,dc=test
mail:
  smtp:
    host: 127.0.0.1
    port: 1025
  from: "Staff Accounts <no-reply@example.test>"
web:
  publicURL: "http://127.0.0.1:8082"
invitations:
  tokenKeyFile: ` + key + `
`
}

func TestLoadValidAppliesDefaultsAndReadsSecrets(t *testing.T) {
	dir := t.TempDir()
	cfg, err := Load(writeFile(t, dir, "config.yaml", validConfig(t, dir)))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if got := cfg.Directory.LDAP.BindPassword; got != "s3cret" {
		t.Errorf("bind password = %q, want the file's content without the newline", got)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"web.listen", cfg.Web.Listen, ":8082"},
		{"mail.smtp.tls", cfg.Mail.SMTP.TLS, TLSNone},
		{"invitations.defaultTTL", cfg.Invitations.DefaultTTL.Duration, time.Hour},
		{"resyncPeriod", cfg.ResyncPeriod.Duration, 10 * time.Minute},
		{"web.minPasswordLength", cfg.Web.MinPasswordLength, 15},
		{"web.trustedProxies", len(cfg.Web.Proxies), 0},
		{"directory.ldap.timeout", cfg.Directory.LDAP.Timeout.Duration, DefaultLDAPTimeout},
		{"invitations.emailChangeNoticeWindow", cfg.Invitations.EmailChangeNoticeWindow.Duration, 24 * time.Hour},
		{"mail.contact", cfg.Mail.Contact, ""},
		{"workers.staffMembers", cfg.Workers.StaffMembers, 4},
		{"workers.invitations", cfg.Workers.Invitations, 4},
		{"workers.groups", cfg.Workers.Groups, 2},
		{"mail.smtp.maxPerSecond", cfg.Mail.SMTP.MaxPerSecond, 0.0},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if n := cfg.Mail.SMTP.MaxIdleConnections; n == nil || *n != DefaultSMTPMaxIdleConnections {
		t.Errorf("mail.smtp.maxIdleConnections = %s, want %d", intOrUnset(n), DefaultSMTPMaxIdleConnections)
	}
}

func TestLoadSampleConfig(t *testing.T) {
	// The sample the README and the demo point at must stay loadable (its secret files are made
	// by the demo, so only parse it here).
	data, err := os.ReadFile("../../config/local/config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Parse(data); err != nil {
		t.Fatalf("config/local/config.yaml: %v", err)
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	valid := validConfig(t, dir)
	unreadable := filepath.Join(dir, "missing-password")

	cases := []struct {
		name    string
		path    string // when set, Load this path instead of writing content
		content string
		want    []string // every substring must appear in the error
	}{
		{name: "no path", path: "-", want: []string{"pass --config FILE"}},
		{name: "missing file", path: filepath.Join(dir, "nope.yaml"), want: []string{"read configuration", "no such file"}},
		{name: "empty file", content: "   \n", want: []string{"the configuration is empty"}},
		{name: "bad YAML", content: "directory: [unclosed", want: []string{"invalid YAML"}},
		{name: "unknown field", content: valid + "resyncPeriodd: 5m\n", want: []string{`unknown field "resyncPeriodd"`}},
		{name: "unknown nested field", content: strings.Replace(valid, "baseDN:", "baseDNs:", 1), want: []string{`unknown field "directory.ldap.baseDNs"`}},
		{name: "wrong type", content: strings.Replace(valid, "port: 1025", "port: twenty", 1), want: []string{"invalid configuration", "mail.smtp.port"}},
		{name: "field in the wrong case", content: strings.Replace(valid, "baseDN:", "basedn:", 1), want: []string{`unknown field "directory.ldap.basedn"`}},
		{name: "duplicate field", content: valid + "resyncPeriod: 5m\nresyncPeriod: 6m\n", want: []string{"invalid YAML", "resyncPeriod"}},
		{name: "missing directory", content: "mail: {from: a@b.test, smtp: {host: h, port: 25}}\nweb: {publicURL: http://h}\n", want: []string{"directory.ldap: is required"}},
		{name: "missing required fields", content: "directory: {ldap: {}}\nmail: {}\nweb: {}\n", want: []string{
			"directory.ldap.url: is required", "directory.ldap.bindDN: is required",
			"directory.ldap.bindPasswordFile: is required", "directory.ldap.baseDN: is required",
			"mail.smtp.host: is required", "mail.smtp.port: must be between 1 and 65535",
			"mail.from: is required", "web.publicURL: is required",
		}},
		{name: "bad ldap scheme", content: strings.Replace(valid, "ldap://127", "http://127", 1), want: []string{"directory.ldap.url: must be ldap://host:port or ldaps://host:port"}},
		{name: "bad tls mode", content: strings.Replace(valid, "port: 1025", "port: 1025\n    tls: ssl", 1), want: []string{`mail.smtp.tls: must be none, starttls or implicit, got "ssl"`}},
		{name: "bad duration", content: valid + "resyncPeriod: soon\n", want: []string{"invalid configuration", "soon"}},
		{name: "too many LDAP connections", content: strings.Replace(valid, "    bindDN:", "    connections: 33\n    bindDN:", 1),
			want: []string{"directory.ldap.connections: must be between 1 and 32 (0 means 4), got 33"}},
		{name: "too many workers", content: valid + "workers:\n  staffMembers: 65\n  groups: -1\n",
			want: []string{"workers.staffMembers: must be between 1 and 64, got 65", "workers.groups: must be between 1 and 64, got -1"}},
		{name: "ttl out of range", content: valid + "  defaultTTL: 1m\n", want: []string{"invitations.defaultTTL: must be between 5m and 720h"}},
		{name: "token key missing", content: strings.Replace(valid, "tokenKeyFile:", "passwordResetTTL: 10m\n  #", 1), want: []string{"invitations.tokenKeyFile: is required"}},
		{name: "token key too short", content: strings.Replace(valid, filepath.Join(dir, "token-key"), writeFile(t, dir, "short-key", "abc"), 1), want: []string{"invitations.tokenKeyFile: the key must be at least 32 bytes, got 3"}},
		{name: "bad from", content: strings.Replace(valid, `from: "Staff Accounts <no-reply@example.test>"`, "from: nobody", 1), want: []string{"mail.from: is not a mail address"}},
		{name: "unreadable secret file", content: strings.Replace(valid, filepath.Join(dir, "ldap-password"), unreadable, 1), want: []string{"directory.ldap.bindPasswordFile: cannot read secret file", unreadable}},
		{name: "empty secret file", content: strings.Replace(valid, filepath.Join(dir, "ldap-password"), writeFile(t, dir, "empty", "\n"), 1), want: []string{"directory.ldap.bindPasswordFile: secret file", "is empty"}},
		{name: "notice window negative", content: valid + "  emailChangeNoticeWindow: -1h\n", want: []string{"invitations.emailChangeNoticeWindow: must be between 0 (the default, 24h) and 720h", "got -1h0m0s"}},
		{name: "notice window too long", content: valid + "  emailChangeNoticeWindow: 721h\n", want: []string{"invitations.emailChangeNoticeWindow: must be between 0 (the default, 24h) and 720h", "got 721h0m0s"}},
		{name: "notice window not a duration", content: valid + "  emailChangeNoticeWindow: 0\n", want: []string{"invalid configuration", "emailChangeNoticeWindow"}},
		{name: "contact on two lines", content: strings.Replace(valid, "  from:", `  contact: "the front office\nBcc: x@example.test"`+"\n  from:", 1), want: []string{"mail.contact: must be a single line without control characters"}},
		{name: "contact with a tab", content: strings.Replace(valid, "  from:", `  contact: "the front\toffice"`+"\n  from:", 1), want: []string{"mail.contact: must be a single line without control characters"}},
		{name: "contact with a line separator", content: strings.Replace(valid, "  from:", `  contact: "the front office\u2028call us"`+"\n  from:", 1), want: []string{"mail.contact: must be a single line"}},
		{name: "contact too long", content: strings.Replace(valid, "  from:", "  contact: "+strings.Repeat("a", 201)+"\n  from:", 1), want: []string{"mail.contact: must be at most 200 characters, got 201"}},
		{name: "too many idle SMTP sessions", content: strings.Replace(valid, "port: 1025", "port: 1025\n    maxIdleConnections: 17", 1),
			want: []string{"mail.smtp.maxIdleConnections: must be between 0 (a new session for every mail) and 16, got 17"}},
		{name: "negative idle SMTP sessions", content: strings.Replace(valid, "port: 1025", "port: 1025\n    maxIdleConnections: -1", 1),
			want: []string{"mail.smtp.maxIdleConnections: must be between 0 (a new session for every mail) and 16, got -1"}},
		{name: "idle SMTP sessions not a whole number", content: strings.Replace(valid, "port: 1025", "port: 1025\n    maxIdleConnections: 1.5", 1),
			want: []string{"invalid configuration", "mail.smtp.maxIdleConnections"}},
		{name: "negative send rate", content: strings.Replace(valid, "port: 1025", "port: 1025\n    maxPerSecond: -2", 1),
			want: []string{"mail.smtp.maxPerSecond: must be 0 (unlimited) or a rate of at most 1000 mails per second, such as 5 or 0.5, got -2"}},
		{name: "send rate too high", content: strings.Replace(valid, "port: 1025", "port: 1025\n    maxPerSecond: 1000.5", 1),
			want: []string{"mail.smtp.maxPerSecond: must be 0 (unlimited) or a rate of at most 1000", "got 1000.5"}},
		{name: "send rate not a number", content: strings.Replace(valid, "port: 1025", "port: 1025\n    maxPerSecond: fast", 1),
			want: []string{"invalid configuration", "mail.smtp.maxPerSecond"}},
		{name: "password floor too high", content: strings.Replace(valid, "publicURL:", "minPasswordLength: 100\n  publicURL:", 1), want: []string{"web.minPasswordLength: must be between 8 and 64"}},
		{name: "removal guard share over 100", content: valid + "removalGuard: {maxPercent: 150}\n", want: []string{"removalGuard.maxPercent: must be between 0 (default 10) and 100, got 150"}},
		{name: "removal guard negative", content: valid + "removalGuard: {maxEntries: -1, window: -5m}\n",
			want: []string{"removalGuard.maxEntries: must be 0 (default 20) or more, got -1", "removalGuard.window: must be 0 (default 10m) or more"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := tc.path
			switch path {
			case "":
				path = writeFile(t, t.TempDir(), "config.yaml", tc.content)
			case "-":
				path = ""
			}
			_, err := Load(path)
			if err == nil {
				t.Fatal("Load succeeded, want an error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestLoadNoticeSettings(t *testing.T) {
	cases := []struct {
		name    string
		contact string // YAML value of mail.contact, "" to leave it out
		window  string // YAML value of invitations.emailChangeNoticeWindow, "" to leave it out
		want    Mail
		wantWin time.Duration
	}{
		{name: "defaults", wantWin: 24 * time.Hour},
		{name: "set", contact: `"the front office at +1 312 555 0100"`, window: "72h",
			want: Mail{Contact: "the front office at +1 312 555 0100"}, wantWin: 72 * time.Hour},
		{name: "longest", contact: strings.Repeat("ü", 200), window: "720h",
			want: Mail{Contact: strings.Repeat("ü", 200)}, wantWin: 720 * time.Hour},
		{name: "shortest", window: "1s", wantWin: time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			content := validConfig(t, dir)
			if tc.contact != "" {
				content = strings.Replace(content, "  from:", "  contact: "+tc.contact+"\n  from:", 1)
			}
			if tc.window != "" {
				content += "  emailChangeNoticeWindow: " + tc.window + "\n"
			}
			cfg, err := Load(writeFile(t, dir, "config.yaml", content))
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if cfg.Mail.Contact != tc.want.Contact {
				t.Errorf("mail.contact = %q, want %q", cfg.Mail.Contact, tc.want.Contact)
			}
			if got := cfg.Invitations.EmailChangeNoticeWindow.Duration; got != tc.wantWin {
				t.Errorf("invitations.emailChangeNoticeWindow = %s, want %s", got, tc.wantWin)
			}
		})
	}
}

func TestLoadSMTPReuseAndRate(t *testing.T) {
	cases := []struct {
		name     string
		yaml     string // lines added under mail.smtp
		wantIdle int
		wantRate float64
	}{
		{name: "defaults", wantIdle: DefaultSMTPMaxIdleConnections, wantRate: 0},
		{name: "no reuse", yaml: "maxIdleConnections: 0", wantIdle: 0},
		{name: "most idle sessions", yaml: "maxIdleConnections: 16", wantIdle: 16},
		{name: "whole rate", yaml: "maxPerSecond: 5", wantIdle: DefaultSMTPMaxIdleConnections, wantRate: 5},
		{name: "one every two seconds", yaml: "maxPerSecond: 0.5", wantIdle: DefaultSMTPMaxIdleConnections, wantRate: 0.5},
		{name: "highest rate", yaml: "maxPerSecond: 1000", wantIdle: DefaultSMTPMaxIdleConnections, wantRate: 1000},
		{name: "both", yaml: "maxIdleConnections: 1\n    maxPerSecond: 10", wantIdle: 1, wantRate: 10},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			content := validConfig(t, dir)
			if tc.yaml != "" {
				content = strings.Replace(content, "port: 1025", "port: 1025\n    "+tc.yaml, 1)
			}
			cfg, err := Load(writeFile(t, dir, "config.yaml", content))
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if n := cfg.Mail.SMTP.MaxIdleConnections; n == nil || *n != tc.wantIdle {
				t.Errorf("mail.smtp.maxIdleConnections = %s, want %d", intOrUnset(n), tc.wantIdle)
			}
			if r := cfg.Mail.SMTP.MaxPerSecond; r != tc.wantRate {
				t.Errorf("mail.smtp.maxPerSecond = %v, want %v", r, tc.wantRate)
			}
		})
	}
}

func intOrUnset(n *int) string {
	if n == nil {
		return "unset"
	}
	return strconv.Itoa(*n)
}

func TestLoadErrorNeverShowsSecret(t *testing.T) {
	dir := t.TempDir()
	// A config that fails after the secret is read must not echo the secret.
	content := strings.Replace(validConfig(t, dir), "port: 1025", "port: 1025\n    usernameFile: "+writeFile(t, dir, "user", "hunter2-user"), 1)
	_, err := Load(writeFile(t, dir, "config.yaml", content))
	if err == nil || strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("want an error without secrets, got %v", err)
	}
}

func TestTokenKeyIsReadAsRawBytes(t *testing.T) {
	dir := t.TempDir()
	// Random bytes may end in a line break; trimming it as from a password would change the key
	// and every link derived from it.
	key := "0123456789abcdef0123456789abcde\n"
	content := strings.Replace(validConfig(t, dir), filepath.Join(dir, "token-key"), writeFile(t, dir, "raw-key", key), 1)
	cfg, err := Load(writeFile(t, dir, "config.yaml", content))
	if err != nil {
		t.Fatal(err)
	}
	if string(cfg.Invitations.TokenKey) != key {
		t.Errorf("token key = %q, want the file's bytes unchanged", cfg.Invitations.TokenKey)
	}
}

// TestTransportRules: secrets never cross the network in clear text unless a setting says
// so explicitly; loopback (the demo and the tests) needs no such setting.
func TestTransportRules(t *testing.T) {
	ldapURL := func(url string, extra ...string) func(string) string {
		return func(c string) string {
			return strings.Replace(c, "url: ldap://127.0.0.1:3899", "url: "+url+strings.Join(extra, ""), 1)
		}
	}
	publicURL := func(url string, extra ...string) func(string) string {
		return func(c string) string {
			return strings.Replace(c, `publicURL: "http://127.0.0.1:8082"`, "publicURL: "+url+strings.Join(extra, ""), 1)
		}
	}
	cases := []struct {
		name   string
		change func(string) string
		want   string // "" means the configuration loads
	}{
		{"ldap to 127.0.0.1", ldapURL("ldap://127.0.0.1:3899"), ""},
		{"ldap to 127.8.9.10", ldapURL("ldap://127.8.9.10:389"), ""},
		{"ldap to ::1", ldapURL("ldap://[::1]:389"), ""},
		{"ldap to localhost", ldapURL("ldap://localhost:389"), ""},
		{"ldap to LOCALHOST", ldapURL("ldap://LOCALHOST:389"), ""},
		{"ldap to a host", ldapURL("ldap://ldap.example.org:389"),
			"directory.ldap.url: ldap:// to ldap.example.org without startTLS sends the bind password"},
		{"ldap to a private address", ldapURL("ldap://10.0.0.5"), "set directory.ldap.startTLS: true, or (only on a network you trust) set directory.ldap.allowInsecure: true"},
		{"ldap to a v6 address", ldapURL("ldap://[2001:db8::1]:389"), "directory.ldap.url: ldap:// to 2001:db8::1 without startTLS"},
		{"ldap to a name that only starts like loopback", ldapURL("ldap://127.0.0.1.example.org"), "directory.ldap.url: ldap:// to 127.0.0.1.example.org"},
		{"ldap to localhost.example.org", ldapURL("ldap://localhost.example.org"), "directory.ldap.url: ldap:// to localhost.example.org"},
		{"ldap with startTLS", ldapURL("ldap://ldap.example.org:389", "\n    startTLS: true"), ""},
		{"ldap allowed insecure", ldapURL("ldap://ldap.example.org:389", "\n    allowInsecure: true"), ""},
		{"ldaps", ldapURL("ldaps://ldap.example.org:636"), ""},
		{"http to 127.0.0.1", publicURL("http://127.0.0.1:8082"), ""},
		{"http to localhost", publicURL("http://localhost:8082/staff"), ""},
		{"http to ::1", publicURL("http://[::1]:8082"), ""},
		{"http to a host", publicURL("http://staff.example.org"),
			"web.publicURL: http:// to staff.example.org sends the links in mails and the passwords typed into the page in clear text; use https://"},
		{"http to a private address", publicURL("http://192.168.1.20:8082"), "or (only for a test installation) set web.allowInsecure: true"},
		{"http allowed insecure", publicURL("http://staff.example.org", "\n  allowInsecure: true"), ""},
		{"https", publicURL("https://staff.example.org"), ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			_, err := Load(writeFile(t, dir, "config.yaml", tc.change(validConfig(t, dir))))
			checkLoad(t, err, tc.want)
		})
	}
}

// checkLoad fails unless err is nil (want "") or contains want.
func checkLoad(t *testing.T, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Fatalf("Load: %v, want no error", err)
	case want != "" && err == nil:
		t.Fatalf("Load succeeded, want an error containing %q", want)
	case want != "" && !strings.Contains(err.Error(), want):
		t.Fatalf("error %q does not contain %q", err, want)
	}
}

func TestLDAPTimeoutFitsTheClaim(t *testing.T) {
	for _, tc := range []struct{ timeout, want string }{
		{"1s", ""},
		{"6s", ""},
		{"6001ms", "directory.ldap.timeout: must be at most 6s, got 6.001s: a password submit on the invitation page holds a 1m0s claim on its link (invitationstore.ClaimTimeout), starts no directory request after 30s"},
		{"10s", "directory.ldap.timeout: must be at most 6s, got 10s"},
		{"-1s", "directory.ldap.timeout: must be positive"},
	} {
		t.Run(tc.timeout, func(t *testing.T) {
			dir := t.TempDir()
			content := strings.Replace(validConfig(t, dir), "    baseDN:", "    timeout: "+tc.timeout+"\n    baseDN:", 1)
			_, err := Load(writeFile(t, dir, "config.yaml", content))
			checkLoad(t, err, tc.want)
		})
	}
}

func TestTrustedProxies(t *testing.T) {
	for _, tc := range []struct {
		name, yaml, want string
		proxies          []string
	}{
		{name: "CIDRs and addresses", yaml: `["10.0.0.0/8", "192.0.2.7", "2001:db8::/48", "::ffff:198.51.100.0/120", "172.16.5.9/12"]`,
			proxies: []string{"10.0.0.0/8", "192.0.2.7/32", "2001:db8::/48", "198.51.100.0/24", "172.16.0.0/12"}},
		{name: "not an address", yaml: `["10.0.0.0/8", "ingress"]`, want: `web.trustedProxies[1]: must be a CIDR such as 10.0.0.0/8 or an IP address such as 10.1.2.3, got "ingress"`},
		{name: "host and port", yaml: `["10.0.0.1:443"]`, want: `web.trustedProxies[0]: must be a CIDR`},
		{name: "everyone", yaml: `["0.0.0.0/0"]`, want: `web.trustedProxies[0]: "0.0.0.0/0" trusts every address`},
		{name: "everyone v6", yaml: `["::/0"]`, want: `web.trustedProxies[0]: "::/0" trusts every address`},
		{name: "the old switch", yaml: `[]` + "\n  trustForwardedFor: true",
			want: `web.trustForwardedFor: is no longer supported: it trusted X-Forwarded-For from any client, so a client could choose its own rate-limit key; remove it and list the addresses of the proxies in front of the page in web.trustedProxies instead`},
		{name: "the old switch off", yaml: `[]` + "\n  trustForwardedFor: false"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			content := strings.Replace(validConfig(t, dir), "web:\n", "web:\n  trustedProxies: "+tc.yaml+"\n", 1)
			cfg, err := Load(writeFile(t, dir, "config.yaml", content))
			checkLoad(t, err, tc.want)
			if err != nil {
				return
			}
			var got []string
			for _, p := range cfg.Web.Proxies {
				got = append(got, p.String())
			}
			if strings.Join(got, " ") != strings.Join(tc.proxies, " ") {
				t.Errorf("proxies %v, want %v", got, tc.proxies)
			}
		})
	}
}

func TestLoadReminderAndAutoResend(t *testing.T) {
	cases := []struct {
		name       string
		yaml       string // lines added under invitations
		wantBefore time.Duration
		wantMax    int32
		wantErr    string
	}{
		{name: "defaults", wantBefore: DefaultReminderBefore, wantMax: 0},
		{name: "set", yaml: "reminderBefore: 36h\n  autoResend: {maxResends: 3}", wantBefore: 36 * time.Hour, wantMax: 3},
		{name: "reminders off", yaml: "reminderBefore: 0s", wantBefore: 0},
		{name: "longest lead", yaml: "reminderBefore: 720h", wantBefore: 720 * time.Hour},
		{name: "most resends", yaml: "autoResend: {maxResends: 10}", wantBefore: DefaultReminderBefore, wantMax: 10},
		{name: "negative lead", yaml: "reminderBefore: -1h", wantErr: "invitations.reminderBefore: must be between 0s (no reminders) and 720h, got -1h0m0s"},
		{name: "lead too long", yaml: "reminderBefore: 721h", wantErr: "invitations.reminderBefore: must be between 0s (no reminders) and 720h, got 721h0m0s"},
		{name: "too many resends", yaml: "autoResend: {maxResends: 11}", wantErr: "invitations.autoResend.maxResends: must be between 0 and 10"},
		{name: "negative resends", yaml: "autoResend: {maxResends: -1}", wantErr: "invitations.autoResend.maxResends: must be between 0 and 10"},
		{name: "misspelt", yaml: "autoResend: {maxResend: 1}", wantErr: `unknown field "invitations.autoResend.maxResend"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			content := validConfig(t, dir)
			if tc.yaml != "" {
				content += "  " + tc.yaml + "\n"
			}
			cfg, err := Load(writeFile(t, dir, "config.yaml", content))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if got := cfg.Invitations.ReminderBefore.Duration; got != tc.wantBefore {
				t.Errorf("invitations.reminderBefore = %s, want %s", got, tc.wantBefore)
			}
			if got := cfg.Invitations.AutoResend.MaxResends; got != tc.wantMax {
				t.Errorf("invitations.autoResend.maxResends = %d, want %d", got, tc.wantMax)
			}
		})
	}
}
