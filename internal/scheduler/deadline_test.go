package scheduler

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
)

// A daemon run gets a deadline of one schedule period even when the job
// itself would wait forever (here: a vendor that never answers).
func TestDaemonRunEndsAtSchedulePeriod(t *testing.T) {
	type ended struct {
		err     error
		elapsed time.Duration
	}
	runs := make(chan ended, 4)
	d := NewDaemon(slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	err := d.Add(ctx, Job{Name: "stuck", Schedule: "@every 1s", Run: func(ctx context.Context) {
		start := time.Now()
		select {
		case <-ctx.Done():
			runs <- ended{ctx.Err(), time.Since(start)}
		case <-time.After(8 * time.Second):
			runs <- ended{nil, time.Since(start)}
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	d.Start()
	defer d.Stop(10 * time.Second)
	select {
	case r := <-runs:
		if !errors.Is(r.err, context.DeadlineExceeded) {
			t.Fatalf("run ended after %v with %v; want its 1s run deadline", r.elapsed, r.err)
		}
		if r.elapsed > 2500*time.Millisecond {
			t.Fatalf("run lasted %v; the schedule period is 1s", r.elapsed)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("no run ended within 15s")
	}
	cancel()
}

// A run stopped by its run deadline is a failed run whose error says so,
// after the windows it completed.
func TestRunnerReportsRunDeadline(t *testing.T) {
	calls := 0
	blocking := collectorFunc(func(ctx context.Context, w collectors.Window, e collectors.Emitter) error {
		calls++
		if calls == 1 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Second):
			return errors.New("test bound: the run deadline never came")
		}
	})
	r := &Runner{Name: "x", Collector: blocking, Now: func() time.Time { return t0 },
		Timing: collectors.Timing{Step: time.Minute, Lookback: 2 * time.Hour, MaxWindow: time.Hour},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	ctx, cancel := WithRunDeadline(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	res := r.RunOnce(ctx)
	if elapsed := time.Since(start); elapsed > 3*time.Second {
		t.Fatalf("run took %v, deadline 200ms", elapsed)
	}
	var de *RunDeadlineError
	if !errors.As(res.Err, &de) || de.Timeout != 200*time.Millisecond || !errors.Is(res.Err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want a RunDeadlineError of 200ms", res.Err)
	}
	if res.Windows != 1 || !strings.Contains(res.Err.Error(), "run deadline of 200ms reached after 1 window(s)") {
		t.Fatalf("res = %+v (%v)", res, res.Err)
	}
}

type collectorFunc func(ctx context.Context, w collectors.Window, e collectors.Emitter) error

func (f collectorFunc) Collect(ctx context.Context, w collectors.Window, e collectors.Emitter) error {
	return f(ctx, w, e)
}

// The default run deadline ends a run shortly before its next activation.
func TestUntilNext(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 2, 30, 0, time.UTC)
	for spec, want := range map[string]time.Duration{
		"@every 1m":   55 * time.Second,                     // 60 s less 5 s
		"@every 10s":  9 * time.Second,                      // 10 s less a tenth
		"*/5 * * * *": 145 * time.Second,                    // 12:02:30 → 12:05:00 is 150 s, less 5 s
		"@every 1s":   time.Second,                          // never below a second
		"0 0 * * *":   (11*3600 + 57*60 + 25) * time.Second, // to midnight (11h57m30s) less 5 s
	} {
		s, err := ParseSchedule(spec)
		if err != nil {
			t.Fatal(err)
		}
		if got := untilNext(s, at); got != want {
			t.Errorf("%s: untilNext = %v, want %v", spec, got, want)
		}
	}
}
