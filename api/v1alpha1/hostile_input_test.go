package v1alpha1_test

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
)

// What a user reads when a rule of text_types.go, the email shape, the name rules or the time
// zone lookup refuses a manifest.
const (
	msgVisible   = "must be one line of visible text: remove line breaks, tabs, control characters"
	msgBlank     = "must not be blank: write the text, not only spaces"
	msgEdgeSpace = "must not start or end with a space: remove the leading and trailing spaces"
	msgParagraph = "may contain line breaks (\\n) and tabs but no carriage returns, other control characters"
	msgEmailDots = "email must not have a dot at the start or end of the part before the @, nor two dots in a row there (RFC 5321)"
	msgEmailLong = "email may have at most 64 characters before the @ (RFC 5321)"
	msgNoSuchTZ  = "evaluating rule: timeZone must name a zone of the IANA tz database, such as America/Chicago: check the spelling and capitals"
)

// set builds a JSON merge patch that sets the field at a dotted path, so that each case names
// the field it breaks and states its value as Go text, escapes included.
func set(path string, value any) string {
	var doc any = value
	parts := strings.Split(path, ".")
	for i := len(parts) - 1; i >= 0; i-- {
		doc = map[string]any{parts[i]: doc}
	}
	b, err := json.Marshal(doc)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// hostileCase is one manifest as a careless or hostile user writes it.
type hostileCase struct {
	name    string
	kind    string
	objName string // metadata.name; a generated one when empty
	patch   string // JSON merge patch applied to the valid object
	field   string // the field path the error names ("" for metadata.name, which CEL reports at the root)
	want    string // what the message says
}

func TestHostileInputIsRefused(t *testing.T) {
	ensureNamespace(t, validationNamespace)
	const given, family, display, title = "spec.profile.givenName", "spec.profile.familyName", "spec.profile.displayName", "spec.profile.title"
	cases := []hostileCase{
		// Control characters and invisible text in one-line fields.
		{name: "line feed in a given name (header injection)", kind: "StaffMember", patch: set(given, "Ana\nBcc: eve@example.test"), field: given, want: msgVisible},
		{name: "carriage return in a given name", kind: "StaffMember", patch: set(given, "Ana\rRuiz"), field: given, want: msgVisible},
		{name: "NUL in a given name", kind: "StaffMember", patch: set(given, "Ana\x00"), field: given, want: msgVisible},
		{name: "byte-order mark in a given name", kind: "StaffMember", patch: set(given, "\ufeffAna"), field: given, want: msgVisible},
		{name: "soft hyphen in a given name", kind: "StaffMember", patch: set(given, "An\u00ada"), field: given, want: msgVisible},
		{name: "Hangul filler as a given name", kind: "StaffMember", patch: set(given, "\u3164"), field: given, want: msgVisible},
		{name: "zero-width space as a given name", kind: "StaffMember", patch: set(given, "\u200b"), field: given, want: msgVisible},
		{name: "escape sequence in a family name", kind: "StaffMember", patch: set(family, "\x1b[31mRuiz\x1b[0m"), field: family, want: msgVisible},
		{name: "tab in a family name", kind: "StaffMember", patch: set(family, "Ruiz\tGarcía"), field: family, want: msgVisible},
		{name: "C1 next-line control in a family name", kind: "StaffMember", patch: set(family, "Ruiz\u0085"), field: family, want: msgVisible},
		{name: "DEL in a family name", kind: "StaffMember", patch: set(family, "Ru\x7fiz"), field: family, want: msgVisible},
		{name: "right-to-left override in a display name", kind: "StaffMember", patch: set(display, "Ana \u202eziuR"), field: display, want: msgVisible},
		{name: "bidi isolates in a display name", kind: "StaffMember", patch: set(display, "Ana \u2066Ruiz\u2069"), field: display, want: msgVisible},
		{name: "line separator in a display name", kind: "StaffMember", patch: set(display, "Ana\u2028Ruiz"), field: display, want: msgVisible},
		{name: "zero-width space in a title", kind: "StaffMember", patch: set(title, "Physi\u200bcian"), field: title, want: msgVisible},
		{name: "zero-width joiner in a title", kind: "StaffMember", patch: set(title, "Nurse\u200d"), field: title, want: msgVisible},
		{name: "word joiner in a title", kind: "StaffMember", patch: set(title, "Nurse\u2060Practitioner"), field: title, want: msgVisible},
		{name: "NUL in an EHR staff ID", kind: "StaffMember", patch: set("spec.providerCredentials.ehrStaffID", "EHR-1\x00"), field: "spec.providerCredentials.ehrStaffID", want: msgVisible},
		{name: "line break in a tag", kind: "StaffMember", patch: set("spec.providerCredentials.tags", []string{"telehealth\npediatrics"}), field: "spec.providerCredentials.tags[0]", want: msgVisible},
		{name: "zero-width space in a tag", kind: "StaffMember", patch: set("spec.providerCredentials.tags", []string{"tele\u200bhealth"}), field: "spec.providerCredentials.tags[0]", want: msgVisible},
		{name: "line feed in a Role display name", kind: "Role", patch: set("spec.displayName", "Physician\nAdmin"), field: "spec.displayName", want: msgVisible},
		{name: "right-to-left override in a Role display name", kind: "Role", patch: set("spec.displayName", "\u202enicisyhP"), field: "spec.displayName", want: msgVisible},
		{name: "tab in a Location display name", kind: "Location", patch: set("spec.displayName", "Downtown\tClinic"), field: "spec.displayName", want: msgVisible},
		{name: "byte-order mark in a Location display name", kind: "Location", patch: set("spec.displayName", "Downtown Clinic\ufeff"), field: "spec.displayName", want: msgVisible},
		{name: "CRLF in an address line", kind: "Location", patch: set("spec.address.lines", []string{"200 W Madison St\r\nSuite 400"}), field: "spec.address.lines[0]", want: msgVisible},
		{name: "zero-width joiner in a city", kind: "Location", patch: set("spec.address.city", "Chi\u200dcago"), field: "spec.address.city", want: msgVisible},
		{name: "zero-width space in a postal code", kind: "Location", patch: set("spec.address.postalCode", "606\u200b06"), field: "spec.address.postalCode", want: msgVisible},

		// Blank names and stray spaces.
		{name: "given name of spaces", kind: "StaffMember", patch: set(given, "   "), field: given, want: msgBlank},
		{name: "family name of a no-break space", kind: "StaffMember", patch: set(family, "\u00a0"), field: family, want: msgBlank},
		{name: "display name of an ideographic space", kind: "StaffMember", patch: set(display, "\u3000"), field: display, want: msgBlank},
		{name: "tag of spaces", kind: "StaffMember", patch: set("spec.providerCredentials.tags", []string{"  "}), field: "spec.providerCredentials.tags[0]", want: msgBlank},
		{name: "Role display name of spaces", kind: "Role", patch: set("spec.displayName", " "), field: "spec.displayName", want: msgBlank},
		{name: "leading space in a display name", kind: "StaffMember", patch: set(display, " Ana Ruiz"), field: display, want: msgEdgeSpace},
		{name: "trailing space in a title", kind: "StaffMember", patch: set(title, "Physician "), field: title, want: msgEdgeSpace},
		{name: "trailing space in a region", kind: "Location", patch: set("spec.address.region", "IL "), field: "spec.address.region", want: msgEdgeSpace},

		// Multi-line text: line breaks yes, the rest no.
		{name: "escape sequence in a bio", kind: "StaffMember", patch: set("spec.providerCredentials.bio", "Family doctor.\x1b]8;;https://evil.example\x07"), field: "spec.providerCredentials.bio", want: msgParagraph},
		{name: "carriage return in a bio", kind: "StaffMember", patch: set("spec.providerCredentials.bio", "Family doctor.\r\nSpeaks Spanish."), field: "spec.providerCredentials.bio", want: msgParagraph},
		{name: "right-to-left override in a bio", kind: "StaffMember", patch: set("spec.providerCredentials.bio", "Family doctor \u202e"), field: "spec.providerCredentials.bio", want: msgParagraph},
		{name: "zero-width space in a Role description", kind: "Role", patch: set("spec.description", "Sees\u200b patients."), field: "spec.description", want: msgParagraph},
		{name: "NUL in a Role description", kind: "Role", patch: set("spec.description", "Sees patients.\x00"), field: "spec.description", want: msgParagraph},

		// Email addresses that are not addresses.
		{name: "email with a leading dot", kind: "StaffMember", patch: set("spec.email", ".ana@example.test"), field: "spec.email", want: msgEmailDots},
		{name: "email with a dot before the @", kind: "StaffMember", patch: set("spec.email", "ana.@example.test"), field: "spec.email", want: msgEmailDots},
		{name: "email with two dots in a row", kind: "StaffMember", patch: set("spec.email", "ana..ruiz@example.test"), field: "spec.email", want: msgEmailDots},
		{name: "email whose local part is a dot", kind: "StaffMember", patch: set("spec.email", ".@example.test"), field: "spec.email", want: msgEmailDots},
		{name: "email with 65 characters before the @", kind: "StaffMember", patch: set("spec.email", strings.Repeat("a", 65)+"@example.test"), field: "spec.email", want: msgEmailLong},
		{name: "email with two dots in the domain", kind: "StaffMember", patch: set("spec.email", "ana@example..test"), field: "spec.email", want: "email must be a single address such as jane.doe@example.org"},

		// Names that can never be referenced.
		{name: "Role named with a dot", kind: "Role", objName: "front.desk", want: "metadata.name of a Role must be a DNS label, because StaffMembers list Roles by name in spec.roles"},
		{name: "Role name of 64 characters", kind: "Role", objName: strings.Repeat("r", 64), want: "metadata.name of a Role must be a DNS label"},
		{name: "Location named with a dot", kind: "Location", objName: "north.clinic", want: "metadata.name of a Location must be a DNS label, because StaffMembers list Locations by name in spec.locations and spec.primaryLocation"},
		{name: "StaffMember named with a dot", kind: "StaffMember", objName: "ana.ruiz", want: "metadata.name of a StaffMember must be a DNS label, because Invitations name their member in spec.memberRef"},
		{name: "StaffMember name of 239 characters (reset-invitation names would not fit)", kind: "StaffMember", objName: strings.Repeat("m", 239), want: "metadata.name of a StaffMember must be a DNS label"},

		// Time zones that do not exist.
		{name: "time zone misspelled", kind: "Location", patch: set("spec.timeZone", "America/Chicag"), field: "spec.timeZone", want: "unknown time zone America/Chicag " + msgNoSuchTZ},
		{name: "time zone in lower case", kind: "Location", patch: set("spec.timeZone", "america/chicago"), field: "spec.timeZone", want: msgNoSuchTZ},
		{name: "time zone of another planet", kind: "Location", patch: set("spec.timeZone", "Mars/Olympus_Mons"), field: "spec.timeZone", want: msgNoSuchTZ},
		{name: "time zone with a region too many", kind: "Location", patch: set("spec.timeZone", "America/Chicago/Loop"), field: "spec.timeZone", want: msgNoSuchTZ},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			obj := objectFor(t, tc.kind, tc.patch)
			obj.SetName(tc.objName)
			if tc.objName == "" {
				obj.SetName(strings.ToLower(tc.kind) + "-hostile-" + strconv.Itoa(i))
			}
			err := k8s.Create(context.Background(), obj)
			if err == nil {
				t.Fatalf("the API server accepted it; want an error saying %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error does not say %q:\n%v", tc.want, err)
			}
			if tc.field != "" && !strings.Contains(err.Error(), tc.field+": Invalid value") {
				t.Errorf("error does not name the field %s:\n%v", tc.field, err)
			}
		})
	}
}

// A time zone of the wrong shape gets the shape's message only: the lookup is not attempted,
// so the user is not also told about an unknown zone.
func TestTimeZoneOfTheWrongShapeGetsOneMessage(t *testing.T) {
	ensureNamespace(t, validationNamespace)
	obj := objectFor(t, "Location", set("spec.timeZone", "Chicago time"))
	obj.SetName("tz-wrong-shape")
	err := k8s.Create(context.Background(), obj)
	if err == nil || !strings.Contains(err.Error(), "timeZone must be an IANA time zone name such as America/Chicago or UTC") {
		t.Fatalf("got %v, want the shape's message", err)
	}
	if strings.Contains(err.Error(), "unknown time zone") {
		t.Errorf("the lookup ran on a name of the wrong shape:\n%v", err)
	}
}

// The rules must not refuse real people, places or addresses.
func TestRealNamesAreAccepted(t *testing.T) {
	ensureNamespace(t, validationNamespace)
	cases := []struct {
		name    string
		kind    string
		objName string
		patch   string
	}{
		{"accents", "StaffMember", "", set("spec.profile", map[string]string{"givenName": "Zoë", "familyName": "Ångström-Núñez", "displayName": "Dr. Zoë Ångström-Núñez"})},
		{"apostrophe", "StaffMember", "", set("spec.profile", map[string]string{"givenName": "Siobhán", "familyName": "O'Brien"})},
		{"typographic apostrophe and hyphen", "StaffMember", "", set("spec.profile", map[string]string{"givenName": "Mary-Jane", "familyName": "D’Angelo"})},
		{"quoted nickname", "StaffMember", "", set("spec.profile.displayName", `Robert "Bob" Smith`)},
		{"trailing backslash", "StaffMember", "", set("spec.profile.displayName", `Pat Smith \`)},
		{"comma and suffix", "StaffMember", "", set("spec.profile.displayName", "Smith, John Jr.")},
		{"CJK with an ideographic space inside", "StaffMember", "", set("spec.profile", map[string]string{"givenName": "太郎", "familyName": "山田", "displayName": "山田\u3000太郎"})},
		{"Korean", "StaffMember", "", set("spec.profile", map[string]string{"givenName": "민준", "familyName": "김"})},
		{"Arabic, right-to-left without controls", "StaffMember", "", set("spec.profile", map[string]string{"givenName": "محمد", "familyName": "العلي"})},
		{"Devanagari with combining signs", "StaffMember", "", set("spec.profile", map[string]string{"givenName": "प्रिया", "familyName": "शर्मा"})},
		{"Vietnamese", "StaffMember", "", set("spec.profile", map[string]string{"givenName": "Thị Minh Khai", "familyName": "Nguyễn"})},
		{"Icelandic and Turkish letters", "StaffMember", "", set("spec.profile", map[string]string{"givenName": "Þórunn", "familyName": "Çağlar Şahin"})},
		{"single-letter names", "StaffMember", "", set("spec.profile", map[string]string{"givenName": "J", "familyName": "X"})},
		{"title with ampersand and slash", "StaffMember", "", set("spec.profile.title", "Nurse & Midwife / Lactation Consultant")},
		{"tags and multi-line bio", "StaffMember", "", set("spec.providerCredentials", map[string]any{"tags": []string{"pediatrics", "habla español"}, "bio": "Family doctor.\n\n\tSpeaks Spanish and Portuguese.\n"})},
		{"email with an apostrophe and a plus", "StaffMember", "", set("spec.email", "siobhan.o'brien+staff@example.test")},
		{"email with a subdomain", "StaffMember", "", set("spec.email", "j.doe@mail.clinic.example.test")},
		{"email with 64 characters before the @", "StaffMember", "", set("spec.email", strings.Repeat("a", 64)+"@example.test")},
		{"StaffMember name of 63 characters", "StaffMember", strings.Repeat("m", 63), ""},
		{"Role description of several lines", "Role", "", set("spec.description", "Sees patients.\nWrites notes.\n")},
		{"Location with accents", "Location", "", set("spec", map[string]any{"displayName": "Zürich Süd – Praxis", "address": map[string]any{"lines": []string{"Bahnhofstrasse 1"}, "city": "Zürich", "postalCode": "8001", "country": "CH"}, "timeZone": "Europe/Zurich"})},
		{"postal code with a space", "Location", "", set("spec.address", map[string]string{"postalCode": "SW1A 1AA", "country": "GB"})},
		{"time zone with three parts", "Location", "", set("spec.timeZone", "America/Argentina/Buenos_Aires")},
		{"time zone with a hyphen", "Location", "", set("spec.timeZone", "America/Port-au-Prince")},
		{"time zone with a sign", "Location", "", set("spec.timeZone", "Etc/GMT+5")},
		{"UTC", "Location", "", set("spec.timeZone", "UTC")},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			obj := objectFor(t, tc.kind, tc.patch)
			obj.SetName(tc.objName)
			if tc.objName == "" {
				obj.SetName(strings.ToLower(tc.kind) + "-real-" + strconv.Itoa(i))
			}
			if err := k8s.Create(context.Background(), obj); err != nil {
				t.Fatalf("refused: %v", err)
			}
		})
	}
}
