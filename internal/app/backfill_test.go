package app

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
)

// minutesSent returns the distinct timestamps of fakecdn's requests lines
// carbon got, once n of them arrived (or after 5 s) and a moment more for
// any extra ones.
func (fc *fakeCarbon) minutesSent(n int) []int64 {
	const prefix = "cdn.fakecdn.www.lhr.requests "
	collect := func() []int64 {
		fc.mu.Lock()
		defer fc.mu.Unlock()
		seen := map[int64]bool{}
		for _, l := range fc.lines {
			if rest, ok := strings.CutPrefix(l, prefix); ok {
				var v float64
				var ts int64
				if _, err := fmt.Sscanf(rest, "%g %d", &v, &ts); err == nil {
					seen[ts] = true
				}
			}
		}
		out := make([]int64, 0, len(seen))
		for ts := range seen {
			out = append(out, ts)
		}
		sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
		return out
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(collect()) < n && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
	return collect()
}

// `backfill --from -30min` (with the default --to now) stopped after chunk
// 3 and run again a minute later resumes at chunk 4 of the window resolved
// on the first run, and keeps one progress file.
func TestBackfillResumesRelativeArgumentsResolvedOnce(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "config.toml")
	writeCfg := func(carbon, extra string) {
		text := fmt.Sprintf("state_dir = %q\n[graphite]\naddress = %q\nprefix = \"cdn\"\nspool_max_bytes = 0\n[fakecdn]\ntoken_env = \"FAKECDN_TOKEN\"\n%s",
			filepath.Join(dir, "state"), carbon, extra)
		if err := os.WriteFile(cfgPath, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	defer func(old func() time.Time) { backfillNow = old }(backfillNow)

	// First run at 22:13:20: -30min..now, aligned to the minute, is
	// [21:43:00, 22:13:00) = [1699998180, 1699999980): six 5-minute chunks.
	// fail_at 1699999100 lies in chunk 4, [1699999080, 1699999380).
	t0 := time.Unix(1700000000, 0)
	backfillNow = func() time.Time { return t0 }
	writeCfg(newFakeCarbon(t).ln.Addr().String(), "fail_at = 1699999100\n")
	code, out, errs := run(t, "backfill", "--config", cfgPath, "--collector", "fakecdn", "--from", "-30min")
	if code != 1 || !strings.Contains(errs, "fakecdn stopped after 3 chunk(s)") {
		t.Fatalf("first run: exit %d, want 1 after 3 chunks\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}

	// Killed, fixed, and run again a minute later with the same command.
	backfillNow = func() time.Time { return t0.Add(time.Minute) }
	fc := newFakeCarbon(t)
	writeCfg(fc.ln.Addr().String(), "")
	code, out, errs = run(t, "backfill", "--config", cfgPath, "--collector", "fakecdn", "--from", "-30min")
	if code != 0 || !strings.Contains(errs, "resuming backfill") || !strings.Contains(errs, "done_until=2023-11-14T21:58:00Z") {
		t.Fatalf("second run: exit %d, want it to resume at 21:58 (chunk 4)\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	// Chunks 4 to 6 of the first run's window, and nothing else: the
	// 15 minutes 1699999080, 1699999140, …, 1699999920.
	var want []int64
	for ts := int64(1699999080); ts < 1699999980; ts += 60 {
		want = append(want, ts)
	}
	if got := fc.minutesSent(len(want)); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("second run sent minutes\n%v\nwant chunks 4-6 of the first window\n%v", got, want)
	}
	files, err := os.ReadDir(filepath.Join(dir, "state", "backfill"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 1 {
		var names []string
		for _, f := range files {
			names = append(names, f.Name())
		}
		t.Errorf("progress files %v, want one", names)
	}

	// Run once more: the backfill of these arguments is complete, so the
	// same relative command starts a new one over the window from now.
	backfillNow = func() time.Time { return t0.Add(2 * time.Minute) }
	fc = newFakeCarbon(t)
	writeCfg(fc.ln.Addr().String(), "")
	code, out, errs = run(t, "backfill", "--config", cfgPath, "--collector", "fakecdn", "--from", "-30min")
	if code != 0 || !strings.Contains(out, "fakecdn done: 6 chunk(s)") {
		t.Fatalf("third run: exit %d, want a new 6-chunk backfill\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	// [22:15:20 - 30 min, 22:15:20) aligned: [1699998300, 1700000100).
	if got := fc.minutesSent(30); len(got) != 30 || got[0] != 1699998300 || got[29] != 1700000040 {
		t.Errorf("third run sent %d minutes from %v, want 30 from 1699998300", len(got), got)
	}
}

// Absolute arguments that finished say so and collect nothing again.
func TestBackfillAbsoluteWindowCompleteIsNotRepeated(t *testing.T) {
	fc := newFakeCarbon(t)
	cfg := writeConfig(t, fc.ln.Addr().String(), "")
	args := []string{"backfill", "--config", cfg, "--collector", "fakecdn", "--from", "1699999980", "--to", "1700000280"}
	if code, out, errs := run(t, args...); code != 0 || !strings.Contains(out, "fakecdn done: 1 chunk(s)") {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	if code, out, errs := run(t, args...); code != 0 || !strings.Contains(out, "fakecdn already complete for this window") {
		t.Fatalf("rerun: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
}

// What a rerun does with the progress file of the same arguments.
func TestBackfillPlan(t *testing.T) {
	b := backfillResume{dir: t.TempDir()}
	a := backfillArgs{Collector: "fakecdn", From: "-1d", To: "now"}
	t0 := time.Unix(1700000000, 0).UTC()
	stored := collectors.Window{Start: t0.Add(-24 * time.Hour), End: t0}
	fresh := collectors.Window{Start: stored.Start.Add(time.Hour), End: stored.End.Add(time.Hour)}
	save := func(done time.Time, updated time.Time) {
		if err := b.save(backfillRecord{Args: a, Start: stored.Start, End: stored.End, Done: done, Created: t0, Updated: updated}); err != nil {
			t.Fatal(err)
		}
	}
	// Unfinished, touched 1 h ago: resumed over the stored window.
	save(stored.Start.Add(6*time.Hour), t0)
	if rec, resumed, _ := b.plan(a, fresh, t0.Add(time.Hour)); !resumed || !sameWindow(rec.window(), stored) || !rec.Done.Equal(stored.Start.Add(6*time.Hour)) {
		t.Errorf("recent unfinished: plan %v done %v, want the stored window at its 6th hour", rec.window(), rec.Done)
	}
	// Unfinished but untouched for 25 h: a new backfill of the fresh window.
	if rec, _, note := b.plan(a, fresh, t0.Add(25*time.Hour)); !sameWindow(rec.window(), fresh) || !rec.Done.Equal(fresh.Start) || !strings.Contains(note, "has not moved for 25h0m0s") {
		t.Errorf("stale: plan %v done %v (%q), want the fresh window from its start", rec.window(), rec.Done, note)
	}
	// Another argument (another --service) is another backfill.
	other := a
	other.Service = "www"
	if rec, _, note := b.plan(other, fresh, t0); !sameWindow(rec.window(), fresh) || note != "" {
		t.Errorf("other arguments: plan %v (%q), want a plain new backfill", rec.window(), note)
	}
	// A corrupt file is reported and replaced, never fatal.
	if err := os.WriteFile(b.path(a), []byte("{\"start\":"), 0o600); err != nil {
		t.Fatal(err)
	}
	if rec, _, note := b.plan(a, fresh, t0); !sameWindow(rec.window(), fresh) || !strings.Contains(note, "corrupt") {
		t.Errorf("corrupt: plan %v (%q), want the fresh window and a note", rec.window(), note)
	}
}
