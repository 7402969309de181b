package scheduler

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/internal/state"
)

var t0 = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

func TestPlanFirstRunUsesLookbackAndDelay(t *testing.T) {
	tm := collectors.Timing{Step: time.Minute, Delay: 5 * time.Minute, Lookback: time.Hour}
	// now 12:07:30, delay 5m → 12:02:30 → aligned 12:02; start = 11:02.
	p := PlanWindows(tm, t0.Add(7*time.Minute+30*time.Second), time.Time{}, 24*time.Hour)
	if len(p.Windows) != 1 {
		t.Fatalf("windows = %v", p.Windows)
	}
	w := p.Windows[0]
	if !w.Start.Equal(t0.Add(-58*time.Minute)) || !w.End.Equal(t0.Add(2*time.Minute)) {
		t.Fatalf("window = %v, want 11:02/12:02", w)
	}
}

func TestPlanOverlapsCheckpointAndChunks(t *testing.T) {
	tm := collectors.Timing{Step: 5 * time.Minute, Delay: 15 * time.Minute, Overlap: 15 * time.Minute, MaxWindow: time.Hour}
	cp := t0.Add(-2 * time.Hour) // 10:00
	// now 12:20 → end 12:05; start = 10:00 - 15m = 09:45; span 2h20m → chunks 1h, 1h, 20m.
	p := PlanWindows(tm, t0.Add(20*time.Minute), cp, 24*time.Hour)
	if len(p.Windows) != 3 {
		t.Fatalf("windows = %v, want 3", p.Windows)
	}
	if !p.Windows[0].Start.Equal(t0.Add(-135*time.Minute)) || !p.Windows[2].End.Equal(t0.Add(5*time.Minute)) {
		t.Fatalf("windows = %v", p.Windows)
	}
	if got := p.Windows[2].End.Sub(p.Windows[2].Start); got != 20*time.Minute {
		t.Fatalf("last chunk = %v, want 20m", got)
	}
}

func TestPlanCapsCatchupAndSaysWhatItSkipped(t *testing.T) {
	tm := collectors.Timing{Step: time.Minute}
	cp := t0.Add(-48 * time.Hour)
	p := PlanWindows(tm, t0, cp, 6*time.Hour)
	if !p.Skipped.Start.Equal(cp) || !p.Skipped.End.Equal(t0.Add(-6*time.Hour)) {
		t.Fatalf("skipped = %v", p.Skipped)
	}
	if !p.Windows[0].Start.Equal(t0.Add(-6 * time.Hour)) {
		t.Fatalf("first window = %v", p.Windows[0])
	}
}

type scripted struct {
	calls []collectors.Window
	fail  map[int]error
}

func (s *scripted) Collect(ctx context.Context, w collectors.Window, e collectors.Emitter) error {
	s.calls = append(s.calls, w)
	return s.fail[len(s.calls)-1]
}

func TestRunnerMovesCheckpointOnlyPastGoodWindows(t *testing.T) {
	st, err := state.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c := &scripted{fail: map[int]error{1: errors.New("vendor said 500")}}
	flushes := 0
	r := &Runner{
		Name: "x", Collector: c, Store: st,
		Timing:  collectors.Timing{Step: time.Minute, Lookback: 3 * time.Hour, MaxWindow: time.Hour},
		Flush:   func(context.Context) error { flushes++; return nil },
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
		Now:     func() time.Time { return t0 },
		Emitter: collectors.EmitterFunc(func(context.Context, collectors.Batch) error { return nil }),
	}
	res := r.RunOnce(context.Background())
	if res.Err == nil || res.Windows != 1 || len(c.calls) != 2 {
		t.Fatalf("res = %+v calls = %d; want the second window to fail and stop the run", res, len(c.calls))
	}
	if flushes != 2 {
		t.Fatalf("flushes = %d, want 2 (after the good and the failed window)", flushes)
	}
	cp, _, _ := st.Get("x")
	if !cp.End.Equal(t0.Add(-2 * time.Hour)) {
		t.Fatalf("checkpoint = %v, want end of the first window (10:00)", cp.End)
	}
	// Next run starts at the checkpoint (no overlap configured): 10:00.
	c.fail = nil
	c.calls = nil
	res = r.RunOnce(context.Background())
	if res.Err != nil || !c.calls[0].Start.Equal(t0.Add(-2*time.Hour)) {
		t.Fatalf("resume: res=%+v first=%v", res, c.calls)
	}
}

func TestRunnerStopsAtNoData(t *testing.T) {
	c := &scripted{fail: map[int]error{0: collectors.ErrNoData}}
	r := &Runner{Name: "x", Collector: c, Timing: collectors.Timing{Step: time.Minute, Lookback: 2 * time.Hour, MaxWindow: time.Hour}, Now: func() time.Time { return t0 }, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	res := r.RunOnce(context.Background())
	if res.Err != nil || res.NoData != 1 || len(c.calls) != 1 {
		t.Fatalf("res = %+v calls=%d", res, len(c.calls))
	}
}
