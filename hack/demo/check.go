package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"time"

	staffv1alpha1 "github.com/rosterops/staff-operator/api/v1alpha1"
)

// check does what the guide asks of a person, without one, and fails at the first step that
// does not do what the guide promises.
func (s *demo) check(ctx context.Context, inv invitation) error {
	whoami := whoamiCommand(s.Slapd.URL, inv.dn)
	steps := []struct {
		what string
		fn   func(context.Context) error
	}{
		{"open " + inv.link + " and set the password", func(ctx context.Context) error { return setPassword(ctx, inv) }},
		{"wait until " + memberName + " is Active", s.waitPhase(staffv1alpha1.StaffMemberActive)},
		{shellLine(slices.Concat(whoami, []string{"-W"})) + ": must succeed", func(ctx context.Context) error { return bind(ctx, whoami, inv.dn, true) }},
		{shellLine(deactivateCommand()), func(ctx context.Context) error {
			_, err := s.kubectl(ctx, deactivateCommand()...)
			return err
		}},
		{"wait until " + memberName + " is Deactivated", s.waitPhase(staffv1alpha1.StaffMemberDeactivated)},
		{shellLine(slices.Concat(whoami, []string{"-W"})) + ": must fail now", func(ctx context.Context) error { return bind(ctx, whoami, inv.dn, false) }},
	}
	for _, step := range steps {
		s.Say("• %s", step.what)
		if err := step.fn(ctx); err != nil {
			if cause := context.Cause(ctx); cause != nil {
				err = cause // the manager exited, or the run was interrupted
			}
			return fmt.Errorf("%s: %w", step.what, err)
		}
	}
	s.Say("demo check passed")
	return nil
}

func (s *demo) waitPhase(phase staffv1alpha1.StaffMemberPhase) func(context.Context) error {
	return func(ctx context.Context) error {
		_, err := s.waitMember(ctx, time.Minute, string(phase), func(m *staffv1alpha1.StaffMember) bool {
			return m.Status.Phase == phase
		})
		return err
	}
}

var csrfRe = regexp.MustCompile(`<input type="hidden" name="csrf" value="([^"]+)">`)

// setPassword does what a browser does: GET the form, POST it back with the hidden field.
func setPassword(ctx context.Context, inv invitation) error {
	page, err := openLink(ctx, inv.link)
	if err != nil {
		return err
	}
	if !strings.Contains(page, inv.email) {
		return fmt.Errorf("the form does not show %s: %s", inv.email, pageText([]byte(page)))
	}
	m := csrfRe.FindStringSubmatch(page)
	if m == nil {
		return fmt.Errorf("the form has no csrf field: %s", page)
	}
	form := url.Values{"password": {demoPassword}, "confirmPassword": {demoPassword}, "csrf": {m[1]}}
	page, err = fetch(ctx, http.MethodPost, inv.link, form)
	if err != nil {
		return err
	}
	if !strings.Contains(page, "is ready") {
		return fmt.Errorf("no success page: %s", pageText([]byte(page)))
	}
	return nil
}

// openLink GETs the form. The page finds links through the manager's cache, which learns
// that the Invitation is Sent a moment after the API server said so to the demo; until then
// the link is "no longer valid" (404). So a 404 is asked again, every 50 ms for at most 5 s:
// a link that never opens still fails, with the page it gave.
func openLink(ctx context.Context, link string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		page, err := fetch(ctx, http.MethodGet, link, nil)
		if !errors.Is(err, errNotFound) {
			return page, err
		}
		select {
		case <-ctx.Done():
			return "", err
		case <-tick.C:
		}
	}
}

var errNotFound = errors.New("404 Not Found")

// fetch sends one request, with form as its body when set, and wants 200.
func fetch(ctx context.Context, method, link string, form url.Values) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, link, body)
	if err != nil {
		return "", err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", err
	}
	switch resp.StatusCode {
	case http.StatusOK:
		return string(b), nil
	case http.StatusNotFound:
		return "", fmt.Errorf("%s: %w: %s", method, errNotFound, pageText(b))
	default:
		return "", fmt.Errorf("%s: %s: %s", method, resp.Status, pageText(b))
	}
}

var tagRe = regexp.MustCompile(`(?s)<head>.*</head>|<[^>]*>`)

// pageText is what a page says, without its markup, for an error message.
func pageText(page []byte) string {
	text := strings.Join(strings.Fields(tagRe.ReplaceAllString(string(page), " ")), " ")
	if len(text) > 800 {
		text = text[:800] + "…"
	}
	return text
}

// bind runs the real ldapwhoami with the password. A failure must be the one a locked
// account gives, invalid credentials, and not, say, a refused connection.
func bind(ctx context.Context, whoami []string, dn string, wantOK bool) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	argv := slices.Concat(whoami, []string{"-w", demoPassword})
	out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput()
	text := strings.TrimSpace(string(out))
	var exit *exec.ExitError
	switch {
	case wantOK && err == nil && text == "dn:"+dn:
		return nil
	case wantOK:
		return fmt.Errorf("ldapwhoami: %v: %s", err, text)
	case errors.As(err, &exit) && exit.ExitCode() == 49 && strings.Contains(text, "Invalid credentials (49)"):
		return nil
	default:
		return fmt.Errorf("want invalid credentials (49), ldapwhoami said: %v: %s", err, text)
	}
}
