package cloudfront

import (
	"os"
	"testing"
	"time"

	"github.com/cdnmetrics/cdnmetrics/internal/schema"
)

// FuzzMapResults maps arbitrary GetMetricData results (given in the JSON
// form of the samples). Nothing may panic; records stay in the window,
// counts are never negative and hits never exceed requests.
func FuzzMapResults(f *testing.F) {
	for _, name := range []string{"cloudwatch-getmetricdata-response.constructed.json", "cloudwatch-getmetricdata-partial.constructed.json"} {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"MetricDataResults":[{"Id":"requests","Timestamps":[1736935200],"Values":[10]},{"Id":"hitrate","Timestamps":[1736935200],"Values":[99.99]},{"Id":"origin_latency","Timestamps":[1736935200,1],"Values":[1]}]}`))
	start := time.Unix(1736935200, 0)
	end := start.Add(time.Hour)
	f.Fuzz(func(t *testing.T, body []byte) {
		rs, _, err := decodeSample(body)
		if err != nil {
			return
		}
		all := map[string]*series{}
		for _, r := range rs {
			addResult(all, r)
		}
		recs, gauges, _, _, _, _ := mapResults("d", all, start, end)
		for _, r := range recs {
			if r.Start < start.Unix() || r.Start >= end.Unix() || r.Step != period || r.Location != schema.LocationAll {
				t.Fatalf("bad record %+v", r)
			}
			for _, fl := range schema.Fields() {
				if v, ok := r.Get(fl); ok && v < 0 {
					t.Fatalf("negative %v = %v", fl, v)
				}
			}
			h, okh := r.Get(schema.Hits)
			q, okq := r.Get(schema.Requests)
			if okh && (!okq || h > q) {
				t.Fatalf("hits %v with requests %v (%v)", h, q, okq)
			}
		}
		for _, g := range gauges {
			if g.Time < start.Unix() || g.Time >= end.Unix() {
				t.Fatalf("gauge outside the window: %+v", g)
			}
		}
	})
}
