package stack

import (
	"fmt"
	"maps"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"sigs.k8s.io/yaml"
)

// Settings are the parts of the manager's configuration that the stack must agree with: it
// starts slapd and SMTP where the manager will look for them, writes the secret files the
// manager will read, and opens the page where the manager serves it.
type Settings struct {
	Directory struct {
		LDAP struct {
			URL              string `json:"url"`
			BindDN           string `json:"bindDN"`
			BindPasswordFile string `json:"bindPasswordFile"`
			BaseDN           string `json:"baseDN"`
		} `json:"ldap"`
	} `json:"directory"`
	Mail struct {
		SMTP struct {
			Host string `json:"host"`
			Port int    `json:"port"`
		} `json:"smtp"`
	} `json:"mail"`
	Web struct {
		Listen    string `json:"listen"`
		PublicURL string `json:"publicURL"`
	} `json:"web"`
	Invitations struct {
		TokenKeyFile string `json:"tokenKeyFile"`
	} `json:"invitations"`

	// LDAPPort is the port of Directory.LDAP.URL.
	LDAPPort int `json:"-"`
}

// ReadSettings reads the configuration loosely (the manager reads it strictly) and refuses
// anything that would make the stack listen beyond 127.0.0.1.
func ReadSettings(path string) (Settings, error) {
	var s Settings
	if err := readYAML(path, &s); err != nil {
		return s, err
	}
	u, err := url.Parse(s.Directory.LDAP.URL)
	if err != nil || u.Scheme != "ldap" || u.Hostname() != "127.0.0.1" {
		return s, fmt.Errorf("%s: directory.ldap.url must be ldap://127.0.0.1:PORT for the local stack, got %q", path, s.Directory.LDAP.URL)
	}
	if s.LDAPPort, err = strconv.Atoi(u.Port()); err != nil {
		return s, fmt.Errorf("%s: directory.ldap.url %q has no port", path, s.Directory.LDAP.URL)
	}
	if s.Mail.SMTP.Host != "127.0.0.1" {
		return s, fmt.Errorf("%s: mail.smtp.host must be 127.0.0.1 for the local stack, got %q", path, s.Mail.SMTP.Host)
	}
	if host, _, err := net.SplitHostPort(s.Web.Listen); err != nil || host != "127.0.0.1" {
		return s, fmt.Errorf("%s: web.listen must be 127.0.0.1:PORT for the local stack, got %q", path, s.Web.Listen)
	}
	if s.Directory.LDAP.BindPasswordFile == "" || s.Invitations.TokenKeyFile == "" {
		return s, fmt.Errorf("%s: directory.ldap.bindPasswordFile and invitations.tokenKeyFile must be set", path)
	}
	return s, nil
}

// FreeAddrs are free loopback ports for every listener of the stack.
type FreeAddrs struct {
	LDAP, SMTP, Web, MailWeb, Metrics, Probe int
}

// PickFreeAddrs asks the kernel for six free loopback ports.
func PickFreeAddrs() (FreeAddrs, error) {
	var ports [6]int
	for i := range ports {
		p, err := freePort()
		if err != nil {
			return FreeAddrs{}, err
		}
		ports[i] = p
	}
	return FreeAddrs{ports[0], ports[1], ports[2], ports[3], ports[4], ports[5]}, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// WriteConfigCopy writes src with the ports of a, the secret files in dir and the overrides
// (by dotted path), as dir/config.yaml, and returns its path. Everything else stays as src
// has it, so the copy still tests src.
func WriteConfigCopy(src, dir string, a FreeAddrs, overrides map[string]any) (string, error) {
	data, err := os.ReadFile(src)
	if err != nil {
		return "", err
	}
	var doc map[string]any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return "", fmt.Errorf("%s: %w", src, err)
	}
	web := fmt.Sprintf("127.0.0.1:%d", a.Web)
	set := map[string]any{
		"directory.ldap.url":              fmt.Sprintf("ldap://127.0.0.1:%d", a.LDAP),
		"directory.ldap.bindPasswordFile": filepath.Join(dir, "ldap-password"),
		"mail.smtp.port":                  a.SMTP,
		"web.listen":                      web,
		"web.publicURL":                   "http://" + web,
		"invitations.tokenKeyFile":        filepath.Join(dir, "token-key"),
	}
	maps.Copy(set, overrides)
	for path, value := range set {
		if err := setPath(doc, path, value); err != nil {
			return "", fmt.Errorf("%s: %w", src, err)
		}
	}
	out, err := yaml.Marshal(doc)
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "config.yaml")
	return path, os.WriteFile(path, out, 0o600)
}

// setPath sets a value at a dotted path of maps that must already exist.
func setPath(doc map[string]any, path string, value any) error {
	keys := strings.Split(path, ".")
	m := doc
	for _, k := range keys[:len(keys)-1] {
		next, ok := m[k].(map[string]any)
		if !ok {
			return fmt.Errorf("no %s", path)
		}
		m = next
	}
	m[keys[len(keys)-1]] = value
	return nil
}

// readYAML decodes a YAML file loosely into v.
func readYAML(path string, v any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := yaml.Unmarshal(data, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}
