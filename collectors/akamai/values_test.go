package akamai

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/collectors/collectorstest"
	"github.com/cdnmetrics/cdnmetrics/internal/schema"
)

// One impossible metric costs only its field: a row with edgeHitsSum -4
// keeps its bytes and origin counts, and a status class whose count is
// garbage loses only that class; both are counted in rejected_values by
// the pipeline's value check (issue 16 items 3, 15).
func TestImpossibleMetricKeepsRow(t *testing.T) {
	r, err := parseReport([]byte(`{"data":[
	 {"time5minutes":1736935200,"cpcode":1,"edgeHitsSum":-4,"edgeBytesSum":500,"originHitsSum":2,"originBytesSum":90}]}`))
	if err != nil {
		t.Fatal(err)
	}
	classes, err := parseReport([]byte(`{"data":[
	 {"time5minutes":1736935200,"cpcode":1,"responseClass":"2xx","edgeHitsSum":3},
	 {"time5minutes":1736935200,"cpcode":1,"responseClass":"5xx","edgeHitsSum":"1e400"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	counts, skipped := trafficRows(r, map[int64]bool{1: true})
	skipped = append(skipped, addClasses(classes, counts)...)
	if len(skipped) != 0 || len(counts) != 1 {
		t.Fatalf("counts %d, skipped %v", len(counts), skipped)
	}
	rec := schema.Record{Provider: "akamai", Service: "www", Location: schema.LocationAll, Start: 1736935200, Step: 300, Counts: *counts[key{1, 1736935200}]}
	pipe := collectorstest.NewPipe()
	if err := pipe.Emitter("akamai").Emit(context.Background(), collectors.Batch{Records: []schema.Record{rec}}); err != nil {
		t.Fatal(err)
	}
	got := pipe.Lines(t)
	for path, want := range map[string]float64{
		"cdn.akamai.www.all.edge_bytes":      500,
		"cdn.akamai.www.all.origin_requests": 2,
		"cdn.akamai.www.all.origin_bytes":    90,
		"cdn.akamai.www.all.status_2xx":      3,
		"cdn.akamai.www.all.status_3xx":      0,
	} {
		if v, ok := got[path]; !ok || v != want {
			t.Errorf("%s = %v (present %v), want %v", path, v, ok, want)
		}
	}
	for _, path := range []string{"cdn.akamai.www.all.requests", "cdn.akamai.www.all.status_5xx"} {
		if v, ok := got[path]; ok {
			t.Errorf("%s = %v emitted; it was impossible", path, v)
		}
	}
	if v := got["cdn.cdnmetrics.collector.akamai.rejected_values"]; v != 2 {
		t.Errorf("rejected_values = %v, want 2\n%s", v, pipe.Log())
	}
}

// Intervals stamped in 2100 are counted in rejected_future; one merely
// after the window (but in our past) is not (issue 16 items 1, 2).
func TestFutureIntervalsCounted(t *testing.T) {
	pipe := collectorstest.NewPipe()
	var logs bytes.Buffer
	c := &Collector{env: collectors.Env{Clock: pipe.Clock("akamai")}, logger: slog.New(slog.NewTextHandler(&logs, nil))}
	c.rejectFutureRows([]int64{4102444800, 4102445100, 1736935500})
	if v := pipe.Lines(t)["cdn.cdnmetrics.collector.akamai.rejected_future"]; v != 2 {
		t.Errorf("rejected_future = %v, want 2\n%s", v, logs.String())
	}
	if !strings.Contains(logs.String(), "count=2") {
		t.Errorf("log: %s", logs.String())
	}
}
