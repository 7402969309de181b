// Package scheduler decides what each collector collects and when: it
// computes windows from checkpoints (DESIGN.md §2), runs a collector over
// them in chunks, moves the checkpoint only after the sink has flushed, and
// in the daemon runs every collector on its cron schedule, skipping (and
// counting) a run while the previous one is still going.
package scheduler

import (
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
)

// Plan is what one run of a collector will collect.
type Plan struct {
	Windows []collectors.Window
	// Skipped is the part older than the maximum catch-up that this run
	// will not collect (zero when nothing is skipped).
	Skipped collectors.Window
}

// PlanWindows computes the windows for a collector at now: end is now minus
// the vendor's delay, aligned down to the step; start is the checkpoint
// minus the overlap (or end minus the look-back the first time), capped at
// maxCatchup before end; the span is cut into chunks of at most MaxWindow.
func PlanWindows(t collectors.Timing, now time.Time, checkpoint time.Time, maxCatchup time.Duration) Plan {
	step := t.Step
	if step <= 0 {
		step = time.Minute
	}
	end := now.Add(-t.Delay).Truncate(step)
	var start time.Time
	if checkpoint.IsZero() {
		lb := t.Lookback
		if lb <= 0 {
			lb = step
		}
		start = end.Add(-lb)
	} else {
		start = checkpoint.Add(-t.Overlap).Truncate(step)
	}
	var p Plan
	if maxCatchup > 0 && end.Sub(start) > maxCatchup {
		floor := end.Add(-maxCatchup).Truncate(step)
		p.Skipped = collectors.Window{Start: start, End: floor}
		start = floor
	}
	p.Windows = Chunk(collectors.Window{Start: start, End: end}, t.MaxWindow, step)
	return p
}

// Chunk cuts w into consecutive windows of at most size (aligned to step);
// size 0 means one window. An empty or inverted w gives none.
func Chunk(w collectors.Window, size, step time.Duration) []collectors.Window {
	if !w.End.After(w.Start) {
		return nil
	}
	if size <= 0 {
		return []collectors.Window{w}
	}
	if step > 0 && size > step {
		size = size.Truncate(step)
	}
	var out []collectors.Window
	for s := w.Start; s.Before(w.End); {
		e := s.Add(size)
		if e.After(w.End) {
			e = w.End
		}
		out = append(out, collectors.Window{Start: s, End: e})
		s = e
	}
	return out
}
