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
	"github.com/cdnmetrics/cdnmetrics/internal/state"
	"github.com/cdnmetrics/cdnmetrics/internal/timespec"
)

func init() {
	register(Command{Name: "backfill", Summary: "collect a past window in chunks, resumably", Run: runBackfill})
}

func runBackfill(ctx context.Context, stdio IO, args []string) int {
	fs := newFlags(stdio, "backfill", `
Collects [--from, --to) from the vendors' historical APIs in chunks (each
collector's maximum window), within each vendor's request budget. Progress
is saved after every chunk under state_dir/backfill, so running the same
command again continues where it stopped. Shows a progress bar on a
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
	now := time.Now()
	f, err1 := timespec.Parse(*from, now)
	t, err2 := timespec.Parse(*to, now)
	if *from == "" || err1 != nil || err2 != nil || !t.After(f) {
		fmt.Fprintf(stdio.Stderr, "backfill: need --from < --to (got %q, %q)\n", *from, *to)
		return 2
	}
	cfg, ok := loadConfig(stdio, *path)
	if !ok {
		return 2
	}
	if *shardFlag != "" {
		cfg.Shard = *shardFlag
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
	progress, err := state.OpenDir(filepath.Join(cfg.StateDir, "backfill"))
	if err != nil {
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
		w := collectors.Window{Start: f.Truncate(step), End: t.Truncate(step)}
		id := fmt.Sprintf("%s_%s_%d_%d", b.cfg.Name, *service, w.Start.Unix(), w.End.Unix())
		if cp, ok, err := progress.Get(id); err == nil && ok && cp.End.After(w.Start) {
			rt.logger.Info("resuming backfill", "collector", b.cfg.Name, "done_until", cp.End.UTC().Format(time.RFC3339))
			w.Start = cp.End
		}
		if !w.End.After(w.Start) {
			fmt.Fprintf(stdio.Stdout, "backfill: %s already complete for this window\n", b.cfg.Name)
			continue
		}
		r := *b.runner
		r.Name, r.Store = id, progress
		r.Progress = backfillProgress(stdio, rt, b.cfg.Name, len(scheduler.Chunk(w, b.timing.MaxWindow, step)))
		res := r.RunWindow(ctx, w, true)
		rt.record(b.cfg.Name, res)
		if res.Err != nil {
			failed++
			fmt.Fprintf(stdio.Stderr, "\nbackfill: %s stopped after %d chunk(s): %v\nrun the same command again to continue\n", b.cfg.Name, res.Windows, oneLine(res.Err))
			continue
		}
		fmt.Fprintf(stdio.Stdout, "backfill: %s done: %d chunk(s), %d points\n", b.cfg.Name, res.Windows, rt.statsFor(b.cfg.Name).points.Load())
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
