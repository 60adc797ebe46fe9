package smtp

import (
	"context"
	"fmt"
	"time"

	"github.com/rosterops/staff-operator/internal/mail"
)

// opRate is the step of waiting for the send rate.
const opRate = "rate limit"

// waitTurn takes a token from the send-rate bucket, waiting for one as long as ctx allows.
// A message that cannot have its turn before ctx ends gives the token back and fails as
// temporary, at once: the controller retries it later, and no worker hangs on the bucket.
func (s *Sender) waitTurn(ctx context.Context) error {
	if s.limiter == nil {
		return nil
	}
	if ctx.Err() != nil {
		return s.rateCanceled(ctx)
	}
	now := s.clock.Now()
	r := s.limiter.ReserveN(now, 1) // burst >= 1: always granted, possibly later
	delay := r.DelayFrom(now)
	if delay <= 0 {
		return nil
	}
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < delay {
		r.CancelAt(now)
		return &mail.Error{Class: mail.ErrUnavailable, Op: opRate, Reason: fmt.Sprintf(
			"the send rate of %g per second would hold this message for %s, past its deadline",
			s.cfg.MaxPerSecond, delay.Round(time.Millisecond))}
	}
	t := s.clock.NewTimer(delay)
	defer t.Stop()
	select {
	case <-t.C():
		return nil
	case <-ctx.Done():
		r.CancelAt(s.clock.Now())
		return s.rateCanceled(ctx)
	}
}

func (s *Sender) rateCanceled(ctx context.Context) error {
	return &mail.Error{Class: mail.ErrUnavailable, Op: opRate, Err: ctx.Err(), Reason: fmt.Sprintf(
		"canceled while waiting for the send rate of %g per second: %v", s.cfg.MaxPerSecond, context.Cause(ctx))}
}
