// Package backoff is the one retry delay of cdnmetrics: a delay that starts
// at a first value, doubles after every failure up to a cap, and is spread by
// jitter so that many daemons or subscribers do not retry in step. It only
// configures github.com/cenkalti/backoff/v5's ExponentialBackOff, whose
// jitter is symmetric around its current interval; New maps the jitter range
// each caller states ([lo·d, hi·d] around the un-jittered delay d) onto it.
package backoff

import (
	"time"

	"github.com/cenkalti/backoff/v5"
)

// Exponential is the library's exponential backoff. NextBackOff returns the
// next delay and doubles the interval; Reset goes back to the first delay.
// Not safe for concurrent use.
type Exponential = backoff.ExponentialBackOff

// New returns delays d = first, 2·first, 4·first, … capped at max, each one
// drawn uniformly from [lo·d, hi·d] (lo = hi = 1: no jitter). For example
// lo, hi = 0.8, 1.2 is ±20 %; 0.5, 1 is "full jitter keeping at least half".
func New(first, max time.Duration, lo, hi float64) *Exponential {
	if lo <= 0 || hi < lo {
		panic("backoff: jitter range must satisfy 0 < lo <= hi")
	}
	// The library draws from [c·(1−f), c·(1+f)] around its interval c; with
	// c = d·(lo+hi)/2 and f = (hi−lo)/(hi+lo) that is exactly [lo·d, hi·d].
	mid := (lo + hi) / 2
	return &Exponential{
		InitialInterval:     time.Duration(float64(first) * mid),
		MaxInterval:         time.Duration(float64(max) * mid),
		Multiplier:          2,
		RandomizationFactor: (hi - lo) / (hi + lo),
	}
}
