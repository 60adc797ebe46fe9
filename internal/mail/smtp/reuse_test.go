package smtp_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"

	"github.com/rosterops/staff-operator/internal/mail"
	"github.com/rosterops/staff-operator/internal/mail/smtp"
	"github.com/rosterops/staff-operator/internal/mail/smtptest"
)

// reusing keeps up to two idle sessions, as the operator does by default.
func reusing(c *smtp.Config) { c.MaxIdleConnections = 2 }

// eventually polls cond until it holds, and fails the test if it does not within 5s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// sendTo renders an invitation for address and sends it, as attempt n.
func sendTo(t *testing.T, s *smtp.Sender, address string, n int64) error {
	t.Helper()
	d := data()
	d.Email = address
	return s.Send(t.Context(), render(t, templates(t, ""), mail.Invitation, d, n))
}

// connectionsOf lists the connection each message came over, in order.
func connectionsOf(msgs []smtptest.Message) []int64 {
	var ids []int64
	for _, m := range msgs {
		ids = append(ids, m.Connection)
	}
	return ids
}

func TestSequentialSendsShareOneSession(t *testing.T) {
	srv := smtptest.New(t)
	s := sender(t, srv, reusing)
	for i := range int64(5) {
		if err := sendTo(t, s, "dana@example.test", i+1); err != nil {
			t.Fatalf("Send %d: %v", i+1, err)
		}
	}
	got := wait(t, srv, 5)
	if n := srv.Connections(); n != 1 {
		t.Errorf("5 sends opened %d connections, want 1", n)
	}
	if ids := connectionsOf(got); !slices.Equal(ids, []int64{1, 1, 1, 1, 1}) {
		t.Errorf("messages came over connections %v, want all over 1", ids)
	}
	for i, m := range got {
		if want := mail.MessageID(mail.Invitation, uid, int64(i+1), "example.test"); m.Header.Get("Message-Id") != want {
			t.Errorf("message %d has Message-ID %q, want %q", i, m.Header.Get("Message-Id"), want)
		}
	}
	if n := srv.OpenConnections(); n != 1 {
		t.Errorf("%d connections open between sends, want the one kept", n)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "Close ended the kept session", func() bool { return srv.OpenConnections() == 0 })
	// A Sender that is closed still sends, over a session of its own.
	if err := sendTo(t, s, "dana@example.test", 6); err != nil {
		t.Fatalf("Send after Close: %v", err)
	}
	eventually(t, "the session after Close ended", func() bool { return srv.OpenConnections() == 0 })
}

// A kept session keeps its TLS and its AUTH: the next message goes over both without the
// handshake again.
func TestReusedSessionKeepsTLSAndAuth(t *testing.T) {
	srv := smtptest.New(t, smtptest.WithSTARTTLS(), smtptest.WithAuth("mailer", "s3cret"))
	s := sender(t, srv, func(c *smtp.Config) {
		reusing(c)
		c.TLS, c.CAFile = smtp.TLSStartTLS, srv.CAFile()
		c.Username, c.Password = "mailer", "s3cret"
	})
	for i := range int64(3) {
		if err := sendTo(t, s, "dana@example.test", i+1); err != nil {
			t.Fatalf("Send %d: %v", i+1, err)
		}
	}
	for i, m := range wait(t, srv, 3) {
		if m.Connection != 1 || !m.TLS || m.AuthUser != "mailer" {
			t.Errorf("message %d: connection %d, TLS %v, AuthUser %q; want 1, TLS, mailer", i, m.Connection, m.TLS, m.AuthUser)
		}
	}
}

func TestWithoutReuseEverySendHasItsOwnSession(t *testing.T) {
	srv := smtptest.New(t)
	s := sender(t, srv, nil) // MaxIdleConnections 0
	for i := range int64(3) {
		if err := sendTo(t, s, "dana@example.test", i+1); err != nil {
			t.Fatalf("Send %d: %v", i+1, err)
		}
	}
	if ids := connectionsOf(wait(t, srv, 3)); !slices.Equal(ids, []int64{1, 2, 3}) {
		t.Errorf("messages came over connections %v, want 1, 2, 3", ids)
	}
	eventually(t, "every session ended with QUIT", func() bool { return srv.OpenConnections() == 0 })
}

func TestSessionEndsAfterMaxMessages(t *testing.T) {
	srv := smtptest.New(t)
	s := sender(t, srv, func(c *smtp.Config) { c.MaxIdleConnections = 2; c.MaxMessagesPerConnection = 2 })
	for i := range int64(5) {
		if err := sendTo(t, s, "dana@example.test", i+1); err != nil {
			t.Fatalf("Send %d: %v", i+1, err)
		}
	}
	if ids := connectionsOf(wait(t, srv, 5)); !slices.Equal(ids, []int64{1, 1, 2, 2, 3}) {
		t.Errorf("messages came over connections %v, want two per connection", ids)
	}
	eventually(t, "only the session with room for another message is open", func() bool { return srv.OpenConnections() == 1 })
}

func TestIdleSessionIsClosedAfterIdleTimeout(t *testing.T) {
	srv := smtptest.New(t)
	clk := clocktesting.NewFakeClock(time.Now())
	s, err := smtp.NewWithClock(smtp.Config{
		Host: srv.Host(), Port: srv.Port(), SendTimeout: 10 * time.Second,
		MaxIdleConnections: 2, IdleTimeout: 30 * time.Second,
	}, clk)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })

	if err := sendTo(t, s, "dana@example.test", 1); err != nil {
		t.Fatal(err)
	}
	clk.Step(30*time.Second - time.Millisecond)
	if err := sendTo(t, s, "dana@example.test", 2); err != nil {
		t.Fatal(err)
	}
	// The second send reset the clock of the session: 29.999s after it, it is still kept.
	clk.Step(30*time.Second - time.Millisecond)
	if n := srv.OpenConnections(); n != 1 {
		t.Fatalf("%d connections open before the idle timeout, want 1", n)
	}
	clk.Step(time.Millisecond)
	eventually(t, "the idle session was ended", func() bool { return srv.OpenConnections() == 0 })

	if err := sendTo(t, s, "dana@example.test", 3); err != nil {
		t.Fatal(err)
	}
	if ids := connectionsOf(wait(t, srv, 3)); !slices.Equal(ids, []int64{1, 1, 2}) {
		t.Errorf("messages came over connections %v, want 1, 1, 2", ids)
	}
}

func TestConcurrentSendsNeverShareASession(t *testing.T) {
	srv := smtptest.New(t)
	s := sender(t, srv, reusing)
	tpl := templates(t, "")
	const workers, each = 8, 6

	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				d := data()
				d.Email = fmt.Sprintf("w%d-%d@example.test", w, i)
				msg, err := tpl.Render(mail.Invitation, d)
				if err != nil {
					errs <- err
					return
				}
				msg.From = from
				msg.SetMessageID(uid, int64(w*each+i))
				if err := s.Send(t.Context(), msg); err != nil {
					errs <- fmt.Errorf("send to %s: %w", d.Email, err)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	got := wait(t, srv, workers*each)
	seen := map[string]int{}
	for _, m := range got {
		rcpt := m.EnvelopeTo[0]
		seen[rcpt]++
		// A message whose envelope, To and Message-ID disagree would come from two
		// transactions mixed on one session.
		var w, i int
		if _, err := fmt.Sscanf(rcpt, "w%d-%d@example.test", &w, &i); err != nil {
			t.Fatalf("unexpected recipient %q", rcpt)
		}
		if to, err := m.Header.AddressList("To"); err != nil || len(to) != 1 || to[0].Address != rcpt {
			t.Errorf("RCPT TO %s, To header %q", rcpt, m.Header.Get("To"))
		}
		if want := mail.MessageID(mail.Invitation, uid, int64(w*each+i), "example.test"); m.Header.Get("Message-Id") != want {
			t.Errorf("RCPT TO %s has Message-ID %q, want %q", rcpt, m.Header.Get("Message-Id"), want)
		}
	}
	for w := range workers {
		for i := range each {
			if n := seen[fmt.Sprintf("w%d-%d@example.test", w, i)]; n != 1 {
				t.Errorf("w%d-%d@example.test received %d messages, want 1", w, i, n)
			}
		}
	}
	if n := len(srv.Messages()); n != workers*each {
		t.Errorf("server received %d messages, want %d", n, workers*each)
	}
	t.Logf("%d sends from %d workers over %d connections", workers*each, workers, srv.Connections())
	eventually(t, "at most 2 sessions stay open", func() bool { return srv.OpenConnections() <= 2 })
}

// A kept session that the server has closed is replaced, once and unseen by the caller, and
// the message arrives once.
func TestDeadSessionIsReplacedOnce(t *testing.T) {
	t.Run("server drops its connections", func(t *testing.T) {
		srv := smtptest.New(t)
		s := sender(t, srv, reusing)
		if err := sendTo(t, s, "dana@example.test", 1); err != nil {
			t.Fatal(err)
		}
		if n := srv.DropConnections(); n != 1 {
			t.Fatalf("dropped %d connections, want the kept one", n)
		}
		if err := sendTo(t, s, "dana@example.test", 2); err != nil {
			t.Fatalf("Send over a dropped session: %v", err)
		}
		if ids := connectionsOf(wait(t, srv, 2)); !slices.Equal(ids, []int64{1, 2}) {
			t.Errorf("messages came over connections %v, want 1, 2", ids)
		}
		if n := len(srv.Messages()); n != 2 {
			t.Errorf("server received %d messages, want 2", n)
		}
	})

	t.Run("server restarts", func(t *testing.T) {
		before, err := smtptest.Start()
		if err != nil {
			t.Fatal(err)
		}
		s := sender(t, before, reusing)
		if err := sendTo(t, s, "dana@example.test", 1); err != nil {
			t.Fatal(err)
		}
		if err := before.Close(); err != nil {
			t.Fatal(err)
		}
		after := smtptest.New(t, smtptest.WithPort(before.Port()))
		if err := sendTo(t, s, "dana@example.test", 2); err != nil {
			t.Fatalf("Send after the server restarted: %v", err)
		}
		if got := wait(t, after, 1); len(got) != 1 || got[0].Connection != 1 {
			t.Errorf("restarted server received %d messages over connections %v, want 1 over 1", len(got), connectionsOf(got))
		}
		if n := len(before.Messages()); n != 1 {
			t.Errorf("server before the restart has %d messages, want 1", n)
		}
	})

	t.Run("server answers 421", func(t *testing.T) {
		srv := smtptest.New(t, smtptest.WithMessagesPerConnection(1))
		s := sender(t, srv, reusing)
		for i := range int64(3) {
			if err := sendTo(t, s, "dana@example.test", i+1); err != nil {
				t.Fatalf("Send %d: %v", i+1, err)
			}
		}
		if ids := connectionsOf(wait(t, srv, 3)); !slices.Equal(ids, []int64{1, 2, 3}) {
			t.Errorf("messages came over connections %v, want 1, 2, 3", ids)
		}
		if n := len(srv.Messages()); n != 3 {
			t.Errorf("server received %d messages, want 3", n)
		}
	})

	t.Run("the fresh session fails too", func(t *testing.T) {
		srv, err := smtptest.Start()
		if err != nil {
			t.Fatal(err)
		}
		s := sender(t, srv, reusing)
		if err := sendTo(t, s, "dana@example.test", 1); err != nil {
			t.Fatal(err)
		}
		if err := srv.Close(); err != nil {
			t.Fatal(err)
		}
		// Retried once, on a fresh connection, which is refused: the caller hears of that.
		err = sendTo(t, s, "dana@example.test", 2)
		if !errors.Is(err, mail.ErrUnavailable) {
			t.Fatalf("err = %v, want ErrUnavailable", err)
		}
		var me *mail.Error
		if !errors.As(err, &me) || me.Op != "connect" {
			t.Errorf("err = %v, want the failure to connect", err)
		}
	})
}

// Once the message may have reached the server, nothing is retried: a connection lost after
// the final dot is reported as before reuse, and the server has the message once.
func TestFailureAfterTheMessageIsNotRetried(t *testing.T) {
	var server atomic.Pointer[smtptest.Server]
	srv := smtptest.New(t, smtptest.WithOnMessage(func(m smtptest.Message) {
		if m.EnvelopeTo[0] == "drop@example.test" {
			server.Load().DropConnections() // after the message, before the 250
		}
	}))
	server.Store(srv)
	s := sender(t, srv, reusing)

	if err := sendTo(t, s, "dana@example.test", 1); err != nil {
		t.Fatal(err)
	}
	err := sendTo(t, s, "drop@example.test", 2)
	var me *mail.Error
	if !errors.Is(err, mail.ErrUnavailable) || !errors.As(err, &me) || me.Op != "DATA" {
		t.Fatalf("err = %v, want ErrUnavailable at DATA", err)
	}
	if n := srv.Connections(); n != 1 {
		t.Errorf("%d connections, want 1: nothing after DATA may be retried", n)
	}
	// The server stores the message once OnMessage has returned, which may be after Send.
	if got := wait(t, srv, 2); len(got) != 2 {
		t.Errorf("server received %d messages, want 2", len(got))
	}
	// The broken session is gone; the next send has a new one.
	if err := sendTo(t, s, "dana@example.test", 3); err != nil {
		t.Fatal(err)
	}
	if ids := connectionsOf(wait(t, srv, 3)); !slices.Equal(ids, []int64{1, 1, 2}) {
		t.Errorf("messages came over connections %v, want 1, 1, 2", ids)
	}
}

// A refused recipient is the server's verdict on one message: it is reported as before, and
// the session, reset, carries the next one.
func TestRefusalKeepsTheSession(t *testing.T) {
	srv := smtptest.New(t, smtptest.WithRejectedRecipients("nobody@example.test"), smtptest.WithTempFailedRecipients("busy@example.test"))
	s := sender(t, srv, reusing)

	if err := sendTo(t, s, "dana@example.test", 1); err != nil {
		t.Fatal(err)
	}
	err := sendTo(t, s, "nobody@example.test", 2)
	want := "mail rejected by server: RCPT TO: 550 5.1.1 <nobody@example.test>: Recipient address rejected: User unknown"
	if !mail.IsPermanent(err) || err.Error() != want {
		t.Errorf("err = %v, want %q", err, want)
	}
	if err := sendTo(t, s, "busy@example.test", 3); !errors.Is(err, mail.ErrUnavailable) {
		t.Errorf("err = %v, want ErrUnavailable", err)
	}
	if err := sendTo(t, s, "dana@example.test", 4); err != nil {
		t.Fatal(err)
	}
	if ids := connectionsOf(wait(t, srv, 2)); !slices.Equal(ids, []int64{1, 1}) {
		t.Errorf("messages came over connections %v, want both over 1", ids)
	}
	if n := srv.Connections(); n != 1 {
		t.Errorf("%d connections, want 1", n)
	}
}

// A refused MAIL FROM is about the sender or the session, so the session is not kept: a
// relay that refuses it once would refuse it for every later mail too.
func TestRefusedSenderEndsTheSession(t *testing.T) {
	srv := smtptest.New(t, smtptest.WithAuth("mailer", "s3cret"))
	s := sender(t, srv, reusing) // no credentials: 530 to MAIL FROM
	for i := range int64(2) {
		if err := sendTo(t, s, "dana@example.test", i+1); !errors.Is(err, mail.ErrRejected) {
			t.Fatalf("Send %d: err = %v, want ErrRejected", i+1, err)
		}
	}
	if n := srv.Connections(); n != 2 {
		t.Errorf("%d connections, want 2: a session refused at MAIL FROM is not kept", n)
	}
	eventually(t, "both sessions ended", func() bool { return srv.OpenConnections() == 0 })
}

// A Send canceled before it starts leaves the kept session alone; one canceled while the
// server works on its message gives its session up rather than keep it half-used.
func TestCanceledSend(t *testing.T) {
	arrived, proceed := make(chan struct{}), make(chan struct{})
	srv := smtptest.New(t, smtptest.WithOnMessage(func(m smtptest.Message) {
		if m.EnvelopeTo[0] == "slow@example.test" {
			close(arrived)
			<-proceed // the server answers only after the caller gave up
		}
	}))
	s := sender(t, srv, reusing)
	if err := sendTo(t, s, "dana@example.test", 1); err != nil {
		t.Fatal(err)
	}

	canceled, cancel := context.WithCancel(t.Context())
	cancel()
	if err := s.Send(canceled, render(t, templates(t, ""), mail.Invitation, data(), 2)); !errors.Is(err, mail.ErrUnavailable) {
		t.Fatalf("Send with a canceled context: err = %v, want ErrUnavailable", err)
	}
	if err := sendTo(t, s, "dana@example.test", 3); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	d := data()
	d.Email = "slow@example.test"
	done := sendAsync(ctx, s, render(t, templates(t, ""), mail.Invitation, d, 4))
	<-arrived
	cancel()
	err := <-done
	close(proceed)
	var me *mail.Error
	if !errors.Is(err, mail.ErrUnavailable) || !errors.As(err, &me) || me.Op != "DATA" {
		t.Fatalf("Send canceled while the server works: err = %v, want ErrUnavailable at DATA", err)
	}
	wait(t, srv, 3) // the server has it, though too late to say so
	if err := sendTo(t, s, "dana@example.test", 5); err != nil {
		t.Fatal(err)
	}
	if ids := connectionsOf(wait(t, srv, 4)); !slices.Equal(ids, []int64{1, 1, 1, 2}) {
		t.Errorf("messages came over connections %v, want 1, 1, 1 (the canceled one), 2", ids)
	}
}
