package app

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/internal/config"
	"github.com/cdnmetrics/cdnmetrics/internal/redact"
	"github.com/cdnmetrics/cdnmetrics/internal/scheduler"
	"github.com/cdnmetrics/cdnmetrics/internal/timespec"
)

func init() {
	register(Command{Name: "collect", Summary: "collect once (for system cron) and exit", Run: runCollect})
}

func runCollect(ctx context.Context, stdio IO, args []string) int {
	fs := newFlags(stdio, "collect", `
Runs every configured collector (or --collector NAME) once over the window
since its last completed interval (the look-back when there is none, capped
at max_catchup), flushes the sink, prints a one-line summary and exits
non-zero if any collector failed. With --from and --to it collects exactly
that window (RFC 3339 or Unix seconds) and leaves checkpoints alone. The run
ends at run_timeout (default 10m): a collector still running then FAILED.`)
	path := fs.String("config", "./config.toml", "config file")
	only := fs.String("collector", "", "run only this collector")
	from := fs.String("from", "", "start of an explicit window (RFC 3339 or Unix seconds)")
	to := fs.String("to", "", "end of an explicit window (exclusive)")
	dry := fs.Bool("dry-run", false, "print Graphite plaintext lines to stdout instead of sending them")
	sim := fs.Bool("simulate", false, "point every collector at a built-in simulator (demo, tests)")
	seed := fs.Int64("seed", 1, "simulator seed, with --simulate")
	shardFlag := fs.String("shard", "", "collect only the services of shard i/n (overrides shard in the config)")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if (*from == "") != (*to == "") {
		fmt.Fprintln(stdio.Stderr, "collect: --from and --to go together")
		return 2
	}
	var cfg *config.Config
	if *sim {
		// A simulated dry run is a demo: it leaves no .state/ (nor any
		// other state) behind, wherever it is run.
		stateDir := ""
		if *dry {
			tmp, err := os.MkdirTemp("", "cdnmetrics-simulate-")
			if err != nil {
				fmt.Fprintf(stdio.Stderr, "collect: %v\n", err)
				return 1
			}
			defer os.RemoveAll(tmp)
			stateDir = tmp
		}
		c, srv, ok := simulatedIn(stdio, *path, *seed, stateDir)
		if !ok {
			return 2
		}
		defer srv.Close()
		cfg, stdio = c, simEnv(stdio)
		applyLogLevel(fs, cfg)
	} else {
		c, ok := loadCommandConfig(fs, stdio, *path)
		if !ok {
			return 2
		}
		cfg = c
	}
	var window *collectors.Window
	if *from != "" {
		now := time.Now()
		f, err1 := timespec.Parse(*from, now)
		t, err2 := timespec.Parse(*to, now)
		if err1 != nil || err2 != nil || !t.After(f) {
			fmt.Fprintf(stdio.Stderr, "collect: bad window --from %q --to %q: want from < to\n", *from, *to)
			return 2
		}
		window = &collectors.Window{Start: f, End: t}
	}
	if *shardFlag != "" {
		cfg.Shard = *shardFlag
	}
	if startupRefused(stdio, cfg, "collect") || collectorRefused(stdio, cfg, "collect", *only) {
		return 2
	}
	rt, err := newRuntime(cfg, stdio, *dry)
	if err != nil {
		fmt.Fprintf(stdio.Stderr, "collect: %v\n", err)
		return 1
	}
	if err := rt.startFeeds(ctx); err != nil {
		fmt.Fprintf(stdio.Stderr, "%v\n", err)
		rt.close()
		return 2
	}
	if err := rt.setupEvents(); err != nil {
		fmt.Fprintf(stdio.Stderr, "collect: %v\n", err)
		rt.close()
		return 2
	}
	bs, err := rt.build(*only)
	if err != nil {
		fmt.Fprintf(stdio.Stderr, "collect: %v\n", err)
		rt.close()
		return 2
	}
	start := time.Now()
	results := make([]scheduler.Result, len(bs))
	// One deadline for the run (run_timeout, by default 10 minutes): a
	// vendor that answers slowly fails its collector, it never holds cron's
	// next run. The sink is flushed afterwards with ctx, not runCtx.
	runCtx, cancelRun := scheduler.WithRunDeadline(ctx, cfg.RunDeadline(scheduler.DefaultOneShotTimeout))
	defer cancelRun()
	var wg sync.WaitGroup
	for i, b := range bs {
		wg.Add(1)
		// Each collector in its own goroutine: a slow vendor never delays another.
		go func() {
			defer wg.Done()
			if window != nil {
				w := collectors.Window{Start: window.Start.Truncate(b.timing.Step), End: window.End}
				results[i] = b.runner.RunWindow(runCtx, w, false)
			} else {
				results[i] = b.runner.RunOnce(runCtx)
			}
			rt.pipe.Record(b.cfg.Name, results[i])
		}()
	}
	wg.Wait()
	selfPts := 0
	if !rt.dryRun {
		// Like the daemon: the collectors' counters and the sink's (points
		// sent, spooled, dropped, replayed).
		now := time.Now()
		self := rt.pipe.SelfPoints(now)
		if err := rt.sink.Send(ctx, self); err == nil {
			selfPts = len(self)
		}
	}
	closeErr := rt.close()
	var parts []string
	failed := 0
	var points int64
	for i, b := range bs {
		res := results[i]
		n := rt.pipe.Points(b.cfg.Name)
		points += n
		switch {
		case res.Err != nil:
			failed++
			parts = append(parts, fmt.Sprintf("%s FAILED (%v)", b.cfg.Name, oneLine(res.Err)))
		case res.Windows == 0 && res.NoData > 0:
			parts = append(parts, fmt.Sprintf("%s no data yet", b.cfg.Name))
		default:
			parts = append(parts, fmt.Sprintf("%s ok (%d windows, %d points)", b.cfg.Name, res.Windows, n))
		}
	}
	// failed counts collectors only; the sink's failure and lost points
	// fail the run too, but are said as such, not as a collector.
	sinkFailed := false
	if closeErr != nil {
		sinkFailed = true
		parts = append(parts, fmt.Sprintf("sink FAILED (%v)", oneLine(closeErr)))
	}
	d := rt.deliverySummary(points, selfPts)
	if d.text != "" {
		parts = append(parts, d.text)
	}
	if d.dropped > 0 {
		sinkFailed = true // points lost: the run could not deliver
	}
	out := stdio.Stderr
	if !rt.dryRun {
		out = stdio.Stdout
	}
	if d.warn != "" {
		fmt.Fprintln(stdio.Stderr, d.warn)
	}
	delivery := ""
	if sinkFailed {
		delivery = ", delivery FAILED"
	}
	fmt.Fprintf(out, "collect: %d collector(s), %d failed%s, %d points in %.1fs: %s\n",
		len(bs), failed, delivery, points, time.Since(start).Seconds(), strings.Join(parts, "; "))
	if failed > 0 || sinkFailed {
		return 1
	}
	return 0
}

// oneLine is err for the summary, credentials redacted (it goes to stdout).
func oneLine(err error) string { return redact.String(strings.ReplaceAll(err.Error(), "\n", "; ")) }
