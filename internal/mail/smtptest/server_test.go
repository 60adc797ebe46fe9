package smtptest_test

import (
	"context"
	"errors"
	netsmtp "net/smtp"
	"strings"
	"testing"
	"time"

	"github.com/rosterops/staff-operator/internal/mail/smtptest"
)

// The server is exercised through go-mail in internal/mail/smtp; here a different client
// (the standard library's) checks that it parses what others send, too.
func TestServerParsesMessages(t *testing.T) {
	var seen []string
	srv := smtptest.New(t, smtptest.WithOnMessage(func(m smtptest.Message) { seen = append(seen, m.Subject) }))
	raw := strings.Join([]string{
		"From: a@example.test",
		"To: =?utf-8?q?J=C3=B6rg?= <b@example.test>",
		"Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=",
		"MIME-Version: 1.0",
		`Content-Type: multipart/mixed; boundary="outer"`,
		"",
		"--outer",
		`Content-Type: multipart/alternative; boundary="inner"`,
		"",
		"--inner",
		"Content-Type: text/plain; charset=utf-8",
		"Content-Transfer-Encoding: quoted-printable",
		"",
		"Hallo J=C3=B6rg, a long line that is=",
		" continued",
		"--inner",
		"Content-Type: text/html; charset=utf-8",
		"Content-Transfer-Encoding: base64",
		"",
		"PHA+SGFsbG88L3A+",
		"--inner--",
		"--outer--",
		"",
	}, "\r\n")
	if err := netsmtp.SendMail(srv.Addr(), nil, "a@example.test", []string{"b@example.test"}, []byte(raw)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	msgs, err := srv.WaitForMessages(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	m := msgs[0]
	if m.ParseError != "" {
		t.Fatal(m.ParseError)
	}
	if m.EnvelopeFrom != "a@example.test" || len(m.EnvelopeTo) != 1 || m.EnvelopeTo[0] != "b@example.test" {
		t.Errorf("envelope %q -> %q", m.EnvelopeFrom, m.EnvelopeTo)
	}
	if m.Subject != "Grüße" || m.DecodedHeader("To") != "Jörg <b@example.test>" {
		t.Errorf("Subject %q, To %q", m.Subject, m.DecodedHeader("To"))
	}
	if m.Text != "Hallo Jörg, a long line that is continued" {
		t.Errorf("Text = %q", m.Text)
	}
	if m.HTML != "<p>Hallo</p>" {
		t.Errorf("HTML = %q", m.HTML)
	}
	if m.TLS || srv.Connections() != 1 {
		t.Errorf("TLS %v, connections %d", m.TLS, srv.Connections())
	}
	if len(seen) != 1 || seen[0] != "Grüße" {
		t.Errorf("OnMessage saw %q", seen)
	}
}

func TestWaitForMessagesGivesUp(t *testing.T) {
	srv := smtptest.New(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := srv.WaitForMessages(ctx, 1); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

func TestStartOptions(t *testing.T) {
	if _, err := smtptest.Start(smtptest.WithSTARTTLS(), smtptest.WithImplicitTLS()); err == nil {
		t.Error("STARTTLS together with implicit TLS was accepted")
	}
	srv, err := smtptest.Start(smtptest.WithSTARTTLS())
	if err != nil {
		t.Fatal(err)
	}
	if srv.CAFile() == "" || !strings.Contains(string(srv.CAPEM()), "BEGIN CERTIFICATE") {
		t.Errorf("CA file %q, PEM %q", srv.CAFile(), srv.CAPEM())
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if err := srv.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}
