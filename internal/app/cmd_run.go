package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/internal/config"
	"github.com/cdnmetrics/cdnmetrics/internal/rum/rumsim"
	"github.com/cdnmetrics/cdnmetrics/internal/scheduler"
)

func init() {
	register(Command{Name: "run", Summary: "run as a daemon: every collector on its schedule", Run: runDaemon})
}

func runDaemon(ctx context.Context, stdio IO, args []string) int {
	fs := newFlags(stdio, "run", `
Runs as a daemon: schedules every configured collector on its cron
expression ("@every 1m" or 5-field specs); streaming collectors (Fastly
real-time) follow their stream instead, after catching up from their
checkpoint. Each run ends at run_timeout (default: when its next run is
due) and is then a failed run, logged and counted. A run still going when
the next is due is skipped, logged and counted. SIGINT/SIGTERM stop new runs, wait for running ones and flush the
sink before exit.`)
	path := fs.String("config", "./config.toml", "config file")
	dry := fs.Bool("dry-run", false, "print Graphite plaintext lines to stdout instead of sending them")
	sim := fs.Bool("simulate", false, "point every collector at a built-in simulator (demo, tests)")
	seed := fs.Int64("seed", 1, "simulator seed, with --simulate")
	shardFlag := fs.String("shard", "", "collect only the services of shard i/n (overrides shard in the config)")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	var cfg *config.Config
	if *sim {
		// As for collect: a simulated dry run leaves no state behind.
		stateDir := ""
		if *dry {
			tmp, err := os.MkdirTemp("", "cdnmetrics-simulate-")
			if err != nil {
				fmt.Fprintf(stdio.Stderr, "run: %v\n", err)
				return exitFailed
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
		fmt.Fprintf(stdio.Stderr, "simulator serving %v at %s\n", srv.Vendors(), srv.URL)
	} else {
		c, ok := loadCommandConfig(fs, stdio, *path)
		if !ok {
			return 2
		}
		cfg = c
	}
	if *shardFlag != "" {
		cfg.Shard = *shardFlag
	}
	if startupRefused(stdio, cfg, "run") {
		return 2
	}
	rt, err := newRuntime(cfg, stdio, *dry)
	if err != nil {
		fmt.Fprintf(stdio.Stderr, "run: %v\n", err)
		return 1
	}
	adm, err := rt.listenAdmin()
	if err != nil {
		fmt.Fprintf(stdio.Stderr, "run: %v\n", err)
		rt.close()
		return 1
	}
	defer adm.close()
	if err := rt.startFeeds(ctx); err != nil {
		fmt.Fprintf(stdio.Stderr, "%v\n", err)
		rt.close()
		return 2
	}
	if err := rt.startExtras(ctx); err != nil {
		fmt.Fprintf(stdio.Stderr, "run: %v\n", err)
		rt.close()
		return 1
	}
	if *sim && !*dry && cfg.RUM.Listen != "" {
		go rumsim.Run(ctx, simulatedBrowsers(cfg, *seed))
	}
	bs, err := rt.build("")
	if err != nil {
		fmt.Fprintf(stdio.Stderr, "run: %v\n", err)
		rt.close()
		return 2
	}
	d := scheduler.NewDaemon(rt.logger)
	adm.serve(ctx, rt, d, bs)
	var streams sync.WaitGroup
	for _, b := range bs {
		if s, ok := b.c.(collectors.Streamer); ok {
			streams.Add(1)
			go func() {
				defer streams.Done()
				rt.stream(ctx, b, s, adm)
			}()
			continue
		}
		// Each run ends by run_timeout, by default when the next is due.
		err := d.Add(ctx, scheduler.Job{Name: b.cfg.Name, Schedule: b.cfg.Options.Schedule(), Timeout: cfg.RunDeadline(0), Run: func(ctx context.Context) {
			res := b.runner.RunOnce(ctx)
			rt.pipe.Record(b.cfg.Name, res)
			adm.record(b.cfg.Name, res.Err)
			if res.Err != nil && !errors.Is(res.Err, context.Canceled) {
				rt.logger.Error("run failed", "collector", b.cfg.Name, "windows", res.Windows, "err", res.Err)
			} else {
				rt.logger.Info("run done", "collector", b.cfg.Name, "windows", res.Windows, "no_data", res.NoData, "seconds", res.Duration.Seconds())
			}
		}})
		if err != nil {
			fmt.Fprintf(stdio.Stderr, "run: %s.schedule: %v\n", b.cfg.Name, err)
			rt.close()
			return 2
		}
	}
	d.Start()
	rt.logger.Info("daemon started", "collectors", len(bs), "graphite", cfg.Graphite.Address, "dry_run", *dry)

	tick := time.NewTicker(max(cfg.Graphite.SelfMetricsInterval.D(), time.Second))
	defer tick.Stop()
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case now := <-tick.C:
			if !rt.dryRun {
				_ = rt.sink.Send(ctx, rt.selfPointsAll(now, d, bs))
			}
		}
	}
	rt.logger.Info("shutting down: waiting for running collectors")
	if !d.Stop(60 * time.Second) {
		rt.logger.Error("collectors still running after 60s; flushing what was emitted")
	}
	streams.Wait()
	for _, b := range bs {
		if c, ok := b.c.(io.Closer); ok {
			_ = c.Close()
		}
	}
	rt.stopExtras()
	if !rt.dryRun {
		// Once more at the stop, like collect at its end: a daemon stopped
		// within self_metrics_interval would otherwise say nothing of its
		// run, and the last counts before a stop are the ones wanted.
		sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
		_ = rt.sink.Send(sctx, rt.selfPointsAll(time.Now(), d, bs))
		scancel()
	}
	if err := rt.close(); err != nil {
		rt.logger.Error("flush on shutdown failed", "err", err)
		return 1
	}
	rt.logger.Info("stopped")
	return 0
}

// stream catches a streaming collector up from its checkpoint with its
// windowed API, then follows the stream until ctx ends, saving progress as
// buckets are flushed.
func (rt *program) stream(ctx context.Context, b *built, s collectors.Streamer, adm *adminServer) {
	cctx, cancel := scheduler.WithRunDeadline(ctx, rt.cfg.RunDeadline(scheduler.DefaultOneShotTimeout))
	res := b.runner.RunOnce(cctx)
	cancel()
	rt.pipe.Record(b.cfg.Name, res)
	adm.record(b.cfg.Name, res.Err)
	caughtUp := res.Err == nil
	if !caughtUp && ctx.Err() == nil {
		// The stream's checkpoints would jump past the window that failed
		// (points not collected, or not durable): it stays where it is, and
		// the next start catches up from there.
		rt.logger.Error("catch-up before streaming failed; checkpoint frozen until restart", "collector", b.cfg.Name, "err", res.Err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if caughtUp {
			b.runner.FollowStream(ctx, time.Minute, func() time.Time { return rt.pipe.NewestEnd(b.cfg.Name) })
		}
	}()
	for ctx.Err() == nil {
		err := s.Stream(ctx, adm.emitter(b.cfg.Name, rt.pipe.Emitter(b.cfg.Name)))
		if ctx.Err() != nil {
			break
		}
		rt.logger.Error("stream ended, restarting in 10s", "collector", b.cfg.Name, "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(10 * time.Second):
		}
	}
	<-done
}
