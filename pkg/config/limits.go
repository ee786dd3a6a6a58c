package config

import (
	"time"
)

// Limits bound how hard the audit presses on AWS.
type Limits struct {
	// Concurrency is the most API calls in flight in the whole run.
	Concurrency int `yaml:"concurrency"`
	// PerAccountRegion is the most calls in flight for one account in one region,
	// so that one throttled account cannot hold every slot.
	PerAccountRegion int `yaml:"per_account_region"`
	// MaxAttempts is the SDK's attempts per call, first try included.
	MaxAttempts int `yaml:"max_attempts"`
	// CallTimeout bounds one call, its retries included.
	CallTimeout Duration `yaml:"call_timeout"`
	// AttemptTimeout bounds one attempt of a call (one HTTP request and its
	// answer), so that a call's attempts and the waits between them fit in
	// CallTimeout.
	AttemptTimeout Duration `yaml:"attempt_timeout"`
	// MaxBackoff caps the SDK's wait between two attempts.
	MaxBackoff Duration `yaml:"max_backoff"`
}

// validateLimits checks each limit against its bounds, and that a call's
// timeout leaves room for its throttled attempts.
func (c *Config) validateLimits(bad badFunc) {
	l := c.Limits
	positive := func(field string, v int) {
		if v <= 0 {
			bad(field, "%d must be a positive number", v)
		}
	}
	atMost := func(field string, v, limit int) {
		if v > limit {
			bad(field, "%d is more than %d", v, limit)
		}
	}
	positive("limits.concurrency", l.Concurrency)
	atMost("limits.concurrency", l.Concurrency, MaxConcurrency)
	positive("limits.per_account_region", l.PerAccountRegion)
	atMost("limits.per_account_region", l.PerAccountRegion, MaxPerAccountRegion)
	positive("limits.max_attempts", l.MaxAttempts)
	atMost("limits.max_attempts", l.MaxAttempts, MaxAttempts)
	within(bad, "limits.call_timeout", l.CallTimeout, 10*time.Millisecond, MaxCallTimeout)
	within(bad, "limits.max_backoff", l.MaxBackoff, time.Millisecond, MaxBackoff)
	within(bad, "limits.attempt_timeout", l.AttemptTimeout, 10*time.Millisecond, MaxCallTimeout)
	// A throttled call takes its attempts and the waits between them: a
	// call timeout shorter than both would report throttling as a timeout.
	if l.MaxAttempts > 0 && l.MaxAttempts <= MaxAttempts && l.MaxBackoff > 0 && l.AttemptTimeout > 0 {
		if worst, waits := l.WorstCall(), l.WorstBackoff(); l.CallTimeout.Std() <= worst {
			bad("limits.call_timeout", "%s is not longer than the %s a throttled call may take: %d attempts of up to %s each (limits.max_attempts, limits.attempt_timeout) and %s of waits between them (limits.max_backoff): a throttled call would be reported as a timeout",
				l.CallTimeout.Std(), worst, l.MaxAttempts, l.AttemptTimeout.Std(), waits)
		}
	}
}

// WorstBackoff is the longest the SDK's standard retryer may wait in all
// between l.MaxAttempts attempts of a throttled call: a base of 1 s doubled
// each retry and capped at l.MaxBackoff (retry.NewStandard, aws-sdk-go-v2
// v1.48 aws/retry/jitter_backoff.go; the jitter only shortens it).
func (l Limits) WorstBackoff() time.Duration {
	var total time.Duration
	for i := range max(l.MaxAttempts-1, 0) {
		total += min(time.Second<<min(i, 30), l.MaxBackoff.Std())
	}
	return total
}

// WorstCall is the longest a call may take before its last attempt's
// answer: every attempt up to l.AttemptTimeout and the waits between them.
func (l Limits) WorstCall() time.Duration {
	return time.Duration(l.MaxAttempts)*l.AttemptTimeout.Std() + l.WorstBackoff()
}
