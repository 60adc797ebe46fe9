package devmail

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"regexp"
	"strconv"
	"sync"
	"time"

	"github.com/rosterops/staff-operator/internal/mail/smtptest"
)

// mailbox keeps the received mails in memory for the web view and writes each to an .eml.
type mailbox struct {
	dir string

	mu       sync.Mutex
	mails    []Mail
	writeErr error
	// arrived is closed, and replaced, whenever a mail arrives, so waiters need no polling.
	arrived chan struct{}
}

// Mail is one received mail, as the web view and its JSON API (/api/mails) show it.
type Mail struct {
	N       int       `json:"n"`
	At      time.Time `json:"receivedAt"`
	From    string    `json:"from"`
	To      []string  `json:"to"`
	Subject string    `json:"subject"`
	Text    string    `json:"text"`
	Links   []string  `json:"links"`
	File    string    `json:"file"`
	html    string
	raw     []byte
}

func newMailbox(dir string) *mailbox { return &mailbox{dir: dir, arrived: make(chan struct{})} }

var linkRe = regexp.MustCompile(`https?://[^\s<>"]+`)

func (b *mailbox) add(m smtptest.Message) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := len(b.mails) + 1
	file, err := writeEML(b.dir, n, m)
	if err != nil {
		b.writeErr = errors.Join(b.writeErr, err)
		file = ""
	}
	b.mails = append(b.mails, Mail{
		N: n, At: m.ReceivedAt, From: m.EnvelopeFrom, To: m.EnvelopeTo, Subject: m.Subject,
		Text: m.Text, Links: linkRe.FindAllString(m.Text, -1), File: file, html: m.HTML, raw: m.Raw,
	})
	close(b.arrived)
	b.arrived = make(chan struct{})
}

// waitFor returns the oldest mail that matches, waiting for arrivals until ctx ends.
func (b *mailbox) waitFor(ctx context.Context, match func(Mail) bool) (Mail, error) {
	seen := 0
	for {
		b.mu.Lock()
		fresh, arrived := b.mails[seen:], b.arrived
		seen = len(b.mails)
		b.mu.Unlock()
		for _, m := range fresh {
			if match(m) {
				return m, nil
			}
		}
		select {
		case <-ctx.Done():
			return Mail{}, ctx.Err()
		case <-arrived:
		}
	}
}

func (b *mailbox) err() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.writeErr
}

func (b *mailbox) get(n int) (Mail, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if n < 1 || n > len(b.mails) {
		return Mail{}, false
	}
	return b.mails[n-1], true
}

// newestFirst returns a copy of the list, newest first.
func (b *mailbox) newestFirst() []Mail {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]Mail, 0, len(b.mails))
	for i := len(b.mails) - 1; i >= 0; i-- {
		out = append(out, b.mails[i])
	}
	return out
}

var pages = template.Must(template.New("list").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>devmail</title>
<style>body{font-family:sans-serif;margin:2em;max-width:60em}td,th{padding:.3em .8em;text-align:left;border-bottom:1px solid #ddd}pre{white-space:pre-wrap;background:#f6f8fa;padding:1em}</style>
</head><body>
<h1>devmail</h1><p>{{len .}} mail(s). Reload to refresh. Mails are also written as .eml files.</p>
<table><tr><th>#</th><th>received</th><th>to</th><th>subject</th></tr>
{{range .}}<tr><td>{{.N}}</td><td>{{.At.Format "15:04:05"}}</td><td>{{range .To}}{{.}} {{end}}</td><td><a href="/mail/{{.N}}">{{.Subject}}</a></td></tr>
{{end}}</table></body></html>
{{define "mail"}}<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Subject}}</title>
<style>body{font-family:sans-serif;margin:2em;max-width:60em}pre{white-space:pre-wrap;background:#f6f8fa;padding:1em}</style>
</head><body>
<p><a href="/">all mails</a> · <a href="/mail/{{.N}}/raw">raw .eml</a>{{if .HasHTML}} · <a href="/mail/{{.N}}/html">HTML part</a>{{end}}</p>
<h1>{{.Subject}}</h1>
<p>From {{.From}} to {{range .To}}{{.}} {{end}} at {{.At.Format "2006-01-02 15:04:05 MST"}}{{with .File}}<br>file: {{.}}{{end}}</p>
{{with .Links}}<h2>Links</h2><ul>{{range .}}<li><a href="{{.}}">{{.}}</a></li>{{end}}</ul>{{end}}
<h2>Text part</h2><pre>{{.Text}}</pre>
</body></html>{{end}}`))

func (b *mailbox) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		render(w, "list", b.newestFirst())
	})
	mux.HandleFunc("GET /api/mails", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(b.newestFirst())
	})
	mux.HandleFunc("GET /mail/{n}", func(w http.ResponseWriter, r *http.Request) {
		e, ok := b.lookup(w, r)
		if !ok {
			return
		}
		render(w, "mail", struct {
			Mail
			HasHTML bool
		}{e, e.html != ""})
	})
	mux.HandleFunc("GET /mail/{n}/raw", func(w http.ResponseWriter, r *http.Request) {
		if e, ok := b.lookup(w, r); ok {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			_, _ = w.Write(e.raw)
		}
	})
	mux.HandleFunc("GET /mail/{n}/html", func(w http.ResponseWriter, r *http.Request) {
		if e, ok := b.lookup(w, r); ok {
			// The mail's own HTML, sandboxed: no scripts, nothing loaded from anywhere.
			w.Header().Set("Content-Security-Policy", "sandbox allow-popups allow-top-navigation-by-user-activation; default-src 'none'; style-src 'unsafe-inline'")
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			_, _ = w.Write([]byte(e.html))
		}
	})
	return mux
}

func (b *mailbox) lookup(w http.ResponseWriter, r *http.Request) (Mail, bool) {
	n, err := strconv.Atoi(r.PathValue("n"))
	if err != nil {
		http.NotFound(w, r)
		return Mail{}, false
	}
	e, ok := b.get(n)
	if !ok {
		http.NotFound(w, r)
	}
	return e, ok
}

func render(w http.ResponseWriter, name string, data any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	if err := pages.ExecuteTemplate(w, name, data); err != nil {
		http.Error(w, fmt.Sprintf("render: %v", err), http.StatusInternalServerError)
	}
}
