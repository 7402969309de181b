package scheduler

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// DefaultOneShotTimeout bounds a run that has no schedule to end before
// (one `collect`, the catch-up before a stream) when run_timeout is not set.
const DefaultOneShotTimeout = 10 * time.Minute

// minRunTimeout keeps a run deadline computed from a schedule sane when
// the next activation is (nearly) now.
const minRunTimeout = time.Second

// untilNext is the default deadline of a scheduled run that starts at now:
// the time to the next activation, less a tenth of it (at most 5 s), so
// that a run stopped by its deadline has unwound and flushed before the
// next one is due instead of making it a skip.
func untilNext(sched interface{ Next(time.Time) time.Time }, now time.Time) time.Duration {
	d := sched.Next(now).Sub(now)
	d -= min(d/10, 5*time.Second)
	return max(d, minRunTimeout)
}

// RunDeadlineError is the cause of a run's context ending at its run
// deadline. errors.Is(err, context.DeadlineExceeded) holds for it.
type RunDeadlineError struct {
	Timeout time.Duration
}

func (e *RunDeadlineError) Error() string {
	return fmt.Sprintf("run deadline of %v reached", e.Timeout)
}

// Is makes a run deadline a context deadline for errors.Is.
func (e *RunDeadlineError) Is(target error) bool { return target == context.DeadlineExceeded }

// WithRunDeadline returns ctx bounded by d for one run. A Runner whose run
// ends because of it reports a *RunDeadlineError (wrapping what failed),
// so the run counts as failed and says why.
func WithRunDeadline(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeoutCause(ctx, d, &RunDeadlineError{Timeout: d})
}

// runDeadline puts the run deadline in front of err when ctx ended at it.
func runDeadline(ctx context.Context, res Result) error {
	if res.Err == nil {
		return nil
	}
	var de *RunDeadlineError
	if errors.As(context.Cause(ctx), &de) && !errors.As(res.Err, &de) {
		return fmt.Errorf("%w after %d window(s): %w", de, res.Windows, res.Err)
	}
	return res.Err
}
