package pipeline

import (
	"fmt"
	"log/slog"
	"math"
	"sort"
	"strings"
	"sync"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/internal/schema"
)

// valueChecks rejects impossible values in every collector's batches before
// they become points (schema.Counts.Check for counts, gaugeProblem for
// gauges; ready-made points must be finite numbers), one value at a time: the rest of a record
// stays. It counts them in <prefix>.cdnmetrics.collector.<name>.rejected_values.
type valueChecks struct {
	mu       sync.Mutex
	rejected map[string]int64 // collector → values rejected
}

// check returns b without its impossible values, logging one warning per
// batch that lost any. b's slices are copied before a change: the collector
// may still hold them.
func (vc *valueChecks) check(name string, b collectors.Batch, logger *slog.Logger) collectors.Batch {
	byField := map[string]int{}
	var first string
	note := func(what string, field string) {
		if first == "" {
			first = what
		}
		byField[field]++
	}
	copied := false
	for i := range b.Records {
		r := b.Records[i]
		rej := r.Check()
		if len(rej) == 0 {
			continue
		}
		if !copied {
			b.Records = append([]schema.Record(nil), b.Records...)
			copied = true
		}
		b.Records[i] = r
		for _, x := range rej {
			note(fmt.Sprintf("%s/%s/%s@%d %v", r.Provider, r.Service, r.Location, r.Start, x), x.Field.String())
		}
	}
	if firstImpossibleGauge(b.Gauges) >= 0 {
		var kept []schema.Gauge
		for _, g := range b.Gauges {
			why := gaugeProblem(g)
			if why == "" {
				kept = append(kept, g)
				continue
			}
			note(fmt.Sprintf("%s/%s/%s@%d %s=%v: %s", g.Provider, g.Service, g.Location, g.Time, g.Metric, g.Value, why), g.Metric)
		}
		b.Gauges = kept
	}
	if i := firstNotFinite(len(b.Points), func(i int) float64 { return b.Points[i].Value }); i >= 0 {
		var kept []schema.Point
		for _, p := range b.Points {
			if finite(p.Value) {
				kept = append(kept, p)
				continue
			}
			note(fmt.Sprintf("%s@%d=%v: not a finite number", p.Path, p.Time, p.Value), "point")
		}
		b.Points = kept
	}
	if len(byField) == 0 {
		return b
	}
	total := 0
	fields := make([]string, 0, len(byField))
	for f, n := range byField {
		total += n
		fields = append(fields, fmt.Sprintf("%s:%d", f, n))
	}
	sort.Strings(fields)
	vc.add(name, total)
	logger.Warn("impossible values rejected; the rest of their records kept",
		"collector", name, "count", total, "fields", strings.Join(fields, ","), "first", first)
	return b
}

// add counts n values of collector name rejected (by this check, or by the
// collector through its Clock's Reject with collectors.RejectedValues).
func (vc *valueChecks) add(name string, n int) {
	vc.mu.Lock()
	defer vc.mu.Unlock()
	if vc.rejected == nil {
		vc.rejected = map[string]int64{}
	}
	vc.rejected[name] += int64(n)
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// firstNotFinite is the index of the first of n values that is NaN or
// infinite, or -1; it lets the common case allocate nothing.
func firstNotFinite(n int, value func(int) float64) int {
	for i := 0; i < n; i++ {
		if !finite(value(i)) {
			return i
		}
	}
	return -1
}

// points are the rejected_values self-metrics at ts.
func (vc *valueChecks) points(prefix string, ts int64) []schema.Point {
	vc.mu.Lock()
	defer vc.mu.Unlock()
	var pts []schema.Point
	for name, n := range vc.rejected {
		pts = append(pts, schema.Point{Path: schema.Path(prefix, schema.NamespaceSelf, "collector", name, "rejected_values"), Value: float64(n), Time: ts})
	}
	return pts
}
