package smtptest_test

import (
	"context"
	"errors"
	netsmtp "net/smtp"
	"net/textproto"
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

// sendOn sends one small message over an open client.
func sendOn(t *testing.T, c *netsmtp.Client, to string) error {
	t.Helper()
	if err := c.Mail("a@example.test"); err != nil {
		return err
	}
	if err := c.Rcpt(to); err != nil {
		return err
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write([]byte("From: a@example.test\r\nTo: " + to + "\r\nSubject: hi\r\n\r\nhello\r\n")); err != nil {
		return err
	}
	return w.Close()
}

func TestConnectionsAreNumberedAndCanBeDropped(t *testing.T) {
	srv := smtptest.New(t)
	c, err := netsmtp.Dial(srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	for _, to := range []string{"b@example.test", "c@example.test"} {
		if err := sendOn(t, c, to); err != nil {
			t.Fatalf("send to %s: %v", to, err)
		}
	}
	if err := netsmtp.SendMail(srv.Addr(), nil, "a@example.test", []string{"d@example.test"}, []byte("Subject: x\r\n\r\ny\r\n")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	msgs, err := srv.WaitForMessages(ctx, 3)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []int64{1, 1, 2} {
		if msgs[i].Connection != want {
			t.Errorf("message %d came over connection %d, want %d", i, msgs[i].Connection, want)
		}
	}
	// SendMail said QUIT; the first client is still connected.
	for deadline := time.Now().Add(5 * time.Second); srv.OpenConnections() != 1; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d connections open, want 1", srv.OpenConnections())
		}
	}
	if n := srv.DropConnections(); n != 1 {
		t.Errorf("DropConnections closed %d, want 1", n)
	}
	if n := srv.OpenConnections(); n != 0 {
		t.Errorf("%d connections open after DropConnections", n)
	}
	if err := sendOn(t, c, "e@example.test"); err == nil {
		t.Error("a dropped connection still carried a message")
	}
}

func TestMessagesPerConnection(t *testing.T) {
	srv := smtptest.New(t, smtptest.WithMessagesPerConnection(1))
	c, err := netsmtp.Dial(srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	if err := sendOn(t, c, "b@example.test"); err != nil {
		t.Fatal(err)
	}
	var reply *textproto.Error
	if err := sendOn(t, c, "c@example.test"); !errors.As(err, &reply) || reply.Code != 421 {
		t.Errorf("second message on the connection: err = %v, want 421", err)
	}
}
