package web

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"sigs.k8s.io/controller-runtime/pkg/certwatcher"
)

// Server runs the page's HTTP server as a runnable of the controller manager. It runs on every
// replica, not only the leader: any replica behind the Service can answer a link, since the
// Store decides with the API server, not in memory.
type Server struct {
	// Addr is the host:port to listen on (web.listen). Ignored when Listener is set.
	Addr string
	// Listener, when set, is used instead of listening on Addr (tests listen on port 0).
	Listener net.Listener
	Handler  http.Handler
	// TLSCertFile and TLSKeyFile, when both set, make the server speak HTTPS only. The files
	// are watched and a renewed certificate (cert-manager's) is used without a restart.
	TLSCertFile string
	TLSKeyFile  string
	Log         logr.Logger
}

// Timeouts keep slow or idle clients from holding connections. WriteTimeout leaves room for a
// Redeem, which may wait on the directory.
const (
	readHeaderTimeout = 10 * time.Second
	readTimeout       = 30 * time.Second
	writeTimeout      = time.Minute
	idleTimeout       = 2 * time.Minute
	shutdownTimeout   = 15 * time.Second
	maxHeaderBytes    = 16 << 10
)

// NeedLeaderElection tells the manager to run the server on every replica.
func (s *Server) NeedLeaderElection() bool { return false }

// Start serves until ctx is done, then lets requests in flight finish (a Redeem must end with
// Accepted or a released claim) for up to shutdownTimeout.
func (s *Server) Start(ctx context.Context) error {
	ln, err := s.listen(ctx)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           s.Handler,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          log.New(logWriter{s.Log}, "", 0),
	}
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		<-ctx.Done()
		shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
		defer cancel()
		if err := srv.Shutdown(shutdownCtx); err != nil {
			s.Log.Error(err, "stop the invitation page server")
		}
	}()
	s.Log.Info("serving the invitation page", "address", ln.Addr().String(), "tls", s.TLSCertFile != "")
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve the invitation page: %w", err)
	}
	<-stopped
	return nil
}

// listen opens the listener, wrapped in TLS when a certificate is configured.
func (s *Server) listen(ctx context.Context) (net.Listener, error) {
	ln := s.Listener
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", s.Addr); err != nil {
			return nil, fmt.Errorf("listen for the invitation page on %s: %w", s.Addr, err)
		}
	}
	if s.TLSCertFile == "" && s.TLSKeyFile == "" {
		return ln, nil
	}
	watcher, err := certwatcher.New(s.TLSCertFile, s.TLSKeyFile)
	if err != nil {
		_ = ln.Close()
		return nil, fmt.Errorf("load the invitation page's certificate: %w", err)
	}
	go func() {
		if err := watcher.Start(ctx); err != nil {
			s.Log.Error(err, "watch the invitation page's certificate files")
		}
	}()
	return tls.NewListener(ln, &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: watcher.GetCertificate}), nil
}

// logWriter sends net/http's own complaints to the logger: a panic in a handler as an error,
// the rest (on a public page mostly scanners' broken TLS handshakes) at V(1).
type logWriter struct{ log logr.Logger }

func (w logWriter) Write(p []byte) (int, error) {
	msg := strings.TrimSuffix(string(p), "\n")
	if strings.HasPrefix(msg, "http: panic") {
		w.log.Error(nil, msg, "source", "net/http")
	} else {
		w.log.V(1).Info(msg, "source", "net/http")
	}
	return len(p), nil
}
