package smtp_test

import (
	"testing"

	"github.com/rosterops/staff-operator/internal/mail"
	"github.com/rosterops/staff-operator/internal/mail/smtptest"
)

// Display names are free text that admission accepts as long as it is one visible line, so
// quotes, backslashes and header specials reach the From and To headers. Each must arrive as
// exactly that name, in a header a standard parser reads, and not fail the mail.
func TestDisplayNamesWithSpecialsAreDelivered(t *testing.T) {
	srv := smtptest.New(t)
	s := sender(t, srv, nil)
	tpl := templates(t, "")

	names := []string{
		`Robert "Bob" Smith`,
		`Pat Smith \`,             // a trailing backslash would escape a hand-written closing quote
		`Back\slash "Quote"`,      // both specials at once
		`Zoë "Z" Ångström \`,      // specials in a name that is RFC 2047-encoded
		`O'Brien, Siobhán`,        // a comma would split an unquoted list
		`Dr. <Eve> (Admin) @Home`, // angle brackets, comments and @ are specials too
		`山田 "Taro" 太郎`,
	}
	for i, name := range names {
		t.Run(name, func(t *testing.T) {
			d := data()
			d.Name = name
			msg := render(t, tpl, mail.Invitation, d, int64(i+1))
			msg.From = mail.Address{Name: `Riverside "Staff" Accounts \`, Email: from.Email}
			if err := s.Send(t.Context(), msg); err != nil {
				t.Fatalf("Send: %v", err)
			}
			got := wait(t, srv, i+1)[i]
			if got.ParseError != "" {
				t.Fatalf("server could not parse the message: %s", got.ParseError)
			}
			checkMailbox(t, got, "To", name, d.Email)
			checkMailbox(t, got, "From", msg.From.Name, from.Email)
		})
	}
}

func checkMailbox(t *testing.T, got smtptest.Message, header, name, email string) {
	t.Helper()
	list, err := got.Header.AddressList(header)
	if err != nil || len(list) != 1 || list[0].Name != name || list[0].Address != email {
		t.Errorf("%s: %q parses to %v (%v), want name %q and address %s", header, got.Header.Get(header), list, err, name, email)
	}
}
