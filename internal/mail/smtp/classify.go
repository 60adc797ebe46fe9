package smtp

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/textproto"
	"strings"

	gomail "github.com/wneessen/go-mail"
	gosmtp "github.com/wneessen/go-mail/smtp"

	"github.com/rosterops/staff-operator/internal/mail"
)

// opConnect covers everything before MAIL FROM: TCP connect, greeting, EHLO, STARTTLS, AUTH.
const opConnect = "connect"

// classify turns a failure of step op into a *mail.Error:
//
//   - an SMTP reply 4xx is ErrUnavailable (the server says: try again later);
//   - an SMTP reply 5xx to MAIL FROM, RCPT TO or DATA is ErrRejected (this message will not
//     be accepted, e.g. 550 for an unknown recipient);
//   - an SMTP reply 5xx while connecting (greeting, EHLO, STARTTLS, AUTH) is ErrConfig: no
//     message would get through until someone fixes the configuration or the server;
//   - a certificate that does not verify, a port that does not speak the configured TLS mode,
//     a server that offers no STARTTLS or no usable AUTH is ErrConfig;
//   - everything else (connection refused or dropped, timeouts, cancellation, surprises)
//     is ErrUnavailable, so the caller retries with backoff rather than giving up.
func (s *Sender) classify(ctx context.Context, op string, err error) error {
	e := &mail.Error{Op: op, Err: err, Reason: err.Error()}
	var reply *textproto.Error
	switch {
	case errors.As(err, &reply):
		e.Code = reply.Code
		// "550 5.1.1 <x>: Recipient address rejected: ...", keeping what go-mail says around
		// it while connecting ("SMTP AUTH failed: 535 ...").
		e.Reason = strings.Replace(err.Error(), reply.Error(), formatReply(reply), 1)
		switch {
		case reply.Code >= 400 && reply.Code < 500:
			e.Class = mail.ErrUnavailable
		case op == opConnect:
			e.Class = mail.ErrConfig
		default:
			e.Class = mail.ErrRejected
		}
	case isDialTimeout(err):
		e.Class = mail.ErrUnavailable
		e.Reason = fmt.Sprintf("could not connect to %s within the connect timeout of %s", s.addr(), s.cfg.ConnectTimeout)
	case errors.Is(ctx.Err(), context.DeadlineExceeded) || isTimeout(err):
		// Either the send context ended and closed the connection under go-mail, or a step
		// ran into go-mail's deadline, which is SendTimeout too.
		e.Class = mail.ErrUnavailable
		e.Reason = fmt.Sprintf("no complete answer from %s within the send timeout of %s", s.addr(), s.cfg.SendTimeout)
	case ctx.Err() != nil:
		e.Class = mail.ErrUnavailable
		e.Reason = fmt.Sprintf("canceled while talking to %s: %v", s.addr(), context.Cause(ctx))
	case isTLSSetupError(err):
		e.Class = mail.ErrConfig
		e.Reason = fmt.Sprintf("TLS with %s (tls %s): %v", s.addr(), s.cfg.TLS, err)
	case isSetupError(err):
		e.Class = mail.ErrConfig
		if strings.Contains(err.Error(), "does not support STARTTLS") {
			e.Reason = fmt.Sprintf("%s does not offer STARTTLS, and tls is starttls: refusing to send in clear text", s.addr())
		}
	default:
		e.Class = mail.ErrUnavailable
	}
	return e
}

func (s *Sender) addr() string {
	return net.JoinHostPort(s.cfg.Host, fmt.Sprint(s.cfg.Port))
}

// formatReply renders an SMTP reply on one line, without control characters: it ends up in
// a condition message and in logs.
func formatReply(r *textproto.Error) string {
	msg := strings.Map(func(c rune) rune {
		switch {
		case c == '\n':
			return ' '
		case c < ' ' || c == 0x7f:
			return -1
		}
		return c
	}, r.Msg)
	return fmt.Sprintf("%03d %s", r.Code, msg)
}

func isDialTimeout(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial" && op.Timeout()
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// isTLSSetupError reports the TLS failures that retrying cannot fix: the certificate does
// not verify (unknown CA, wrong name, expired), the peer does not speak TLS (implicit TLS
// against a plain port), or the server refuses our handshake with an alert.
func isTLSSetupError(err error) bool {
	var verify *tls.CertificateVerificationError
	var unknownCA x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var invalid x509.CertificateInvalidError
	var header tls.RecordHeaderError
	return errors.As(err, &verify) || errors.As(err, &unknownCA) || errors.As(err, &hostname) ||
		errors.As(err, &invalid) || errors.As(err, &header) ||
		strings.Contains(err.Error(), "remote error: tls:")
}

// isSetupError reports go-mail's own refusals to go on with this server: no STARTTLS in
// starttls mode, no AUTH mechanism we may use, credentials refused before sending them in
// clear text.
func isSetupError(err error) bool {
	for _, target := range []error{
		gomail.ErrNoSupportedAuthDiscovered, gomail.ErrPlainAuthNotSupported,
		gomail.ErrLoginAuthNotSupported, gosmtp.ErrUnencrypted, gosmtp.ErrWrongHostname,
	} {
		if errors.Is(err, target) {
			return true
		}
	}
	text := err.Error()
	return strings.Contains(text, "does not support STARTTLS") ||
		strings.Contains(text, "does not support SMTP AUTH")
}
