package smtp

import (
	"context"
	"crypto/tls"
	"net"
	"time"

	gomail "github.com/wneessen/go-mail"
	gosmtp "github.com/wneessen/go-mail/smtp"
	"k8s.io/utils/clock"

	"github.com/rosterops/staff-operator/internal/mail"
)

// session is one SMTP session: greeted, with TLS and AUTH done as configured. One Send at a
// time owns it; while it is idle, the Sender does (and only its pool fields change).
type session struct {
	client *gosmtp.Client
	// conn is the connection as dialled. Closing it is the one way to stop a step that
	// waits for the server: go-mail holds its own lock while it reads a reply.
	conn net.Conn
	// stopWatch ends watch; nil when no Send watches the session.
	stopWatch func() bool
	// messages counts the transactions that got past MAIL FROM.
	messages int

	// Guarded by Sender.mu while the session is idle.
	idleSince time.Time
	expiry    clock.Timer
	// gen changes whenever the session leaves the idle list, so that an expiry timer that
	// has fired for an earlier idle spell does nothing.
	gen uint64
}

// watch closes the connection when ctx ends, so that SendTimeout or the caller's cancellation
// stops a Send that waits for the server.
func (sess *session) watch(ctx context.Context) {
	sess.stopWatch = context.AfterFunc(ctx, func() { _ = sess.conn.Close() })
}

// unwatch stops watch. It reports false when the context has ended and the connection is
// closed, or being closed.
func (sess *session) unwatch() bool {
	if sess.stopWatch == nil {
		return true
	}
	stopped := sess.stopWatch()
	sess.stopWatch = nil
	return stopped
}

// quit ends the session with QUIT, bounded by the connection's deadline, and closes the
// connection whatever the answer.
func (sess *session) quit() {
	_ = sess.client.Quit()
	_ = sess.conn.Close()
}

// dial opens a session: connect, greeting, EHLO, STARTTLS, AUTH. The session is watched by
// ctx from the moment the connection exists.
func (s *Sender) dial(ctx context.Context) (*session, error) {
	sess := &session{}
	client, err := gomail.NewClient(s.cfg.Host, s.clientOptions(ctx, sess)...)
	if err != nil {
		return nil, &mail.Error{Class: mail.ErrConfig, Op: opConnect, Reason: err.Error(), Err: err}
	}
	c, err := client.DialToSMTPClientWithContext(ctx)
	if err != nil {
		e := s.classify(ctx, opConnect, err)
		// go-mail leaves the connection open when a step after connecting fails.
		if sess.conn != nil {
			_ = sess.conn.Close()
			sess.unwatch()
		}
		return nil, e
	}
	sess.client = c
	return sess, nil
}

func (s *Sender) clientOptions(sendCtx context.Context, sess *session) []gomail.Option {
	opts := []gomail.Option{
		gomail.WithPort(s.cfg.Port),
		// go-mail applies this as the deadline of each step; the dialer below bounds the whole.
		gomail.WithTimeout(s.cfg.SendTimeout),
		gomail.WithDialContextFunc(s.dialer(sendCtx, sess)),
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

// dialer connects with ConnectTimeout (TCP connect, plus the handshake with implicit TLS),
// keeps the connection in sess and has sendCtx watch it, so that SendTimeout (or the caller's
// cancellation) bounds the whole conversation: go-mail itself watches the context only
// while dialling.
func (s *Sender) dialer(sendCtx context.Context, sess *session) func(ctx context.Context, network, addr string) (net.Conn, error) {
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
		sess.conn = conn
		sess.watch(sendCtx)
		return conn, nil
	}
}
