package pipeline

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/internal/config"
	"github.com/cdnmetrics/cdnmetrics/internal/graphite"
	"github.com/cdnmetrics/cdnmetrics/internal/schema"
)

// emitDryRun hands b to collector name's emitter of a dry run and returns
// the printed lines as path → value, and the log.
func emitDryRun(t *testing.T, name string, b collectors.Batch) (map[string]float64, string) {
	t.Helper()
	var out, errb bytes.Buffer
	paths, err := NewPathNamer(t.TempDir(), true, slog.New(slog.NewTextHandler(&errb, nil)))
	if err != nil {
		t.Fatal(err)
	}
	sink := graphite.NewWriterSink(&out)
	p := New(Options{Prefix: "cdn", Sink: sink, Logger: slog.New(slog.NewTextHandler(&errb, nil)), ClockSkewTolerance: config.Default().ClockSkewTolerance.D(), Paths: paths})
	if err := p.Emitter(name).Emit(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	if err := sink.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, pt := range p.SelfPoints(time.Unix(1700000600, 0)) {
		fmt.Fprintf(&out, "%s %v %d\n", pt.Path, pt.Value, pt.Time)
	}
	got := map[string]float64{}
	for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		f := strings.Fields(l)
		if len(f) != 3 {
			continue
		}
		v, err := strconv.ParseFloat(f[1], 64)
		if err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		got[f[0]] = v
	}
	return got, errb.String()
}

// The Fastly case: origin bytes of 1e308 and misses above requests
// gave origin_offload = -1e296. Impossible values go, one by one; the rest
// of the record stays; a negative origin_offload that is real stays.
func TestImpossibleValuesRejectedPerValue(t *testing.T) {
	absurd := schema.Record{Provider: "fastly", Service: "www", Location: schema.LocationAll, Start: 1700000040, Step: 60}
	absurd.Set(schema.Requests, 100)
	absurd.Set(schema.Hits, 60)
	absurd.Set(schema.Misses, 140) // > requests: impossible
	absurd.Set(schema.EdgeBytes, 1e12)
	absurd.Set(schema.OriginBytes, 1e308)  // > 2^53: impossible
	absurd.Set(schema.OriginRequests, 150) // > requests: shielding, real
	absurd.Set(schema.Status5xx, math.NaN())
	absurd.Set(schema.Status4xx, -3)
	// Another POP, surprising but real: origin bytes above edge bytes.
	real := schema.Record{Provider: "fastly", Service: "www", Location: "lhr", Start: 1700000040, Step: 60}
	real.Set(schema.Requests, 10)
	real.Set(schema.Hits, 4)
	real.Set(schema.Misses, 6)
	real.Set(schema.EdgeBytes, 1000)
	real.Set(schema.OriginBytes, 1500)
	b := collectors.Batch{
		Records: []schema.Record{absurd, real},
		Gauges:  []schema.Gauge{{Provider: "fastly", Service: "www", Location: "lhr", Metric: "x_ms", Time: 1700000040, Value: math.Inf(1)}},
	}
	got, logs := emitDryRun(t, "fastly", b)

	for path, v := range got {
		if math.IsNaN(v) || math.IsInf(v, 0) || v < -1e6 || v > MaxFinite {
			t.Errorf("%s = %v emitted", path, v)
		}
	}
	want := map[string]float64{
		"cdn.fastly.www.all.requests":                     100,
		"cdn.fastly.www.all.hits":                         60,
		"cdn.fastly.www.all.edge_bytes":                   1e12,
		"cdn.fastly.www.all.origin_requests":              150,
		"cdn.fastly.www.all.request_offload":              1 - 150.0/100,   // -0.5: kept
		"cdn.fastly.www.lhr.origin_offload":               1 - 1500.0/1000, // -0.5: kept
		"cdn.fastly.www.lhr.hit_ratio":                    0.4,
		"cdn.cdnmetrics.collector.fastly.rejected_values": 5, // misses, origin_bytes, status_5xx, status_4xx, the gauge
	}
	for path, v := range want {
		if g, ok := got[path]; !ok || math.Abs(g-v) > 1e-9 {
			t.Errorf("%s = %v (present %v), want %v", path, g, ok, v)
		}
	}
	for _, gone := range []string{"misses", "origin_bytes", "origin_offload", "hit_ratio", "status_5xx", "status_4xx", "error_ratio"} {
		if v, ok := got["cdn.fastly.www.all."+gone]; ok {
			t.Errorf("all.%s = %v emitted; its input was impossible", gone, v)
		}
	}
	if _, ok := got["cdn.fastly.www.lhr.x_ms"]; ok {
		t.Error("an infinite gauge was emitted")
	}
	if n := strings.Count(logs, "impossible values rejected"); n != 1 || !strings.Contains(logs, "count=5") || !strings.Contains(logs, "origin_bytes:1") {
		t.Errorf("want one warning for the batch with its counts:\n%s", logs)
	}
}

// MaxFinite is the largest value a derived point may take here: counts up
// to 2^53 and ratios of them.
const MaxFinite = 1 << 53
