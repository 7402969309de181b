package edgecast

import (
	"math"
	"testing"

	"github.com/cdnmetrics/cdnmetrics/collectors/collectorstest"
	"github.com/cdnmetrics/cdnmetrics/internal/schema"
)

// FuzzAnswers feeds any body to every real-time parser and mapping: no
// panic, and whatever is accepted maps, once through the pipeline's value
// check (schema.Counts.Check), to finite, non-negative counts.
// Seeds: the samples in testdata/ and testdata/fuzz/FuzzAnswers.
func FuzzAnswers(f *testing.F) {
	for _, name := range []string{
		"realtimestats-bandwidth.constructed.json", "realtimestats-cachestatus.constructed.json",
		"realtimestats-connections.constructed.json", "realtimestats-statuscode.constructed.json",
	} {
		f.Add(collectorstest.ReadTestdata(f, name))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var c schema.Counts
		if v, err := parseBandwidth(body); err == nil {
			_ = mapBandwidth(v, 60, &c)
		}
		if rows, err := parseCacheStatus(body); err == nil {
			_ = mapCacheStatus(rows, 60, &c)
		}
		if rows, err := parseStatusCode(body); err == nil {
			_ = mapStatusCode(rows, 60, &c)
		}
		c.Check()
		for f := schema.Field(0); f < schema.NumFields; f++ {
			if v, ok := c.Get(f); ok && (v < 0 || math.IsNaN(v) || math.IsInf(v, 0)) {
				t.Fatalf("%s = %v from %q", f, v, body)
			}
		}
	})
}
