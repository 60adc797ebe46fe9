package mail

import (
	"bytes"
	"embed"
	"fmt"
	htmltemplate "html/template"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	texttemplate "text/template"
	"time"

	// The practice's time zone must resolve on a minimal image without /usr/share/zoneinfo.
	_ "time/tzdata"
)

//go:embed templates/*.tmpl
var defaultTemplates embed.FS

// LayoutTemplate is the HTML frame every default HTML part is drawn in; it defines
// "layout" and calls the "body" template that each <kind>.html.tmpl defines.
const LayoutTemplate = "layout.html.tmpl"

// The three parts of a kind; the file <kind><suffix> holds each.
const (
	subjectSuffix = ".subject.tmpl"
	textSuffix    = ".text.tmpl"
	htmlSuffix    = ".html.tmpl"
)

// TemplateNames lists every template file name LoadTemplates knows, in a fixed order:
// LayoutTemplate, then <kind>.subject.tmpl, <kind>.text.tmpl and <kind>.html.tmpl per kind.
func TemplateNames() []string {
	names := []string{LayoutTemplate}
	for _, k := range Kinds {
		names = append(names, string(k)+subjectSuffix, string(k)+textSuffix, string(k)+htmlSuffix)
	}
	return names
}

// Data is what a controller knows about one mail.
type Data struct {
	// Practice is the organization's display name (the namespace annotation).
	Practice string
	// Name and Email are the recipient's display name and address. For EmailChanged and
	// PasswordResetNotice, Email is the account's previous address.
	Name  string
	Email string
	// NewEmail is the account's new address, after an email change. Required by EmailChanged
	// and PasswordResetNotice, which tell the previous address where the account went.
	NewEmail string
	// Contact is whom the recipient should turn to if something is wrong, such as "the front
	// office at +1 312 555 0100" (the operator's mail.contact setting). Empty means "the
	// administrator of <Practice>".
	Contact string
	// Roles and Locations are display names, shown where the kind mentions them.
	Roles     []string
	Locations []string
	// Link is the invitation or password-reset link (absolute http or https URL). Not used
	// by AccountDeactivated, EmailChanged and PasswordResetNotice, which never show it.
	Link string
	// ExpiresAt is when Link stops working. Not used where Link is not.
	ExpiresAt time.Time
	// TimeZone is the practice's IANA time zone, e.g. "America/Chicago"; the expiry is shown
	// in it. Empty means UTC.
	TimeZone string
}

// View is what templates see as ".". Its fields are the names template authors use.
type View struct {
	Kind      Kind
	Subject   string // the rendered subject; empty while the subject itself is rendered
	Practice  string
	Name      string
	Email     string
	NewEmail  string // the account's new address; set for EmailChanged and PasswordResetNotice
	Contact   string // whom to turn to; never empty
	Roles     []string
	Locations []string
	Link      string    // empty for the kinds without a link
	ExpiresAt time.Time // in the practice's time zone
	Expires   string    // ExpiresAt as "Tuesday, March 10, 2026 at 3:00 PM CDT"
	TimeZone  string    // the IANA name, "UTC" when none was given
}

// ExpiryLayout is the time layout of View.Expires: the local time with the zone abbreviation.
const ExpiryLayout = "Monday, January 2, 2006 at 3:04 PM MST"

// funcs are available to all templates.
var funcs = map[string]any{
	"join": strings.Join,
}

type kindTemplates struct {
	subject *texttemplate.Template
	text    *texttemplate.Template
	html    *htmltemplate.Template
}

// Templates renders every message kind. It is safe for concurrent use.
type Templates struct {
	kinds map[Kind]kindTemplates
}

type source struct {
	origin  string // what error messages call the file
	content string
}

// LoadTemplates loads the embedded default templates and, if dir is not empty, replaces each
// default by the file of the same name in dir (see TemplateNames). Every template is parsed
// and rendered once with sample data here, so a broken template is an error at startup that
// names the file, never a failure at send time. A file in dir with an unknown name is an
// error too (a misspelt override would otherwise be silently ignored); names starting with
// "." and directories are skipped, so a mounted ConfigMap works as dir.
func LoadTemplates(dir string) (*Templates, error) {
	sources := map[string]source{}
	for _, name := range TemplateNames() {
		b, err := defaultTemplates.ReadFile("templates/" + name)
		if err != nil {
			return nil, fmt.Errorf("read embedded mail template %s: %w", name, err)
		}
		sources[name] = source{origin: "embedded " + name, content: string(b)}
	}
	if dir != "" {
		if err := readOverrides(dir, sources); err != nil {
			return nil, err
		}
	}

	layout, err := htmltemplate.New(LayoutTemplate).Funcs(funcs).Parse(sources[LayoutTemplate].content)
	if err != nil {
		return nil, fmt.Errorf("mail template %s: %w", sources[LayoutTemplate].origin, err)
	}
	t := &Templates{kinds: map[Kind]kindTemplates{}}
	for _, k := range Kinds {
		var kt kindTemplates
		src := sources[string(k)+subjectSuffix]
		if kt.subject, err = texttemplate.New(string(k) + subjectSuffix).Funcs(funcs).Parse(src.content); err != nil {
			return nil, fmt.Errorf("mail template %s: %w", src.origin, err)
		}
		src = sources[string(k)+textSuffix]
		if kt.text, err = texttemplate.New(string(k) + textSuffix).Funcs(funcs).Parse(src.content); err != nil {
			return nil, fmt.Errorf("mail template %s: %w", src.origin, err)
		}
		src = sources[string(k)+htmlSuffix]
		base, err := layout.Clone()
		if err != nil {
			return nil, fmt.Errorf("clone mail template %s: %w", LayoutTemplate, err)
		}
		if kt.html, err = base.New(string(k) + htmlSuffix).Parse(src.content); err != nil {
			return nil, fmt.Errorf("mail template %s: %w", src.origin, err)
		}
		t.kinds[k] = kt
	}

	// Render every kind once, so that an unknown field or a subject that renders to
	// several lines shows up now. Errors name the file.
	for _, k := range Kinds {
		if _, err := t.Render(k, sampleData()); err != nil {
			where := "embedded"
			if dir != "" {
				where = "embedded or from " + dir
			}
			return nil, fmt.Errorf("mail templates for %s (%s) do not render with sample data: %w", k, where, err)
		}
	}
	return t, nil
}

func readOverrides(dir string, sources map[string]source) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("read mail templates dir: %w", err)
	}
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") {
			continue // ConfigMap mounts keep their data in ..data and ..<timestamp>
		}
		path := filepath.Join(dir, name)
		info, err := os.Stat(path) // follows the symlinks a ConfigMap mount uses
		if err != nil {
			return fmt.Errorf("read mail template %s: %w", path, err)
		}
		if info.IsDir() {
			continue
		}
		if _, known := sources[name]; !known {
			return fmt.Errorf("mail templates dir %s: unknown file %s; template files are named %s",
				dir, name, strings.Join(TemplateNames(), ", "))
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("read mail template %s: %w", path, err)
		}
		sources[name] = source{origin: path, content: string(b)}
	}
	return nil
}

// Render renders one message of kind for d. The result has Kind, To, Subject, Text, HTML and
// the transactional Headers set; the caller sets From and the Message-ID. Bad input (an
// address that does not parse, a line break in a name, a missing link or new address) is an
// ErrInvalid.
func (t *Templates) Render(kind Kind, d Data) (Message, error) {
	kt, ok := t.kinds[kind]
	if !ok {
		return Message{}, invalidf("unknown message kind %q", kind)
	}
	v, err := newView(kind, d)
	if err != nil {
		return Message{}, err
	}
	msg := Message{Kind: kind, To: Address{Name: d.Name, Email: d.Email}, Headers: TransactionalHeaders()}
	if err := validateAddress("To", msg.To); err != nil {
		return Message{}, err
	}

	var b bytes.Buffer
	if err := kt.subject.Execute(&b, v); err != nil {
		return Message{}, renderError(err)
	}
	msg.Subject = strings.TrimSpace(b.String())
	if msg.Subject == "" {
		return Message{}, invalidf("template %s renders an empty subject", kt.subject.Name())
	}
	if hasLineBreak(msg.Subject) {
		return Message{}, invalidf("subject contains a line break (from the data or from template %s)", kt.subject.Name())
	}
	v.Subject = msg.Subject

	b.Reset()
	if err := kt.text.Execute(&b, v); err != nil {
		return Message{}, renderError(err)
	}
	msg.Text = b.String()

	b.Reset()
	if err := kt.html.Execute(&b, v); err != nil {
		return Message{}, renderError(err)
	}
	msg.HTML = b.String()
	return msg, nil
}

func renderError(err error) error {
	// The template package's error names the file and line; data values are not in it.
	return &Error{Class: ErrInvalid, Op: "render", Reason: err.Error(), Err: err}
}

func newView(kind Kind, d Data) (View, error) {
	if hasLineBreak(d.Practice) {
		return View{}, invalidf("practice name contains a line break")
	}
	// Contact is a header-safe single line like the practice name: an override may put it
	// in the subject.
	if hasLineBreak(d.Contact) {
		return View{}, invalidf("contact contains a line break")
	}
	zone := d.TimeZone
	if zone == "" {
		zone = "UTC"
	}
	loc, err := time.LoadLocation(zone)
	if err != nil {
		return View{}, invalidf("time zone %q: %v", d.TimeZone, err)
	}
	v := View{
		Kind:      kind,
		Practice:  d.Practice,
		Name:      d.Name,
		Email:     d.Email,
		Contact:   contact(d),
		Roles:     slices.Clone(d.Roles),
		Locations: slices.Clone(d.Locations),
		TimeZone:  zone,
	}
	if d.NewEmail != "" || kind.needsNewEmail() {
		if d.NewEmail == "" {
			return View{}, invalidf("%s needs the account's new address (NewEmail)", kind)
		}
		if err := validateAddress("NewEmail", Address{Email: d.NewEmail}); err != nil {
			return View{}, err
		}
		v.NewEmail = d.NewEmail
	}
	if kind.needsLink() {
		if err := checkLink(d.Link); err != nil {
			return View{}, err
		}
		if d.ExpiresAt.IsZero() {
			return View{}, invalidf("%s needs an expiry time", kind)
		}
		v.Link = d.Link
		v.ExpiresAt = d.ExpiresAt.In(loc)
		v.Expires = v.ExpiresAt.Format(ExpiryLayout)
	}
	return v, nil
}

// contact is whom a notice tells its reader to turn to, so that a template never prints an
// empty one.
func contact(d Data) string {
	if c := strings.TrimSpace(d.Contact); c != "" {
		return c
	}
	if d.Practice == "" {
		return "your practice administrator"
	}
	return "the administrator of " + d.Practice
}

func checkLink(link string) error {
	if link == "" {
		return invalidf("link is empty")
	}
	u, err := url.Parse(link)
	if err != nil {
		// Not %v: the link carries a token, and errors end up in logs and conditions.
		return invalidf("link does not parse")
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return invalidf("link must be an absolute http or https URL")
	}
	return nil
}

func sampleData() Data {
	return Data{
		Practice:  "Sample Practice",
		Name:      "Sam Sample",
		Email:     "sam@example.test",
		NewEmail:  "sam.sample@example.test",
		Contact:   "the front office at +1 312 555 0100",
		Roles:     []string{"Front Desk", "Billing"},
		Locations: []string{"Main Street Clinic"},
		Link:      "https://staff.example.test/invitations/sample",
		ExpiresAt: time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC),
		TimeZone:  "America/Chicago",
	}
}
