// Command devmail is the demo's mail server: a real SMTP server on 127.0.0.1 (the operator
// sends to it exactly as to a production relay) that writes every mail it receives as an
// .eml file into a folder and shows the mails on a small read-only web page, so a person can
// open the invitation link. It runs until SIGINT or SIGTERM.
//
//	go run ./hack/devmail -smtp-port 1025 -http-port 8025 [-dir DIR] [-starttls]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/rosterops/staff-operator/internal/mail/smtptest"
)

type config struct {
	smtpPort int
	httpPort int
	dir      string
	startTLS bool
}

func main() {
	var cfg config
	flag.IntVar(&cfg.smtpPort, "smtp-port", 1025, "SMTP port on 127.0.0.1 (0 picks a free one)")
	flag.IntVar(&cfg.httpPort, "http-port", 8025, "web view port on 127.0.0.1 (0 picks a free one)")
	flag.StringVar(&cfg.dir, "dir", "", "folder for the .eml files (default: a new temporary folder)")
	flag.BoolVar(&cfg.startTLS, "starttls", false, "offer STARTTLS with a self-signed certificate; prints the CA file")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "devmail:", err)
		os.Exit(1)
	}
}

// run serves until ctx ends. It prints where everything is, one "key: value" per line, so
// scripts can read it.
func run(ctx context.Context, cfg config, out io.Writer) error {
	dir := cfg.dir
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "devmail-"); err != nil {
			return err
		}
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	box := newMailbox(dir)

	opts := []smtptest.Option{smtptest.WithPort(cfg.smtpPort), smtptest.WithOnMessage(box.add), smtptest.WithLog(os.Stderr)}
	if cfg.startTLS {
		opts = append(opts, smtptest.WithSTARTTLS())
	}
	srv, err := smtptest.Start(opts...)
	if err != nil {
		return err
	}
	defer func() { _ = srv.Close() }()

	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", cfg.httpPort))
	if err != nil {
		return fmt.Errorf("web view: %w", err)
	}
	web := &http.Server{Handler: box.handler(), ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- web.Serve(l) }()

	fmt.Fprintf(out, "smtp: %s\n", srv.Addr())
	if cfg.startTLS {
		fmt.Fprintf(out, "ca file: %s\n", srv.CAFile())
	}
	fmt.Fprintf(out, "mail dir: %s\n", dir)
	fmt.Fprintf(out, "web: http://%s/\n", l.Addr())

	select {
	case <-ctx.Done():
	case err := <-served:
		return fmt.Errorf("web view: %w", err)
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = web.Shutdown(shutdownCtx)
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return errors.Join(err, srv.Close(), box.err())
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
