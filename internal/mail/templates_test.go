package mail_test

import (
	"errors"
	"html/template"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rosterops/staff-operator/internal/mail"
)

func data() mail.Data {
	return mail.Data{
		Practice:  "Lakeside Family Practice",
		Name:      "Dana Lee",
		Email:     "dana@example.test",
		NewEmail:  "dana.lee@example.test",
		Roles:     []string{"Front Desk", "Billing"},
		Locations: []string{"North Clinic"},
		Link:      "https://staff.example.test/invitations/abc",
		ExpiresAt: time.Date(2026, 3, 10, 20, 0, 0, 0, time.UTC),
		TimeZone:  "America/Chicago",
	}
}

func load(t *testing.T, dir string) *mail.Templates {
	t.Helper()
	tpl, err := mail.LoadTemplates(dir)
	if err != nil {
		t.Fatalf("LoadTemplates: %v", err)
	}
	return tpl
}

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestEmbeddedTemplatesMatchTemplateNames(t *testing.T) {
	// The defaults live in templates/; every name LoadTemplates knows must be there and
	// nothing else, or an override would have nothing to replace.
	var files []string
	err := filepath.WalkDir("templates", func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, d.Name())
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	want := mail.TemplateNames()
	slices.Sort(files)
	slices.Sort(want)
	if !slices.Equal(files, want) {
		t.Errorf("templates/ holds %v, TemplateNames is %v", files, want)
	}
}

func TestRenderShowsExpiryInPracticeTimeZone(t *testing.T) {
	tpl := load(t, "")
	cases := []struct {
		zone string
		want string
	}{
		{"America/Chicago", "Tuesday, March 10, 2026 at 3:00 PM CDT"},
		{"Europe/Berlin", "Tuesday, March 10, 2026 at 9:00 PM CET"},
		{"Asia/Kolkata", "Wednesday, March 11, 2026 at 1:30 AM IST"},
		{"", "Tuesday, March 10, 2026 at 8:00 PM UTC"},
	}
	for _, tc := range cases {
		d := data()
		d.TimeZone = tc.zone
		msg, err := tpl.Render(mail.Invitation, d)
		if err != nil {
			t.Fatalf("Render in %q: %v", tc.zone, err)
		}
		if !strings.Contains(msg.Text, tc.want) || !strings.Contains(msg.HTML, tc.want) {
			t.Errorf("zone %q: parts do not show %q:\n%s", tc.zone, tc.want, msg.Text)
		}
	}
}

// linkFree are the kinds that must never show a link, even when the data has one.
var linkFree = map[mail.Kind]bool{
	mail.AccountDeactivated:  true,
	mail.EmailChanged:        true,
	mail.PasswordResetNotice: true,
}

func TestRenderEveryKind(t *testing.T) {
	tpl := load(t, "")
	for _, kind := range mail.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			d := data()
			msg, err := tpl.Render(kind, d)
			if err != nil {
				t.Fatalf("Render: %v", err)
			}
			if msg.Kind != kind || msg.Subject == "" || !strings.Contains(msg.Subject, d.Practice) {
				t.Errorf("Kind %q, Subject %q", msg.Kind, msg.Subject)
			}
			if !strings.Contains(msg.Text, d.Email) || !strings.Contains(msg.HTML, d.Email) {
				t.Errorf("parts do not name the recipient's address %s:\n%s", d.Email, msg.Text)
			}
			if !strings.Contains(msg.HTML, "<title>"+template.HTMLEscapeString(msg.Subject)+"</title>") {
				t.Errorf("HTML part is not drawn in the layout:\n%s", msg.HTML)
			}
			hasLink := strings.Contains(msg.Text, d.Link) || strings.Contains(msg.HTML, d.Link)
			switch {
			case linkFree[kind] && (hasLink || strings.Contains(msg.Text, "http") || strings.Contains(msg.HTML, "href")):
				t.Errorf("%s shows a link:\n%s\n%s", kind, msg.Text, msg.HTML)
			case !linkFree[kind] && (!strings.Contains(msg.Text, d.Link) || !strings.Contains(msg.HTML, `href="`+d.Link+`"`)):
				t.Errorf("%s does not show the link:\n%s\n%s", kind, msg.Text, msg.HTML)
			}
		})
	}
}

func TestRenderNoticesNameBothAddressesAndTheContact(t *testing.T) {
	tpl := load(t, "")
	cases := []struct {
		reason  string
		kind    mail.Kind
		contact string
		want    []string // each must appear in the text and the HTML part
	}{
		{"email changed, default contact", mail.EmailChanged, "", []string{
			"changed from", "dana@example.test", "dana.lee@example.test", "password and access are unchanged",
			"contact the administrator of Lakeside Family Practice at once"}},
		{"email changed, configured contact", mail.EmailChanged, "the front office at extension 100", []string{
			"contact the front office at extension 100 at once"}},
		{"reset notice, default contact", mail.PasswordResetNotice, "", []string{
			"password reset was requested", "dana@example.test", "dana.lee@example.test",
			"contact the administrator of Lakeside Family Practice at once"}},
		{"reset notice, configured contact", mail.PasswordResetNotice, "the front office at extension 100", []string{
			"contact the front office at extension 100 at once"}},
		{"blank contact is the default", mail.PasswordResetNotice, "  ", []string{
			"contact the administrator of Lakeside Family Practice at once"}},
	}
	for _, tc := range cases {
		t.Run(tc.reason, func(t *testing.T) {
			d := data()
			d.Contact = tc.contact
			msg, err := tpl.Render(tc.kind, d)
			if err != nil {
				t.Fatal(err)
			}
			if msg.To.Email != "dana@example.test" {
				t.Errorf("To = %+v, want the previous address", msg.To)
			}
			for _, want := range tc.want {
				if !strings.Contains(msg.Text, want) {
					t.Errorf("text part lacks %q:\n%s", want, msg.Text)
				}
				if !strings.Contains(msg.HTML, want) {
					t.Errorf("HTML part lacks %q:\n%s", want, msg.HTML)
				}
			}
		})
	}

	// Without a practice name the default contact still reads as a sentence.
	d := data()
	d.Practice = ""
	msg, err := tpl.Render(mail.EmailChanged, d)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(msg.Text, "contact your practice administrator at once") {
		t.Errorf("text part:\n%s", msg.Text)
	}
}

func TestRenderSetsRecipientAndHeaders(t *testing.T) {
	msg, err := load(t, "").Render(mail.PasswordReset, data())
	if err != nil {
		t.Fatal(err)
	}
	if msg.Kind != mail.PasswordReset || msg.To != (mail.Address{Name: "Dana Lee", Email: "dana@example.test"}) {
		t.Errorf("Kind %q, To %+v", msg.Kind, msg.To)
	}
	if msg.Headers["Auto-Submitted"] != "auto-generated" || msg.Headers["X-Auto-Response-Suppress"] != "All" {
		t.Errorf("Headers = %v", msg.Headers)
	}
	if msg.MessageID != "" || msg.From != (mail.Address{}) {
		t.Errorf("Render set From %+v or Message-ID %q; they are the caller's", msg.From, msg.MessageID)
	}
}

func TestRenderRefusesBadData(t *testing.T) {
	tpl := load(t, "")
	cases := []struct {
		reason string
		kind   mail.Kind
		edit   func(*mail.Data)
	}{
		{"unknown kind", "welcome", func(*mail.Data) {}},
		{"line break in name", mail.Invitation, func(d *mail.Data) { d.Name = "Dana\r\nBcc: x@example.test" }},
		{"line break in practice", mail.Invitation, func(d *mail.Data) { d.Practice = "A\nB" }},
		{"no email", mail.Invitation, func(d *mail.Data) { d.Email = "" }},
		{"email with a name", mail.Invitation, func(d *mail.Data) { d.Email = "Dana <dana@example.test>" }},
		{"no link", mail.Invitation, func(d *mail.Data) { d.Link = "" }},
		{"relative link", mail.PasswordReset, func(d *mail.Data) { d.Link = "/invitations/abc" }},
		{"javascript link", mail.Invitation, func(d *mail.Data) { d.Link = "javascript:alert(1)" }},
		{"no expiry", mail.ExpiryReminder, func(d *mail.Data) { d.ExpiresAt = time.Time{} }},
		{"unknown time zone", mail.Invitation, func(d *mail.Data) { d.TimeZone = "Mars/Olympus_Mons" }},
		{"email change without new address", mail.EmailChanged, func(d *mail.Data) { d.NewEmail = "" }},
		{"reset notice without new address", mail.PasswordResetNotice, func(d *mail.Data) { d.NewEmail = "" }},
		{"new address with a name", mail.EmailChanged, func(d *mail.Data) { d.NewEmail = "Dana <dana.lee@example.test>" }},
		{"new address not an address", mail.PasswordResetNotice, func(d *mail.Data) { d.NewEmail = "dana.lee" }},
		{"line break in new address", mail.EmailChanged, func(d *mail.Data) { d.NewEmail = "dana.lee@example.test\nBcc: x@example.test" }},
	}
	// Header injection is refused for every kind, whatever its templates show.
	for _, kind := range mail.Kinds {
		cases = append(cases, []struct {
			reason string
			kind   mail.Kind
			edit   func(*mail.Data)
		}{
			{string(kind) + ": line break in name", kind, func(d *mail.Data) { d.Name = "Dana\r\nBcc: x@example.test" }},
			{string(kind) + ": line break in practice", kind, func(d *mail.Data) { d.Practice = "A\r\nBcc: x@example.test" }},
			{string(kind) + ": line break in contact", kind, func(d *mail.Data) { d.Contact = "the office\nBcc: x@example.test" }},
			{string(kind) + ": line separator in email", kind, func(d *mail.Data) { d.Email = "dana@example.test\u2028" }},
		}...)
	}
	for _, tc := range cases {
		t.Run(tc.reason, func(t *testing.T) {
			d := data()
			tc.edit(&d)
			if _, err := tpl.Render(tc.kind, d); !errors.Is(err, mail.ErrInvalid) || !mail.IsPermanent(err) {
				t.Errorf("err = %v, want a permanent ErrInvalid", err)
			}
		})
	}

	// The notices have neither link nor expiry.
	for kind := range linkFree {
		d := data()
		d.Link, d.ExpiresAt = "", time.Time{}
		if _, err := tpl.Render(kind, d); err != nil {
			t.Errorf("%s without link: %v", kind, err)
		}
	}
}

func TestLoadTemplatesOverridesByName(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"password-reset.subject.tmpl": "{{.Practice}}: new password for {{.Name}}",
		"layout.html.tmpl":            `{{define "layout"}}<div class="custom">{{template "body" .}}</div>{{end}}`,
		".hidden":                     "ignored, as ConfigMap mounts have ..data entries",
	})
	if err := os.Mkdir(filepath.Join(dir, "..2026_01_01"), 0o700); err != nil {
		t.Fatal(err)
	}
	msg, err := load(t, dir).Render(mail.PasswordReset, data())
	if err != nil {
		t.Fatal(err)
	}
	if msg.Subject != "Lakeside Family Practice: new password for Dana Lee" {
		t.Errorf("Subject = %q", msg.Subject)
	}
	if !strings.HasPrefix(msg.HTML, `<div class="custom">`) || !strings.Contains(msg.HTML, "Choose a new password") {
		t.Errorf("HTML does not use the overriding layout with the default body:\n%s", msg.HTML)
	}
	if !strings.Contains(msg.Text, "A password reset was requested") {
		t.Errorf("text part is not the default:\n%s", msg.Text)
	}
}

func TestLoadTemplatesOverridesNotices(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"email-changed.subject.tmpl":         "{{.Practice}}: your address is now {{.NewEmail}}",
		"password-reset-notice.text.tmpl":    "Reset sent to {{.NewEmail}}. Questions: {{.Contact}}.",
		"password-reset-notice.subject.tmpl": "Call {{.Contact}}",
	})
	tpl := load(t, dir)
	d := data()
	d.Contact = "the front office"

	msg, err := tpl.Render(mail.EmailChanged, d)
	if err != nil {
		t.Fatal(err)
	}
	if msg.Subject != "Lakeside Family Practice: your address is now dana.lee@example.test" {
		t.Errorf("Subject = %q", msg.Subject)
	}
	if !strings.Contains(msg.Text, "password and access are unchanged") {
		t.Errorf("text part is not the default:\n%s", msg.Text)
	}

	msg, err = tpl.Render(mail.PasswordResetNotice, d)
	if err != nil {
		t.Fatal(err)
	}
	if msg.Subject != "Call the front office" || msg.Text != "Reset sent to dana.lee@example.test. Questions: the front office." {
		t.Errorf("Subject %q, text %q", msg.Subject, msg.Text)
	}

	// A contact in an overriding subject is a header value like any other.
	d.Contact = "the front office\r\nBcc: x@example.test"
	if _, err := tpl.Render(mail.PasswordResetNotice, d); !errors.Is(err, mail.ErrInvalid) {
		t.Errorf("err = %v, want ErrInvalid", err)
	}
}

func TestLoadTemplatesReportsBrokenTemplates(t *testing.T) {
	cases := []struct {
		reason string
		files  map[string]string
		want   []string // all must appear in the error
	}{
		{"HTML does not parse", map[string]string{"invitation.html.tmpl": `{{template "layout" .}}{{define "body"}}{{if .Name}}{{end}}`},
			[]string{"invitation.html.tmpl", "unexpected EOF"}},
		{"text does not parse", map[string]string{"password-reset.text.tmpl": "Hello {{.Name"},
			[]string{"password-reset.text.tmpl", "unclosed action"}},
		{"subject does not parse", map[string]string{"expiry-reminder.subject.tmpl": "{{end}}"},
			[]string{"expiry-reminder.subject.tmpl", "unexpected {{end}}"}},
		{"unknown function", map[string]string{"invitation.text.tmpl": "{{shout .Name}}"},
			[]string{"invitation.text.tmpl", `function "shout" not defined`}},
		{"unknown field", map[string]string{"invitation.text.tmpl": "Hello {{.FirstName}}"},
			[]string{"invitation.text.tmpl", "FirstName"}},
		{"unknown field in a notice", map[string]string{"password-reset-notice.html.tmpl": `{{template "layout" .}}{{define "body"}}{{.OldEmail}}{{end}}`},
			[]string{"password-reset-notice.html.tmpl", "OldEmail"}},
		{"notice subject on two lines", map[string]string{"email-changed.subject.tmpl": "{{.NewEmail}}\n{{.Contact}}"},
			[]string{"email-changed.subject.tmpl", "line break"}},
		{"subject on two lines", map[string]string{"invitation.subject.tmpl": "Hello\n{{.Name}}"},
			[]string{"invitation.subject.tmpl", "line break"}},
		{"misspelt file name", map[string]string{"invitaton.subject.tmpl": "Hi"},
			[]string{"unknown file invitaton.subject.tmpl", "invitation.subject.tmpl"}},
	}
	for _, tc := range cases {
		t.Run(tc.reason, func(t *testing.T) {
			dir := writeFiles(t, tc.files)
			_, err := mail.LoadTemplates(dir)
			if err == nil {
				t.Fatal("LoadTemplates succeeded")
			}
			t.Log(err)
			for _, want := range tc.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q lacks %q", err, want)
				}
			}
		})
	}

	if _, err := mail.LoadTemplates(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("LoadTemplates of a missing dir succeeded")
	}
}

func TestParseAddress(t *testing.T) {
	a, err := mail.ParseAddress("Staff Accounts <no-reply@Example.Test>")
	if err != nil {
		t.Fatal(err)
	}
	if a.Name != "Staff Accounts" || a.Email != "no-reply@Example.Test" || a.Domain() != "example.test" {
		t.Errorf("got %+v, domain %q", a, a.Domain())
	}
	for _, bad := range []string{"", "no at sign", "Staff\r\nBcc: x@y <a@b>"} {
		if _, err := mail.ParseAddress(bad); !errors.Is(err, mail.ErrInvalid) {
			t.Errorf("ParseAddress(%q): err = %v, want ErrInvalid", bad, err)
		}
	}
}
