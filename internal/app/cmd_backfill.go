package app

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/internal/scheduler"
	"github.com/cdnmetrics/cdnmetrics/internal/timespec"
)

func init() {
	register(Command{Name: "backfill", Summary: "collect a past window in chunks, resumably", Run: runBackfill})
}

func runBackfill(ctx context.Context, stdio IO, args []string) int {
	fs := newFlags(stdio, "backfill", `
Collects [--from, --to) from the vendors' historical APIs in chunks (each
collector's maximum window), within each vendor's request budget. Progress
is saved after every chunk under state_dir/backfill, keyed on the arguments
as typed, so running the same command again continues where it stopped:
relative times (-1d, now) are resolved on the first run and kept. Run again
after it finished, or after 24 hours without progress, a command with
relative times starts a new backfill from now. Shows a progress bar on a
terminal and plain log lines otherwise. Checkpoints of collect/run are not
touched.`)
	path := fs.String("config", "./config.toml", "config file")
	only := fs.String("collector", "", "backfill only this collector")
	service := fs.String("service", "", "backfill only this service (collectors that support it)")
	from := fs.String("from", "", "start (RFC 3339, Unix seconds or -7d)")
	to := fs.String("to", "now", "end, exclusive")
	shardFlag := fs.String("shard", "", "collect only the services of shard i/n (overrides shard in the config)")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	now := backfillNow()
	f, err1 := timespec.Parse(*from, now)
	t, err2 := timespec.Parse(*to, now)
	if *from == "" || err1 != nil || err2 != nil || !t.After(f) {
		fmt.Fprintf(stdio.Stderr, "backfill: need --from < --to (got %q, %q)\n", *from, *to)
		return 2
	}
	cfg, ok := loadCommandConfig(fs, stdio, *path)
	if !ok {
		return 2
	}
	if *shardFlag != "" {
		cfg.Shard = *shardFlag
	}
	if startupRefused(stdio, cfg, "backfill") || collectorRefused(stdio, cfg, "backfill", *only) {
		return 2
	}
	rt, err := newRuntime(cfg, stdio, false)
	if err != nil {
		fmt.Fprintf(stdio.Stderr, "backfill: %v\n", err)
		return 1
	}
	defer rt.close()
	bs, err := rt.build(*only)
	if err != nil {
		fmt.Fprintf(stdio.Stderr, "backfill: %v\n", err)
		return 2
	}
	progress := backfillResume{dir: filepath.Join(cfg.StateDir, "backfill")}
	if err := os.MkdirAll(progress.dir, 0o750); err != nil {
		fmt.Fprintf(stdio.Stderr, "backfill: %v\n", err)
		return 1
	}
	failed := 0
	for _, b := range bs {
		if *service != "" {
			sel, ok := b.c.(collectors.ServiceSelector)
			if !ok {
				fmt.Fprintf(stdio.Stderr, "backfill: %s cannot select services; omit --service\n", b.cfg.Name)
				return 2
			}
			if err := sel.SelectServices([]string{*service}); err != nil {
				fmt.Fprintf(stdio.Stderr, "backfill: %s: %v\n", b.cfg.Name, err)
				return 2
			}
		}
		step := b.timing.Step
		if step <= 0 {
			step = time.Minute
		}
		args := backfillArgs{Collector: b.cfg.Name, From: strings.TrimSpace(*from), To: strings.TrimSpace(*to), Service: *service, Shard: cfg.Shard}
		fresh := collectors.Window{Start: f.Truncate(step), End: t.Truncate(step)}
		rec, resumed, note := progress.plan(args, fresh, now)
		switch {
		case resumed:
			rt.logger.Info("resuming backfill", "collector", b.cfg.Name, "window", rec.window().String(),
				"resolved_at", rec.Created.UTC().Format(time.RFC3339), "done_until", rec.Done.UTC().Format(time.RFC3339))
		case note != "":
			rt.logger.Warn(note, "collector", b.cfg.Name)
		}
		if rec.complete() {
			fmt.Fprintf(stdio.Stdout, "backfill: %s already complete for this window\n", b.cfg.Name)
			continue
		}
		// Saved before the first chunk: a backfill killed during it still
		// resumes over the window its arguments resolved to now.
		if err := progress.save(rec); err != nil {
			fmt.Fprintf(stdio.Stderr, "backfill: %s: progress: %v\n", b.cfg.Name, err)
			failed++
			continue
		}
		w := collectors.Window{Start: rec.Done, End: rec.End}
		bar := backfillProgress(stdio, rt, b.cfg.Name, len(scheduler.Chunk(w, b.timing.MaxWindow, step)))
		var saveErr error
		r := *b.runner
		r.Store = nil // backfill keeps its own progress; checkpoints of collect/run stay
		r.Progress = func(done, total int, cw collectors.Window) {
			rec.Done, rec.Updated = cw.End, backfillNow()
			if err := progress.save(rec); err != nil && saveErr == nil {
				saveErr = err
				rt.logger.Error("backfill progress not saved; a rerun repeats the chunks since the last save", "collector", b.cfg.Name, "err", err)
			}
			bar(done, total, cw)
		}
		res := r.RunWindow(ctx, w, false)
		if res.Err == nil && saveErr != nil {
			res.Err = fmt.Errorf("progress: %w", saveErr)
		}
		rt.pipe.Record(b.cfg.Name, res)
		if res.Err != nil {
			failed++
			fmt.Fprintf(stdio.Stderr, "\nbackfill: %s stopped after %d chunk(s): %v\nrun the same command again to continue\n", b.cfg.Name, res.Windows, oneLine(res.Err))
			continue
		}
		fmt.Fprintf(stdio.Stdout, "backfill: %s done: %d chunk(s), %d points\n", b.cfg.Name, res.Windows, rt.pipe.Points(b.cfg.Name))
	}
	if failed > 0 {
		return 1
	}
	return 0
}

// backfillProgress draws a bar on a terminal and logs one line per chunk
// elsewhere (cron mail, CI logs).
func backfillProgress(stdio IO, rt *program, name string, total int) func(done, total int, w collectors.Window) {
	if f, ok := stdio.Stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		bar := progressbar.NewOptions(total, progressbar.OptionSetWriter(f), progressbar.OptionSetDescription(name),
			progressbar.OptionShowCount(), progressbar.OptionSetPredictTime(true), progressbar.OptionClearOnFinish())
		return func(done, _ int, _ collectors.Window) { _ = bar.Set(done) }
	}
	return func(done, total int, w collectors.Window) {
		rt.logger.Info("backfill chunk done", "collector", name, "chunk", fmt.Sprintf("%d/%d", done, total), "until", strings.TrimSuffix(w.End.UTC().Format(time.RFC3339), "Z")+"Z")
	}
}
