package mail_test

import (
	"errors"
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

	// The deactivation notice has neither link nor expiry.
	d := data()
	d.Link, d.ExpiresAt = "", time.Time{}
	if _, err := tpl.Render(mail.AccountDeactivated, d); err != nil {
		t.Errorf("AccountDeactivated without link: %v", err)
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
