package config

import (
	"fmt"
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
)

// Bounds of run_timeout: below a second no vendor answers; a run longer
// than a day is a backfill, which has its own command.
const (
	minRunTimeout = time.Second
	maxRunTimeout = 24 * time.Hour
)

// validateRunTimeout checks run_timeout when it is set.
func (c *Config) validateRunTimeout() []collectors.Problem {
	d := c.RunTimeout.D()
	if d == 0 {
		return nil
	}
	if d < minRunTimeout || d > maxRunTimeout {
		return []collectors.Problem{{Key: "run_timeout",
			Message: fmt.Sprintf("%v: must be between %v and %v (unset: the schedule period in the daemon, 10m for collect)", d, minRunTimeout, maxRunTimeout)}}
	}
	return nil
}

// RunDeadline is the deadline of one run: run_timeout when set, else
// fallback (the daemon passes 0, which means the schedule period).
func (c *Config) RunDeadline(fallback time.Duration) time.Duration {
	if c.RunTimeout > 0 {
		return c.RunTimeout.D()
	}
	return fallback
}
