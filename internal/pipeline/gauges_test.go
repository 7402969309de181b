package pipeline

import (
	"testing"
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/internal/schema"
)

// Impossible gauges go one by one, counted in rejected_values: a negative
// CloudFront origin latency, a probe TTFB above 2^53 or above a day, a
// negative origin-log count; the surprising but possible stay (a 30 s TTFB,
// a zero).
func TestImpossibleGaugesRejected(t *testing.T) {
	g := func(provider, metric string, v float64) schema.Gauge {
		return schema.Gauge{Provider: provider, Service: "www", Location: "all", Metric: metric, Time: 1700000040, Value: v}
	}
	b := collectors.Batch{Gauges: []schema.Gauge{
		g("cloudfront", "origin_latency_ms", -12),
		g("probe", "probe_ttfb_ms", 1e300),
		g("probe", "probe_total_ms", 90_000_000), // 25 hours
		g("nginx", "origin_requests", -3),
		g("probe", "probe_ok", 0),
		g("fastly", "probe_ttfb_ms", 30_000),
		g("nginx", "origin_bytes", 1<<53), // the limit itself is a possible count
	}}
	got, log := emitDryRun(t, "mixed", b)
	for path, want := range map[string]float64{
		"cdn.probe.www.all.probe_ok":       0,
		"cdn.fastly.www.all.probe_ttfb_ms": 30000,
		"cdn.nginx.www.all.origin_bytes":   9007199254740992,
	} {
		if v, ok := got[path]; !ok || v != want {
			t.Errorf("%s = %v (present %v), want %v", path, v, ok, want)
		}
	}
	for _, path := range []string{"cdn.cloudfront.www.all.origin_latency_ms", "cdn.probe.www.all.probe_ttfb_ms", "cdn.probe.www.all.probe_total_ms", "cdn.nginx.www.all.origin_requests"} {
		if v, ok := got[path]; ok {
			t.Errorf("%s = %v kept; it is impossible", path, v)
		}
	}
	if v := got["cdn.cdnmetrics.collector.mixed.rejected_values"]; v != 4 {
		t.Errorf("rejected_values = %v, want 4\n%s", v, log)
	}
}

// What a collector must reject itself (collectors.RejectedValues through
// its Clock) adds to the same rejected_values as the value check.
func TestCollectorRejectedValuesShareTheCounter(t *testing.T) {
	p := New(Options{Prefix: "cdn"})
	p.Clock("originlog").Count(collectors.RejectedValues, 3)
	p.values.check("originlog", collectors.Batch{Gauges: []schema.Gauge{{Metric: "origin_bytes", Value: -1}}}, p.logger)
	var got float64
	for _, pt := range p.SelfPoints(time.Unix(1700000600, 0)) {
		if pt.Path == "cdn.cdnmetrics.collector.originlog.rejected_values" {
			got = pt.Value
		}
	}
	if got != 3+1 {
		t.Errorf("rejected_values = %v, want 4", got)
	}
}
