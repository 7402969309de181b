package scheduler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/internal/state"
)

// Runner runs one collector over planned or explicit windows.
type Runner struct {
	Name      string
	Collector collectors.Collector
	Timing    collectors.Timing
	// Store keeps the checkpoint; nil means no checkpoints (dry run).
	Store *state.Store
	// Emitter receives the collector's batches.
	Emitter collectors.Emitter
	// Flush makes everything emitted so far durable (sent or spooled).
	Flush      func(ctx context.Context) error
	MaxCatchup time.Duration
	Logger     *slog.Logger
	Now        func() time.Time
	// Progress, when set, is told after each window.
	Progress func(done, total int, w collectors.Window)
}

// Result summarises one run.
type Result struct {
	Windows  int
	NoData   int
	Skipped  collectors.Window
	Duration time.Duration
	Err      error
	// CheckpointReset is set when the checkpoint was found in the future
	// and reset to now minus the look-back.
	CheckpointReset bool
}

// RunOnce collects every window since the checkpoint, flushing and moving
// the checkpoint after each window, so an interrupted run resumes where it
// stopped.
func (r *Runner) RunOnce(ctx context.Context) Result {
	start := r.now()
	var cp time.Time
	corrupt := false
	if r.Store != nil {
		c, ok, err := r.Store.Get(r.Name)
		switch {
		case errors.Is(err, state.ErrCorrupt):
			// An unreadable checkpoint must not stop the collector run
			// after run: keep the file for inspection and start over like
			// a first run (the overlap of the look-back re-reads harmlessly).
			to, serr := r.Store.SetAside(r.Name, r.now())
			if serr != nil {
				return Result{Err: errors.Join(err, serr), Duration: r.now().Sub(start)}
			}
			r.log().Error("checkpoint unreadable; set aside, collecting from now minus the look-back",
				"collector", r.Name, "err", err, "set_aside_as", to)
			corrupt = true
		case err != nil:
			return Result{Err: err, Duration: r.now().Sub(start)}
		case ok:
			cp = c.End
		}
	}
	now := r.now()
	reset := false
	if corrupt {
		cp, reset = firstStart(r.Timing, now), true
	} else {
		cp, reset = r.resetFuture(cp, now)
	}
	if reset && r.Store != nil {
		if err := r.Store.Set(r.Name, state.Checkpoint{End: cp, Updated: now}); err != nil {
			return Result{Err: err, CheckpointReset: true, Duration: r.now().Sub(start)}
		}
	}
	plan := PlanWindows(r.Timing, now, cp, r.MaxCatchup)
	if !plan.Skipped.Start.IsZero() {
		r.log().Warn("gap older than max catch-up not collected; run backfill for it",
			"collector", r.Name, "skipped", plan.Skipped.String(), "max_catchup", r.MaxCatchup)
	}
	res := r.run(ctx, plan.Windows, true)
	res.Skipped = plan.Skipped
	res.CheckpointReset = reset
	res.Duration = r.now().Sub(start)
	res.Err = runDeadline(ctx, res)
	return res
}

// RunWindow collects exactly w (chunked) without reading the checkpoint.
// With advance set the checkpoint moves forward after each chunk (backfill
// uses its own progress file instead; collect --from/--to does not).
func (r *Runner) RunWindow(ctx context.Context, w collectors.Window, advance bool) Result {
	start := r.now()
	res := r.run(ctx, Chunk(w, r.Timing.MaxWindow, r.Timing.Step), advance)
	res.Duration = r.now().Sub(start)
	res.Err = runDeadline(ctx, res)
	return res
}

func (r *Runner) run(ctx context.Context, windows []collectors.Window, advance bool) Result {
	var res Result
	var errs []error
	for i, w := range windows {
		if ctx.Err() != nil {
			errs = append(errs, ctx.Err())
			break
		}
		err := r.Collector.Collect(ctx, w, r.Emitter)
		switch {
		case errors.Is(err, collectors.ErrNoData):
			res.NoData++
			r.log().Debug("no data yet", "collector", r.Name, "window", w.String())
			// Later windows cannot be complete either; stop here so the
			// checkpoint stays before the unpublished window.
			return finish(res, errs)
		case err != nil:
			// Keep what was emitted; do not move the checkpoint past a
			// window that failed, so the next run retries it.
			errs = append(errs, fmt.Errorf("window %s: %w", w, err))
			r.log().Error("collect failed", "collector", r.Name, "window", w.String(), "err", err)
			if ferr := r.flush(ctx); ferr != nil {
				errs = append(errs, ferr)
			}
			return finish(res, errs)
		}
		if !advance {
			if err := r.flush(ctx); err != nil {
				errs = append(errs, err)
				return finish(res, errs)
			}
		} else if durable, err := r.commit(ctx, w.End); err != nil {
			errs = append(errs, err)
			if durable {
				res.Windows++ // collected and durable; only the checkpoint was not saved
			}
			return finish(res, errs)
		}
		res.Windows++
		if r.Progress != nil {
			r.Progress(i+1, len(windows), w)
		}
	}
	return finish(res, errs)
}

// commit makes everything emitted so far durable (sent or spooled) and
// only then moves the checkpoint to end, never past our clock (an explicit
// window or a vendor's stamp may lie ahead of it). Windows and streams both
// move their checkpoints here. durable reports whether the flush succeeded.
func (r *Runner) commit(ctx context.Context, end time.Time) (durable bool, err error) {
	if err := r.flush(ctx); err != nil {
		return false, err
	}
	if r.Store == nil {
		return true, nil
	}
	now := r.now()
	return true, r.Store.Set(r.Name, state.Checkpoint{End: notAfter(end, now), Updated: now})
}

// FollowStream records a streaming collector's progress until ctx ends:
// every interval (and once more as ctx ends, within 10 seconds), newest —
// the end of the newest interval emitted, zero while none was — becomes the
// checkpoint once commit has made the points durable, so a restart catches
// up only what it missed. Without a Store it only waits for ctx.
func (r *Runner) FollowStream(ctx context.Context, every time.Duration, newest func() time.Time) {
	if r.Store == nil {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	save := func(ctx context.Context) {
		end := newest()
		if end.IsZero() {
			return
		}
		if durable, err := r.commit(ctx, end); !durable {
			// Not durable (or stopping): the checkpoint stays put.
			r.log().Warn("checkpoint not moved: points not yet delivered or spooled", "collector", r.Name, "err", err)
		} else if err != nil {
			r.log().Error("checkpoint not saved", "collector", r.Name, "err", err)
		}
	}
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			save(fctx)
			cancel()
			return
		case <-t.C:
			save(ctx)
		}
	}
}

func finish(res Result, errs []error) Result {
	res.Err = errors.Join(errs...)
	return res
}

func (r *Runner) flush(ctx context.Context) error {
	if r.Flush == nil {
		return nil
	}
	if err := r.Flush(ctx); err != nil {
		return fmt.Errorf("flush sink: %w", err)
	}
	return nil
}

func (r *Runner) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func (r *Runner) log() *slog.Logger {
	if r.Logger != nil {
		return r.Logger
	}
	return slog.Default()
}
