package v1alpha1

// The rules for text that people read are defined once, here, and every such field uses one of
// these types. They are aliases of string, not named types: controller-gen turns the markers
// into a schema every field of the type refers to, while Go code keeps handling plain strings.
//
// Why the rules: these values reach directory attributes, mail headers and subjects, and the
// invitation page. A line break or control character there breaks or forges a header; an
// invisible character (zero-width, a bidi override or isolate, a byte-order mark) makes one
// name look like another, or reorders what an administrator reads in `kubectl get`. No
// person's name needs any of them. Categories do the work, not lists of characters:
// \p{C} is every control (C0, C1), format (Cf: bidi controls, zero-width characters, BOM, soft
// hyphen), private-use and surrogate code point; \p{Zl} and \p{Zp} are U+2028 and U+2029. The
// Hangul fillers, the combining grapheme joiner and the braille blank are letters and marks
// that draw nothing, so they are named. Quotes, backslashes, apostrophes, accents and every
// script stay allowed: the mail and directory code encode them.

// DisplayText is one line of visible text: a name, a title, a tag, an address line. Inner
// spaces are allowed; leading and trailing ones are not, and neither is a value of only spaces.
// +kubebuilder:validation:XValidation:rule=`!self.matches(r'[\p{C}\p{Zl}\p{Zp}\x{115F}\x{1160}\x{3164}\x{FFA0}\x{034F}\x{2800}]')`,message="must be one line of visible text: remove line breaks, tabs, control characters (such as escape sequences) and invisible characters (zero-width spaces and joiners, bidi overrides and isolates, byte-order marks)"
// +kubebuilder:validation:XValidation:rule=`!self.matches(r'^[\s\p{Z}]+$')`,message="must not be blank: write the text, not only spaces"
// +kubebuilder:validation:XValidation:rule=`!self.matches(r'^[\s\p{Z}]|[\s\p{Z}]$')`,message="must not start or end with a space: remove the leading and trailing spaces"
type DisplayText = string

// ParagraphText is free text of one or more lines, such as a biography. Line breaks (\n) and
// tabs are allowed; carriage returns, other control characters and invisible characters are
// not, for the reasons above.
// +kubebuilder:validation:XValidation:rule=`!self.matches(r'[\x00-\x08\x0B-\x1F\x7F-\x9F\p{Cf}\p{Co}\p{Cs}\x{2028}\x{2029}]')`,message="may contain line breaks (\\n) and tabs but no carriage returns, other control characters (such as escape sequences) or invisible characters (zero-width spaces and joiners, bidi overrides and isolates, byte-order marks): remove them"
type ParagraphText = string
