package scheduler

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/internal/state"
)

// A checkpoint in 2100 (left by a vendor clock an older build trusted)
// must not make every run plan nothing: it is reset to now minus the
// look-back, with a warning, and stored.
func TestRunnerResetsCheckpointInTheFuture(t *testing.T) {
	st, err := state.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	y2100 := time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := st.Set("x", state.Checkpoint{End: y2100}); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	c := &scripted{}
	r := &Runner{
		Name: "x", Collector: c, Store: st,
		Timing:  collectors.Timing{Step: time.Minute, Delay: 5 * time.Minute, Lookback: time.Hour, MaxWindow: 6 * time.Hour},
		Logger:  slog.New(slog.NewTextHandler(&logs, nil)),
		Now:     func() time.Time { return t0 }, // 12:00
		Emitter: collectors.EmitterFunc(func(context.Context, collectors.Batch) error { return nil }),
	}
	res := r.RunOnce(context.Background())
	// now 12:00, delay 5m → end 11:55; look-back 1h → 10:55.
	want := collectors.Window{Start: t0.Add(-65 * time.Minute), End: t0.Add(-5 * time.Minute)}
	if res.Err != nil || res.Windows != 1 || len(c.calls) != 1 || c.calls[0] != want {
		t.Fatalf("res = %+v calls = %v; want one window %v", res, c.calls, want)
	}
	if !res.CheckpointReset {
		t.Errorf("Result.CheckpointReset not set")
	}
	if n := strings.Count(logs.String(), "checkpoint is in the future"); n != 1 {
		t.Errorf("%d warnings, want 1:\n%s", n, logs.String())
	}
	cp, _, _ := st.Get("x")
	if !cp.End.Equal(want.End) {
		t.Errorf("checkpoint = %v, want %v", cp.End, want.End)
	}
	// The next run is an ordinary one.
	res = r.RunOnce(context.Background())
	if res.CheckpointReset {
		t.Errorf("second run reset the checkpoint again")
	}
}

// An explicit window ending in the future (collect/backfill --to) never
// moves the checkpoint past our clock.
func TestRunnerNeverStoresCheckpointPastNow(t *testing.T) {
	st, err := state.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	r := &Runner{
		Name: "x", Collector: &scripted{}, Store: st,
		Timing:  collectors.Timing{Step: time.Minute, MaxWindow: time.Hour},
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
		Now:     func() time.Time { return t0 },
		Emitter: collectors.EmitterFunc(func(context.Context, collectors.Batch) error { return nil }),
	}
	res := r.RunWindow(context.Background(), collectors.Window{Start: t0.Add(-30 * time.Minute), End: t0.Add(90 * time.Minute)}, true)
	if res.Err != nil || res.Windows != 2 {
		t.Fatalf("res = %+v", res)
	}
	cp, ok, _ := st.Get("x")
	if !ok || cp.End.After(t0) {
		t.Fatalf("checkpoint = %v (ok %v), want at most now %v", cp.End, ok, t0)
	}
}

// A torn or hand-broken checkpoint file must not stop the collector run
// after run: it is set aside (kept for inspection), the run collects from
// now minus the look-back like a first run, the reset is reported, and the
// next run is ordinary.
func TestRunnerSetsAsideCorruptCheckpoint(t *testing.T) {
	dir := t.TempDir()
	st, err := state.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Set("x", state.Checkpoint{End: t0.Add(-10 * time.Minute)}); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*", "x.json"))
	if len(files) == 0 {
		files, _ = filepath.Glob(filepath.Join(dir, "x.json"))
	}
	if len(files) != 1 {
		t.Fatalf("checkpoint file not found under %s", dir)
	}
	if err := os.WriteFile(files[0], []byte(`{"end":"2026-`), 0o640); err != nil { // truncated
		t.Fatal(err)
	}
	var logs bytes.Buffer
	c := &scripted{}
	r := &Runner{
		Name: "x", Collector: c, Store: st,
		Timing:  collectors.Timing{Step: time.Minute, Delay: 5 * time.Minute, Lookback: time.Hour, MaxWindow: 6 * time.Hour},
		Logger:  slog.New(slog.NewTextHandler(&logs, nil)),
		Now:     func() time.Time { return t0 }, // 12:00
		Emitter: collectors.EmitterFunc(func(context.Context, collectors.Batch) error { return nil }),
	}
	res := r.RunOnce(context.Background())
	// now 12:00, delay 5m → end 11:55; look-back 1h → 10:55.
	want := collectors.Window{Start: t0.Add(-65 * time.Minute), End: t0.Add(-5 * time.Minute)}
	if res.Err != nil || res.Windows != 1 || len(c.calls) != 1 || c.calls[0] != want {
		t.Fatalf("res = %+v calls = %v; want one window %v", res, c.calls, want)
	}
	if !res.CheckpointReset {
		t.Errorf("Result.CheckpointReset not set")
	}
	if n := strings.Count(logs.String(), "checkpoint unreadable"); n != 1 {
		t.Errorf("%d error lines, want 1:\n%s", n, logs.String())
	}
	if kept, _ := filepath.Glob(files[0] + ".corrupt-*"); len(kept) != 1 {
		t.Errorf("corrupt file not set aside: %v", kept)
	}
	if cp, ok, err := st.Get("x"); err != nil || !ok || !cp.End.Equal(want.End) {
		t.Errorf("checkpoint = %v ok %v err %v, want %v", cp.End, ok, err, want.End)
	}
	if res = r.RunOnce(context.Background()); res.Err != nil || res.CheckpointReset {
		t.Errorf("second run: %+v", res)
	}
}
