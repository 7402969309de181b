package originlog

import (
	"sort"

	"github.com/cdnmetrics/cdnmetrics/internal/schema"
)

// DeltaRatioMetric is the metric Reconcile emits.
const DeltaRatioMetric = "origin_requests_delta_ratio"

// Key names one provider's service over one interval in Reconcile's maps.
type Key struct {
	Provider string // provider name as in paths ("fastly")
	Service  string // service name as in paths
	Start    int64  // interval start, Unix seconds
}

// Reconcile compares what the origin saw with what each vendor says it
// fetched from the origin: for every key present in both maps it returns
// the gauge origin_requests_delta_ratio = observed / reported at
// <provider>.<service>.origin, stamped with the interval start. 1 means
// they agree; above 1 the origin saw more requests than the vendor
// admits (or the log counts requests the vendor does not, e.g. health
// checks carrying the header); below 1 the vendor reports origin fetches
// the origin never logged. A key missing from either map, or a reported
// value of 0, gives no gauge: unknown is not zero. Both maps must use the
// same interval length. Output is sorted by start, provider, service.
func Reconcile(observed, reported map[Key]float64) []schema.Gauge {
	var out []schema.Gauge
	for k, obs := range observed {
		rep, ok := reported[k]
		if !ok || rep <= 0 || obs < 0 {
			continue
		}
		out = append(out, schema.Gauge{Provider: k.Provider, Service: k.Service, Location: LocationOrigin,
			Metric: DeltaRatioMetric, Time: k.Start, Value: obs / rep})
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Time != b.Time {
			return a.Time < b.Time
		}
		if a.Provider != b.Provider {
			return a.Provider < b.Provider
		}
		return a.Service < b.Service
	})
	return out
}

// Rollup sums per-interval counts into intervals of step seconds, for
// comparing originlog's minutes with a vendor's coarser step (Akamai's 5
// minutes): call Reconcile(Rollup(observed, 300), reported). Only roll up
// vendor intervals that are closed on both sides, or the sum is partial.
func Rollup(m map[Key]float64, step int64) map[Key]float64 {
	out := make(map[Key]float64, len(m))
	for k, v := range m {
		s := k.Start % step
		if s < 0 {
			s += step
		}
		k.Start -= s
		out[k] += v
	}
	return out
}
