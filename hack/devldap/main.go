// Command devldap runs the private slapd of the tests (internal/directory/ldaptest) for the
// demo: it prints the URL, the bind DN and the password file, and runs until SIGINT or
// SIGTERM, then stops slapd and removes its directory.
//
//	go run ./hack/devldap -port 3899
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/rosterops/staff-operator/internal/directory/ldaptest"
)

func main() {
	port := flag.Int("port", 0, "port on 127.0.0.1 to listen on (0: a free one)")
	suffix := flag.String("suffix", ldaptest.DefaultSuffix, "directory suffix (base DN)")
	dir := flag.String("dir", "", "directory for config, data and the password file (default: a new temporary one, removed on exit)")
	tls := flag.Bool("tls", false, "also listen for ldaps:// and allow StartTLS, with a fresh CA")
	flag.Parse()

	s, err := ldaptest.Start(ldaptest.Options{Port: *port, Suffix: *suffix, Dir: *dir, TLS: *tls})
	if err != nil {
		fmt.Fprintln(os.Stderr, "devldap:", err)
		os.Exit(1)
	}
	fmt.Printf("url: %s\n", s.URL)
	if s.LDAPSURL != "" {
		fmt.Printf("ldapsURL: %s\ncaFile: %s\n", s.LDAPSURL, s.CAFile)
	}
	fmt.Printf("baseDN: %s\nbindDN: %s\nbindPasswordFile: %s\npolicyDN: %s\n", s.BaseDN, s.ServiceDN, s.ServicePasswordFile, s.PolicyDN)
	fmt.Printf("# the rootdn, for looking around: %s, password in %s\n", s.AdminDN, s.PasswordFile)
	fmt.Println("ready; Ctrl-C to stop")

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	if err := s.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "devldap:", err)
		os.Exit(1)
	}
}
