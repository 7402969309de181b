package app

import (
	"math"
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
