package ldaptest

import "github.com/rosterops/staff-operator/internal/testcert"

// tlsFiles are what slapd.conf names for TLS. The certificate is self-signed, so it is also
// the CA file.
type tlsFiles struct{ CA, Cert, Key string }

// writeTLSFiles writes a fresh certificate for 127.0.0.1 and localhost and its key.
func writeTLSFiles(dir string) (*tlsFiles, error) {
	cert, err := testcert.New("ldaptest")
	if err != nil {
		return nil, err
	}
	certFile, keyFile, err := cert.WriteFiles(dir)
	if err != nil {
		return nil, err
	}
	return &tlsFiles{CA: certFile, Cert: certFile, Key: keyFile}, nil
}
