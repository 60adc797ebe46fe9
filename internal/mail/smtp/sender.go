// Package smtp is the mail.Sender that delivers over SMTP, built on github.com/wneessen/go-mail.
//
// Each Send opens one connection, delivers one message and says QUIT. At the operator's
// volume (a mail per invitation, resend or reset) a pool would add state to get wrong (stale
// connections, servers that drop idle sessions, a half-finished transaction after a
// timeout) and save nothing that matters.
package smtp

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"slices"
	"strings"

	gomail "github.com/wneessen/go-mail"

	"github.com/rosterops/staff-operator/internal/mail"
)

// Sender sends mail over SMTP. It is safe for concurrent use; every Send has its own
// connection.
type Sender struct {
	cfg       Config
	tlsConfig *tls.Config
}

var _ mail.Sender = &Sender{}

// New validates cfg, reads the CA file, and returns a Sender. It does not connect: the
// server may be down when the operator starts, which is a send-time (temporary) problem.
func New(cfg Config) (*Sender, error) {
	cfg, pool, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	return &Sender{
		cfg: cfg,
		tlsConfig: &tls.Config{
			ServerName: cfg.Host,
			RootCAs:    pool, // nil: the system's roots
			MinVersion: tls.VersionTLS12,
		},
	}, nil
}

// Config returns the configuration in use, defaults filled in.
func (s *Sender) Config() Config { return s.cfg }

// Send delivers msg, or returns a *mail.Error whose class says whether to retry (see
// mail.IsPermanent). The message is validated and fully composed before any connection is
// opened, so an invalid message causes no SMTP traffic at all. Send returns nil as soon as
// the server has answered 250 to the end of DATA: whatever happens after that (RSET, QUIT,
// the connection dropping) does not change the fact that the server took responsibility for
// the message, and reporting it as a failure would only make the caller send it twice.
func (s *Sender) Send(ctx context.Context, msg mail.Message) error {
	if err := msg.Validate(); err != nil {
		return err
	}
	m, err := compose(msg)
	if err != nil {
		return &mail.Error{Class: mail.ErrInvalid, Op: "compose", Reason: err.Error(), Err: err}
	}
	from, err := m.GetSender(false)
	if err != nil {
		return &mail.Error{Class: mail.ErrInvalid, Op: "compose", Reason: err.Error(), Err: err}
	}
	rcpts, err := m.GetRecipients()
	if err != nil || len(rcpts) != 1 {
		return &mail.Error{Class: mail.ErrInvalid, Op: "compose", Reason: "message needs exactly one recipient", Err: err}
	}
	var body bytes.Buffer
	if _, err := m.WriteTo(&body); err != nil {
		return &mail.Error{Class: mail.ErrInvalid, Op: "compose", Reason: err.Error(), Err: err}
	}

	ctx, cancel := context.WithTimeout(ctx, s.cfg.SendTimeout)
	defer cancel()

	client, err := gomail.NewClient(s.cfg.Host, s.clientOptions(ctx)...)
	if err != nil {
		return &mail.Error{Class: mail.ErrConfig, Op: "connect", Reason: err.Error(), Err: err}
	}
	// Connect, read the greeting, EHLO, STARTTLS (mandatory in starttls mode), AUTH.
	conn, err := client.DialToSMTPClientWithContext(ctx)
	if err != nil {
		return s.classify(ctx, opConnect, err)
	}
	defer func() {
		// A polite QUIT; its outcome does not change the outcome of the send.
		_ = client.CloseWithSMTPClient(conn)
	}()

	if err := conn.Mail(from); err != nil {
		return s.classify(ctx, "MAIL FROM", err)
	}
	if err := conn.Rcpt(rcpts[0]); err != nil {
		return s.classify(ctx, "RCPT TO", err)
	}
	w, err := conn.Data()
	if err != nil {
		return s.classify(ctx, "DATA", err)
	}
	if _, err := w.Write(body.Bytes()); err != nil {
		return s.classify(ctx, "DATA", err)
	}
	// Close ends DATA with "." and reads the server's verdict on the message.
	if err := w.Close(); err != nil {
		return s.classify(ctx, "DATA", err)
	}
	return nil
}

func (s *Sender) clientOptions(sendCtx context.Context) []gomail.Option {
	opts := []gomail.Option{
		gomail.WithPort(s.cfg.Port),
		// go-mail applies this as the deadline of each step; dial below bounds the whole.
		gomail.WithTimeout(s.cfg.SendTimeout),
		gomail.WithDialContextFunc(s.dialer(sendCtx)),
		gomail.WithTLSConfig(s.tlsConfig),
		gomail.WithoutNoop(), // the connection is fresh
	}
	switch s.cfg.TLS {
	case TLSStartTLS:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	case TLSImplicit:
		// The dialer already speaks TLS; WithSSL keeps go-mail from trying STARTTLS on top.
		opts = append(opts, gomail.WithSSL(), gomail.WithTLSPolicy(gomail.NoTLS))
	default:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	}
	if s.cfg.HeloName != "" {
		opts = append(opts, gomail.WithHELO(s.cfg.HeloName))
	}
	if s.cfg.Username != "" {
		// PLAIN, or LOGIN for servers that offer only that. go-mail refuses both over an
		// unencrypted connection to anything but localhost.
		opts = append(opts,
			gomail.WithOpportunisticSMTPAuth(gomail.SMTPAuthPlain, gomail.SMTPAuthLogin),
			gomail.WithUsername(s.cfg.Username),
			gomail.WithPassword(s.cfg.Password))
	}
	return opts
}

// dialer connects with ConnectTimeout (TCP connect, plus the handshake with implicit TLS)
// and closes the connection when sendCtx ends, so that SendTimeout (or the caller's
// cancellation) bounds the whole conversation: go-mail itself watches the context only
// while dialling.
func (s *Sender) dialer(sendCtx context.Context) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		d := &net.Dialer{Timeout: s.cfg.ConnectTimeout}
		var conn net.Conn
		var err error
		if s.cfg.TLS == TLSImplicit {
			// A *tls.Conn, unwrapped: go-mail recognises it as encrypted for AUTH.
			conn, err = (&tls.Dialer{NetDialer: d, Config: s.tlsConfig}).DialContext(ctx, network, addr)
		} else {
			conn, err = d.DialContext(ctx, network, addr)
		}
		if err != nil {
			return nil, err
		}
		context.AfterFunc(sendCtx, func() { _ = conn.Close() })
		return conn, nil
	}
}

// compose builds the MIME message: multipart/alternative with the text part first (the
// fallback) and the HTML part last (the preferred one), UTF-8, quoted-printable.
func compose(msg mail.Message) (*gomail.Msg, error) {
	m := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	if err := m.FromFormat(msg.From.Name, msg.From.Email); err != nil {
		return nil, fmt.Errorf("from: %w", err)
	}
	if err := m.AddToFormat(msg.To.Name, msg.To.Email); err != nil {
		return nil, fmt.Errorf("to: %w", err)
	}
	m.Subject(msg.Subject)
	m.SetMessageIDWithValue(strings.TrimSuffix(strings.TrimPrefix(msg.MessageID, "<"), ">"))
	m.SetDate()
	names := make([]string, 0, len(msg.Headers))
	for name := range msg.Headers {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		m.SetGenHeader(gomail.Header(name), msg.Headers[name])
	}
	m.SetBodyString(gomail.TypeTextPlain, msg.Text)
	if msg.HTML != "" {
		m.AddAlternativeString(gomail.TypeTextHTML, msg.HTML)
	}
	return m, nil
}
