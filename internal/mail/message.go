package mail

import (
	"context"
	netmail "net/mail"
	"regexp"
	"strconv"
	"strings"
)

// Sender delivers one rendered message. Implementations validate the message before any
// network traffic and return an *Error whose class tells the caller whether to retry
// (see IsPermanent). A nil error means the server accepted the message.
type Sender interface {
	Send(ctx context.Context, msg Message) error
}

// Kind names a kind of message. Its value is used in template file names and in the
// Message-ID, so it is lower-case and stable.
type Kind string

// The message kinds the operator sends.
const (
	// Invitation is the first mail of an Invitation: a link to choose a password.
	Invitation Kind = "invitation"
	// InvitationResent replaces an earlier invitation; older links no longer work.
	InvitationResent Kind = "invitation-resent"
	// ExpiryReminder warns that a pending invitation is about to expire.
	ExpiryReminder Kind = "expiry-reminder"
	// PasswordReset carries a link to choose a new password.
	PasswordReset Kind = "password-reset"
	// AccountDeactivated tells a person that their account can no longer sign in.
	AccountDeactivated Kind = "account-deactivated"
	// EmailChanged goes to the previous address of a member whose account email was changed:
	// whoever reads the new address can now ask for a password reset, so the person who held
	// the old one must hear of the change. It carries no link.
	EmailChanged Kind = "email-changed"
	// PasswordResetNotice goes to the previous address when a password reset is requested
	// shortly after an email change, and tells it where the reset link went. It never carries
	// the link itself.
	PasswordResetNotice Kind = "password-reset-notice"
)

// Kinds lists every message kind, in a fixed order.
var Kinds = []Kind{Invitation, InvitationResent, ExpiryReminder, PasswordReset, AccountDeactivated,
	EmailChanged, PasswordResetNotice}

func (k Kind) valid() bool {
	for _, known := range Kinds {
		if k == known {
			return true
		}
	}
	return false
}

// needsLink reports whether a kind carries a link and an expiry. The notices do not: they go
// to someone who is not to act on a link, and a link they carried could be used by anyone who
// reads that mailbox.
func (k Kind) needsLink() bool {
	switch k {
	case AccountDeactivated, EmailChanged, PasswordResetNotice:
		return false
	}
	return true
}

// needsNewEmail reports whether a kind tells its reader the account's new address.
func (k Kind) needsNewEmail() bool { return k == EmailChanged || k == PasswordResetNotice }

// Address is a mailbox: an optional display name and an address.
type Address struct {
	Name  string
	Email string
}

// ParseAddress parses an RFC 5322 mailbox such as "Staff Accounts <no-reply@example.test>"
// or a bare address, as found in the operator's mail.from setting.
func ParseAddress(s string) (Address, error) {
	if hasLineBreak(s) {
		return Address{}, invalidf("address %q contains a line break", s)
	}
	a, err := netmail.ParseAddress(s)
	if err != nil {
		return Address{}, invalidf("parse address %q: %v", s, err)
	}
	return Address{Name: a.Name, Email: a.Address}, nil
}

// String formats the address for a header, quoting and encoding the name as needed.
func (a Address) String() string {
	return a.Mailbox().String()
}

// Mailbox returns the address as net/mail's, whose String quotes the name and escapes '"' and
// '\' in it (or encodes it per RFC 2047) as a header needs. Senders write headers from it
// rather than from a name wrapped in quotes as it is, which a name such as `Robert "Bob"` or
// one ending in '\' turns into a header no parser accepts.
func (a Address) Mailbox() *netmail.Address {
	return &netmail.Address{Name: a.Name, Address: a.Email}
}

// Domain returns the part of the address after the last '@', lower-cased.
func (a Address) Domain() string {
	i := strings.LastIndexByte(a.Email, '@')
	if i < 0 {
		return ""
	}
	return strings.ToLower(a.Email[i+1:])
}

// Message is one rendered mail, ready for a Sender.
type Message struct {
	// Kind is the kind the message was rendered from; it names the Message-ID.
	Kind Kind
	// From is the sender, usually the operator's mail.from setting.
	From Address
	// To is the one recipient.
	To Address
	// Subject, Text and HTML are the rendered subject, plain-text part and HTML part.
	// HTML may be empty, then the message is plain text only.
	Subject string
	Text    string
	HTML    string
	// MessageID is the full Message-ID header value including angle brackets. It must be
	// set, and is the same for every retry of one send attempt (see MessageID).
	MessageID string
	// Headers are extra header fields, such as the transactional ones Render sets.
	// The fields this package writes itself (From, To, Subject, Message-ID, Date, MIME and
	// content fields, Cc, Bcc) cannot be set here.
	Headers map[string]string
}

// TransactionalHeaders returns the header fields every operator mail carries: it is
// machine-generated (RFC 3834), so auto-responders and out-of-office replies stay quiet.
// There is deliberately no List-Unsubscribe or Precedence: these mails are transactional,
// not a mailing list.
func TransactionalHeaders() map[string]string {
	return map[string]string{
		"Auto-Submitted":           "auto-generated",
		"X-Auto-Response-Suppress": "All",
	}
}

// MessageID builds the deterministic Message-ID for one send attempt of one object:
//
//	<invitation.0c6f...-uid.3@example.test>
//
// kind keeps two mails about the same object and attempt (the invitation and its expiry
// reminder) apart; uid is the Kubernetes object's UID; attempt counts the object's sends;
// domain is the domain of the From address. Retrying the same attempt gives the same ID, so
// a receiving system that deduplicates on Message-ID (most do, and mail clients thread on it)
// recognises a repeat; a new attempt gives a new ID.
func MessageID(kind Kind, uid string, attempt int64, domain string) string {
	return "<" + string(kind) + "." + uid + "." + strconv.FormatInt(attempt, 10) + "@" + domain + ">"
}

// SetMessageID sets m.MessageID from m.Kind, the object's UID, the attempt and the domain
// of m.From. Set From first.
func (m *Message) SetMessageID(uid string, attempt int64) {
	m.MessageID = MessageID(m.Kind, uid, attempt, m.From.Domain())
}

// reservedHeaders are written by the Sender from Message fields; Headers cannot set them.
var reservedHeaders = map[string]bool{
	"from": true, "to": true, "cc": true, "bcc": true, "sender": true, "subject": true,
	"message-id": true, "date": true, "mime-version": true, "content-type": true,
	"content-transfer-encoding": true, "return-path": true, "list-unsubscribe": true,
	"list-unsubscribe-post": true,
}

var (
	// atext of RFC 5322 dot-atom, for both sides of a Message-ID.
	messageIDRe  = regexp.MustCompile(`^<[A-Za-z0-9!#$%&'*+/=?^_{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_{|}~-]+)*@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*>$`)
	headerNameRe = regexp.MustCompile(`^[!-9;-~]+$`) // printable ASCII except ':'
)

// Validate checks everything a Sender needs before it opens a connection. Every header value
// (subject, names, extra headers) is refused if it contains a line break: a CR or LF there
// could inject header fields (a Bcc to a stranger) and is never legitimate in a name.
func (m Message) Validate() error {
	if err := validateAddress("From", m.From); err != nil {
		return err
	}
	if err := validateAddress("To", m.To); err != nil {
		return err
	}
	if strings.TrimSpace(m.Subject) == "" {
		return invalidf("subject is empty")
	}
	if hasLineBreak(m.Subject) {
		return invalidf("subject contains a line break")
	}
	if strings.TrimSpace(m.Text) == "" {
		return invalidf("text part is empty")
	}
	if m.MessageID == "" {
		return invalidf("Message-ID is not set")
	}
	if !messageIDRe.MatchString(m.MessageID) {
		return invalidf("Message-ID %q is not of the form <left@domain>", m.MessageID)
	}
	for name, value := range m.Headers {
		if !headerNameRe.MatchString(name) {
			return invalidf("header name %q is not a valid field name", name)
		}
		if reservedHeaders[strings.ToLower(name)] {
			return invalidf("header %s cannot be set as an extra header", name)
		}
		if hasLineBreak(value) {
			return invalidf("header %s contains a line break", name)
		}
	}
	return nil
}

func validateAddress(field string, a Address) error {
	if hasLineBreak(a.Name) {
		return invalidf("%s name contains a line break", field)
	}
	if hasLineBreak(a.Email) {
		return invalidf("%s address contains a line break", field)
	}
	if a.Email == "" {
		return invalidf("%s address is empty", field)
	}
	parsed, err := netmail.ParseAddress(a.Email)
	if err != nil || parsed.Name != "" || parsed.Address != a.Email {
		return invalidf("%s address %q is not a plain mail address", field, a.Email)
	}
	return nil
}

// hasLineBreak reports a CR, LF or NUL, or a Unicode line or paragraph separator.
func hasLineBreak(s string) bool {
	return strings.ContainsAny(s, "\r\n\x00\u2028\u2029\u0085")
}
