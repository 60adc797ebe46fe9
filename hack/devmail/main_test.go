package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rosterops/staff-operator/internal/mail"
	"github.com/rosterops/staff-operator/internal/mail/smtp"
)

func TestDevmail(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(t.Context())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, config{dir: dir}, pw)
		_ = pw.Close()
	}()

	// smtp, mail dir, web
	info := map[string]string{}
	sc := bufio.NewScanner(pr)
	for len(info) < 3 && sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), ": ")
		info[k] = v
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	if info["mail dir"] != dir {
		t.Fatalf("printed %v", info)
	}

	_, portText, _ := strings.Cut(info["smtp"], "127.0.0.1:")
	port, err := strconv.Atoi(portText)
	if err != nil {
		t.Fatalf("smtp address %q: %v", info["smtp"], err)
	}
	s, err := smtp.New(smtp.Config{Host: "127.0.0.1", Port: port, SendTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	tpl, err := mail.LoadTemplates("")
	if err != nil {
		t.Fatal(err)
	}
	msg, err := tpl.Render(mail.Invitation, mail.Data{
		Practice: "Lakeside", Name: "Dana <Lee>", Email: "dana@example.test",
		Link: "https://staff.example.test/invitations/tok", ExpiresAt: time.Now().Add(time.Hour),
	})
	if err != nil {
		t.Fatal(err)
	}
	msg.From = mail.Address{Email: "no-reply@example.test"}
	msg.SetMessageID("uid", 1)
	if err := s.Send(t.Context(), msg); err != nil {
		t.Fatal(err)
	}

	// Send returned after the server's 250, and the server writes the file before that.
	files, err := filepath.Glob(filepath.Join(dir, "0001-*.eml"))
	if err != nil || len(files) != 1 {
		t.Fatalf("eml files: %v %v", files, err)
	}
	eml, err := os.ReadFile(files[0])
	if err != nil || !strings.Contains(string(eml), "Message-ID: <invitation.uid.1@example.test>") {
		t.Errorf("eml file: %v\n%s", err, eml)
	}

	get := func(path string) string {
		t.Helper()
		resp, err := http.Get(info["web"] + strings.TrimPrefix(path, "/"))
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = resp.Body.Close() }()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %s", path, resp.Status)
		}
		return string(b)
	}
	if page := get("/"); !strings.Contains(page, "You&#39;re invited to join Lakeside") {
		t.Errorf("list page lacks the subject:\n%s", page)
	}
	page := get("/mail/1")
	for _, want := range []string{`<a href="https://staff.example.test/invitations/tok">`, "Hello Dana &lt;Lee&gt;,"} {
		if !strings.Contains(page, want) {
			t.Errorf("mail page lacks %q:\n%s", want, page)
		}
	}
	if api := get("/api/mails"); !strings.Contains(api, `"links":["https://staff.example.test/invitations/tok"]`) {
		t.Errorf("api lacks the link:\n%s", api)
	}

	cancel()
	if err := <-done; err != nil {
		t.Errorf("run: %v", err)
	}
}
