package pipeline

import (
	"context"
	"sort"
	"sync"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/internal/schema"
)

// Origin reconciliation sets what the origin logged (collector originlog)
// against what each vendor says it fetched from the origin: it keeps recent
// origin_requests from both sides and, when an interval is known on both,
// emits <provider>.<service>.origin.origin_requests_delta_ratio. It lives in
// the pipeline because that is the one place that sees every collector's
// output.

// originlogCollector is the config section originlog's output is
// recognised by (its paths are at schema.LocationOrigin); the pipeline
// imports no vendor package.
const originlogCollector = "originlog"

// reconcileKey names one provider's service over one interval.
type reconcileKey struct {
	Provider string // provider name as in paths ("fastly")
	Service  string // service name as in paths
	Start    int64  // interval start, Unix seconds
}

// reconciler holds both sides' recent origin_requests.
type reconciler struct {
	mu       sync.Mutex
	observed map[reconcileKey]float64 // originlog, per its own step
	reported map[reconcileKey]float64 // vendors, per their step
	step     map[string]int64         // provider → vendor step
	newest   int64
}

// keep bounds memory: vendors lag (Akamai ~15 min) but not by hours.
const reconcileKeep = 2 * 3600

func newReconciler() *reconciler {
	return &reconciler{observed: map[reconcileKey]float64{}, reported: map[reconcileKey]float64{}, step: map[string]int64{}}
}

// add records a batch from collector name and returns the ratios it
// makes computable.
func (r *reconciler) add(name string, b collectors.Batch) []schema.Gauge {
	r.mu.Lock()
	defer r.mu.Unlock()
	touched := false
	if name == originlogCollector {
		for _, g := range b.Gauges {
			if g.Metric == schema.OriginRequests.String() && g.Location == schema.LocationOrigin {
				r.observed[reconcileKey{Provider: g.Provider, Service: g.Service, Start: g.Time}] = g.Value
				r.newest = max(r.newest, g.Time)
				touched = true
			}
		}
	} else {
		for _, rec := range schema.Aggregate(b.Records) {
			if v, ok := rec.Get(schema.OriginRequests); ok && rec.Location == schema.LocationAll {
				k := reconcileKey{Provider: schema.Sanitize(rec.Provider), Service: schema.Sanitize(rec.Service), Start: rec.Start}
				r.reported[k] = v
				r.step[k.Provider] = rec.Step
				r.newest = max(r.newest, rec.Start)
				touched = true
			}
		}
	}
	if !touched || len(r.observed) == 0 || len(r.reported) == 0 {
		return nil
	}
	r.prune()
	var out []schema.Gauge
	for provider, step := range r.step {
		obs := map[reconcileKey]float64{}
		for k, v := range r.observed {
			if k.Provider == provider {
				obs[k] = v
			}
		}
		if len(obs) == 0 {
			continue
		}
		rolled := rollup(obs, step)
		// Only intervals whose every minute can have been logged: a vendor
		// interval still open on the origin side would give a partial sum.
		for k := range rolled {
			if k.Start+step > r.newest {
				delete(rolled, k)
			}
		}
		out = append(out, reconcile(rolled, r.reported)...)
	}
	return out
}

func (r *reconciler) prune() {
	for k := range r.observed {
		if k.Start < r.newest-reconcileKeep {
			delete(r.observed, k)
		}
	}
	for k := range r.reported {
		if k.Start < r.newest-reconcileKeep {
			delete(r.reported, k)
		}
	}
}

// sendReconciled hands the ratios to the sink.
func (p *Pipeline) sendReconciled(ctx context.Context, gs []schema.Gauge) error {
	if len(gs) == 0 {
		return nil
	}
	return p.sink.Send(ctx, schema.Points(p.prefix, nil, gs))
}

// reconcile compares what the origin saw with what each vendor says it
// fetched from the origin: for every key present in both maps it returns
// the gauge origin_requests_delta_ratio = observed / reported at
// <provider>.<service>.origin, stamped with the interval start. 1 means
// they agree; above 1 the origin saw more requests than the vendor
// admits (or the log counts requests the vendor does not, e.g. health
// checks carrying the header); below 1 the vendor reports origin fetches
// the origin never logged. A key missing from either map, or a reported
// value of 0, gives no gauge: unknown is not zero. Both maps must use the
// same interval length. Output is sorted by start, provider, service.
func reconcile(observed, reported map[reconcileKey]float64) []schema.Gauge {
	var out []schema.Gauge
	for k, obs := range observed {
		rep, ok := reported[k]
		if !ok || rep <= 0 || obs < 0 {
			continue
		}
		out = append(out, schema.Gauge{Provider: k.Provider, Service: k.Service, Location: schema.LocationOrigin,
			Metric: schema.OriginRequestsDeltaRatio, Time: k.Start, Value: obs / rep})
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

// rollup sums per-interval counts into intervals of step seconds, for
// comparing originlog's minutes with a vendor's coarser step (Akamai's 5
// minutes). Only roll up vendor intervals that are closed on both sides,
// or the sum is partial.
func rollup(m map[reconcileKey]float64, step int64) map[reconcileKey]float64 {
	out := make(map[reconcileKey]float64, len(m))
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
