// Package smtptest runs a real SMTP server on 127.0.0.1 for tests and the demo. It speaks
// SMTP over TCP (github.com/emersion/go-smtp), optionally with STARTTLS or implicit TLS on a
// freshly generated self-signed certificate and with AUTH PLAIN, and it keeps every message
// it accepts, parsed, so tests can read back the envelope, the headers and both parts. It
// numbers its connections and tells which one each message came over, so tests can see
// sessions being reused, and it can drop them all, as a restarting relay does.
package smtptest

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"github.com/rosterops/staff-operator/internal/testcert"
)

// Options configure a Server; set them with the Option functions.
type Options struct {
	// Port to listen on, on 127.0.0.1; 0 picks a free one.
	Port int
	// StartTLS offers STARTTLS with a generated certificate.
	StartTLS bool
	// ImplicitTLS makes the listener speak TLS from the first byte (SMTPS).
	ImplicitTLS bool
	// Reject answers RCPT TO with 550 for these addresses (compared case-insensitively).
	Reject []string
	// TempFail answers RCPT TO with 451 for these addresses.
	TempFail []string
	// MessagesPerConnection, when positive, answers MAIL FROM with 421 once a connection has
	// carried this many messages, as relays that limit messages per connection do.
	MessagesPerConnection int
	// Username and Password, when Username is set, require AUTH PLAIN before MAIL.
	Username, Password string
	// OnMessage, if set, is called with each accepted message before the server answers
	// 250 and before Messages shows it. Calls for concurrent sessions may overlap.
	OnMessage func(Message)
	// Log receives the server's internal error log; nil discards it.
	Log io.Writer
}

// Option sets one of the Options.
type Option func(*Options)

// WithPort listens on the given port instead of a free one.
func WithPort(port int) Option { return func(o *Options) { o.Port = port } }

// WithSTARTTLS offers STARTTLS with a self-signed certificate for 127.0.0.1 and localhost.
func WithSTARTTLS() Option { return func(o *Options) { o.StartTLS = true } }

// WithImplicitTLS speaks TLS from the first byte, as on port 465.
func WithImplicitTLS() Option { return func(o *Options) { o.ImplicitTLS = true } }

// WithRejectedRecipients answers 550 to RCPT TO for each of addrs.
func WithRejectedRecipients(addrs ...string) Option {
	return func(o *Options) { o.Reject = append(o.Reject, addrs...) }
}

// WithTempFailedRecipients answers 451 to RCPT TO for each of addrs.
func WithTempFailedRecipients(addrs ...string) Option {
	return func(o *Options) { o.TempFail = append(o.TempFail, addrs...) }
}

// WithMessagesPerConnection answers MAIL FROM with 421 ("closing transmission channel") once
// a connection has carried n messages. The server leaves closing the connection to the client.
func WithMessagesPerConnection(n int) Option {
	return func(o *Options) { o.MessagesPerConnection = n }
}

// WithAuth requires AUTH PLAIN with these credentials before MAIL FROM.
func WithAuth(username, password string) Option {
	return func(o *Options) { o.Username, o.Password = username, password }
}

// WithOnMessage calls fn for every accepted message.
func WithOnMessage(fn func(Message)) Option { return func(o *Options) { o.OnMessage = fn } }

// WithLog sends the server's internal error log to w.
func WithLog(w io.Writer) Option { return func(o *Options) { o.Log = w } }

// Server is a running SMTP server on 127.0.0.1.
type Server struct {
	opts     Options
	srv      *smtp.Server
	listener net.Listener
	addr     *net.TCPAddr
	caPEM    []byte
	caFile   string
	tmpDir   string
	conns    atomic.Int64
	serveErr chan error

	connMu sync.Mutex
	open   map[*trackedConn]struct{}

	mu       sync.Mutex
	messages []Message
	changed  chan struct{} // closed and replaced whenever a message arrives

	closeOnce sync.Once
	closeErr  error
}

// New starts a Server for a test and stops it when the test ends. It fails the test if the
// server cannot start.
func New(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s, err := Start(opts...)
	if err != nil {
		t.Fatalf("start SMTP test server: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("stop SMTP test server: %v", err)
		}
	})
	return s
}

// Start starts a Server. Call Close to stop it.
func Start(opts ...Option) (*Server, error) {
	var o Options
	for _, opt := range opts {
		opt(&o)
	}
	if o.StartTLS && o.ImplicitTLS {
		return nil, errors.New("smtptest: choose STARTTLS or implicit TLS, not both")
	}
	s := &Server{opts: o, changed: make(chan struct{}), serveErr: make(chan error, 1), open: map[*trackedConn]struct{}{}}

	var tlsConfig *tls.Config
	if o.StartTLS || o.ImplicitTLS {
		self, err := testcert.New("smtptest")
		if err != nil {
			return nil, fmt.Errorf("smtptest: %w", err)
		}
		cert, err := self.TLSCertificate()
		if err != nil {
			return nil, fmt.Errorf("smtptest: %w", err)
		}
		caPEM := self.CertPEM
		s.caPEM = caPEM
		if s.tmpDir, err = os.MkdirTemp("", "smtptest-"); err != nil {
			return nil, fmt.Errorf("smtptest: %w", err)
		}
		s.caFile = filepath.Join(s.tmpDir, "ca.pem")
		if err := os.WriteFile(s.caFile, caPEM, 0o600); err != nil {
			_ = os.RemoveAll(s.tmpDir)
			return nil, fmt.Errorf("smtptest: write CA file: %w", err)
		}
		tlsConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}

	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", o.Port))
	if err != nil {
		_ = os.RemoveAll(s.tmpDir)
		return nil, fmt.Errorf("smtptest: listen: %w", err)
	}
	s.addr = l.Addr().(*net.TCPAddr)
	// Count TCP connections before anything else happens on them, so a test can assert that
	// a refused message caused no connection at all.
	l = &countingListener{Listener: l, s: s}
	if o.ImplicitTLS {
		l = tls.NewListener(l, tlsConfig)
	}
	s.listener = l

	srv := smtp.NewServer(&backend{s: s})
	srv.Domain = "smtptest.localhost"
	srv.MaxMessageBytes = 10 << 20
	srv.MaxRecipients = 50
	srv.ReadTimeout = time.Minute
	srv.WriteTimeout = time.Minute
	srv.AllowInsecureAuth = true // loopback only; lets tests use AUTH without TLS
	if o.StartTLS {
		srv.TLSConfig = tlsConfig
	}
	logOut := o.Log
	if logOut == nil {
		logOut = io.Discard
	}
	srv.ErrorLog = log.New(logOut, "smtptest: ", 0)
	s.srv = srv

	go func() { s.serveErr <- srv.Serve(l) }()
	return s, nil
}

// Addr is host:port of the listener.
func (s *Server) Addr() string { return s.addr.String() }

// Host is always 127.0.0.1.
func (s *Server) Host() string { return s.addr.IP.String() }

// Port is the listener's port.
func (s *Server) Port() int { return s.addr.Port }

// CAPEM is the PEM certificate clients must trust, nil without TLS.
func (s *Server) CAPEM() []byte { return s.caPEM }

// CAFile is a file holding CAPEM, "" without TLS. It is removed by Close.
func (s *Server) CAFile() string { return s.caFile }

// Connections counts the TCP connections accepted so far. Connections are numbered from 1
// in the order they were accepted; Message.Connection is that number.
func (s *Server) Connections() int64 { return s.conns.Load() }

// OpenConnections counts the connections that are open now, from the server's side: a
// session the client ended with QUIT, or simply closed, no longer counts.
func (s *Server) OpenConnections() int {
	s.connMu.Lock()
	defer s.connMu.Unlock()
	return len(s.open)
}

// DropConnections closes every open connection at once, without a word to the client, as a
// relay that restarts, or a NAT that forgets an idle flow, does. The server keeps listening.
// It returns how many connections it closed.
func (s *Server) DropConnections() int {
	s.connMu.Lock()
	conns := make([]*trackedConn, 0, len(s.open))
	for c := range s.open {
		conns = append(conns, c)
	}
	s.connMu.Unlock()
	for _, c := range conns {
		_ = c.Close()
	}
	return len(conns)
}

// Messages returns the messages accepted so far, oldest first.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.messages...)
}

// WaitForMessages waits until at least n messages have been accepted and returns them all,
// or returns the context's error with what has arrived.
func (s *Server) WaitForMessages(ctx context.Context, n int) ([]Message, error) {
	for {
		s.mu.Lock()
		if len(s.messages) >= n {
			msgs := append([]Message(nil), s.messages...)
			s.mu.Unlock()
			return msgs, nil
		}
		changed := s.changed
		s.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return s.Messages(), fmt.Errorf("smtptest: waiting for %d messages, have %d: %w", n, len(s.Messages()), ctx.Err())
		}
	}
}

// Close stops the listener, drops open connections and removes the CA file.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		err := s.srv.Close()
		// Serve may not have registered the listener with go-smtp yet when Close comes
		// right after Start; closing it here too makes sure Serve returns.
		_ = s.listener.Close()
		if serveErr := <-s.serveErr; serveErr != nil && !errors.Is(serveErr, smtp.ErrServerClosed) && !errors.Is(serveErr, net.ErrClosed) {
			err = errors.Join(err, serveErr)
		}
		if s.tmpDir != "" {
			err = errors.Join(err, os.RemoveAll(s.tmpDir))
		}
		s.closeErr = err
	})
	return s.closeErr
}

// deliver runs OnMessage first, so whoever sees the message through Messages or
// WaitForMessages also sees what OnMessage did with it.
func (s *Server) deliver(m Message) {
	if s.opts.OnMessage != nil {
		s.opts.OnMessage(m)
	}
	s.mu.Lock()
	s.messages = append(s.messages, m)
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
}

func contains(list []string, addr string) bool {
	for _, a := range list {
		if strings.EqualFold(a, addr) {
			return true
		}
	}
	return false
}

type countingListener struct {
	net.Listener
	s *Server
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return c, err
	}
	tc := &trackedConn{Conn: c, s: l.s, id: l.s.conns.Add(1)}
	l.s.connMu.Lock()
	l.s.open[tc] = struct{}{}
	l.s.connMu.Unlock()
	return tc, nil
}

// trackedConn is an accepted TCP connection, numbered, and open until its first Close.
type trackedConn struct {
	net.Conn
	s    *Server
	id   int64
	once sync.Once
}

func (c *trackedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.s.connMu.Lock()
		delete(c.s.open, c)
		c.s.connMu.Unlock()
	})
	return err
}

// connectionID finds the number of the TCP connection under c, through TLS if need be.
func connectionID(c net.Conn) int64 {
	if t, ok := c.(*tls.Conn); ok {
		c = t.NetConn()
	}
	if t, ok := c.(*trackedConn); ok {
		return t.id
	}
	return 0
}

type backend struct{ s *Server }

// NewSession is called after EHLO, and again after STARTTLS: a session of go-smtp lasts
// until then, and the connection beyond it.
func (b *backend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	_, isTLS := c.TLSConnectionState()
	return &session{s: b.s, tls: isTLS, conn: connectionID(c.Conn())}, nil
}

// session handles one SMTP session; go-smtp calls it from one goroutine.
type session struct {
	s      *Server
	tls    bool
	conn   int64 // the connection's number
	authed string
	from   string
	to     []string
	// delivered counts the messages accepted in this session, that is on this connection
	// once TLS is set up.
	delivered int
}

var errTooManyMessages = &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 7, 0}, Message: "Too many messages on this connection, closing it"}

var errAuthRequired = &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "Authentication required"}

func (ss *session) AuthMechanisms() []string {
	if ss.s.opts.Username == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (ss *session) Auth(mech string) (sasl.Server, error) {
	if ss.s.opts.Username == "" || mech != sasl.Plain {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if (identity != "" && identity != username) || username != ss.s.opts.Username || password != ss.s.opts.Password {
			return smtp.ErrAuthFailed
		}
		ss.authed = username
		return nil
	}), nil
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	if ss.s.opts.Username != "" && ss.authed == "" {
		return errAuthRequired
	}
	if n := ss.s.opts.MessagesPerConnection; n > 0 && ss.delivered >= n {
		return errTooManyMessages
	}
	ss.from = from
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	switch {
	case contains(ss.s.opts.Reject, to):
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "<" + to + ">: Recipient address rejected: User unknown"}
	case contains(ss.s.opts.TempFail, to):
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "<" + to + ">: Temporary local problem, try again later"}
	}
	ss.to = append(ss.to, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	m := parse(raw)
	m.EnvelopeFrom = ss.from
	m.EnvelopeTo = append([]string(nil), ss.to...)
	m.TLS = ss.tls
	m.AuthUser = ss.authed
	m.Connection = ss.conn
	m.ReceivedAt = time.Now()
	ss.delivered++
	ss.s.deliver(m)
	return nil
}

func (ss *session) Reset() {
	ss.from = ""
	ss.to = nil
}

func (ss *session) Logout() error { return nil }
