package v1alpha1_test

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	jsonpatch "github.com/evanphx/json-patch/v5"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

const validationNamespace = "validation"

// Valid objects of each kind; every invalid case is one of these with a JSON merge patch applied,
// so each case breaks exactly one rule.
var validObjects = map[string]string{
	"StaffMember": `
apiVersion: staff.rosterops.io/v1alpha1
kind: StaffMember
spec:
  email: ana.ruiz@example.test
  profile: {givenName: Ana, familyName: Ruiz, phone: "+1 312 555 0101", employeeID: RFH-1}
  roles: [physician]
  primaryLocation: downtown
  locations: [downtown, northside]
  providerCredentials: {npi: "1234567893", taxonomyCode: 207Q00000X, capacity: 2, schedulingStepMinutes: 15, tags: [a]}
`,
	"Role": `
apiVersion: staff.rosterops.io/v1alpha1
kind: Role
spec:
  displayName: Physician
  category: Provider
  permissions: [calendar.view, clinical.writeNotes]
`,
	"Location": `
apiVersion: staff.rosterops.io/v1alpha1
kind: Location
spec:
  displayName: Downtown Clinic
  timeZone: America/Chicago
  address: {city: Chicago, country: US}
`,
	"Invitation": `
apiVersion: staff.rosterops.io/v1alpha1
kind: Invitation
spec:
  memberRef: {name: ana-ruiz}
  ttl: 1h
  autoResend: {maxResends: 2}
`,
}

func TestValidObjectsAreAccepted(t *testing.T) {
	ensureNamespace(t, validationNamespace)
	for kind := range validObjects {
		t.Run(kind, func(t *testing.T) {
			obj := objectFor(t, kind, "")
			obj.SetName("valid-" + strings.ToLower(kind))
			if err := k8s.Create(context.Background(), obj); err != nil {
				t.Fatalf("create a valid %s: %v", kind, err)
			}
		})
	}
}

func TestInvalidObjectsAreRejected(t *testing.T) {
	ensureNamespace(t, validationNamespace)
	long := func(n int) string { return strings.Repeat("x", n) }
	many := func(n int) string {
		names := make([]string, n)
		for i := range names {
			names[i] = `"r` + strings.Repeat("x", i) + `"`
		}
		return "[" + strings.Join(names, ",") + "]"
	}

	cases := []struct {
		name  string
		kind  string
		patch string // JSON merge patch applied to the valid object
		want  string // a substring of the API server's error message
	}{
		// StaffMember: identity and profile.
		{"email without @", "StaffMember", `{"spec":{"email":"ana.ruiz.example.test"}}`, "email must be a single address such as jane.doe@example.org"},
		{"email with a space", "StaffMember", `{"spec":{"email":"ana ruiz@example.test"}}`, "email must be a single address"},
		{"two emails", "StaffMember", `{"spec":{"email":"a@example.test,b@example.test"}}`, "email must be a single address"},
		{"email too long", "StaffMember", `{"spec":{"email":"` + long(250) + `@example.test"}}`, "spec.email: Too long: may not be more than 254"},
		{"email missing", "StaffMember", `{"spec":{"email":null}}`, "spec.email: Required value"},
		{"given name missing", "StaffMember", `{"spec":{"profile":{"givenName":null}}}`, "spec.profile.givenName: Required value"},
		{"given name too long", "StaffMember", `{"spec":{"profile":{"givenName":"` + long(65) + `"}}}`, "spec.profile.givenName: Too long: may not be more than 64"},
		{"phone with letters", "StaffMember", `{"spec":{"profile":{"phone":"call me maybe"}}}`, "phone must be a phone number such as +1 312 555 0100"},
		{"employee ID with a space", "StaffMember", `{"spec":{"profile":{"employeeID":"RFH 1"}}}`, "employeeID may contain only letters, digits"},
		// StaffMember: roles and locations.
		{"duplicate role", "StaffMember", `{"spec":{"roles":["physician","physician"]}}`, `spec.roles[1]: Duplicate value: "physician"`},
		{"duplicate location", "StaffMember", `{"spec":{"locations":["downtown","downtown"]}}`, `spec.locations[1]: Duplicate value: "downtown"`},
		{"role name not a name", "StaffMember", `{"spec":{"roles":["Physician!"]}}`, "must be the name of an object in this namespace"},
		{"too many roles", "StaffMember", `{"spec":{"roles":` + many(33) + `}}`, "spec.roles: Too many: 33: must have at most 32 items"},
		{"primary location not granted", "StaffMember", `{"spec":{"primaryLocation":"uptown"}}`, "primaryLocation must be one of locations unless allLocations is true"},
		{"all locations and a list", "StaffMember", `{"spec":{"allLocations":true}}`, "locations must be empty when allLocations is true"},
		// StaffMember: enums.
		{"unknown account state", "StaffMember", `{"spec":{"accountState":"Suspended"}}`, `spec.accountState: Unsupported value: "Suspended": supported values: "Active", "Deactivated"`},
		{"unknown deletion policy", "StaffMember", `{"spec":{"deletionPolicy":"Purge"}}`, `spec.deletionPolicy: Unsupported value: "Purge": supported values: "Deactivate", "Delete", "Orphan"`},
		// StaffMember: provider credentials.
		{"NPI of 9 digits", "StaffMember", `{"spec":{"providerCredentials":{"npi":"123456789"}}}`, "npi must be exactly 10 digits"},
		{"NPI with letters", "StaffMember", `{"spec":{"providerCredentials":{"npi":"12345abcde"}}}`, "npi must be exactly 10 digits"},
		{"NPI with a wrong check digit", "StaffMember", `{"spec":{"providerCredentials":{"npi":"1234567890"}}}`, "npi check digit does not match"},
		{"NPI with two digits swapped", "StaffMember", `{"spec":{"providerCredentials":{"npi":"1243567893"}}}`, "npi check digit does not match"},
		{"taxonomy code in lower case", "StaffMember", `{"spec":{"providerCredentials":{"taxonomyCode":"207q00000x"}}}`, "taxonomyCode must be a 10-character NUCC code such as 207Q00000X"},
		{"taxonomy code without X", "StaffMember", `{"spec":{"providerCredentials":{"taxonomyCode":"207Q000000"}}}`, "taxonomyCode must be a 10-character NUCC code"},
		{"capacity zero", "StaffMember", `{"spec":{"providerCredentials":{"capacity":0}}}`, "spec.providerCredentials.capacity: Invalid value: 0: spec.providerCredentials.capacity in body should be greater than or equal to 1"},
		{"scheduling step of 7", "StaffMember", `{"spec":{"providerCredentials":{"schedulingStepMinutes":7}}}`, "spec.providerCredentials.schedulingStepMinutes: Unsupported value: 7: supported values: \"5\", \"10\", \"15\", \"20\", \"30\", \"45\", \"60\""},
		{"bio too long", "StaffMember", `{"spec":{"providerCredentials":{"bio":"` + long(2001) + `"}}}`, "spec.providerCredentials.bio: Too long: may not be more than 2000"},
		{"empty tag", "StaffMember", `{"spec":{"providerCredentials":{"tags":[""]}}}`, "spec.providerCredentials.tags[0]"},
		{"too many tags", "StaffMember", `{"spec":{"providerCredentials":{"tags":` + many(21) + `}}}`, "must have at most 20 items"},
		// Role.
		{"unknown category", "Role", `{"spec":{"category":"Clinical"}}`, `spec.category: Unsupported value: "Clinical": supported values: "Provider", "Administrative", "Compliance"`},
		{"permission outside the catalogue", "Role", `{"spec":{"permissions":["billing.refundEverything"]}}`, `spec.permissions[0]: Unsupported value: "billing.refundEverything"`},
		{"duplicate permission", "Role", `{"spec":{"permissions":["calendar.view","calendar.view"]}}`, `spec.permissions[1]: Duplicate value: "calendar.view"`},
		{"role display name missing", "Role", `{"spec":{"displayName":null}}`, "spec.displayName: Required value"},
		// Location.
		{"time zone not IANA", "Location", `{"spec":{"timeZone":"Chicago time"}}`, "timeZone must be an IANA time zone name such as America/Chicago or UTC"},
		{"country of three letters", "Location", `{"spec":{"address":{"country":"USA"}}}`, "spec.address.country: Too long: may not be more than 2"},
		{"country in lower case", "Location", `{"spec":{"address":{"country":"us"}}}`, "country must be a two-letter ISO 3166-1 code such as US"},
		{"too many address lines", "Location", `{"spec":{"address":{"lines":["a","b","c","d"]}}}`, "spec.address.lines: Too many: 4: must have at most 3 items"},
		// Invitation.
		{"TTL below 5 minutes", "Invitation", `{"spec":{"ttl":"4m"}}`, "ttl must be a duration between 5m and 720h (30 days)"},
		{"TTL above 30 days", "Invitation", `{"spec":{"ttl":"721h"}}`, "ttl must be a duration between 5m and 720h (30 days)"},
		{"TTL not a duration", "Invitation", `{"spec":{"ttl":"soon"}}`, "ttl must be a duration between 5m and 720h"},
		{"member missing", "Invitation", `{"spec":{"memberRef":null}}`, "spec.memberRef: Required value"},
		{"too many automatic resends", "Invitation", `{"spec":{"autoResend":{"maxResends":11}}}`, "spec.autoResend.maxResends: Invalid value: 11: spec.autoResend.maxResends in body should be less than or equal to 10"},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			obj := objectFor(t, tc.kind, tc.patch)
			obj.SetName(strings.ToLower(tc.kind) + "-invalid-" + strconv.Itoa(i))
			err := k8s.Create(context.Background(), obj)
			if err == nil {
				t.Fatalf("the API server accepted it; want an error containing %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error does not say %q:\n%v", tc.want, err)
			}
		})
	}
}

func TestInvitationMemberIsImmutable(t *testing.T) {
	ensureNamespace(t, validationNamespace)
	ctx := context.Background()
	inv := objectFor(t, "Invitation", "")
	inv.SetName("immutable-member")
	if err := k8s.Create(ctx, inv); err != nil {
		t.Fatal(err)
	}
	if err := unstructured.SetNestedField(inv.Object, "someone-else", "spec", "memberRef", "name"); err != nil {
		t.Fatal(err)
	}
	err := k8s.Update(ctx, inv)
	if want := "memberRef is immutable: create a new Invitation for another member"; err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("update of memberRef: got %v, want an error saying %q", err, want)
	}
}

func TestDefaults(t *testing.T) {
	ensureNamespace(t, validationNamespace)
	sm := objectFor(t, "StaffMember", `{"spec":{"roles":null,"locations":null,"primaryLocation":null}}`)
	sm.SetName("defaults")
	if err := k8s.Create(context.Background(), sm); err != nil {
		t.Fatal(err)
	}
	for field, want := range map[string]any{
		"accountState": "Active", "deletionPolicy": "Deactivate", "allLocations": false,
	} {
		got, _, _ := unstructured.NestedFieldNoCopy(sm.Object, "spec", field)
		if got != want {
			t.Errorf("spec.%s defaulted to %v, want %v", field, got, want)
		}
	}
	if roles, found, _ := unstructured.NestedSlice(sm.Object, "spec", "roles"); !found || len(roles) != 0 {
		t.Errorf("spec.roles defaulted to %v (found=%v), want an empty list", roles, found)
	}
}

// objectFor returns the valid object of kind with patch (a JSON merge patch) applied.
func objectFor(t *testing.T, kind, patch string) *unstructured.Unstructured {
	t.Helper()
	doc, err := yaml.YAMLToJSON([]byte(validObjects[kind]))
	if err != nil {
		t.Fatal(err)
	}
	if patch != "" {
		if doc, err = jsonpatch.MergePatch(doc, []byte(patch)); err != nil {
			t.Fatalf("patch %s: %v", patch, err)
		}
	}
	obj := &unstructured.Unstructured{}
	if err := json.Unmarshal(doc, &obj.Object); err != nil {
		t.Fatal(err)
	}
	obj.SetNamespace(validationNamespace)
	return obj
}

func ensureNamespace(t *testing.T, name string) {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if err := k8s.Create(context.Background(), ns); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
}
