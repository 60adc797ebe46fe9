package mail_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/rosterops/staff-operator/internal/mail"
)

func valid() mail.Message {
	m := mail.Message{
		Kind:    mail.Invitation,
		From:    mail.Address{Name: "Staff Accounts", Email: "no-reply@example.test"},
		To:      mail.Address{Name: "Dana Lee", Email: "dana@example.test"},
		Subject: "Hello",
		Text:    "Hello Dana",
		HTML:    "<p>Hello Dana</p>",
		Headers: mail.TransactionalHeaders(),
	}
	m.SetMessageID("uid-1", 3)
	return m
}

func TestMessageID(t *testing.T) {
	if got, want := mail.MessageID(mail.PasswordReset, "0c6f-11", 2, "example.test"), "<password-reset.0c6f-11.2@example.test>"; got != want {
		t.Errorf("MessageID = %q, want %q", got, want)
	}
	m := valid()
	if m.MessageID != "<invitation.uid-1.3@example.test>" {
		t.Errorf("SetMessageID = %q", m.MessageID)
	}
	if err := m.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
}

func TestValidate(t *testing.T) {
	cases := []struct {
		reason string
		edit   func(*mail.Message)
		want   string
	}{
		{"LF in To name", func(m *mail.Message) { m.To.Name = "Dana\nBcc: x@example.test" }, "To name contains a line break"},
		{"CR in From name", func(m *mail.Message) { m.From.Name = "Staff\rX" }, "From name contains a line break"},
		{"line separator in subject", func(m *mail.Message) { m.Subject = "Hi\u2028there" }, "subject contains a line break"},
		{"NUL in header", func(m *mail.Message) { m.Headers["X-A"] = "a\x00b" }, "header X-A contains a line break"},
		{"empty subject", func(m *mail.Message) { m.Subject = " " }, "subject is empty"},
		{"empty text", func(m *mail.Message) { m.Text = "" }, "text part is empty"},
		{"no From", func(m *mail.Message) { m.From = mail.Address{} }, "From address is empty"},
		{"bad To", func(m *mail.Message) { m.To.Email = "dana" }, "not a plain mail address"},
		{"no Message-ID", func(m *mail.Message) { m.MessageID = "" }, "Message-ID is not set"},
		{"Message-ID without brackets", func(m *mail.Message) { m.MessageID = "a@b" }, "not of the form"},
		{"Message-ID with space", func(m *mail.Message) { m.MessageID = "<a b@c>" }, "not of the form"},
		{"reserved header", func(m *mail.Message) { m.Headers["bcc"] = "x@example.test" }, "cannot be set"},
		{"List-Unsubscribe", func(m *mail.Message) { m.Headers["List-Unsubscribe"] = "<https://x>" }, "cannot be set"},
		{"bad header name", func(m *mail.Message) { m.Headers["X A:"] = "1" }, "not a valid field name"},
	}
	for _, tc := range cases {
		t.Run(tc.reason, func(t *testing.T) {
			m := valid()
			tc.edit(&m)
			err := m.Validate()
			if !errors.Is(err, mail.ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want ErrInvalid with %q", err, tc.want)
			}
		})
	}
}

func TestIsPermanent(t *testing.T) {
	cases := []struct {
		err  error
		want bool
	}{
		{&mail.Error{Class: mail.ErrRejected, Op: "RCPT TO", Code: 550, Reason: "550 no"}, true},
		{&mail.Error{Class: mail.ErrConfig, Op: "connect", Reason: "bad certificate"}, true},
		{&mail.Error{Class: mail.ErrInvalid, Op: "validate", Reason: "x"}, true},
		{&mail.Error{Class: mail.ErrUnavailable, Op: "connect", Reason: "refused"}, false},
		{fmt.Errorf("send invitation: %w", &mail.Error{Class: mail.ErrRejected, Op: "DATA", Reason: "554"}), true},
		{errors.New("something else"), false},
		{nil, false},
	}
	for _, tc := range cases {
		if got := mail.IsPermanent(tc.err); got != tc.want {
			t.Errorf("IsPermanent(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
	err := &mail.Error{Class: mail.ErrRejected, Op: "RCPT TO", Code: 550, Reason: "550 5.1.1 no such user"}
	if got, want := err.Error(), "mail rejected by server: RCPT TO: 550 5.1.1 no such user"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}
