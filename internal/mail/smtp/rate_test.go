package smtp_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"

	"github.com/rosterops/staff-operator/internal/mail"
	"github.com/rosterops/staff-operator/internal/mail/smtp"
	"github.com/rosterops/staff-operator/internal/mail/smtptest"
)

// rateLimited returns a Sender limited to perSecond on a fake clock. It keeps no idle
// sessions, so that the clock's only waiter is a Send waiting for its turn.
func rateLimited(t *testing.T, srv *smtptest.Server, perSecond float64) (*smtp.Sender, *clocktesting.FakeClock) {
	t.Helper()
	clk := clocktesting.NewFakeClock(time.Now())
	s, err := smtp.NewWithClock(smtp.Config{Host: srv.Host(), Port: srv.Port(), SendTimeout: 10 * time.Second, MaxPerSecond: perSecond}, clk)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, clk
}

// sendAsync starts a Send and returns where its result will be.
func sendAsync(ctx context.Context, s *smtp.Sender, msg mail.Message) <-chan error {
	done := make(chan error, 1)
	go func() { done <- s.Send(ctx, msg) }()
	return done
}

func TestSendRateSpacesMessages(t *testing.T) {
	cases := []struct {
		reason    string
		perSecond float64
		burst     int           // ceil(perSecond)
		interval  time.Duration // 1/perSecond
	}{
		{"whole rate", 2, 2, 500 * time.Millisecond},
		{"fraction below one", 0.5, 1, 2 * time.Second},
		{"fraction above one", 2.5, 3, 400 * time.Millisecond},
	}
	for _, tc := range cases {
		t.Run(tc.reason, func(t *testing.T) {
			srv := smtptest.New(t)
			s, clk := rateLimited(t, srv, tc.perSecond)
			msg := render(t, templates(t, ""), mail.Invitation, data(), 1)

			for i := range tc.burst {
				if err := s.Send(t.Context(), msg); err != nil {
					t.Fatalf("Send %d of the burst: %v", i+1, err)
				}
			}
			done := sendAsync(t.Context(), s, msg)
			eventually(t, "the send past the burst waits for its turn", func() bool { return clk.Waiters() == 1 })
			clk.Step(tc.interval - time.Millisecond)
			select {
			case err := <-done:
				t.Fatalf("Send past the burst returned %v before its turn", err)
			default:
			}
			if n := len(srv.Messages()); n != tc.burst {
				t.Fatalf("server has %d messages before the turn of the next, want %d", n, tc.burst)
			}
			clk.Step(time.Millisecond)
			if err := <-done; err != nil {
				t.Fatalf("Send on its turn: %v", err)
			}
			wait(t, srv, tc.burst+1)
		})
	}
}

func TestSendRateHonoursContext(t *testing.T) {
	srv := smtptest.New(t)
	s, clk := rateLimited(t, srv, 1)
	msg := render(t, templates(t, ""), mail.Invitation, data(), 1)
	if err := s.Send(t.Context(), msg); err != nil {
		t.Fatal(err) // the bucket's one token
	}

	check := func(t *testing.T, err error, reason string) {
		t.Helper()
		var me *mail.Error
		if !errors.Is(err, mail.ErrUnavailable) || mail.IsPermanent(err) || !errors.As(err, &me) || me.Op != "rate limit" {
			t.Fatalf("err = %v, want a temporary ErrUnavailable at rate limit", err)
		}
		if !strings.Contains(err.Error(), reason) {
			t.Errorf("err = %q, want it to say %q", err, reason)
		}
	}

	t.Run("canceled before", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		check(t, s.Send(ctx, msg), "canceled while waiting for the send rate of 1 per second")
	})
	t.Run("deadline before the turn", func(t *testing.T) {
		// One message an hour: the next turn is an hour away, the deadline a minute. Give
		// up at once rather than wait for the deadline.
		hourly, hourlyClock := rateLimited(t, srv, 1.0/3600)
		if err := hourly.Send(t.Context(), msg); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		check(t, hourly.Send(ctx, msg), "would hold this message for 1h0m0s, past its deadline")
		if hourlyClock.Waiters() != 0 {
			t.Error("a send that cannot have its turn waits for it")
		}
	})
	t.Run("canceled while waiting", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		done := sendAsync(ctx, s, msg)
		eventually(t, "the send waits for its turn", func() bool { return clk.Waiters() == 1 })
		cancel()
		check(t, <-done, "canceled while waiting")
		if clk.Waiters() != 0 {
			t.Error("the canceled send left its timer on the clock")
		}
	})

	// The messages that gave up returned their turns: a second later there is a token, and
	// the next send does not wait.
	clk.Step(time.Second)
	done := sendAsync(t.Context(), s, msg)
	var err error
	eventually(t, "the send returned or waits", func() bool {
		select {
		case err = <-done:
			return true
		default:
			return clk.Waiters() > 0
		}
	})
	if clk.Waiters() > 0 {
		clk.Step(time.Hour)
		t.Fatalf("the send waits for a turn: the sends that gave up kept theirs (%v)", <-done)
	}
	if err != nil {
		t.Fatal(err)
	}
	if n := srv.Connections(); n != 3 {
		t.Errorf("%d connections, want 3 (two sends here, one by the hourly sender): a send that did not get its turn must not connect", n)
	}
}
