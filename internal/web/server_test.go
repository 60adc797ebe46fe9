package web

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/rosterops/staff-operator/internal/testcert"
)

func TestServerRunsOnEveryReplica(t *testing.T) {
	if (&Server{}).NeedLeaderElection() {
		t.Error("the page must be served by every replica, not only the leader")
	}
}

func TestServerServesPlainHTTPAndStops(t *testing.T) {
	url, stop := startServer(t, &Server{})
	res, err := http.Get(url + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	_ = res.Body.Close()
	if res.StatusCode != http.StatusOK || string(body) != "ok\n" {
		t.Errorf("GET /healthz = %d %q", res.StatusCode, body)
	}
	if got := res.Header.Get("Referrer-Policy"); got != "no-referrer" {
		t.Errorf("the server does not serve the page's handler: Referrer-Policy %q", got)
	}
	if got := res.Header.Get("Strict-Transport-Security"); got != "" {
		t.Errorf("Strict-Transport-Security %q over plain HTTP, want none", got)
	}
	stop()
}

func TestServerSpeaksTLSWhenConfigured(t *testing.T) {
	certFile, keyFile, pool := selfSignedCert(t)
	url, stop := startServer(t, &Server{TLSCertFile: certFile, TLSKeyFile: keyFile})
	defer stop()

	// Plain HTTP to the TLS port gets no page.
	if res, err := http.Get("http://" + url[len("https://"):] + "/healthz"); err == nil && res.StatusCode == http.StatusOK {
		t.Error("plain HTTP was answered on the TLS listener")
	}
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	res, err := c.Get(url + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	if res.StatusCode != http.StatusOK || res.TLS == nil {
		t.Errorf("GET over TLS = %d, tls=%v", res.StatusCode, res.TLS != nil)
	}
	if got := res.Header.Get("Strict-Transport-Security"); got != "max-age=31536000" {
		t.Errorf("Strict-Transport-Security = %q over TLS, want max-age=31536000", got)
	}
}

func TestServerReportsABadCertificate(t *testing.T) {
	dir := t.TempDir()
	s := &Server{Addr: "127.0.0.1:0", TLSCertFile: filepath.Join(dir, "tls.crt"), TLSKeyFile: filepath.Join(dir, "tls.key"), Log: logr.Discard()}
	err := s.Start(context.Background())
	if err == nil {
		t.Fatal("a missing certificate did not stop the server")
	}
	t.Log(err)
}

// startServer runs s with the page's handler on a loopback port and returns its base URL and
// a function that stops it and checks that it stopped cleanly.
func startServer(t *testing.T, s *Server) (string, func()) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h, err := NewHandler(Options{Store: &fakeStore{}})
	if err != nil {
		t.Fatal(err)
	}
	s.Listener, s.Handler, s.Log = ln, h, logr.Discard()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Start(ctx) }()
	scheme := "http://"
	if s.TLSCertFile != "" {
		scheme = "https://"
	}
	stop := func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Start returned %v after the context ended", err)
			}
		case <-time.After(shutdownTimeout + 5*time.Second):
			t.Error("the server did not stop")
		}
	}
	return scheme + ln.Addr().String(), stop
}

// selfSignedCert writes a certificate for 127.0.0.1 and its key, and returns a pool trusting it.
func selfSignedCert(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	cert, err := testcert.New("invitation page test")
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile, err = cert.WriteFiles(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile, cert.Pool()
}
