package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/internal/config"
	"github.com/cdnmetrics/cdnmetrics/internal/redact"
	"github.com/cdnmetrics/cdnmetrics/internal/scheduler"
	"github.com/cdnmetrics/cdnmetrics/internal/schema"
	"github.com/cdnmetrics/cdnmetrics/internal/shard"
	"github.com/cdnmetrics/cdnmetrics/internal/state"
)

// Sink is what the app needs of the Graphite sink.
type Sink interface {
	Send(ctx context.Context, pts []schema.Point) error
	Flush(ctx context.Context) error
	Close(ctx context.Context) error
}

// program is one invocation's wired parts.
type program struct {
	cfg    *config.Config
	logger *slog.Logger
	sink   Sink
	store  *state.Store // nil on dry runs: they never move checkpoints
	stdio  IO
	dryRun bool
	events collectors.EventPoster // vendor config changes; set by setupEvents
	// taps see every point after it was handed to the sink (anomaly
	// detector, Skyline feed); they must not block.
	taps []func([]schema.Point)

	recon   *reconciler
	ext     extras
	feeds   feeds
	shard   shard.Spec
	filters map[string]shard.Filter
	aggOnly map[string]bool
	values  valueChecks // impossible values out of every batch (values.go)
	paths   *pathNamer  // service names in paths without clashes (paths.go)

	mu    sync.Mutex
	stats map[string]*collectorStats

	clockGuard clockGuard // vendor times beyond our clock (clockguard.go)
}

type collectorStats struct {
	points      atomic.Int64
	failures    atomic.Int64
	lastSuccess atomic.Int64
	lastRunSecs atomic.Int64 // milliseconds
	maxEnd      atomic.Int64 // end of the newest interval emitted
}

func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	// Every log line passes through redact, whatever path a credential
	// took to reach it (#16: secrets never appear in logs).
	return slog.New(redact.Handler(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})))
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
	rt := &program{cfg: cfg, stdio: stdio, dryRun: dryRun, stats: map[string]*collectorStats{},
		filters: map[string]shard.Filter{}, aggOnly: map[string]bool{}, recon: newReconciler()}
	rt.logger = newLogger(stdio.Stderr, cfg.LogLevel)
	sel, probs := compileSelection(cfg)
	if len(probs) > 0 {
		return nil, probs
	}
	rt.shard, rt.filters, rt.aggOnly = sel.shard, sel.filters, sel.aggOnly
	var err error
	if rt.paths, err = newPathNamer(cfg.StateDir, dryRun, rt.logger); err != nil {
		return nil, err
	}
	if dryRun {
		rt.sink = newWriterSink(stdio.Stdout)
		return rt, nil
	}
	if err := os.MkdirAll(cfg.StateDir, 0o750); err != nil {
		return nil, fmt.Errorf("state_dir: %w", err)
	}
	st, err := state.Open(cfg.StateDir)
	if err != nil {
		return nil, err
	}
	rt.store = st
	sink, err := newTCPSink(cfg, rt.logger)
	if err != nil {
		return nil, err
	}
	rt.sink = sink
	return rt, nil
}

func (rt *program) statsFor(name string) *collectorStats {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	s := rt.stats[name]
	if s == nil {
		s = &collectorStats{}
		rt.stats[name] = s
	}
	return s
}

// emitter returns the Emitter of collector name: batches become points
// (schema.Points derives "all" and the ratios), go to the sink and to taps.
func (rt *program) emitter(name string) collectors.Emitter {
	st := rt.statsFor(name)
	aggOnly := rt.aggOnly[name]
	return collectors.EmitterFunc(func(ctx context.Context, b collectors.Batch) error {
		b = rt.trust(name, b)
		b = rt.values.check(name, b, rt.logger)
		if aggOnly {
			b.Records = onlyAll(b.Records)
		}
		pts := schema.Points(rt.cfg.Graphite.Prefix, b.Records, b.Gauges)
		pts = append(pts, b.Points...)
		if len(pts) == 0 {
			return nil
		}
		pts = append(pts, rt.scores(pts)...)
		if err := rt.sink.Send(ctx, pts); err != nil {
			return err
		}
		rt.feed(pts)
		st.points.Add(int64(len(pts)))
		for _, r := range b.Records {
			if e := r.Start + r.Step; e > st.maxEnd.Load() {
				st.maxEnd.Store(e)
			}
		}
		if err := rt.sendReconciled(ctx, rt.recon.add(name, b)); err != nil {
			return err
		}
		for _, tap := range rt.taps {
			tap(pts)
		}
		return nil
	})
}

// onlyAll keeps the `all` location of every interval (computing it from
// the locations where the vendor gave none) and drops the rest.
func onlyAll(recs []schema.Record) []schema.Record {
	var out []schema.Record
	for _, r := range schema.Aggregate(recs) {
		if r.Location == schema.LocationAll {
			out = append(out, r)
		}
	}
	return out
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
		Clock:      rt.clock(name),
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
			rt.clockGuard.setRetention(cc.Name, cc.Factory.Timing(cc.Options).Retention)
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
			Emitter: rt.emitter(cc.Name), Flush: rt.sink.Flush,
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

// record notes a run's outcome for self-metrics.
func (rt *program) record(name string, res scheduler.Result) {
	st := rt.statsFor(name)
	rt.noteCheckpointReset(name, res)
	st.lastRunSecs.Store(res.Duration.Milliseconds())
	if res.Err != nil {
		st.failures.Add(1)
	} else {
		st.lastSuccess.Store(time.Now().Unix())
	}
}

// selfPoints are <prefix>.cdnmetrics.collector.<name>.* at now.
func (rt *program) selfPoints(now time.Time) []schema.Point {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	ts := now.Unix()
	var pts []schema.Point
	p := rt.cfg.Graphite.Prefix
	for name, st := range rt.stats {
		add := func(metric string, v float64) {
			pts = append(pts, schema.Point{Path: schema.Path(p, "cdnmetrics", "collector", name, metric), Value: v, Time: ts})
		}
		add("points", float64(st.points.Load()))
		add("failures", float64(st.failures.Load()))
		add("run_seconds", float64(st.lastRunSecs.Load())/1000)
		if ls := st.lastSuccess.Load(); ls > 0 {
			add("last_success", float64(ls))
		}
	}
	pts = append(pts, rt.values.points(p, ts)...)
	pts = append(pts, rt.paths.points(p, ts)...)
	return append(pts, rt.clockSelfPoints(ts)...)
}

// close flushes and closes the sink.
func (rt *program) close() error {
	rt.stopFeeds()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return rt.sink.Close(ctx)
}
