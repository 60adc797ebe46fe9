// Package smtp is the mail.Sender that delivers over SMTP, built on github.com/wneessen/go-mail.
//
// Each Send delivers one message in one SMTP transaction (MAIL FROM, RCPT TO, DATA). The
// session around it (connect, greeting, EHLO, STARTTLS, AUTH) is what costs round trips and
// the relay's patience, so with Config.MaxIdleConnections set a session that is still sound
// after a Send is kept and the next Send starts straight at MAIL FROM: a burst of invitations
// costs a few sessions, not one per mail. A kept session is closed when it has been idle for
// IdleTimeout, after MaxMessagesPerConnection messages, and by Close. Config.MaxPerSecond
// spaces the messages out, so that a burst stays within what the relay tolerates.
//
// Reuse changes nothing that Send promises; see Send.
package smtp

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"math"
	"net/textproto"
	"slices"
	"strings"
	"sync"

	gomail "github.com/wneessen/go-mail"
	"golang.org/x/time/rate"
	"k8s.io/utils/clock"

	"github.com/rosterops/staff-operator/internal/mail"
)

// Sender sends mail over SMTP. It is safe for concurrent use: every Send has a session of
// its own, fresh or taken from the idle ones, and never shares it while it runs.
type Sender struct {
	cfg       Config
	tlsConfig *tls.Config
	limiter   *rate.Limiter // nil: no send rate
	clock     clock.WithDelayedExecution

	mu     sync.Mutex
	idle   []*session // the most recently used last
	closed bool
}

var _ mail.Sender = &Sender{}

// New validates cfg, reads the CA file, and returns a Sender. It does not connect: the
// server may be down when the operator starts, which is a send-time (temporary) problem.
func New(cfg Config) (*Sender, error) {
	return newSender(cfg, clock.RealClock{})
}

func newSender(cfg Config, clk clock.WithDelayedExecution) (*Sender, error) {
	cfg, pool, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Sender{
		cfg: cfg,
		tlsConfig: &tls.Config{
			ServerName: cfg.Host,
			RootCAs:    pool, // nil: the system's roots
			MinVersion: tls.VersionTLS12,
		},
		clock: clk,
	}
	if cfg.MaxPerSecond > 0 {
		s.limiter = rate.NewLimiter(rate.Limit(cfg.MaxPerSecond), int(math.Ceil(cfg.MaxPerSecond)))
	}
	return s, nil
}

// Config returns the configuration in use, defaults filled in.
func (s *Sender) Config() Config { return s.cfg }

// Send delivers msg, or returns a *mail.Error whose class says whether to retry (see
// mail.IsPermanent). The message is validated and fully composed before any connection is
// opened, so an invalid message causes no SMTP traffic at all. Send returns nil as soon as
// the server has answered 250 to the end of DATA: whatever happens after that (RSET, QUIT,
// the connection dropping) does not change the fact that the server took responsibility for
// the message, and reporting it as a failure would only make the caller send it twice.
//
// With a send rate, Send first waits for its turn, as long as ctx allows; SendTimeout starts
// after the wait. A kept session that turns out to be dead (the server closed it while it
// was idle: its MAIL FROM fails with a broken connection or 421) is replaced by a fresh one
// once, within the same Send. That is safe: a transaction whose MAIL FROM failed carries no
// message. Nothing after MAIL FROM is ever repeated, so a failure once the message is on its
// way is reported exactly as without reuse.
func (s *Sender) Send(ctx context.Context, msg mail.Message) error {
	env, err := prepare(msg)
	if err != nil {
		return err
	}
	if err := s.waitTurn(ctx); err != nil {
		return err
	}

	ctx, cancel := context.WithTimeout(ctx, s.cfg.SendTimeout)
	defer cancel()
	// A fresh session would fail to dial; a kept one would notice only once its watch has
	// closed it, which may be after the message went through.
	if err := ctx.Err(); err != nil {
		return s.classify(ctx, opConnect, err)
	}

	if sess := s.take(); sess != nil {
		sess.watch(ctx)
		dead, err := s.transact(ctx, sess, env, true)
		if !dead {
			return err
		}
		// The server closed the session while it was idle, and this message never reached
		// it: send it once more, over a session of its own.
	}
	// Connect, read the greeting, EHLO, STARTTLS (mandatory in starttls mode), AUTH.
	sess, err := s.dial(ctx)
	if err != nil {
		return err
	}
	_, err = s.transact(ctx, sess, env, false)
	return err
}

// envelope is a composed message, ready for the wire.
type envelope struct {
	from, to string
	body     []byte
}

// prepare validates msg and composes it; every failure is ErrInvalid, before any traffic.
func prepare(msg mail.Message) (envelope, error) {
	if err := msg.Validate(); err != nil {
		return envelope{}, err
	}
	m, err := compose(msg)
	if err != nil {
		return envelope{}, &mail.Error{Class: mail.ErrInvalid, Op: "compose", Reason: err.Error(), Err: err}
	}
	from, err := m.GetSender(false)
	if err != nil {
		return envelope{}, &mail.Error{Class: mail.ErrInvalid, Op: "compose", Reason: err.Error(), Err: err}
	}
	rcpts, err := m.GetRecipients()
	if err != nil || len(rcpts) != 1 {
		return envelope{}, &mail.Error{Class: mail.ErrInvalid, Op: "compose", Reason: "message needs exactly one recipient", Err: err}
	}
	var body bytes.Buffer
	if _, err := m.WriteTo(&body); err != nil {
		return envelope{}, &mail.Error{Class: mail.ErrInvalid, Op: "compose", Reason: err.Error(), Err: err}
	}
	return envelope{from: from, to: rcpts[0], body: body.Bytes()}, nil
}

// transact runs one mail transaction on sess and then hands sess back (release). dead
// reports a reused session that the server had closed while it was idle; it is only ever
// true when MAIL FROM failed, so that nothing of the message has reached the server, and
// then err is nil and the caller sends over a fresh session.
func (s *Sender) transact(ctx context.Context, sess *session, env envelope, reused bool) (dead bool, err error) {
	// Every reply must come within this Send. A kept session still carries the deadline of
	// the Send that used it last, and a fresh one go-mail's, set before the greeting.
	if dl, ok := ctx.Deadline(); ok {
		if err := sess.conn.SetDeadline(dl); err != nil {
			// Only a connection closed on this side refuses a deadline: ctx has ended.
			s.release(sess, errBroken)
			return false, s.classify(ctx, opConnect, err)
		}
	}

	if err := sess.client.Mail(env.from); err != nil {
		if reused && ctx.Err() == nil && closedWhileIdle(err) {
			s.release(sess, err)
			return true, nil
		}
		e := s.classify(ctx, "MAIL FROM", err)
		// A refusal of MAIL FROM is about the sender or the session, not about one message:
		// the session would be refused again, so it is not kept.
		s.release(sess, errors.Join(errNotAgain, err))
		return false, e
	}
	// From here on the message may reach the server: no failure is ever retried.
	sess.messages++
	if err := sess.client.Rcpt(env.to); err != nil {
		e := s.classify(ctx, "RCPT TO", err)
		s.release(sess, err)
		return false, e
	}
	w, err := sess.client.Data()
	if err != nil {
		e := s.classify(ctx, "DATA", err)
		s.release(sess, err)
		return false, e
	}
	if _, err := w.Write(env.body); err != nil {
		e := s.classify(ctx, "DATA", err)
		s.release(sess, errBroken) // the message is cut off mid-way: the session is lost
		return false, e
	}
	// Close ends DATA with "." and reads the server's verdict on the message.
	if err := w.Close(); err != nil {
		e := s.classify(ctx, "DATA", err)
		s.release(sess, err)
		return false, e
	}
	// 250: the server has the message. release neither fails nor changes that.
	s.release(sess, nil)
	return false, nil
}

var (
	// errBroken marks a session left in an unknown state: it is closed.
	errBroken = errors.New("session broken")
	// errNotAgain marks a session that is sound but not to be kept: it is ended with QUIT.
	errNotAgain = errors.New("session not to be kept")
)

// closedWhileIdle reports whether the failure of the first command of a kept session means
// that the server closed the session while it was idle (or is closing it now): the
// connection is gone (EOF, reset, broken pipe), or the server answers 421, "closing
// transmission channel". A timeout is not that: a server that answers nothing would answer
// a fresh session no better, and the Send's time is up anyway.
func closedWhileIdle(err error) bool {
	var reply *textproto.Error
	if errors.As(err, &reply) {
		return reply.Code == 421
	}
	return !isTimeout(err)
}

// compose builds the MIME message: multipart/alternative with the text part first (the
// fallback) and the HTML part last (the preferred one), UTF-8, quoted-printable.
func compose(msg mail.Message) (*gomail.Msg, error) {
	m := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	// Not FromFormat and AddToFormat: they put the name between quotes unescaped. The
	// addresses themselves were checked by msg.Validate.
	m.FromMailAddress(msg.From.Mailbox())
	m.ToMailAddress(msg.To.Mailbox())
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
