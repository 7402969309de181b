package pipeline

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/internal/cost"
	"github.com/cdnmetrics/cdnmetrics/internal/graphite"
	"github.com/cdnmetrics/cdnmetrics/internal/scheduler"
	"github.com/cdnmetrics/cdnmetrics/internal/schema"
)

// Options are what a Pipeline is built with.
type Options struct {
	// Prefix is the Graphite prefix of every path (graphite.prefix).
	Prefix string
	// Sink takes the points; the Pipeline does not close it.
	Sink   graphite.Sink
	Logger *slog.Logger
	// ClockSkewTolerance is how far ahead of our clock a vendor time may
	// be (clock_skew_tolerance).
	ClockSkewTolerance time.Duration
	// AggregateOnly names the collectors whose batches keep only the `all`
	// location (aggregate_only).
	AggregateOnly map[string]bool
	// Paths names services in paths; nil in tests that need no names.
	Paths *PathNamer
	// Cost prices the `all` records of the providers with a plan
	// (<prefix>.<provider>.<service>.all.cost); nil prices nothing.
	Cost *cost.Meter
}

// Pipeline turns collectors' batches into points and delivers them; one
// per process, safe for concurrent use by every collector.
type Pipeline struct {
	prefix  string
	sink    graphite.Sink
	logger  *slog.Logger
	aggOnly map[string]bool
	paths   *PathNamer
	cost    *cost.Meter

	tolerance time.Duration
	recon     *reconciler
	values    valueChecks // impossible values out of every batch (values.go)
	feeds     feeds       // anomaly detector and Skyline (anomaly.go)
	// events receives anomaly events; set by SetEvents before collectors run.
	events collectors.EventPoster

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

// New returns a Pipeline delivering to o.Sink.
func New(o Options) *Pipeline {
	logger := o.Logger
	if logger == nil {
		logger = slog.Default()
	}
	return &Pipeline{prefix: o.Prefix, sink: o.Sink, logger: logger, aggOnly: o.AggregateOnly, paths: o.Paths, cost: o.Cost,
		tolerance: o.ClockSkewTolerance, recon: newReconciler(), stats: map[string]*collectorStats{}}
}

// SetEvents makes ep the poster of anomaly events. Call it before any
// batch flows.
func (p *Pipeline) SetEvents(ep collectors.EventPoster) { p.events = ep }

func (p *Pipeline) statsFor(name string) *collectorStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.stats[name]
	if s == nil {
		s = &collectorStats{}
		p.stats[name] = s
	}
	return s
}

// Emitter returns the Emitter of collector name. A batch passes the clock
// guard and the value checks, keeps only `all` when the collector is
// aggregate-only, becomes points (schema.Points derives "all" and the
// ratios) with their anomaly scores, goes to the sink, then to Skyline and
// the origin reconciliation.
func (p *Pipeline) Emitter(name string) collectors.Emitter {
	st := p.statsFor(name)
	aggOnly := p.aggOnly[name]
	return collectors.EmitterFunc(func(ctx context.Context, b collectors.Batch) error {
		b = p.trust(name, b)
		b = p.values.check(name, b, p.logger)
		if aggOnly {
			b.Records = onlyAll(b.Records)
		}
		pts := schema.Points(p.prefix, b.Records, b.Gauges)
		pts = append(pts, b.Points...)
		if p.cost != nil && len(b.Records) > 0 {
			// Priced from the counts that passed the checks above.
			pts = append(pts, schema.Points(p.prefix, nil, p.cost.Gauges(schema.Aggregate(b.Records)))...)
		}
		if len(pts) == 0 {
			return nil
		}
		pts = append(pts, p.scores(pts)...)
		if err := p.sink.Send(ctx, pts); err != nil {
			return err
		}
		p.feed(pts)
		st.points.Add(int64(len(pts)))
		for _, r := range b.Records {
			if e := r.Start + r.Step; e > st.maxEnd.Load() {
				st.maxEnd.Store(e)
			}
		}
		return p.sendReconciled(ctx, p.recon.add(name, b))
	})
}

// Direct returns an Emitter that sends a batch's ready-made points to the
// sink untouched (event markers: their times are checked where they enter).
func (p *Pipeline) Direct() collectors.Emitter {
	return collectors.EmitterFunc(func(ctx context.Context, b collectors.Batch) error {
		return p.sink.Send(ctx, b.Points)
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

// Points is how many points collector name's batches became so far.
func (p *Pipeline) Points(name string) int64 { return p.statsFor(name).points.Load() }

// NewestEnd is the end of the newest interval collector name emitted
// (vendor-stamped times that passed the clock guard); zero when it emitted
// none. A stream's checkpoint: the scheduler keeps it at or before our
// clock.
func (p *Pipeline) NewestEnd(name string) time.Time {
	end := p.statsFor(name).maxEnd.Load()
	if end == 0 {
		return time.Time{}
	}
	return time.Unix(end, 0).UTC()
}

// Record notes a run's outcome for the self-metrics.
func (p *Pipeline) Record(name string, res scheduler.Result) {
	st := p.statsFor(name)
	p.noteCheckpointReset(name, res)
	st.lastRunSecs.Store(res.Duration.Milliseconds())
	if res.Err != nil {
		st.failures.Add(1)
	} else {
		st.lastSuccess.Store(time.Now().Unix())
	}
}

// SelfPoints are the pipeline's self-metrics at now:
// <prefix>.cdnmetrics.collector.<name>.* and the sink's
// <prefix>.cdnmetrics.sink.*.
func (p *Pipeline) SelfPoints(now time.Time) []schema.Point {
	p.mu.Lock()
	ts := now.Unix()
	var pts []schema.Point
	for name, st := range p.stats {
		add := func(metric string, v float64) {
			pts = append(pts, schema.Point{Path: schema.Path(p.prefix, schema.NamespaceSelf, "collector", name, metric), Value: v, Time: ts})
		}
		add("points", float64(st.points.Load()))
		add("failures", float64(st.failures.Load()))
		add("run_seconds", float64(st.lastRunSecs.Load())/1000)
		if ls := st.lastSuccess.Load(); ls > 0 {
			add("last_success", float64(ls))
		}
	}
	p.mu.Unlock()
	pts = append(pts, p.values.points(p.prefix, ts)...)
	pts = append(pts, p.paths.points(p.prefix, ts)...)
	pts = append(pts, p.clockSelfPoints(ts)...)
	pts = append(pts, p.cost.SelfPoints(p.prefix, ts)...)
	if s, ok := p.sink.(interface {
		SelfPoints(prefix string, now time.Time) []schema.Point
	}); ok {
		pts = append(pts, s.SelfPoints(p.prefix, now)...)
	}
	return pts
}
