package smtptest

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	netmail "net/mail"
	"net/textproto"
	"strings"
	"time"
)

// Message is one message the server accepted.
type Message struct {
	// EnvelopeFrom and EnvelopeTo are the MAIL FROM and RCPT TO addresses.
	EnvelopeFrom string
	EnvelopeTo   []string
	// Header holds the raw header fields (encoded words not decoded; use DecodedHeader).
	Header netmail.Header
	// Subject is the decoded Subject.
	Subject string
	// Text and HTML are the decoded text/plain and text/html parts, with CRLF turned into LF.
	Text string
	HTML string
	// Raw is the message exactly as received after DATA.
	Raw []byte
	// TLS tells whether the session was encrypted (STARTTLS or implicit TLS).
	TLS bool
	// AuthUser is the user that authenticated, "" without AUTH.
	AuthUser string
	// Connection is the number of the TCP connection the message came over (see
	// Server.Connections); messages with the same number shared a session.
	Connection int64
	// ReceivedAt is when the server accepted the message.
	ReceivedAt time.Time
	// ParseError is set when the message could not be parsed; Raw is still there.
	ParseError string
}

// DecodedHeader returns the first value of a header field with RFC 2047 encoded words
// decoded.
func (m Message) DecodedHeader(name string) string {
	v := m.Header.Get(name)
	if d, err := new(mime.WordDecoder).DecodeHeader(v); err == nil {
		return d
	}
	return v
}

func parse(raw []byte) Message {
	m := Message{Raw: raw}
	msg, err := netmail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		m.ParseError = err.Error()
		return m
	}
	m.Header = msg.Header
	m.Subject = m.DecodedHeader("Subject")
	if err := m.walk(textproto.MIMEHeader(msg.Header), msg.Body, 0); err != nil {
		m.ParseError = err.Error()
	}
	return m
}

// walk collects the first text/plain and text/html parts, descending into multiparts.
func (m *Message) walk(h textproto.MIMEHeader, body io.Reader, depth int) error {
	if depth > 5 {
		return fmt.Errorf("multipart nesting deeper than %d", depth)
	}
	ct := h.Get("Content-Type")
	if ct == "" {
		ct = "text/plain; charset=us-ascii"
	}
	mediaType, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return fmt.Errorf("content type %q: %w", ct, err)
	}
	if strings.HasPrefix(mediaType, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			// NextPart decodes quoted-printable parts itself and removes their
			// Content-Transfer-Encoding, so decode below only sees what is left.
			p, err := mr.NextPart()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return fmt.Errorf("multipart: %w", err)
			}
			if err := m.walk(p.Header, p, depth+1); err != nil {
				return err
			}
		}
	}
	if mediaType != "text/plain" && mediaType != "text/html" {
		return nil
	}
	b, err := io.ReadAll(decode(h.Get("Content-Transfer-Encoding"), body))
	if err != nil {
		return fmt.Errorf("%s part: %w", mediaType, err)
	}
	s := strings.ReplaceAll(string(b), "\r\n", "\n")
	switch {
	case mediaType == "text/plain" && m.Text == "":
		m.Text = s
	case mediaType == "text/html" && m.HTML == "":
		m.HTML = s
	}
	return nil
}

func decode(cte string, r io.Reader) io.Reader {
	switch strings.ToLower(strings.TrimSpace(cte)) {
	case "quoted-printable":
		return quotedprintable.NewReader(r)
	case "base64":
		return base64.NewDecoder(base64.StdEncoding, r) // ignores line breaks
	default:
		return r
	}
}
