package gcore

import (
	"fmt"
	"testing"

	"github.com/cdnmetrics/cdnmetrics/collectors/collectorstest"
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
		f.Add(collectorstest.ReadTestdata(f, name))
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
				if req, ok := r.Get(schema.Requests); ok {
					sum := 0.0
					for _, f := range []schema.Field{schema.Status2xx, schema.Status3xx, schema.Status4xx, schema.Status5xx} {
						v, _ := r.Get(f)
						sum += v
					}
					if sum > req {
						t.Fatalf("status classes %v above requests %v passed", sum, req)
					}
				}
				if rej := r.Check(); len(rej) > 0 && (rej[0].Field != schema.Hits && rej[0].Field != schema.Misses) {
					t.Fatalf("impossible count passed: %v", rej)
				}
			}
		}
	})
}

// FuzzDecodePairs: the one-go path for plain numbers and the item-by-item
// path agree on every list both accept; null, strings and objects never
// come out as numbers.
func FuzzDecodePairs(f *testing.F) {
	f.Add([]byte(`[[1543622400,17329220573],[1543622700,0.5]]`))
	f.Add([]byte(`[[1543622400,null],[1543622700,"7"],[1,2,3],[]]`))
	f.Add([]byte(`[[1e3,1e400],[-5,1],[1.5,2]]`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		fast, err := decodePairs(raw)
		if err != nil {
			return
		}
		slow, err := decodePairsItemwise(raw)
		if err != nil {
			t.Fatalf("item by item refuses what decodePairs took: %v", err)
		}
		// The reasons may be worded apart (1e+20 / 1e20); what is kept must not.
		verdicts := func(ps []pair) string {
			var b []byte
			for _, p := range ps {
				b = fmt.Appendf(b, "%d %v %t;", p.t, p.v, p.why == "")
			}
			return string(b)
		}
		if verdicts(fast) != verdicts(slow) {
			t.Fatalf("paths differ:\n%v\n%v", fast, slow)
		}
	})
}
