package originlog

import (
	"sort"

	"github.com/cdnmetrics/cdnmetrics/internal/schema"
)

// Counts → points: one interval's counters as the unified origin series.

// originFields are the unified fields originlog fills, in emission order.
var originFields = []schema.Field{schema.OriginRequests, schema.OriginBytes,
	schema.Status2xx, schema.Status3xx, schema.Status4xx, schema.Status5xx}

// gauges returns the points of one interval as gauges at location
// "origin", so schema.Aggregate does not sum them into an "all".
func (c *Collector) gauges(iv *interval) []schema.Gauge {
	names := make([]string, 0, len(iv.Providers)+len(c.opts.Providers))
	for n := range iv.Providers {
		names = append(names, n)
	}
	for _, n := range c.opts.Providers {
		if iv.Providers[n] == nil {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	var out []schema.Gauge
	for _, n := range names {
		pc := iv.Providers[n]
		if pc == nil {
			pc = &provCounts{} // a listed provider that sent nothing: a true 0
		}
		for _, f := range originFields {
			var v int64
			switch f {
			case schema.OriginRequests:
				v = pc.Requests
			case schema.OriginBytes:
				if !c.bytesKnown() {
					continue
				}
				v = pc.Bytes
			default:
				v = pc.Status[f-schema.Status2xx]
			}
			out = append(out, schema.Gauge{Provider: n, Service: c.opts.Service, Location: LocationOrigin,
				Metric: f.String(), Time: iv.Start, Value: float64(v)})
		}
	}
	return out
}

// bytesKnown is false when some file's pattern has no bytes group: the
// byte count is then unknown, not 0.
func (c *Collector) bytesKnown() bool {
	for _, lf := range c.files {
		if !lf.bytes {
			return false
		}
	}
	return true
}

func (c *Collector) beaconPoints(iv *interval) []schema.Point {
	srcs := make([]string, 0, len(iv.Beacons))
	for s := range iv.Beacons {
		srcs = append(srcs, s)
	}
	sort.Strings(srcs)
	out := make([]schema.Point, 0, len(srcs))
	for _, s := range srcs {
		out = append(out, schema.Point{Path: schema.Path(c.prefix, "beacons", s, "failures"),
			Value: float64(iv.Beacons[s]), Time: iv.Start})
	}
	return out
}
