// Command devmail runs the demo's mail catcher (internal/mail/devmail) on its own: a real SMTP
// server on 127.0.0.1 (the operator sends to it exactly as to a production relay) that writes
// every mail it receives as an .eml file into a folder and shows the mails on a small
// read-only web page, so a person can open the invitation link. It runs until SIGINT or
// SIGTERM. make demo (hack/demo) runs the same catcher beside the manager.
//
//	go run ./hack/devmail -smtp-port 1025 -http-port 8025 [-dir DIR] [-starttls]
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/rosterops/staff-operator/internal/mail/devmail"
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
	srv, err := devmail.Start(devmail.Config{
		SMTPPort: cfg.smtpPort, HTTPPort: cfg.httpPort, Dir: cfg.dir, StartTLS: cfg.startTLS, Log: os.Stderr,
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "smtp: %s\n", srv.SMTPAddr())
	if cfg.startTLS {
		fmt.Fprintf(out, "ca file: %s\n", srv.CAFile())
	}
	fmt.Fprintf(out, "mail dir: %s\n", srv.Dir)
	fmt.Fprintf(out, "web: %s\n", srv.WebURL())

	select {
	case <-ctx.Done():
		return srv.Close()
	case err := <-srv.Failed():
		_ = srv.Close()
		return fmt.Errorf("web view: %w", err)
	}
}
