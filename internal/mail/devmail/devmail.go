// Package devmail is the demo's mail catcher: a real SMTP server on 127.0.0.1 (the operator
// sends to it exactly as to a production relay) that writes every mail it receives as an
// .eml file into a folder and shows the mails on a small read-only web page, so a person can
// open the invitation link. hack/devmail runs it on its own; hack/demo runs it beside the
// manager and also reads the mails back through WaitFor.
package devmail

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/rosterops/staff-operator/internal/mail/smtptest"
)

// Config says where the catcher listens and keeps its mails.
type Config struct {
	// SMTPPort and HTTPPort are ports on 127.0.0.1; 0 picks a free one.
	SMTPPort, HTTPPort int
	// Dir receives the .eml files; a new temporary folder (kept after Close) when empty.
	Dir string
	// StartTLS offers STARTTLS with a self-signed certificate (see CAFile).
	StartTLS bool
	// Log receives the SMTP server's error log; nil discards it.
	Log io.Writer
}

// Server is a running mail catcher.
type Server struct {
	// Dir holds the .eml files.
	Dir string

	smtp   *smtptest.Server
	web    *http.Server
	webURL string
	failed chan error
	box    *mailbox
}

// Start starts the SMTP server and the web view.
func Start(cfg Config) (*Server, error) {
	dir := cfg.Dir
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "devmail-"); err != nil {
			return nil, err
		}
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	s := &Server{Dir: dir, box: newMailbox(dir), failed: make(chan error, 1)}

	opts := []smtptest.Option{smtptest.WithPort(cfg.SMTPPort), smtptest.WithOnMessage(s.box.add)}
	if cfg.Log != nil {
		opts = append(opts, smtptest.WithLog(cfg.Log))
	}
	if cfg.StartTLS {
		opts = append(opts, smtptest.WithSTARTTLS())
	}
	var err error
	if s.smtp, err = smtptest.Start(opts...); err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", cfg.HTTPPort))
	if err != nil {
		_ = s.smtp.Close()
		return nil, fmt.Errorf("web view: %w", err)
	}
	s.webURL = fmt.Sprintf("http://%s/", l.Addr())
	s.web = &http.Server{Handler: s.box.handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := s.web.Serve(l); !errors.Is(err, http.ErrServerClosed) {
			s.failed <- err
		}
	}()
	return s, nil
}

// SMTPAddr is the SMTP server's host:port.
func (s *Server) SMTPAddr() string { return s.smtp.Addr() }

// CAFile is the PEM file of the CA that signed the STARTTLS certificate, when StartTLS is on.
func (s *Server) CAFile() string { return s.smtp.CAFile() }

// WebURL is the web view's address, ending in a slash.
func (s *Server) WebURL() string { return s.webURL }

// Failed receives the error that stopped the web view, if it stops before Close.
func (s *Server) Failed() <-chan error { return s.failed }

// Mails returns the mails received so far, newest first.
func (s *Server) Mails() []Mail { return s.box.newestFirst() }

// WaitFor returns the first mail, oldest first, for which match is true, waiting for new
// mails until ctx ends.
func (s *Server) WaitFor(ctx context.Context, match func(Mail) bool) (Mail, error) {
	return s.box.waitFor(ctx, match)
}

// Close stops the web view and the SMTP server. Its error includes any .eml file that could
// not be written. The folder stays.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := s.web.Shutdown(ctx)
	return errors.Join(err, s.smtp.Close(), s.box.err())
}

// emlName is the file a message is written to: its number and arrival time, so that
// `ls` lists the mails in order.
func emlName(n int, at time.Time) string {
	return fmt.Sprintf("%04d-%s.eml", n, at.UTC().Format("20060102T150405Z"))
}

func writeEML(dir string, n int, m smtptest.Message) (string, error) {
	path := filepath.Join(dir, emlName(n, m.ReceivedAt))
	return path, os.WriteFile(path, m.Raw, 0o644)
}
