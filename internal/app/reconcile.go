package app

import (
	"context"
	"sync"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/collectors/originlog"
	"github.com/cdnmetrics/cdnmetrics/internal/schema"
)

// reconciler sets what the origin logged against what each vendor says it
// fetched from the origin: it keeps recent origin_requests from both sides
// and, when an interval is known on both, emits
// <provider>.<service>.origin.origin_requests_delta_ratio. It lives in the
// app because it is the one place that sees every collector's output.
type reconciler struct {
	mu       sync.Mutex
	observed map[originlog.Key]float64 // originlog, per its own step
	reported map[originlog.Key]float64 // vendors, per their step
	step     map[string]int64          // provider → vendor step
	newest   int64
}

// keep bounds memory: vendors lag (Akamai ~15 min) but not by hours.
const reconcileKeep = 2 * 3600

func newReconciler() *reconciler {
	return &reconciler{observed: map[originlog.Key]float64{}, reported: map[originlog.Key]float64{}, step: map[string]int64{}}
}

// add records a batch from collector name and returns the ratios it
// makes computable.
func (r *reconciler) add(name string, b collectors.Batch) []schema.Gauge {
	r.mu.Lock()
	defer r.mu.Unlock()
	touched := false
	if name == "originlog" {
		for _, g := range b.Gauges {
			if g.Metric == schema.OriginRequests.String() && g.Location == originlog.LocationOrigin {
				r.observed[originlog.Key{Provider: g.Provider, Service: g.Service, Start: g.Time}] = g.Value
				r.newest = max(r.newest, g.Time)
				touched = true
			}
		}
	} else {
		for _, rec := range schema.Aggregate(b.Records) {
			if v, ok := rec.Get(schema.OriginRequests); ok && rec.Location == schema.LocationAll {
				k := originlog.Key{Provider: schema.Sanitize(rec.Provider), Service: schema.Sanitize(rec.Service), Start: rec.Start}
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
		obs := map[originlog.Key]float64{}
		for k, v := range r.observed {
			if k.Provider == provider {
				obs[k] = v
			}
		}
		if len(obs) == 0 {
			continue
		}
		rolled := originlog.Rollup(obs, step)
		// Only intervals whose every minute can have been logged: a vendor
		// interval still open on the origin side would give a partial sum.
		for k := range rolled {
			if k.Start+step > r.newest {
				delete(rolled, k)
			}
		}
		out = append(out, originlog.Reconcile(rolled, r.reported)...)
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
func (rt *program) sendReconciled(ctx context.Context, gs []schema.Gauge) error {
	if len(gs) == 0 {
		return nil
	}
	return rt.sink.Send(ctx, schema.Points(rt.cfg.Graphite.Prefix, nil, gs))
}
