package azure

import (
	"os"
	"testing"

	"github.com/cdnmetrics/cdnmetrics/internal/schema"
)

// FuzzParseAnswer parses arbitrary metrics answers as each query would and
// maps them. Nothing may panic; records and gauges stay in the window,
// counts are never negative, origin bytes never exceed edge bytes, and a
// status split never adds to requests.
func FuzzParseAnswer(f *testing.F) {
	for _, name := range []string{"monitor-metrics-frontdoor-response.constructed.json", "monitor-metrics-status-split.constructed.json",
		"monitor-metrics-region-split.constructed.json", "monitor-metrics-latency.constructed.json", "monitor-metrics-error.constructed.json"} {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		answers := map[string]Answer{}
		for _, q := range queries(Profile{ByRegion: true}) {
			a, err := ParseAnswer(body, q.aggregation)
			if err != nil {
				return
			}
			answers[q.name] = a
		}
		m := mapAnswers("p", answers, sampleStart, sampleEnd, sampleEnd.Unix()-120)
		for _, r := range m.Records {
			if r.Start < sampleStart.Unix() || r.Start >= sampleEnd.Unix() || r.Step != period || r.Start%period != 0 {
				t.Fatalf("bad record %+v", r)
			}
			for _, fl := range schema.Fields() {
				if v, ok := r.Get(fl); ok && (v < 0 || v != v) {
					t.Fatalf("%v = %v", fl, v)
				}
			}
			ob, okO := r.Get(schema.OriginBytes)
			eb, okE := r.Get(schema.EdgeBytes)
			if okO && (!okE || ob > eb || r.Location != schema.LocationAll) {
				t.Fatalf("origin bytes %v with edge bytes %v (%v) at %s", ob, eb, okE, r.Location)
			}
		}
		for _, g := range m.Gauges {
			if g.Time < sampleStart.Unix() || g.Time >= sampleEnd.Unix() || g.Location != schema.LocationAll {
				t.Fatalf("bad gauge %+v", g)
			}
		}
	})
}
