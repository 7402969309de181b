package pipeline

import (
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/internal/scheduler"
	"github.com/cdnmetrics/cdnmetrics/internal/schema"
)

// clockGuard keeps vendor clocks from poisoning state: every collector's
// batches pass trust() before they become points, and the rejections are
// counted per collector for the self-metrics.
type clockGuard struct {
	now func() time.Time // nil: time.Now (tests inject a clock)

	mu        sync.Mutex
	retention map[string]time.Duration
	counts    map[string]*clockCounts
}

// clockCounts are one collector's rejections.
type clockCounts struct {
	future, tooOld   atomic.Int64 // vendor times rejected
	checkpointResets atomic.Int64 // checkpoints found in the future and reset
	renamed          atomic.Int64 // vendor locations named like ours, renamed
}

func (g *clockGuard) countsFor(name string) *clockCounts {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.counts == nil {
		g.counts = map[string]*clockCounts{}
	}
	c := g.counts[name]
	if c == nil {
		c = &clockCounts{}
		g.counts[name] = c
	}
	return c
}

func (g *clockGuard) setRetention(name string, d time.Duration) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.retention == nil {
		g.retention = map[string]time.Duration{}
	}
	g.retention[name] = d
}

// Clock is collector name's Clock: our clock, the configured tolerance,
// the vendor's retention (once build has read its Timing), counting into
// the self-metrics.
func (p *Pipeline) Clock(name string) collectors.Clock {
	g := &p.clockGuard
	counts := g.countsFor(name)
	g.mu.Lock()
	ret := g.retention[name]
	g.mu.Unlock()
	return collectors.Clock{
		Now:       g.now,
		Tolerance: p.tolerance,
		Retention: ret,
		Reject: func(reason string, n int) {
			switch reason {
			case collectors.RejectedFuture:
				counts.future.Add(int64(n))
			case collectors.RejectedTooOld:
				counts.tooOld.Add(int64(n))
			case collectors.RejectedValues:
				p.values.add(name, n)
			case collectors.RenamedLocations:
				counts.renamed.Add(int64(n))
			}
		},
	}
}

// trust drops from b what collector name's vendor stamped ahead of our
// clock (or before its retention), with one warning per batch that names
// the counts and the worst times, and counts them.
func (p *Pipeline) trust(name string, b collectors.Batch) collectors.Batch {
	c := p.Clock(name)
	now := c.Time()
	kept, rej := c.Filter(b, now)
	if rej.Total() == 0 {
		return b
	}
	c.Count(collectors.RejectedFuture, rej.Future)
	c.Count(collectors.RejectedTooOld, rej.TooOld)
	args := []any{"collector", name, "now", now.UTC().Format(time.RFC3339)}
	if rej.Future > 0 {
		args = append(args, "future", rej.Future, "newest", time.Unix(rej.NewestFuture, 0).UTC().Format(time.RFC3339), "tolerance", c.Limit(now).Sub(now))
	}
	if rej.TooOld > 0 {
		args = append(args, "too_old", rej.TooOld, "oldest", time.Unix(rej.OldestTooOld, 0).UTC().Format(time.RFC3339), "retention", c.Retention)
	}
	p.logger.Warn("vendor data stamped outside our clock's trust rejected", args...)
	return kept
}

// noteCheckpointReset counts a run that found its checkpoint in the future.
func (p *Pipeline) noteCheckpointReset(name string, res scheduler.Result) {
	if res.CheckpointReset {
		p.clockGuard.countsFor(name).checkpointResets.Add(1)
	}
}

// clockSelfPoints are <prefix>.cdnmetrics.collector.<name>.rejected_future,
// .rejected_too_old, .checkpoint_resets and .renamed_locations at ts.
func (p *Pipeline) clockSelfPoints(ts int64) []schema.Point {
	g := &p.clockGuard
	g.mu.Lock()
	names := make([]string, 0, len(g.counts))
	for n := range g.counts {
		names = append(names, n)
	}
	g.mu.Unlock()
	sort.Strings(names)
	var pts []schema.Point
	for _, n := range names {
		c := g.countsFor(n)
		for _, m := range []struct {
			metric string
			v      int64
		}{
			{collectors.RejectedFuture, c.future.Load()},
			{collectors.RejectedTooOld, c.tooOld.Load()},
			{"checkpoint_resets", c.checkpointResets.Load()},
			{collectors.RenamedLocations, c.renamed.Load()},
		} {
			pts = append(pts, schema.Point{Path: schema.Path(p.prefix, schema.NamespaceSelf, "collector", n, m.metric), Value: float64(m.v), Time: ts})
		}
	}
	return pts
}

// SetRetention tells the clock guard how far back collector name's vendor
// keeps data (its Timing's Retention); older times are rejected.
func (p *Pipeline) SetRetention(name string, d time.Duration) { p.clockGuard.setRetention(name, d) }
