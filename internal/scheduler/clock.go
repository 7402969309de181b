package scheduler

import (
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
)

// resetFuture returns the checkpoint to plan from: cp itself, or, when cp
// is after now (a vendor or clock mistake stored it, or the host clock went
// back), now minus the look-back aligned like a first run's start, with a
// warning. A checkpoint in the future would plan no window at all, run
// after run, and the collector would report success while collecting
// nothing.
func (r *Runner) resetFuture(cp, now time.Time) (time.Time, bool) {
	if !cp.After(now) {
		return cp, false
	}
	start := firstStart(r.Timing, now)
	r.log().Warn("checkpoint is in the future; reset to now minus the look-back",
		"collector", r.Name, "checkpoint", cp.UTC().Format(time.RFC3339),
		"now", now.UTC().Format(time.RFC3339), "reset_to", start.UTC().Format(time.RFC3339))
	return start, true
}

// firstStart is where a first run (no checkpoint) starts at now.
func firstStart(t collectors.Timing, now time.Time) time.Time {
	p := PlanWindows(t, now, time.Time{}, 0)
	if len(p.Windows) > 0 {
		return p.Windows[0].Start
	}
	step := t.Step
	if step <= 0 {
		step = time.Minute
	}
	return now.Add(-t.Delay).Truncate(step)
}

// notAfter is t, or now when t is later: a checkpoint never moves past our
// clock.
func notAfter(t, now time.Time) time.Time {
	if t.After(now) {
		return now
	}
	return t
}
