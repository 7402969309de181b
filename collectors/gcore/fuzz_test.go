package gcore

import (
	"testing"

	"github.com/cdnmetrics/cdnmetrics/internal/schema"
)

// FuzzParseSeries feeds arbitrary bodies through the whole answer path:
// envelope, pair decoding, mapping and the resource list. Nothing may
// panic, and no record may leave the window, miss the grid or carry an
// impossible count.
func FuzzParseSeries(f *testing.F) {
	for _, name := range []string{
		"statistics-series.doc-example.excerpt.json",
		"statistics-series-response.constructed.json",
		"cdn-resources-list.doc-example.json",
	} {
		f.Add(readSample(f, name))
	}
	f.Add([]byte(`{"resource":{"7":{"region":{"eu":{"metrics":{"requests":[[1543622400,5]],"sent_bytes":[[1543622400,10]],"upstream_bytes":[[1543622400,2]],"total_bytes":[[1543622400,11]]}}}}}}`))
	const start, end, step = 1543622400, 1543622400 + 86400, 300
	f.Fuzz(func(t *testing.T, body []byte) {
		_, _ = parseResources(body)
		a, err := parseSeries(body)
		if err != nil {
			return
		}
		for id := range a.Resource {
			recs, res := mapSeries("s", id, a, step, start, end)
			if res.rejected < 0 || len(recs) > res.points {
				t.Fatalf("%d records from %d points", len(recs), res.points)
			}
			for _, r := range recs {
				if r.Start < start || r.Start >= end || r.Start%step != 0 || r.Step != step || r.Service != "s" || r.Location == "" {
					t.Fatalf("record %+v outside the window or grid", r)
				}
				if rej := r.Check(); len(rej) > 0 && (rej[0].Field != schema.Hits && rej[0].Field != schema.Misses) {
					t.Fatalf("impossible count passed: %v", rej)
				}
			}
		}
	})
}
