// Package secretfile reads the secrets the manager's configuration names by file: passwords and
// usernames mounted from a Kubernetes Secret, one line each.
package secretfile

import (
	"fmt"
	"os"
	"strings"
)

// Read returns the secret in the file at path without the line break that editors, `echo` and
// `kubectl create secret --from-file` leave at its end. An empty file, or one of several lines,
// is an error: it is almost certainly the wrong file. Errors name the file, never its content.
func Read(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("cannot read secret file: %w", err)
	}
	s := strings.TrimSuffix(strings.TrimSuffix(string(data), "\n"), "\r")
	switch {
	case s == "":
		return "", fmt.Errorf("secret file %s is empty", path)
	case strings.ContainsAny(s, "\r\n"):
		return "", fmt.Errorf("secret file %s holds more than one line", path)
	}
	return s, nil
}
