package devmail

import (
	"context"
	"errors"
	"net/smtp"
	"slices"
	"testing"
	"time"
)

// WaitFor must see mails that arrive while it waits, skip the ones that do not match, and
// give up when its context ends.
func TestWaitFor(t *testing.T) {
	s, err := Start(Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})

	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	got := make(chan Mail, 1)
	go func() {
		m, err := s.WaitFor(ctx, func(m Mail) bool { return slices.Contains(m.To, "b@example.test") })
		if err != nil {
			t.Error(err)
		}
		got <- m
	}()
	for _, to := range []string{"a@example.test", "b@example.test"} {
		msg := "Subject: for " + to + "\r\n\r\nhello https://example.test/x\r\n"
		if err := smtp.SendMail(s.SMTPAddr(), nil, "from@example.test", []string{to}, []byte(msg)); err != nil {
			t.Fatal(err)
		}
	}
	m := <-got
	if m.N != 2 || m.Subject != "for b@example.test" || !slices.Equal(m.Links, []string{"https://example.test/x"}) {
		t.Errorf("WaitFor returned %+v", m)
	}
	if n := len(s.Mails()); n != 2 {
		t.Errorf("Mails has %d mails, want 2", n)
	}

	short, stop := context.WithCancel(t.Context())
	stop()
	if _, err := s.WaitFor(short, func(Mail) bool { return false }); !errors.Is(err, context.Canceled) {
		t.Errorf("WaitFor after cancel: %v", err)
	}
}
