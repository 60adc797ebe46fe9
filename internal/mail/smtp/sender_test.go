package smtp_test

import (
	"context"
	"errors"
	"math"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rosterops/staff-operator/internal/mail"
	"github.com/rosterops/staff-operator/internal/mail/smtp"
	"github.com/rosterops/staff-operator/internal/mail/smtptest"
	"github.com/rosterops/staff-operator/internal/secretfile"
)

const (
	uid       = "6f1c2a9e-3b7d-4c55-9e0a-1d2f3a4b5c6d"
	link      = "https://staff.example.test/invitations/Zm9vYmFyYmF6"
	localTime = "Tuesday, March 10, 2026 at 3:00 PM CDT" // 20:00 UTC in Chicago, after the DST switch
)

var (
	from      = mail.Address{Name: "Staff Accounts", Email: "no-reply@example.test"}
	expiresAt = time.Date(2026, 3, 10, 20, 0, 0, 0, time.UTC)
)

func data() mail.Data {
	return mail.Data{
		Practice:  "Lakeside Family Practice",
		Name:      "Dana Müller",
		Email:     "dana@example.test",
		Roles:     []string{"Front Desk"},
		Locations: []string{"North Clinic", "South Clinic"},
		Link:      link,
		ExpiresAt: expiresAt,
		TimeZone:  "America/Chicago",
	}
}

func templates(t *testing.T, dir string) *mail.Templates {
	t.Helper()
	tpl, err := mail.LoadTemplates(dir)
	if err != nil {
		t.Fatalf("LoadTemplates(%q): %v", dir, err)
	}
	return tpl
}

// render is the controller's path: render, set From, set the Message-ID of the attempt.
func render(t *testing.T, tpl *mail.Templates, kind mail.Kind, d mail.Data, attempt int64) mail.Message {
	t.Helper()
	msg, err := tpl.Render(kind, d)
	if err != nil {
		t.Fatalf("Render(%s): %v", kind, err)
	}
	msg.From = from
	msg.SetMessageID(uid, attempt)
	return msg
}

func sender(t *testing.T, srv *smtptest.Server, edit func(*smtp.Config)) *smtp.Sender {
	t.Helper()
	cfg := smtp.Config{
		Host:           srv.Host(),
		Port:           srv.Port(),
		TLS:            smtp.TLSNone,
		ConnectTimeout: 5 * time.Second,
		SendTimeout:    10 * time.Second,
		HeloName:       "operator.example.test",
	}
	if edit != nil {
		edit(&cfg)
	}
	s, err := smtp.New(cfg)
	if err != nil {
		t.Fatalf("smtp.New: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func wait(t *testing.T, srv *smtptest.Server, n int) []smtptest.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	msgs, err := srv.WaitForMessages(ctx, n)
	if err != nil {
		t.Fatal(err)
	}
	return msgs
}

func TestSendDeliversEveryKind(t *testing.T) {
	srv := smtptest.New(t)
	s := sender(t, srv, nil)
	tpl := templates(t, "")

	cases := []struct {
		kind    mail.Kind
		subject string
		text    []string // each must appear in the text part (and, escaped, in the HTML part)
	}{
		{mail.Invitation, "You're invited to join Lakeside Family Practice",
			[]string{"Dana Müller", "Front Desk", "North Clinic, South Clinic", link, localTime}},
		{mail.InvitationResent, "Your new invitation to join Lakeside Family Practice",
			[]string{"Dana Müller", "no longer work", link, localTime}},
		{mail.ExpiryReminder, "Reminder: your invitation to Lakeside Family Practice expires soon",
			[]string{"Dana Müller", link, localTime}},
		{mail.PasswordReset, "Reset your Lakeside Family Practice password",
			[]string{"Dana Müller", link, localTime}},
		{mail.AccountDeactivated, "Your Lakeside Family Practice staff account has been deactivated",
			[]string{"Dana Müller", "deactivated", "dana@example.test"}},
	}
	for i, tc := range cases {
		t.Run(string(tc.kind), func(t *testing.T) {
			msg := render(t, tpl, tc.kind, data(), 1)
			if err := s.Send(t.Context(), msg); err != nil {
				t.Fatalf("Send: %v", err)
			}
			got := wait(t, srv, i+1)[i]
			if got.ParseError != "" {
				t.Fatalf("server could not parse the message: %s", got.ParseError)
			}
			if len(got.EnvelopeTo) != 1 || got.EnvelopeTo[0] != "dana@example.test" {
				t.Errorf("RCPT TO = %q, want [dana@example.test]", got.EnvelopeTo)
			}
			if got.EnvelopeFrom != "no-reply@example.test" {
				t.Errorf("MAIL FROM = %q", got.EnvelopeFrom)
			}
			if to, err := got.Header.AddressList("To"); err != nil || len(to) != 1 ||
				to[0].Name != "Dana Müller" || to[0].Address != "dana@example.test" {
				t.Errorf("To = %q (%v), want Dana Müller <dana@example.test>", got.Header.Get("To"), err)
			}
			if f, err := got.Header.AddressList("From"); err != nil || len(f) != 1 ||
				f[0].Name != "Staff Accounts" || f[0].Address != "no-reply@example.test" {
				t.Errorf("From = %q (%v)", got.Header.Get("From"), err)
			}
			if got.Subject != tc.subject {
				t.Errorf("Subject = %q, want %q", got.Subject, tc.subject)
			}
			if id := got.Header.Get("Message-Id"); id != msg.MessageID {
				t.Errorf("Message-ID = %q, want %q", id, msg.MessageID)
			}
			for _, want := range tc.text {
				if !strings.Contains(got.Text, want) {
					t.Errorf("text part lacks %q:\n%s", want, got.Text)
				}
				if !strings.Contains(got.HTML, want) {
					t.Errorf("HTML part lacks %q:\n%s", want, got.HTML)
				}
			}
			if tc.kind == mail.AccountDeactivated && strings.Contains(got.Text, "http") {
				t.Errorf("deactivation notice carries a link:\n%s", got.Text)
			}
			if tc.kind != mail.AccountDeactivated && !strings.Contains(got.HTML, `href="`+link+`"`) {
				t.Errorf("HTML part has no link to %s", link)
			}
			checkTransactional(t, got)
		})
	}
}

func checkTransactional(t *testing.T, got smtptest.Message) {
	t.Helper()
	for name, want := range map[string]string{
		"Auto-Submitted":           "auto-generated",
		"X-Auto-Response-Suppress": "All",
		"Mime-Version":             "1.0",
	} {
		if v := got.Header.Get(name); v != want {
			t.Errorf("%s = %q, want %q", name, v, want)
		}
	}
	for _, name := range []string{"List-Unsubscribe", "Precedence", "Bcc", "Cc"} {
		if v := got.Header.Get(name); v != "" {
			t.Errorf("unexpected header %s: %q", name, v)
		}
	}
	if got.Header.Get("Date") == "" {
		t.Error("no Date header")
	}
	if ct := got.Header.Get("Content-Type"); !strings.HasPrefix(ct, "multipart/alternative") {
		t.Errorf("Content-Type = %q, want multipart/alternative", ct)
	}
	html := strings.ToLower(got.HTML)
	for _, banned := range []string{"<img", "<script", "url(", "<link", "@import"} {
		if strings.Contains(html, banned) {
			t.Errorf("HTML part contains %q (no remote content, no tracking)", banned)
		}
	}
}

func TestMessageIDIsStablePerAttempt(t *testing.T) {
	srv := smtptest.New(t)
	s := sender(t, srv, nil)
	tpl := templates(t, "")

	first := render(t, tpl, mail.Invitation, data(), 1)
	retry := render(t, tpl, mail.Invitation, data(), 1) // the same attempt after a crash or a 4xx
	second := render(t, tpl, mail.Invitation, data(), 2)
	for _, msg := range []mail.Message{first, retry, second} {
		if err := s.Send(t.Context(), msg); err != nil {
			t.Fatalf("Send: %v", err)
		}
	}
	got := wait(t, srv, 3)
	ids := []string{got[0].Header.Get("Message-Id"), got[1].Header.Get("Message-Id"), got[2].Header.Get("Message-Id")}
	if want := "<invitation." + uid + ".1@example.test>"; ids[0] != want {
		t.Errorf("attempt 1 Message-ID = %q, want %q", ids[0], want)
	}
	if ids[1] != ids[0] {
		t.Errorf("retry of attempt 1 has Message-ID %q, first send had %q", ids[1], ids[0])
	}
	if want := "<invitation." + uid + ".2@example.test>"; ids[2] != want {
		t.Errorf("attempt 2 Message-ID = %q, want %q", ids[2], want)
	}
	reminder := render(t, tpl, mail.ExpiryReminder, data(), 1)
	if reminder.MessageID == first.MessageID {
		t.Errorf("reminder and invitation of the same attempt share Message-ID %q", first.MessageID)
	}
}

func TestNamesAreEscapedInHTML(t *testing.T) {
	srv := smtptest.New(t)
	s := sender(t, srv, nil)
	d := data()
	d.Name = `<script>alert("x")</script>`
	d.Practice = `Smith & Jones <Pediatrics>`
	d.Roles = []string{`<b>Admin</b>`}
	if err := s.Send(t.Context(), render(t, templates(t, ""), mail.Invitation, d, 1)); err != nil {
		t.Fatalf("Send: %v", err)
	}
	got := wait(t, srv, 1)[0]
	if strings.Contains(got.HTML, "<script") || strings.Contains(got.HTML, "<b>Admin") || strings.Contains(got.HTML, "<Pediatrics>") {
		t.Errorf("HTML part contains unescaped markup:\n%s", got.HTML)
	}
	for _, want := range []string{"&lt;script&gt;", "Smith &amp; Jones &lt;Pediatrics&gt;", "&lt;b&gt;Admin&lt;/b&gt;"} {
		if !strings.Contains(got.HTML, want) {
			t.Errorf("HTML part lacks %q:\n%s", want, got.HTML)
		}
	}
	// The text part and the headers are not HTML: they carry the names as they are.
	if !strings.Contains(got.Text, `Hello <script>alert("x")</script>,`) {
		t.Errorf("text part lacks the literal name:\n%s", got.Text)
	}
	if got.Subject != "You're invited to join Smith & Jones <Pediatrics>" {
		t.Errorf("Subject = %q", got.Subject)
	}
}

func TestLineBreakInHeaderIsRefusedBeforeSMTP(t *testing.T) {
	srv := smtptest.New(t)
	s := sender(t, srv, nil)
	tpl := templates(t, "")

	// Through Render: the name would become the To header, the practice the Subject.
	for _, edit := range []func(*mail.Data){
		func(d *mail.Data) { d.Name = "Eve\r\nBcc: victim@example.test" },
		func(d *mail.Data) { d.Name = "Eve\nBcc: victim@example.test" },
		func(d *mail.Data) { d.Practice = "Clinic\rBcc: victim@example.test" },
	} {
		d := data()
		edit(&d)
		if _, err := tpl.Render(mail.Invitation, d); !errors.Is(err, mail.ErrInvalid) {
			t.Errorf("Render with a line break in %+v: err = %v, want ErrInvalid", d, err)
		}
	}

	// Through Send, for a message that did not come from Render.
	good := render(t, tpl, mail.Invitation, data(), 1)
	cases := map[string]func(*mail.Message){
		"to name":      func(m *mail.Message) { m.To.Name = "Eve\r\nBcc: victim@example.test" },
		"to address":   func(m *mail.Message) { m.To.Email = "eve@example.test\r\nRCPT TO:<victim@example.test>" },
		"from name":    func(m *mail.Message) { m.From.Name = "Staff\nBcc: victim@example.test" },
		"subject":      func(m *mail.Message) { m.Subject = "Hello\r\nBcc: victim@example.test" },
		"extra header": func(m *mail.Message) { m.Headers = map[string]string{"X-Note": "a\nBcc: victim@example.test"} },
		"message id":   func(m *mail.Message) { m.MessageID = "<a@b>\r\nBcc: victim@example.test" },
	}
	for name, edit := range cases {
		t.Run(name, func(t *testing.T) {
			msg := good
			msg.Headers = mail.TransactionalHeaders()
			edit(&msg)
			err := s.Send(t.Context(), msg)
			if !errors.Is(err, mail.ErrInvalid) || !mail.IsPermanent(err) {
				t.Fatalf("Send: err = %v, want a permanent ErrInvalid", err)
			}
		})
	}
	if n := srv.Connections(); n != 0 {
		t.Errorf("server saw %d connections, want none", n)
	}
	if n := len(srv.Messages()); n != 0 {
		t.Errorf("server received %d messages, want none", n)
	}
}

func TestRejectedRecipientIsPermanent(t *testing.T) {
	srv := smtptest.New(t, smtptest.WithRejectedRecipients("nobody@example.test"))
	s := sender(t, srv, nil)
	d := data()
	d.Email = "nobody@example.test"
	err := s.Send(t.Context(), render(t, templates(t, ""), mail.Invitation, d, 1))

	if !errors.Is(err, mail.ErrRejected) || !mail.IsPermanent(err) {
		t.Fatalf("err = %v, want a permanent ErrRejected", err)
	}
	var me *mail.Error
	if !errors.As(err, &me) || me.Code != 550 || me.Op != "RCPT TO" {
		t.Fatalf("err = %#v, want code 550 at RCPT TO", err)
	}
	want := "mail rejected by server: RCPT TO: 550 5.1.1 <nobody@example.test>: Recipient address rejected: User unknown"
	if err.Error() != want {
		t.Errorf("err = %q\nwant  %q", err, want)
	}
	if n := len(srv.Messages()); n != 0 {
		t.Errorf("server received %d messages", n)
	}
}

func TestTemporaryFailureIsTemporary(t *testing.T) {
	srv := smtptest.New(t, smtptest.WithTempFailedRecipients("busy@example.test"))
	s := sender(t, srv, nil)
	d := data()
	d.Email = "busy@example.test"
	err := s.Send(t.Context(), render(t, templates(t, ""), mail.Invitation, d, 1))
	if !errors.Is(err, mail.ErrUnavailable) || mail.IsPermanent(err) {
		t.Fatalf("err = %v, want a temporary ErrUnavailable", err)
	}
	if !strings.Contains(err.Error(), "451 4.3.0") {
		t.Errorf("err = %q lacks the SMTP reply", err)
	}
}

func TestServerDownIsTemporary(t *testing.T) {
	msg := render(t, templates(t, ""), mail.Invitation, data(), 1)

	t.Run("connection refused", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		s, err := smtp.New(smtp.Config{Host: "127.0.0.1", Port: port, ConnectTimeout: 2 * time.Second, SendTimeout: 3 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		err = s.Send(t.Context(), msg)
		if !errors.Is(err, mail.ErrUnavailable) || mail.IsPermanent(err) {
			t.Fatalf("err = %v, want a temporary ErrUnavailable", err)
		}
		t.Logf("connection refused: %v", err)
		if !strings.Contains(err.Error(), "connection refused") {
			t.Errorf("err = %q does not say the connection was refused", err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("took %s, longer than the connect timeout", d)
		}
	})

	t.Run("server never answers", func(t *testing.T) {
		addr := silentListener(t)
		const timeout = 300 * time.Millisecond
		s, err := smtp.New(smtp.Config{Host: "127.0.0.1", Port: addr.Port, ConnectTimeout: timeout, SendTimeout: timeout})
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		err = s.Send(t.Context(), msg)
		elapsed := time.Since(start)
		if !errors.Is(err, mail.ErrUnavailable) || mail.IsPermanent(err) {
			t.Fatalf("err = %v, want a temporary ErrUnavailable", err)
		}
		t.Logf("server never answers: %v", err)
		if !strings.Contains(err.Error(), "send timeout of 300ms") {
			t.Errorf("err = %q does not name the timeout", err)
		}
		if elapsed < timeout || elapsed > timeout+2*time.Second {
			t.Errorf("took %s, want just over the send timeout of %s", elapsed, timeout)
		}
	})

	t.Run("caller cancels", func(t *testing.T) {
		addr := silentListener(t)
		s, err := smtp.New(smtp.Config{Host: "127.0.0.1", Port: addr.Port, SendTimeout: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		err = s.Send(ctx, msg)
		if !errors.Is(err, mail.ErrUnavailable) {
			t.Fatalf("err = %v, want ErrUnavailable", err)
		}
	})
}

// silentListener accepts connections and never writes a byte, like a hung server.
func silentListener(t *testing.T) *net.TCPAddr {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = l.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return l.Addr().(*net.TCPAddr)
}

func TestSTARTTLS(t *testing.T) {
	srv := smtptest.New(t, smtptest.WithSTARTTLS())
	msg := render(t, templates(t, ""), mail.Invitation, data(), 1)

	t.Run("with the CA file", func(t *testing.T) {
		s := sender(t, srv, func(c *smtp.Config) { c.TLS = smtp.TLSStartTLS; c.CAFile = srv.CAFile() })
		if err := s.Send(t.Context(), msg); err != nil {
			t.Fatalf("Send: %v", err)
		}
		if got := wait(t, srv, 1)[0]; !got.TLS {
			t.Error("message arrived over a session without TLS")
		}
	})

	t.Run("without the CA file", func(t *testing.T) {
		s := sender(t, srv, func(c *smtp.Config) { c.TLS = smtp.TLSStartTLS })
		err := s.Send(t.Context(), msg)
		if !errors.Is(err, mail.ErrConfig) || !mail.IsPermanent(err) {
			t.Fatalf("err = %v, want a permanent ErrConfig", err)
		}
		t.Logf("without the CA file: %v", err)
		if !strings.Contains(err.Error(), "certificate") {
			t.Errorf("err = %q does not mention the certificate", err)
		}
		if n := len(srv.Messages()); n != 1 {
			t.Errorf("server has %d messages, want only the one from the CA-file case", n)
		}
	})

	t.Run("server without STARTTLS", func(t *testing.T) {
		plain := smtptest.New(t)
		s := sender(t, plain, func(c *smtp.Config) { c.TLS = smtp.TLSStartTLS; c.CAFile = srv.CAFile() })
		err := s.Send(t.Context(), msg)
		if !errors.Is(err, mail.ErrConfig) {
			t.Fatalf("err = %v, want ErrConfig: starttls must never fall back to clear text", err)
		}
		t.Logf("server without STARTTLS: %v", err)
		if n := len(plain.Messages()); n != 0 {
			t.Errorf("server received %d messages in clear text", n)
		}
	})
}

func TestImplicitTLS(t *testing.T) {
	srv := smtptest.New(t, smtptest.WithImplicitTLS(), smtptest.WithAuth("mailer", "s3cret"))
	msg := render(t, templates(t, ""), mail.PasswordReset, data(), 1)

	s := sender(t, srv, func(c *smtp.Config) {
		c.TLS = smtp.TLSImplicit
		c.CAFile = srv.CAFile()
		c.Username, c.Password = "mailer", "s3cret"
	})
	if err := s.Send(t.Context(), msg); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if got := wait(t, srv, 1)[0]; !got.TLS || got.AuthUser != "mailer" {
		t.Errorf("TLS = %v, AuthUser = %q; want TLS and mailer", got.TLS, got.AuthUser)
	}

	// Clear text against an SMTPS port: both sides wait for the other to speak first, so
	// this is a timeout, which cannot be told apart from a hung server.
	plain := sender(t, srv, func(c *smtp.Config) { c.TLS = smtp.TLSNone; c.SendTimeout = 200 * time.Millisecond })
	if err := plain.Send(t.Context(), msg); !errors.Is(err, mail.ErrUnavailable) {
		t.Errorf("clear text against an implicit-TLS port: err = %v, want ErrUnavailable", err)
	}

	// TLS against a clear-text port is recognisably wrong: a configuration error.
	clear := smtptest.New(t)
	tlsToPlain := sender(t, clear, func(c *smtp.Config) { c.TLS = smtp.TLSImplicit; c.CAFile = srv.CAFile() })
	err := tlsToPlain.Send(t.Context(), msg)
	if !errors.Is(err, mail.ErrConfig) {
		t.Errorf("implicit TLS against a clear-text port: err = %v, want ErrConfig", err)
	}
	t.Logf("implicit TLS against a clear-text port: %v", err)
}

func TestAuth(t *testing.T) {
	srv := smtptest.New(t, smtptest.WithAuth("mailer", "s3cret"))
	msg := render(t, templates(t, ""), mail.Invitation, data(), 1)

	dir := t.TempDir()
	userFile, passFile := filepath.Join(dir, "username"), filepath.Join(dir, "password")
	if err := os.WriteFile(userFile, []byte("mailer\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(passFile, []byte("s3cret"), 0o600); err != nil {
		t.Fatal(err)
	}
	user, err := secretfile.Read(userFile)
	if err != nil {
		t.Fatal(err)
	}
	pass, err := secretfile.Read(passFile)
	if err != nil {
		t.Fatal(err)
	}

	s := sender(t, srv, func(c *smtp.Config) { c.Username, c.Password = user, pass })
	if err := s.Send(t.Context(), msg); err != nil {
		t.Fatalf("Send with credentials from files: %v", err)
	}
	if got := wait(t, srv, 1)[0]; got.AuthUser != "mailer" {
		t.Errorf("AuthUser = %q", got.AuthUser)
	}

	wrong := sender(t, srv, func(c *smtp.Config) { c.Username, c.Password = "mailer", "wrong" })
	err = wrong.Send(t.Context(), msg)
	if !errors.Is(err, mail.ErrConfig) || !strings.Contains(err.Error(), "535") {
		t.Errorf("wrong password: err = %v, want ErrConfig with 535", err)
	}
	t.Logf("wrong password: %v", err)
	if strings.Contains(err.Error(), "wrong") {
		t.Errorf("error text leaks the password: %q", err)
	}

	none := sender(t, srv, nil)
	err = none.Send(t.Context(), msg)
	if !errors.Is(err, mail.ErrRejected) || !strings.Contains(err.Error(), "530") {
		t.Errorf("no credentials: err = %v, want ErrRejected with 530", err)
	}
}

func TestTemplatesDirOverridesDefaults(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("invitation.subject.tmpl", "Welcome aboard, {{.Name}} ({{.Practice}})\n")
	write("invitation.text.tmpl", "Custom text for {{.Name}}: {{.Link}} until {{.Expires}}\n")

	srv := smtptest.New(t)
	s := sender(t, srv, nil)
	if err := s.Send(t.Context(), render(t, templates(t, dir), mail.Invitation, data(), 1)); err != nil {
		t.Fatalf("Send: %v", err)
	}
	got := wait(t, srv, 1)[0]
	if want := "Welcome aboard, Dana Müller (Lakeside Family Practice)"; got.Subject != want {
		t.Errorf("Subject = %q, want %q", got.Subject, want)
	}
	if want := "Custom text for Dana Müller: " + link + " until " + localTime + "\n"; got.Text != want {
		t.Errorf("text = %q, want %q", got.Text, want)
	}
	if !strings.Contains(got.HTML, "Accept invitation") {
		t.Errorf("HTML part is not the default one:\n%s", got.HTML)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	caDir := t.TempDir()
	notPEM := filepath.Join(caDir, "ca.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		reason string
		cfg    smtp.Config
		want   string
	}{
		{"no host", smtp.Config{Port: 25}, "host is empty"},
		{"host with scheme", smtp.Config{Host: "smtp://mail.example.test"}, "without scheme"},
		{"host with port", smtp.Config{Host: "mail.example.test:25"}, "must not include a port"},
		{"unknown TLS mode", smtp.Config{Host: "mail.example.test", TLS: "ssl"}, "must be one of none, starttls, implicit"},
		{"port out of range", smtp.Config{Host: "mail.example.test", Port: 70000}, "out of range"},
		{"username without password", smtp.Config{Host: "127.0.0.1", Username: "u"}, "set together"},
		{"credentials in clear text", smtp.Config{Host: "mail.example.test", Username: "u", Password: "p"}, "clear text"},
		{"CA file without TLS", smtp.Config{Host: "mail.example.test", CAFile: notPEM}, "tls is none"},
		{"missing CA file", smtp.Config{Host: "mail.example.test", TLS: smtp.TLSStartTLS, CAFile: filepath.Join(caDir, "missing.pem")}, "read CA file"},
		{"CA file without PEM", smtp.Config{Host: "mail.example.test", TLS: smtp.TLSStartTLS, CAFile: notPEM}, "no PEM certificate"},
		{"negative timeout", smtp.Config{Host: "mail.example.test", SendTimeout: -time.Second}, "negative"},
		{"negative idle timeout", smtp.Config{Host: "mail.example.test", IdleTimeout: -time.Second}, "negative"},
		{"too many idle connections", smtp.Config{Host: "mail.example.test", MaxIdleConnections: 17}, "maxIdleConnections 17 must be between 0 (a session per message) and 16"},
		{"negative idle connections", smtp.Config{Host: "mail.example.test", MaxIdleConnections: -1}, "maxIdleConnections -1 must be between 0"},
		{"negative messages per connection", smtp.Config{Host: "mail.example.test", MaxMessagesPerConnection: -1}, "maxMessagesPerConnection -1 must not be negative"},
		{"negative rate", smtp.Config{Host: "mail.example.test", MaxPerSecond: -1}, "maxPerSecond -1 must be 0 (unlimited) or a rate up to"},
		{"rate not a number", smtp.Config{Host: "mail.example.test", MaxPerSecond: math.NaN()}, "maxPerSecond NaN"},
		{"infinite rate", smtp.Config{Host: "mail.example.test", MaxPerSecond: math.Inf(1)}, "maxPerSecond +Inf"},
	}
	for _, tc := range cases {
		t.Run(tc.reason, func(t *testing.T) {
			_, err := smtp.New(tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New: err = %v, want one containing %q", err, tc.want)
			}
		})
	}

	s, err := smtp.New(smtp.Config{Host: "mail.example.test", TLS: smtp.TLSStartTLS})
	if err != nil {
		t.Fatal(err)
	}
	got := s.Config()
	if got.Port != 587 || got.ConnectTimeout != smtp.DefaultConnectTimeout || got.SendTimeout != smtp.DefaultSendTimeout ||
		got.MaxIdleConnections != 0 || got.IdleTimeout != smtp.DefaultIdleTimeout ||
		got.MaxMessagesPerConnection != smtp.DefaultMaxMessagesPerConnection || got.MaxPerSecond != 0 {
		t.Errorf("defaults: %+v", got)
	}
}
