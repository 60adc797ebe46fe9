package smtp

import "k8s.io/utils/clock"

// NewWithClock is New with a clock that drives the send rate and the idle timeout, so that
// tests step time instead of sleeping.
func NewWithClock(cfg Config, clk clock.WithDelayedExecution) (*Sender, error) {
	return newSender(cfg, clk)
}
