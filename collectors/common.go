package collectors

import (
	"fmt"
	"time"
)

// DefaultRequestTimeout is a vendor request's overall deadline when its
// section sets no request_timeout.
const DefaultRequestTimeout = 60 * time.Second

// Request timeouts outside these bounds are configuration mistakes: below
// a second no vendor answers, above half an hour a stuck vendor holds a
// run for as long as the problem this key exists to prevent.
const (
	minRequestTimeout = time.Second
	maxRequestTimeout = 30 * time.Minute
)

// Common holds the keys every section of a collector that talks to a vendor
// API accepts. Vendor options embed it, so the keys decode, validate and
// mean the same everywhere.
type Common struct {
	// RequestTimeout bounds one vendor request as a whole: every attempt,
	// backoff and Retry-After wait, until the last byte of the answer. By
	// default, DefaultRequestTimeout.
	// A pointer, so that an explicit "0s" is told from an absent key and
	// refused rather than silently read as the default.
	RequestTimeout *Duration `toml:"request_timeout"`
}

// RequestDeadline returns the configured request timeout or the default.
func (c Common) RequestDeadline() time.Duration {
	if c.RequestTimeout == nil || *c.RequestTimeout <= 0 {
		return DefaultRequestTimeout
	}
	return time.Duration(*c.RequestTimeout)
}

// CommonProblems validates the common keys of section.
func (c Common) CommonProblems(section string) []Problem {
	if c.RequestTimeout == nil {
		return nil
	}
	if d := time.Duration(*c.RequestTimeout); d < minRequestTimeout || d > maxRequestTimeout {
		return []Problem{{Key: section + ".request_timeout",
			Message: fmt.Sprintf("%v: must be between %v and %v (default %v)", d, minRequestTimeout, maxRequestTimeout, DefaultRequestTimeout)}}
	}
	return nil
}

// Duration is a time.Duration that decodes from TOML strings ("90s", "5m").
type Duration time.Duration

// UnmarshalText parses a Go duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("invalid duration %q (use e.g. \"90s\", \"5m\")", b)
	}
	*d = Duration(v)
	return nil
}

// MarshalText formats d as a Go duration string.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }
