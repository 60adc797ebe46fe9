package mail

import (
	"errors"
	"fmt"
)

// The classes of a failed send. Every error a Sender returns matches exactly one of them with
// errors.Is. ErrInvalid, ErrRejected and ErrConfig are permanent: sending the same message
// again will fail the same way until someone changes the input or the configuration.
// ErrUnavailable is temporary: the same message may go through later.
var (
	// ErrInvalid: the message itself is unusable (a line break in a header value, a missing
	// or malformed address, a template that renders badly). Nothing was sent.
	ErrInvalid = errors.New("invalid mail message")
	// ErrRejected: the SMTP server refused this message with a 5xx reply, for example
	// 550 for an unknown recipient.
	ErrRejected = errors.New("mail rejected by server")
	// ErrConfig: the operator cannot talk to the server as configured, whatever the message:
	// the server's certificate does not verify against the CA, STARTTLS is not offered, the
	// port does not speak the configured TLS mode, authentication fails, or the server
	// refuses the session with a 5xx reply before any message is named.
	ErrConfig = errors.New("mail server configuration problem")
	// ErrUnavailable: the server could not be reached or answered 4xx: connection refused,
	// timeout, connection dropped, 421/450/451/452/454.
	ErrUnavailable = errors.New("mail server unavailable")
)

// Error is the error a Sender returns. Its text carries the SMTP reply code and text when
// there is one, so a controller can show it as the reason of a Failed condition, e.g.
//
//	mail rejected by server: RCPT TO: 550 5.1.1 no such user
type Error struct {
	// Class is ErrInvalid, ErrRejected, ErrConfig or ErrUnavailable.
	Class error
	// Op is the step that failed: "validate", "rate limit", "connect", "MAIL FROM", "RCPT TO",
	// "DATA".
	Op string
	// Code is the SMTP reply code, 0 when the failure was not an SMTP reply.
	Code int
	// Reason is the server's reply ("550 5.1.1 no such user") or a description of the
	// failure. It never contains credentials or the message body.
	Reason string
	// Err is the underlying error, if any.
	Err error
}

func (e *Error) Error() string {
	return fmt.Sprintf("%v: %s: %s", e.Class, e.Op, e.Reason)
}

// Unwrap lets errors.Is match the class and errors.As reach the underlying error.
func (e *Error) Unwrap() []error {
	if e.Err == nil {
		return []error{e.Class}
	}
	return []error{e.Class, e.Err}
}

// IsPermanent reports whether err means that sending the same message again cannot succeed
// until something changes: ErrInvalid, ErrRejected or ErrConfig. Any other error, including
// ones this package does not know, counts as temporary, so that the caller retries with
// backoff rather than giving up on a mail it could still deliver.
func IsPermanent(err error) bool {
	return errors.Is(err, ErrInvalid) || errors.Is(err, ErrRejected) || errors.Is(err, ErrConfig)
}

func invalidf(format string, args ...any) error {
	return &Error{Class: ErrInvalid, Op: "validate", Reason: fmt.Sprintf(format, args...)}
}
