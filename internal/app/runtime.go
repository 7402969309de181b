package app

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/internal/config"
	"github.com/cdnmetrics/cdnmetrics/internal/graphite"
	"github.com/cdnmetrics/cdnmetrics/internal/pipeline"
	"github.com/cdnmetrics/cdnmetrics/internal/scheduler"
	"github.com/cdnmetrics/cdnmetrics/internal/shard"
	"github.com/cdnmetrics/cdnmetrics/internal/state"
)

// program is one invocation's wired parts.
type program struct {
	cfg    *config.Config
	logger *slog.Logger
	sink   graphite.Sink
	pipe   *pipeline.Pipeline // what becomes of every batch between collector and sink
	store  *state.Store       // nil on dry runs: they never move checkpoints
	stdio  IO
	dryRun bool
	events collectors.EventPoster // vendor config changes; set by setupEvents

	ext     extras
	shard   shard.Spec
	filters map[string]shard.Filter
	paths   *pipeline.PathNamer // service names in paths without clashes
}

// loadConfig loads the config (or, with simulate, a config pointing every
// collector at an in-process simulator) and prints its problems.
func loadConfig(stdio IO, path string) (*config.Config, bool) {
	cfg, probs := config.Load(path, stdio.Getenv)
	for _, p := range probs {
		fmt.Fprintln(stdio.Stderr, p.String())
	}
	if len(probs.Errors()) > 0 {
		fmt.Fprintf(stdio.Stderr, "%s: %d error(s); run 'cdnmetrics validate --config %s'\n", path, len(probs.Errors()), path)
		return nil, false
	}
	return cfg, true
}

func newRuntime(cfg *config.Config, stdio IO, dryRun bool) (*program, error) {
	rt := &program{cfg: cfg, stdio: stdio, dryRun: dryRun, filters: map[string]shard.Filter{}}
	rt.logger = newCommandLogger(stdio.Stderr, cfg.LogLevel, cfg.LogFormat)
	sel, probs := compileSelection(cfg)
	if len(probs) > 0 {
		return nil, probs
	}
	rt.shard, rt.filters = sel.shard, sel.filters
	var err error
	if rt.paths, err = pipeline.NewPathNamer(cfg.StateDir, dryRun, rt.logger); err != nil {
		return nil, err
	}
	if dryRun {
		rt.sink = newWriterSink(stdio.Stdout, cfg)
	} else {
		if err := os.MkdirAll(cfg.StateDir, 0o750); err != nil {
			return nil, fmt.Errorf("state_dir: %w", err)
		}
		st, err := state.Open(cfg.StateDir)
		if err != nil {
			return nil, err
		}
		rt.store = st
		if rt.sink, err = newTCPSink(cfg, rt.logger); err != nil {
			return nil, err
		}
	}
	meter, err := newCostMeter(cfg, dryRun, rt.logger)
	if err != nil {
		return nil, err
	}
	rt.pipe = pipeline.New(pipeline.Options{Prefix: cfg.Graphite.Prefix, Sink: rt.sink, Logger: rt.logger,
		ClockSkewTolerance: cfg.ClockSkewTolerance.D(), AggregateOnly: sel.aggOnly, Paths: rt.paths, Cost: meter})
	return rt, nil
}

// startFeeds starts the pipeline's anomaly detector and Skyline feed when
// configured; they live until ctx ends.
func (rt *program) startFeeds(ctx context.Context) error {
	return rt.pipe.StartFeeds(ctx, pipeline.FeedOptions{Anomaly: rt.cfg.Anomaly, Skyline: rt.cfg.Skyline,
		StateDir: rt.cfg.StateDir, DryRun: rt.dryRun})
}

// env is what collector c is built with.
func (rt *program) env(name string) collectors.Env {
	filter, sh := rt.filters[name], rt.shard
	return collectors.Env{
		Include: func(id, svcName string) bool {
			return sh.Owns(name, id) && filter.Match(svcName)
		},
		Prefix:     rt.cfg.Graphite.Prefix,
		StateDir:   filepath.Join(rt.cfg.StateDir, "collectors", name),
		Logger:     rt.logger.With("collector", name),
		Getenv:     rt.stdio.Getenv,
		HTTPClient: &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()},
		Events:     rt.events,
		Paths:      rt.paths,
		Clock:      rt.pipe.Clock(name),
	}
}

// built is a collector ready to run.
type built struct {
	cfg    config.Collector
	c      collectors.Collector
	timing collectors.Timing
	runner *scheduler.Runner
}

// build builds the selected collectors (all when only is empty).
func (rt *program) build(only string) ([]*built, error) {
	var out []*built
	for _, cc := range rt.cfg.Collectors {
		if only != "" && cc.Name != only {
			continue
		}
		if cc.Factory.Timing != nil {
			rt.pipe.SetRetention(cc.Name, cc.Factory.Timing(cc.Options).Retention)
		}
		env := rt.env(cc.Name)
		if err := os.MkdirAll(env.StateDir, 0o750); err != nil && !rt.dryRun {
			return nil, err
		}
		c, err := cc.Factory.New(cc.Options, env)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", cc.Name, err)
		}
		var tm collectors.Timing
		if cc.Factory.Timing != nil {
			tm = cc.Factory.Timing(cc.Options)
		}
		b := &built{cfg: cc, c: c, timing: tm}
		b.runner = &scheduler.Runner{
			Name: cc.Name, Collector: c, Timing: tm, Store: rt.store,
			Emitter: rt.pipe.Emitter(cc.Name), Flush: rt.sink.Flush,
			MaxCatchup: rt.maxCatchup(), Logger: env.Logger,
		}
		out = append(out, b)
	}
	if only != "" && len(out) == 0 {
		var names []string
		for _, cc := range rt.cfg.Collectors {
			names = append(names, cc.Name)
		}
		return nil, fmt.Errorf("collector %q is not configured (configured: %s)", only, strings.Join(names, ", "))
	}
	return out, nil
}

func (rt *program) maxCatchup() time.Duration { return rt.cfg.MaxCatchup.D() }

// close stops the pipeline's feeds, drains the event queue and then
// flushes and closes the sink.
func (rt *program) close() error {
	rt.pipe.Close()
	if p := rt.ext.poster; p != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		if res := p.Drain(ctx); !res.Delivered() {
			rt.logger.Warn("events kept queued for the next run", "result", strings.TrimSpace(res.String()))
		}
		cancel()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return rt.sink.Close(ctx)
}
