package edgecast

import (
	"context"
	"testing"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/collectors/collectorstest"
	"github.com/cdnmetrics/cdnmetrics/internal/schema"
)

// An impossible rate costs only the counts it goes into, counted in
// rejected_values by the pipeline's value check; the answer's other counts
// stay (before: the whole answer was an error and nothing of it kept)
// (issue 16 items 3, 15).
func TestImpossibleRatesPerValue(t *testing.T) {
	var rec schema.Record
	rec.Provider, rec.Service, rec.Location, rec.Start, rec.Step = "edgecast", "http_large", schema.LocationAll, 1736935200, 60
	if err := (&Collector{}).mapMetric("bandwidth", []byte(`{"Result":-5}`), &rec); err != nil {
		t.Fatal(err)
	}
	if err := (&Collector{}).mapMetric("cachestatus", []byte(`[{"CacheStatus":"TCP_HIT","Connections":-1},{"CacheStatus":"TCP_MISS","Connections":2},{"CacheStatus":"UNCACHEABLE","Connections":1}]`), &rec); err != nil {
		t.Fatal(err)
	}
	if err := (&Collector{}).mapMetric("statuscode", []byte(`[{"Connections":3,"StatusCode":"2xx"},{"Connections":null,"StatusCode":"404"},{"Connections":1e308,"StatusCode":"5xx"},{"Connections":1e308,"StatusCode":"503"}]`), &rec); err != nil {
		t.Fatal(err)
	}
	pipe := collectorstest.NewPipe()
	if err := pipe.Emitter("edgecast").Emit(context.Background(), collectors.Batch{Records: []schema.Record{rec}}); err != nil {
		t.Fatal(err)
	}
	got := pipe.Lines(t)
	const p = "cdn.edgecast.http_large.all."
	for path, want := range map[string]float64{
		p + "misses":     120, // 2/s × 60
		p + "passes":     60,  // 1/s × 60
		p + "status_2xx": 180, // 3/s × 60
		p + "status_3xx": 0,
	} {
		if v, ok := got[path]; !ok || v != want {
			t.Errorf("%s = %v (present %v), want %v", path, v, ok, want)
		}
	}
	for _, m := range []string{"edge_bytes", "requests", "hits", "status_4xx", "status_5xx"} {
		if v, ok := got[p+m]; ok {
			t.Errorf("%s = %v emitted; it was impossible", m, v)
		}
	}
	// edge_bytes (-5 bit/s), requests and hits (the -1 hit rate), 4xx
	// (null), 5xx (2e308/s overflows).
	if v := got["cdn.cdnmetrics.collector.edgecast.rejected_values"]; v != 5 {
		t.Errorf("rejected_values = %v, want 5\n%s", v, pipe.Log())
	}
}
