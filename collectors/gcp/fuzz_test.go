package gcp

import (
	"testing"
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors/collectorstest"
	"github.com/cdnmetrics/cdnmetrics/internal/schema"
)

// FuzzParsePage feeds arbitrary bodies through the whole answer path:
// envelope, series, points, values and the mapping. Nothing may panic, no
// record may leave the window, and no count may be negative or beyond
// what the pipeline accepts.
func FuzzParsePage(f *testing.F) {
	for _, name := range []string{
		"monitoring-timeseries-list-response.constructed.json",
		"monitoring-timeseries-list.fixture.trimmed.json",
		"monitoring-error.constructed.json",
	} {
		f.Add(collectorstest.ReadTestdata(f, name))
	}
	f.Add(pageOf(ts("backend_request_count", "web-map", "HIT", "200", "Europe", pt(t0, t1, `{"int64Value":"100"}`))))
	start := time.Date(2025, 1, 15, 10, 0, 0, 0, time.UTC)
	end := start.Add(time.Hour)
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := parsePage(body)
		if err != nil {
			return
		}
		col := newCollected()
		for m := range numMetrics {
			col.add(m, p, start, end)
		}
		for k, v := range col.cells {
			if v < 0 || v > schema.MaxCount || k.start < start.Unix() || k.start >= end.Unix() {
				t.Fatalf("cell %+v = %d", k, v)
			}
		}
		for _, r := range mapCells(col, func(u string) string { return u }) {
			if r.Start < start.Unix() || r.Start >= end.Unix() || r.Step != step {
				t.Fatalf("record %+v outside the window", r)
			}
			for _, fl := range schema.Fields() {
				if v, ok := r.Get(fl); ok && v < 0 {
					t.Fatalf("negative %v = %v", fl, v)
				}
			}
		}
	})
}
