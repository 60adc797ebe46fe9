package web

import (
	"bytes"
	"embed"
	"fmt"
	"hash/fnv"
	"html/template"
	"net/http"
	"time"
	_ "time/tzdata" // expiry is shown in the practice's zone, even on an image without zoneinfo
	"unicode"

	"github.com/go-logr/logr"
)

//go:embed templates/*.html.tmpl
var templateFiles embed.FS

//go:embed static/page.css
var stylesheet []byte

// expiryLayout shows the expiry as the mails do (mail.ExpiryLayout):
// "Tuesday, March 10, 2026 at 3:00 PM CDT".
const expiryLayout = "Monday, January 2, 2006 at 3:04 PM MST"

// accents is the number of accent colours in page.css (body.accent-N). A practice always
// gets the same one, so its people see the same page every time.
const accents = 6

type pages struct {
	form    *template.Template
	success *template.Template
	message *template.Template
}

func parsePages() (*pages, error) {
	parse := func(name string) (*template.Template, error) {
		t, err := template.New(name).ParseFS(templateFiles, "templates/layout.html.tmpl", "templates/"+name)
		if err != nil {
			return nil, fmt.Errorf("parse template %s: %w", name, err)
		}
		return t, nil
	}
	var p pages
	var err error
	if p.form, err = parse("form.html.tmpl"); err != nil {
		return nil, err
	}
	if p.success, err = parse("success.html.tmpl"); err != nil {
		return nil, err
	}
	if p.message, err = parse("message.html.tmpl"); err != nil {
		return nil, err
	}
	return &p, nil
}

// view is what the templates see. One type serves all pages; each uses its own fields.
type view struct {
	Title    string
	Practice string // empty on pages not tied to a link
	Initial  string
	Accent   int

	// form and success
	Heading       string
	Name          string
	Email         string
	Reset         bool
	Expires       string
	ExpiresISO    string
	ExpiresIn     string
	CSRF          string
	MinLength     int
	PasswordLabel string
	Submit        string
	Errors        fieldErrors
	SignInURL     string

	// message pages
	Paragraphs []string
}

func (p *pages) render(t *template.Template, v view) ([]byte, error) {
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// write renders a page and sends it. A template that fails to render is a bug, not the
// visitor's problem; they get a plain 500.
func (p *pages) write(w http.ResponseWriter, log logr.Logger, status int, t *template.Template, v view) {
	body, err := p.render(t, v)
	if err != nil {
		log.Error(err, "render invitation page", "template", t.Name())
		http.Error(w, "Internal Server Error", http.StatusInternalServerError)
		return
	}
	writeHTML(w, status, body)
}

func writeHTML(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func serveStylesheet(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	_, _ = w.Write(stylesheet)
}

// practiceLook fills in the practice's name, monogram and accent colour.
func (v *view) practiceLook(practice string) {
	v.Practice = practice
	for _, r := range practice {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			v.Initial = string(unicode.ToUpper(r))
			break
		}
	}
	h := fnv.New32a()
	h.Write([]byte(practice))
	v.Accent = int(h.Sum32() % accents)
}

func (h *handler) formView(inv Invitee, tokenHash string, errs fieldErrors) view {
	v := view{
		Name:      inv.Name,
		Email:     inv.Email,
		CSRF:      h.csrf.value(tokenHash),
		MinLength: h.policy.min,
		Errors:    errs,
	}
	v.practiceLook(inv.Practice)
	if inv.Purpose == PurposePasswordReset {
		v.Reset = true
		v.Heading, v.PasswordLabel, v.Submit = "Choose a new password", "New password", "Save new password"
	} else {
		v.Heading, v.PasswordLabel, v.Submit = "Set your password", "Password", "Set password"
	}
	v.Title = v.Heading
	if len(errs) > 0 {
		v.Title = "Error: " + v.Heading
	}
	now := h.now()
	expires := inv.ExpiresAt.In(location(inv.TimeZone))
	v.Expires = expires.Format(expiryLayout)
	v.ExpiresISO = expires.Format(time.RFC3339)
	v.ExpiresIn = until(expires.Sub(now))
	return v
}

func (h *handler) successView(inv Invitee) view {
	v := view{Email: inv.Email, Reset: inv.Purpose == PurposePasswordReset, SignInURL: h.signInURL}
	v.practiceLook(inv.Practice)
	v.Title = "Your account is ready"
	return v
}

// location returns the practice's zone, or UTC when it has none or an unknown one.
func location(zone string) *time.Location {
	if zone == "" {
		return time.UTC
	}
	loc, err := time.LoadLocation(zone)
	if err != nil {
		return time.UTC
	}
	return loc
}

// until says roughly how long is left: "in 45 minutes", "in 3 hours", "in 2 days".
func until(d time.Duration) string {
	plural := func(n int, unit string) string {
		if n == 1 {
			return fmt.Sprintf("in 1 %s", unit)
		}
		return fmt.Sprintf("in %d %ss", n, unit)
	}
	switch {
	case d < time.Minute:
		return "in less than a minute"
	case d < time.Hour:
		return plural(int(d/time.Minute), "minute")
	case d < 48*time.Hour:
		return plural(int(d/time.Hour), "hour")
	default:
		return plural(int(d/(24*time.Hour)), "day")
	}
}

// invalidLinkView is the one page every link that cannot be used gets. It depends on
// nothing about the request, and must not: its bytes are the same for every case.
func invalidLinkView() view {
	return view{
		Title:   "This link is no longer valid",
		Heading: "This link is no longer valid",
		Paragraphs: []string{
			"Links in invitation and password-reset mails work only once and only for a limited time, and a newer mail replaces the links in older ones.",
			"Ask the person who manages staff accounts at your practice to send you a new link.",
		},
	}
}

func messageView(heading string, paragraphs ...string) view {
	return view{Title: heading, Heading: heading, Paragraphs: paragraphs}
}

// waitText says how long to wait, rounded up to what a person reads: "30 seconds",
// "1 minute", "4 minutes".
func waitText(d time.Duration) string {
	if d <= time.Minute {
		secs := int((d + time.Second - 1) / time.Second)
		if secs <= 1 {
			return "1 second"
		}
		if secs == 60 {
			return "1 minute"
		}
		return fmt.Sprintf("%d seconds", secs)
	}
	mins := int((d + time.Minute - 1) / time.Minute)
	return fmt.Sprintf("%d minutes", mins)
}
