package pipeline

import (
	"math"
	"reflect"
	"testing"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/internal/schema"
)

func TestReconcilerRatioOverVendorStep(t *testing.T) {
	r := newReconciler()
	const t0 = 1700000100 // a multiple of 300
	// Akamai reports 120 origin requests for the 5-minute interval at t0.
	rec := schema.Record{Provider: "akamai", Service: "www", Location: "all", Start: t0, Step: 300}
	rec.Set(schema.OriginRequests, 120)
	if got := r.add("akamai", collectors.Batch{Records: []schema.Record{rec}}); len(got) != 0 {
		t.Fatalf("ratio before any origin data: %v", got)
	}
	// The origin logged 10+20+30+40+50 = 150 requests in those 5 minutes.
	var b collectors.Batch
	for i, n := range []float64{10, 20, 30, 40, 50} {
		b.Gauges = append(b.Gauges, schema.Gauge{Provider: "akamai", Service: "www", Location: "origin", Metric: "origin_requests", Time: t0 + int64(i)*60, Value: n})
	}
	// Interval not closed on the origin side yet (newest minute is t0+240).
	if got := r.add("originlog", b); len(got) != 0 {
		t.Fatalf("ratio from an open interval: %v", got)
	}
	next := collectors.Batch{Gauges: []schema.Gauge{{Provider: "akamai", Service: "www", Location: "origin", Metric: "origin_requests", Time: t0 + 300, Value: 7}}}
	got := r.add("originlog", next)
	if len(got) != 1 {
		t.Fatalf("got %v, want one ratio", got)
	}
	// 150 observed / 120 reported = 1.25.
	if g := got[0]; g.Time != t0 || g.Metric != "origin_requests_delta_ratio" || math.Abs(g.Value-1.25) > 1e-12 || g.Location != "origin" {
		t.Fatalf("ratio = %+v, want 1.25 at %d", g, t0)
	}
}

func TestReconcile(t *testing.T) {
	k := func(p string, s int64) reconcileKey { return reconcileKey{Provider: p, Service: "www", Start: s} }
	observed := map[reconcileKey]float64{
		k("fastly", 60):    90,  // vendor says 100: 90/100 = 0.9
		k("fastly", 0):     120, // vendor says 100: 1.2
		k("akamai", 0):     50,  // vendor says 0: no ratio
		k("direct", 0):     7,   // no vendor: no ratio
		k("cloudflare", 0): 0,   // origin saw none, vendor says 40: 0
	}
	reported := map[reconcileKey]float64{
		k("fastly", 60):    100,
		k("fastly", 0):     100,
		k("akamai", 0):     0,
		k("cloudflare", 0): 40,
		k("edgecast", 0):   10, // not observed: unknown, no ratio
	}
	g := func(p string, s int64, v float64) schema.Gauge {
		return schema.Gauge{Provider: p, Service: "www", Location: "origin", Metric: "origin_requests_delta_ratio", Time: s, Value: v}
	}
	want := []schema.Gauge{g("cloudflare", 0, 0), g("fastly", 0, 1.2), g("fastly", 60, 0.9)}
	if got := reconcile(observed, reported); !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
	if got := reconcile(nil, reported); len(got) != 0 {
		t.Errorf("nothing observed: %v", got)
	}
	pts := schema.Points("cdn", nil, want[2:])
	if pts[0].Path != "cdn.fastly.www.origin.origin_requests_delta_ratio" {
		t.Errorf("path %s", pts[0].Path)
	}
}

func TestRollup(t *testing.T) {
	k := func(s int64) reconcileKey { return reconcileKey{Provider: "akamai", Service: "www", Start: s} }
	// minutes 0..4 → bucket 0: 1+2+3+4+5 = 15; minute 5 → bucket 300: 6
	in := map[reconcileKey]float64{k(0): 1, k(60): 2, k(120): 3, k(180): 4, k(240): 5, k(300): 6}
	got := rollup(in, 300)
	want := map[reconcileKey]float64{k(0): 15, k(300): 6}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}
